//! The cookbook recipes that only lay out files: `mkdirectory` (§11.9),
//! `symbolic.link` and `cron.d` (§11.13, with dcron's conversion of
//! systemd calendar specs), and `userinfo`, which reads who runs the
//! install.

use std::path::{Path, PathBuf};

use super::values::option_text;
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// A part whose install and update are the same function of the options.
struct SameOnUpdate(fn(&mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError>);

impl Part for SameOnUpdate {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        (self.0)(context)
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        (self.0)(context).map(Some)
    }
}

/// An option as the recipe reads it (`!py!` strings decoded).
fn option(context: &InstallContext<'_>, key: &str) -> Result<String, RecipeError> {
    context.require(key).map(option_text)
}

/// `slapos.cookbook:mkdirectory`.
#[derive(Debug, Default)]
pub(super) struct MkDirectory;

impl Recipe for MkDirectory {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        if let Some(mode) = context.value("mode")? {
            parse_octal(&option_text(&mode))?;
        }
        Ok(Box::new(SameOnUpdate(make_directories)))
    }
}

/// `int(text, 8)`.
fn parse_octal(text: &str) -> Result<u32, RecipeError> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")).unwrap_or(digits);
    u32::from_str_radix(&digits.replace('_', ""), 8)
        .map_err(|_| RecipeError::Failed(format!("invalid literal for int() with base 8: {}", crate::python::str_repr(text))))
}

fn make_directories(context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
    let mode = match context.options.get("mode") {
        Some(mode) => parse_octal(&option_text(mode))?,
        None => 0o777,
    };
    let mut paths: Vec<String> = context
        .options
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "recipe" | "mode") && !key.starts_with("__buildout_"))
        .map(|(_, value)| option_text(value))
        .collect();
    paths.sort();
    for path in paths.iter().filter(|path| !path.is_empty()) {
        if !super::sys::is_dir(Path::new(path)) {
            super::sys::make_directories(Path::new(path), mode)?;
        }
    }
    // Directories may hold user data: never returned, never removed.
    Ok(Vec::new())
}

/// `slapos.cookbook:symbolic.link`.
#[derive(Debug, Default)]
pub(super) struct SymbolicLink;

impl Recipe for SymbolicLink {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, _context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        Ok(Box::new(SameOnUpdate(link_binaries)))
    }
}

fn link_binaries(context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
    let target_directory = option(context, "target-directory")?;
    let mut links = Vec::new();
    for target in option(context, "link-binary")?.split_whitespace() {
        let name = target.rsplit('/').next().unwrap_or(target);
        let link = Path::new(&target_directory).join(name);
        super::sys::replace_symlink(target, &link)?;
        links.push(link);
    }
    Ok(links)
}

/// `slapos.cookbook:cron.d`.
#[derive(Debug, Default)]
pub(super) struct CronD;

impl Recipe for CronD {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, _context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        Ok(Box::new(SameOnUpdate(write_cron_entry)))
    }
}

fn write_cron_entry(context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
    let periodicity = match context.options.get("frequency") {
        Some(frequency) => option_text(frequency),
        None => {
            let time = option(context, "time")?;
            systemd_to_cron(&time).ok_or_else(|| {
                RecipeError::Failed(format!("Invalid systemd calendar spec {}", crate::python::str_repr(&time)))
            })?
        }
    };
    let filename = Path::new(&option(context, "cron-entries")?).join(option(context, "name")?);
    let command = option(context, "command")?;
    super::sys::write_text(&filename, &format!("{periodicity} {command}\n"))?;
    Ok(vec![filename])
}

