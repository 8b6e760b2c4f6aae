//! What the zc.recipe.egg family writes and reads, pure: the `scripts` and
//! `entry-points` options, an installed distribution's `METADATA` and
//! `entry_points.txt`, the paths a `.pth` file adds, and the text of the
//! console scripts and of the `interpreter`, in the shape zc.buildout's
//! easy_install gives them: a `#!<executable>` Python script that puts the
//! eggs in front of `sys.path`, runs `initialization`, then calls the
//! entry point with `arguments` (the interpreter instead runs `-c`, `-m`,
//! a file, or an interactive console).

use std::collections::BTreeMap;

/// Which console scripts a part generates (the `scripts` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// No `scripts` option: every entry point, under its own name.
    All,
    /// `scripts` lists `name` or `name=alias`: only those.
    Only(BTreeMap<String, String>),
    /// `scripts` is empty: no script and no interpreter.
    Nothing,
}

impl Selection {
    /// Reads the `scripts` option.
    pub(crate) fn parse(option: Option<&str>) -> Selection {
        let Some(text) = option else { return Selection::All };
        if text.trim().is_empty() {
            return Selection::Nothing;
        }
        let names = text
            .split_whitespace()
            .map(|word| match word.split_once('=') {
                Some((name, alias)) => (name.to_owned(), alias.to_owned()),
                None => (word.to_owned(), word.to_owned()),
            })
            .collect();
        Selection::Only(names)
    }

    /// The file name of the script for entry point `name`, if generated.
    pub(crate) fn file_name<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        match self {
            Selection::All => Some(name),
            Selection::Only(names) => names.get(name).map(String::as_str),
            Selection::Nothing => None,
        }
    }
}

/// A console entry point: script name, module, attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPoint {
    pub(crate) name: String,
    pub(crate) module: String,
    pub(crate) attrs: String,
}

/// Whether `text` is dotted Python identifiers (`a.b_c.d`).
fn is_dotted_name(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(|word| !word.is_empty() && word.chars().all(|character| character.is_alphanumeric() || character == '_'))
}

/// The `entry-points` option: whitespace-separated `name=module:attrs`.
///
/// # Errors
/// `Invalid entry point <text>` for a word not of that form.
pub(crate) fn parse_entry_points_option(text: &str) -> Result<Vec<EntryPoint>, String> {
    text.split_whitespace()
        .map(|word| {
            let parsed = word.split_once('=').and_then(|(name, target)| {
                let (module, attrs) = target.split_once(':')?;
                (is_dotted_name(module) && is_dotted_name(attrs)).then(|| EntryPoint {
                    name: name.to_owned(),
                    module: module.to_owned(),
                    attrs: attrs.to_owned(),
                })
            });
            parsed.ok_or_else(|| format!("Invalid entry point {word}: expected name=module:attribute"))
        })
        .collect()
}

/// An installed distribution, from its `.dist-info` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Distribution {
    /// `Name:` as written.
    pub(crate) name: String,
    /// `Version:`.
    pub(crate) version: String,
    /// Its `Requires-Dist:` requirement texts (markers included).
    pub(crate) requires: Vec<String>,
    /// Its `console_scripts`, in file order.
    pub(crate) console_scripts: Vec<EntryPoint>,
}

