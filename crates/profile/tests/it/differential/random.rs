//! Random valid profiles for the differential test: proptest strategies
//! draw "genes" (which sections, options, operators, value pieces, extends,
//! macros, conditions, overrides), and a renderer turns them into files that
//! always resolve: `base.cfg` defines every option of every section, a
//! reference only points to an earlier section or an earlier option of its
//! own section (so references are acyclic), and a macro parent is always an
//! earlier section. Files extend only later files, some of them from a
//! `sub/` directory (relative paths, `../`), diamonds included.
//!
//! Count: `SLAPOS_DIFFERENTIAL_CASES`, else `PROPTEST_CASES`, else 100.
//! Seed: `SLAPOS_DIFFERENTIAL_SEED` (printed by the test), else fixed.

use std::fmt::Write as _;
use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::Case;

const DEFAULT_CASES: usize = 100;
const DEFAULT_SEED: u64 = 0x5eed_b01d_u64;
const WORDS: &[&str] = &["a", "b", "c", "dd", "e1", "x-y", "foo.bar", "/p/q", "#h", "v;w"];
const BUILDOUT_OPTIONS: &[&str] = &["directory", "parts-directory", "bin-directory", "eggs-directory", "executable", "installed"];
const CONDITIONS: &[&str] = &["", "", "", "python3", "python2", "python_version >= \"3.0\"", "not python3", "linux and bits64"];

/// One piece of a value line.
#[derive(Debug, Clone)]
enum Piece {
    Word(usize),
    /// `${s<earlier>:o<n>}`: section offset and option, mapped to earlier ones.
    Reference(usize, usize),
    /// `${:o<earlier>}` in the same section.
    Own(usize),
    BuildoutOption(usize),
    SectionName,
    Escaped,
}

#[derive(Debug, Clone)]
struct ValueGene {
    lines: Vec<Vec<Piece>>,
    block: bool,
    /// A column-0 comment and a blank line inside the value (both skipped).
    noise: bool,
}

#[derive(Debug, Clone, Copy)]
enum Operator {
    Set,
    Add,
    Remove,
}

#[derive(Debug, Clone)]
struct OptionGene {
    option: usize,
    operator: Operator,
    value: ValueGene,
    /// `o1+= v` instead of `o1 += v` (another key: `o1+`).
    compact: bool,
}

#[derive(Debug, Clone)]
struct BlockGene {
    section: usize,
    condition: usize,
    macro_parent: Option<usize>,
    options: Vec<OptionGene>,
}

#[derive(Debug, Clone)]
struct FileGene {
    extends: Vec<usize>,
    blocks: Vec<BlockGene>,
    crlf: bool,
}

#[derive(Debug, Clone)]
struct ProfileGene {
    section_count: usize,
    option_count: usize,
    base_values: Vec<ValueGene>,
    base_macros: Vec<Option<usize>>,
    files: Vec<FileGene>,
    overrides: Vec<(usize, usize, Operator, usize)>,
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (0..WORDS.len()).prop_map(Piece::Word),
        3 => (0..8usize, 0..8usize).prop_map(|(section, option)| Piece::Reference(section, option)),
        2 => (0..8usize).prop_map(Piece::Own),
        1 => (0..BUILDOUT_OPTIONS.len()).prop_map(Piece::BuildoutOption),
        1 => Just(Piece::SectionName),
        1 => Just(Piece::Escaped),
    ]
}

fn value_gene() -> impl Strategy<Value = ValueGene> {
    (vec(vec(piece(), 0..3), 0..4), any::<bool>(), proptest::bool::weighted(0.1))
        .prop_map(|(lines, block, noise)| ValueGene { lines, block, noise })
}

fn operator() -> impl Strategy<Value = Operator> {
    prop_oneof![2 => Just(Operator::Set), 2 => Just(Operator::Add), 1 => Just(Operator::Remove)]
}

fn block_gene() -> impl Strategy<Value = BlockGene> {
    let option = (0..8usize, operator(), value_gene(), proptest::bool::weighted(0.1))
        .prop_map(|(option, operator, value, compact)| OptionGene { option, operator, value, compact });
    (0..8usize, 0..CONDITIONS.len(), proptest::option::weighted(0.15, 0..8usize), vec(option, 0..4))
        .prop_map(|(section, condition, macro_parent, options)| BlockGene { section, condition, macro_parent, options })
}