/// dcron's `systemd_to_cron`: a systemd.time(7) calendar spec as a crontab
/// spec; `None` where dcron raises (years, seconds, day of month with day
/// of week, out-of-range values).
pub(super) fn systemd_to_cron(spec: &str) -> Option<String> {
    let symbolic = match spec {
        "minutely" => Some("* * * * *"),
        "hourly" => Some("0 * * * *"),
        "daily" => Some("0 0 * * *"),
        "weekly" => Some("0 0 * * 0"),
        "monthly" => Some("0 0 1 * *"),
        "yearly" => Some("0 0 1 1 *"),
        _ => None,
    };
    if let Some(symbolic) = symbolic {
        return Some(symbolic.to_owned());
    }
    if spec.trim().is_empty() {
        return None;
    }
    let mut words: Vec<&str> = spec.split(' ').collect();
    let dow = match day_of_week(words[0]) {
        Some(dow) => {
            words.remove(0);
            dow
        }
        None => "*".to_owned(),
    };
    let mut day = if words.is_empty() { "*-*".to_owned() } else { words.remove(0).to_owned() };
    let time = match words.len() {
        0 if day.contains(':') => std::mem::replace(&mut day, "*-*".to_owned()),
        0 => "0:0".to_owned(),
        1 => words[0].to_owned(),
        _ => return None,
    };
    let mut day: Vec<&str> = day.split('-').collect();
    let mut time: Vec<&str> = time.split(':').collect();
    if day.len() > 2 && day.remove(0) != "*" {
        return None;
    }
    if day.len() != 2 || (dow != "*" && day[1] != "*") {
        return None;
    }
    if time.len() > 2 && time.pop()?.parse::<i64>().ok()? != 0 {
        return None;
    }
    if time.len() != 2 {
        return None;
    }
    let mut fields = [time[1].to_owned(), time[0].to_owned(), day[1].to_owned(), day[0].to_owned(), dow];
    for (index, (low, span)) in [(0, 60), (0, 24), (1, 31), (1, 12)].into_iter().enumerate() {
        if fields[index] == "*" {
            continue;
        }
        let mut replacement = None;
        for item in fields[index].split(',') {
            let numbers: Vec<i64> = item.splitn(2, '/').map(|n| n.trim().parse::<i64>().ok()).collect::<Option<_>>()?;
            let offset = numbers[0] - low;
            if !(0..span).contains(&offset) {
                return None;
            }
            let Some(&step) = numbers.get(1) else { continue };
            if step <= 0 {
                return None;
            }
            let extent = (span - offset - 1) / step * step;
            if extent == 0 {
                return None;
            }
            replacement = Some(format!("{}-{}/{}", numbers[0], numbers[0] + extent, step));
        }
        if let Some(replacement) = replacement {
            fields[index] = replacement;
        }
    }
    Some(fields.join(" "))
}

/// The day-of-week word of a calendar spec (`Mon`, `mon-fri`,
/// `Sat,Sun`…) as cron numbers, sorted as strings; `None` if it is not one.
fn day_of_week(word: &str) -> Option<String> {
    const DAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    let number = |name: &str| -> Option<String> {
        let name = name.to_lowercase();
        DAYS.iter().position(|day| *day == name || day[..3] == name).map(|n| n.to_string())
    };
    let mut items = Vec::new();
    for item in word.split(',').filter(|item| !item.is_empty()) {
        let converted: Vec<String> = item.splitn(2, '-').map(number).collect::<Option<_>>()?;
        items.push(converted.join("-"));
    }
    items.sort();
    Some(items.join(","))
}

/// `slapos.cookbook:userinfo`.
#[derive(Debug, Default)]
pub(super) struct UserInfo;

impl Recipe for UserInfo {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let user = super::sys::user_info()?;
        context.set("pw-name", user.name)?;
        context.set("pw-uid", user.uid.to_string())?;
        context.set("pw-gid", user.gid.to_string())?;
        context.set("pw-dir", user.home)?;
        context.set("pw-shell", user.shell)?;
        context.set("gr-name", user.group_name)?;
        context.set("gr-gid", user.gid.to_string())?;
        Ok(Box::new(SameOnUpdate(|_| Ok(Vec::new()))))
    }
}

#[cfg(test)]
mod tests {
    use super::systemd_to_cron;

    #[test]
    fn calendar_specs_convert_as_dcron() {
        assert_eq!(systemd_to_cron("daily").as_deref(), Some("0 0 * * *"));
        assert_eq!(systemd_to_cron("Mon 10:00").as_deref(), Some("00 10 * * 1"));
        assert_eq!(systemd_to_cron("*-*-* 3:15").as_deref(), Some("15 3 * * *"));
        assert_eq!(systemd_to_cron("Sat,Sun 0/6:00").as_deref(), Some("00 0-18/6 * * 0,6"));
        assert_eq!(systemd_to_cron("2020-01-01 0:0"), None);
        assert_eq!(systemd_to_cron(" "), None);
    }
}