impl Distribution {
    /// A distribution from its `METADATA` and `entry_points.txt` texts;
    /// `None` without a name or a version.
    pub(crate) fn parse(metadata: &str, entry_points: &str) -> Option<Distribution> {
        let mut name = None;
        let mut version = None;
        let mut requires = Vec::new();
        // The headers end at the first blank line; the body is the
        // description.
        for line in metadata.lines().take_while(|line| !line.trim().is_empty()) {
            if let Some(value) = line.strip_prefix("Name:") {
                name = Some(value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("Version:") {
                version = Some(value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("Requires-Dist:") {
                requires.push(value.trim().to_owned());
            }
        }
        Some(Distribution { name: name?, version: version?, requires, console_scripts: console_scripts(entry_points) })
    }
}

/// The `[console_scripts]` of an `entry_points.txt` (`name = module:attr
/// [extra]`); lines of another form are skipped.
fn console_scripts(text: &str) -> Vec<EntryPoint> {
    let mut in_section = false;
    let mut found = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with(['#', ';'])) {
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((name, target)) = line.split_once('=') else { continue };
        let target = target.split('[').next().unwrap_or("").trim();
        let Some((module, attrs)) = target.split_once(':') else { continue };
        let (module, attrs) = (module.trim(), attrs.trim());
        if is_dotted_name(module) && is_dotted_name(attrs) {
            found.push(EntryPoint { name: name.trim().to_owned(), module: module.to_owned(), attrs: attrs.to_owned() });
        }
    }
    found
}

/// The directories a `.pth` file adds (its lines that are not comments or
/// `import` statements), relative ones joined to `directory`.
pub(crate) fn pth_paths(text: &str, directory: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#') && !line.starts_with("import ") && !line.starts_with("import\t"))
        .map(|line| crate::paths::join(directory, line))
        .collect()
}

/// The lines of the `sys.path[0:0]` list: one quoted path a line.
fn path_lines(paths: &[String]) -> String {
    paths.iter().map(|path| format!("  {},\n", crate::pytext::repr(path))).collect()
}

/// `initialization`, framed by blank lines when given.
fn initialization_block(initialization: &str) -> String {
    if initialization.is_empty() {
        String::new()
    } else {
        format!("\n{initialization}\n")
    }
}

/// A console script calling `entry_point`.
pub(crate) fn console_script(executable: &str, paths: &[String], entry_point: &EntryPoint, arguments: &str, initialization: &str) -> String {
    let EntryPoint { module, attrs, .. } = entry_point;
    format!(
        "#!{executable}\n\nimport sys\nsys.path[0:0] = [\n{}  ]\n{}\nimport {module}\n\nif __name__ == '__main__':\n    sys.exit({module}.{attrs}({arguments}))\n",
        path_lines(paths),
        initialization_block(initialization),
    )
}

/// The body of the `interpreter` script after `sys.path` and
/// `initialization`: the options a Python wrapper accepts.
const INTERPRETER_MAIN: &str = r#"
_interactive = True
if len(sys.argv) > 1:
    # Like python: -c code, -m module, -i, a script file; -I is accepted
    # and ignored (this wrapper already sets its own path).
    _options, _args = __import__("getopt").getopt(sys.argv[1:], 'Iic:m:')
    _interactive = False
    for (_opt, _val) in _options:
        if _opt == '-i':
            _interactive = True
        elif _opt == '-c':
            exec(_val)
        elif _opt == '-m':
            sys.argv[1:] = _args
            _args = []
            __import__("runpy").run_module(_val, {}, "__main__", alter_sys=True)
    if _args:
        sys.argv[:] = _args
        __file__ = _args[0]
        del _options, _args
        with open(__file__) as __file__f:
            exec(compile(__file__f.read(), __file__, "exec"))

if _interactive:
    del _interactive
    __import__("code").interact(banner="", local=globals())
"#;

/// The `interpreter` script: a Python with the eggs on its path.
pub(crate) fn interpreter_script(executable: &str, paths: &[String], initialization: &str) -> String {
    format!("#!{executable}\n\nimport sys\n\nsys.path[0:0] = [\n{}  ]\n{}{INTERPRETER_MAIN}", path_lines(paths), initialization_block(initialization))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_option_selects_and_renames() {
        let selection = Selection::parse(Some("a b=c"));
        assert_eq!((selection.file_name("a"), selection.file_name("b"), selection.file_name("d")), (Some("a"), Some("c"), None));
        assert_eq!(Selection::parse(None).file_name("d"), Some("d"));
        assert_eq!(Selection::parse(Some(" \n")), Selection::Nothing);
    }

    #[test]
    fn entry_points_option_needs_module_and_attribute() {
        let parsed = parse_entry_points_option("run=pkg.cli:main.go").expect("valid");
        assert_eq!(parsed, vec![EntryPoint { name: "run".into(), module: "pkg.cli".into(), attrs: "main.go".into() }]);
        assert!(parse_entry_points_option("run=pkg").is_err());
    }

    #[test]
    fn distributions_read_their_metadata() {
        let metadata = "Metadata-Version: 2.1\nName: Probe_Pkg\nVersion: 1.0\nRequires-Dist: dep ==2.0\n\nName: not a header\n";
        let entry_points = "[gui_scripts]\ng = x:y\n[console_scripts]\nprobe = probe.cli:main [extra]\nbad = nothing\n";
        let distribution = Distribution::parse(metadata, entry_points).expect("complete");
        assert_eq!((distribution.name.as_str(), distribution.version.as_str()), ("Probe_Pkg", "1.0"));
        assert_eq!(distribution.requires, vec!["dep ==2.0".to_owned()]);
        assert_eq!(distribution.console_scripts.len(), 1);
        assert_eq!(distribution.console_scripts[0].attrs, "main");
    }

    #[test]
    fn pth_files_add_their_path_lines() {
        assert_eq!(pth_paths("# c\nimport x; x.go()\n/abs\nrel\n", "/eggs"), vec!["/abs".to_owned(), "/eggs/rel".to_owned()]);
    }

    #[test]
    fn console_scripts_set_the_path_then_call() {
        let entry_point = EntryPoint { name: "p".into(), module: "pkg.cli".into(), attrs: "main".into() };
        let text = console_script("/usr/bin/python3", &["/eggs/a".to_owned()], &entry_point, "1, 2", "x = 1");
        assert_eq!(
            text,
            "#!/usr/bin/python3\n\nimport sys\nsys.path[0:0] = [\n  '/eggs/a',\n  ]\n\nx = 1\n\nimport pkg.cli\n\nif __name__ == '__main__':\n    sys.exit(pkg.cli.main(1, 2))\n"
        );
    }
}