fn profile_gene() -> impl Strategy<Value = ProfileGene> {
    (2..7usize, 1..5usize, 0..4usize).prop_flat_map(|(section_count, option_count, file_count)| {
        let file = (vec(0..8usize, 0..3), vec(block_gene(), 0..5), proptest::bool::weighted(0.1))
            .prop_map(|(extends, blocks, crlf)| FileGene { extends, blocks, crlf });
        (
            vec(value_gene(), section_count * option_count),
            vec(proptest::option::weighted(0.3, 0..8usize), section_count),
            vec(file, file_count + 1),
            vec((0..8usize, 0..8usize, operator(), 0..WORDS.len()), 0..3),
        )
            .prop_map(move |(base_values, base_macros, files, overrides)| ProfileGene {
                section_count,
                option_count,
                base_values,
                base_macros,
                files,
                overrides,
            })
    })
}

/// Where file `index` lives: 0 is the root, odd ones are in `sub/`.
fn file_path(index: usize) -> String {
    match index {
        0 => "buildout.cfg".to_owned(),
        _ if index % 2 == 1 => format!("sub/f{index}.cfg"),
        _ => format!("f{index}.cfg"),
    }
}

/// The path of `target` as written in an `extends` of `from`.
fn relative(from: &str, target: &str) -> String {
    match (from.starts_with("sub/"), target.strip_prefix("sub/")) {
        (true, Some(inside)) => inside.to_owned(),
        (true, None) => format!("../{target}"),
        (false, _) => target.to_owned(),
    }
}

struct Renderer<'g> {
    gene: &'g ProfileGene,
}

impl Renderer<'_> {
    fn piece(&self, piece: &Piece, section: usize, option: usize, out: &mut String) {
        match *piece {
            Piece::Word(word) => out.push_str(WORDS[word]),
            Piece::Reference(offset, target_option) if section > 0 => {
                let _ = write!(out, "${{s{}:o{}}}", offset % section, target_option % self.gene.option_count);
            }
            Piece::Own(target) if option > 0 => {
                let _ = write!(out, "${{:o{}}}", target % option);
            }
            Piece::Reference(..) | Piece::Own(_) => out.push('z'),
            Piece::BuildoutOption(index) => {
                let _ = write!(out, "${{buildout:{}}}", BUILDOUT_OPTIONS[index]);
            }
            Piece::SectionName => out.push_str("${:_buildout_section_name_}"),
            Piece::Escaped => out.push_str("$${x:y}"),
        }
    }

    /// `name OP value` lines for one option; a remove uses words only (its
    /// lines then match existing ones).
    fn option(&self, name: &str, operator: Operator, value: &ValueGene, section: usize, option: usize, out: &mut String) {
        let symbol = match operator {
            Operator::Set => " =",
            Operator::Add => " +=",
            Operator::Remove => " -=",
        };
        self.option_with(name, symbol, value, section, option, out);
    }

    fn option_with(&self, name: &str, symbol: &str, value: &ValueGene, section: usize, option: usize, out: &mut String) {
        let operator = match symbol.trim() {
            "+=" => Operator::Add,
            "-=" => Operator::Remove,
            _ => Operator::Set,
        };
        let mut lines = Vec::new();
        for line in &value.lines {
            let mut text = String::new();
            for (index, piece) in line.iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                match (operator, piece) {
                    (Operator::Remove, Piece::Word(_)) | (Operator::Set | Operator::Add, _) => self.piece(piece, section, option, &mut text),
                    (Operator::Remove, _) => text.push_str(WORDS[(section + option) % WORDS.len()]),
                }
            }
            lines.push(text);
        }
        let lines: Vec<String> = lines.into_iter().filter(|line| !line.is_empty()).collect();
        let noise = |out: &mut String, index: usize| {
            if value.noise && index == 0 {
                out.push_str("# a comment inside the value\n\n");
            }
        };
        match lines.split_first() {
            None => {
                let _ = writeln!(out, "{name}{symbol}");
            }
            Some(_) if value.block => {
                let _ = writeln!(out, "{name}{symbol}");
                for (index, line) in lines.iter().enumerate() {
                    let _ = writeln!(out, "    {line}");
                    noise(out, index);
                }
            }
            Some((first, rest)) => {
                let _ = writeln!(out, "{name}{symbol} {first}");
                for (index, line) in rest.iter().enumerate() {
                    let _ = writeln!(out, "  {line}");
                    noise(out, index);
                }
            }
        }
    }

    fn base(&self) -> String {
        let gene = self.gene;
        let mut out = String::from("[buildout]\nparts =\n\n");
        for section in 0..gene.section_count {
            let _ = writeln!(out, "[s{section}]");
            if let (Some(parent), true) = (gene.base_macros[section], section > 0) {
                let _ = writeln!(out, "<= s{}", parent % section);
            }
            for option in 0..gene.option_count {
                let value = &gene.base_values[section * gene.option_count + option];
                self.option(&format!("o{option}"), Operator::Set, value, section, option, &mut out);
            }
            out.push('\n');
        }
        out
    }

    fn file(&self, index: usize) -> String {
        let gene = self.gene;
        let path = file_path(index);
        let later = gene.files.len() - index - 1;
        let mut extends: Vec<String> = gene.files[index]
            .extends
            .iter()
            .filter(|_| later > 0)
            .map(|pick| relative(&path, &file_path(index + 1 + pick % later)))
            .collect();
        if extends.is_empty() && later > 0 {
            // Every file is reached: by default a file extends the next one.
            extends.push(relative(&path, &file_path(index + 1)));
        }
        if index == 0 || later == 0 {
            extends.insert(0, relative(&path, "base.cfg"));
        }
        let mut out = format!("[buildout]\nextends = {}\n\n", extends.join(" "));
        for block in &gene.files[index].blocks {
            let section = block.section % gene.section_count;
            let condition = CONDITIONS[block.condition];
            if condition.is_empty() {
                let _ = writeln!(out, "[s{section}]");
            } else {
                let _ = writeln!(out, "[s{section}:{condition}]");
            }
            if let (Some(parent), true) = (block.macro_parent, section > 0) {
                let _ = writeln!(out, "<= s{}", parent % section);
            }
            for option in &block.options {
                let number = option.option % gene.option_count;
                let symbol = match (option.operator, option.compact) {
                    (Operator::Set, _) => " =",
                    (Operator::Add, false) => " +=",
                    (Operator::Remove, false) => " -=",
                    (Operator::Add, true) => "+=",
                    (Operator::Remove, true) => "-=",
                };
                self.option_with(&format!("o{number}"), symbol, &option.value, section, number, &mut out);
            }
            out.push('\n');
        }
        if gene.files[index].crlf {
            out = out.replace('\n', "\r\n");
        }
        out
    }

    fn overrides(&self) -> Vec<String> {
        let gene = self.gene;
        gene.overrides
            .iter()
            .map(|&(section, option, operator, word)| {
                let symbol = match operator {
                    Operator::Set => "=",
                    Operator::Add => "+=",
                    Operator::Remove => "-=",
                };
                format!("s{}:o{}{symbol}{}", section % gene.section_count, option % gene.option_count, WORDS[word])
            })
            .collect()
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|text| text.trim().parse().ok())
}

