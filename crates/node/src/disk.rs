//! Free space before a build or a deployment (spec §4 and §5.3): a node
//! whose disk is full must say so instead of failing halfway through a
//! compilation. Sizes are written and shown as slapos.core writes them
//! (`slapos.human`: `1000M` in the configuration, `1000.0 MB` in messages).

use std::path::Path;

/// The symbol sets `human2bytes` accepts, as slapos.core lists them; each
/// set's first symbol means bytes, the next ones powers of 1024.
const SYMBOL_SETS: [&[&str]; 5] = [
    &["B", "K", "M", "G", "T", "P", "E", "Z", "Y"],
    &["", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"],
    &["byte", "kilo", "mega", "giga", "tera", "peta", "exa", "zetta", "iotta"],
    &["Bi", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
    &["byte", "kibi", "mebi", "gibi", "tebi", "pebi", "exbi", "zebi", "yobi"],
];

/// A size as `slapos.human.human2bytes` reads it: a number, then a symbol
/// of one set (`k` is `K`); `1000M` is 1000 MiB.
///
/// # Errors
/// Not a number followed by a known symbol (the text is named).
pub fn human2bytes(text: &str) -> Result<u64, String> {
    let digits = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let number: f64 = text[..digits].parse().map_err(|_| format!("can't interpret {text:?}"))?;
    let letter = match text[digits..].trim() {
        "k" => "K",
        other => other,
    };
    let power = SYMBOL_SETS
        .iter()
        .find_map(|set| set.iter().position(|symbol| *symbol == letter))
        .ok_or_else(|| format!("can't interpret {text:?}"))?;
    let bytes = number * f64::from(1_u32 << 10).powi(i32::try_from(power).unwrap_or(0));
    // Python's int() truncates; a size beyond u64 saturates.
    Ok(bytes as u64)
}

/// A size as `slapos.human.bytes2human` shows it (`1000.0 MB`, `12.0 `).
pub fn bytes2human(bytes: u64) -> String {
    let symbols = SYMBOL_SETS[1];
    for (index, symbol) in symbols.iter().enumerate().skip(1).rev() {
        let prefix = 1_u128 << (10 * index);
        if u128::from(bytes) >= prefix {
            return format!("{:.1} {symbol}", bytes as f64 / prefix as f64);
        }
    }
    format!("{bytes}.0 ")
}

/// Bytes free for non-root users on the file system holding `path`, or
/// its nearest existing ancestor (the directory may not exist yet).
pub fn free_space(path: &Path) -> Option<u64> {
    let mut candidate = Some(path);
    while let Some(path) = candidate {
        if let Ok(text) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
            // SAFETY: statvfs writes into the zeroed struct it is given and
            // reads the NUL-terminated path; both outlive the call.
            let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
            if unsafe { libc::statvfs(text.as_ptr(), &mut stat) } == 0 {
                return Some(u64::from(stat.f_bsize).saturating_mul(u64::from(stat.f_bavail)));
            }
        }
        candidate = path.parent();
    }
    None
}

/// The check before building a release (`software_min_free_space`) or
/// deploying a partition (`instance_min_free_space`).
///
/// # Errors
/// Less free space than `required`: slapos.core's message.
pub fn check(path: &Path, required: u64, option: &str) -> Result<(), String> {
    match free_space(path) {
        Some(available) if available < required => Err(format!(
            "Not enough space for {}: available {}, required {} (option '{option}')",
            path.display(),
            bytes2human(available),
            bytes2human(required)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of slapos.human's docstrings.
    #[test]
    fn sizes_read_and_show_as_slapos_human_does() {
        assert_eq!(human2bytes("0 B"), Ok(0));
        assert_eq!(human2bytes("1 K"), Ok(1024));
        assert_eq!(human2bytes("1 M"), Ok(1_048_576));
        assert_eq!(human2bytes("1000M"), Ok(1_048_576_000));
        assert_eq!(human2bytes("1 Gi"), Ok(1_073_741_824));
        assert_eq!(human2bytes("1 tera"), Ok(1_099_511_627_776));
        assert_eq!(human2bytes("0.5kilo"), Ok(512));
        assert_eq!(human2bytes("0.1  byte"), Ok(0));
        assert_eq!(human2bytes("1 k"), Ok(1024));
        assert_eq!(human2bytes("2GB"), Ok(2 * 1_073_741_824));
        assert_eq!(human2bytes("12 foo"), Err("can't interpret \"12 foo\"".to_owned()));
        assert!(human2bytes("M").is_err());
        assert_eq!(bytes2human(0), "0.0 ");
        assert_eq!(bytes2human(1023), "1023.0 ");
        assert_eq!(bytes2human(1024), "1.0 KB");
        assert_eq!(bytes2human(1_048_576_000), "1000.0 MB");
        assert_eq!(bytes2human(9856), "9.6 KB");
    }

    #[test]
    fn a_missing_directory_is_measured_on_its_nearest_ancestor() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let missing = directory.path().join("not/yet/there");
        assert!(free_space(&missing).is_some());
        assert_eq!(check(&missing, 0, "software_min_free_space"), Ok(()));
        let error = check(&missing, u64::MAX, "software_min_free_space").expect_err("no disk is that big");
        assert!(error.starts_with(&format!("Not enough space for {}: available ", missing.display())), "{error}");
        assert!(error.ends_with("required 16.0 EB (option 'software_min_free_space')"), "{error}");
    }
}