/// Writes the random cases under `root`; returns the seed and the cases.
pub fn write_cases(root: &Path) -> (u64, Vec<Case>) {
    let count = env_number("SLAPOS_DIFFERENTIAL_CASES")
        .or_else(|| env_number("PROPTEST_CASES"))
        .map_or(DEFAULT_CASES, |count| usize::try_from(count).unwrap_or(DEFAULT_CASES));
    let seed = env_number("SLAPOS_DIFFERENTIAL_SEED").unwrap_or(DEFAULT_SEED);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let strategy = profile_gene();
    let mut cases = Vec::with_capacity(count);
    for number in 0..count {
        let gene = strategy.new_tree(&mut runner).expect("a profile gene").current();
        let renderer = Renderer { gene: &gene };
        let dir = root.join(format!("random-{number:04}"));
        let mut files = vec![("base.cfg".to_owned(), renderer.base())];
        for index in 0..gene.files.len() {
            files.push((file_path(index), renderer.file(index)));
        }
        for (path, text) in &files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().expect("a file has a directory")).expect("mkdir");
            std::fs::write(&full, text).expect("write a random profile");
        }
        let overrides = renderer.overrides();
        let settings = serde_json::json!({ "overrides": overrides });
        std::fs::write(dir.join("case.json"), settings.to_string()).expect("write case.json");
        cases.push(Case { root: dir.join("buildout.cfg"), dir, overrides });
    }
    (seed, cases)
}

/// Every file of a random case, to paste into the corpus when it fails.
pub fn describe(case: &Case) -> String {
    let mut out = String::new();
    let mut paths = Vec::new();
    for entry in ["buildout.cfg", "base.cfg", "f2.cfg", "f4.cfg", "sub/f1.cfg", "sub/f3.cfg", "case.json"] {
        if case.dir.join(entry).exists() {
            paths.push(entry);
        }
    }
    for path in paths {
        let text = std::fs::read_to_string(case.dir.join(path)).unwrap_or_default();
        let _ = write!(out, "  --- {path}\n{}", text.lines().map(|line| format!("  | {line}\n")).collect::<String>());
    }
    out
}
