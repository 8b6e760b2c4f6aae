//! What an archive is and which of its members may be written: format
//! detection from the first bytes, the member filter of
//! slapos.recipe.build's patched `unpack_tarfile` (no absolute name, no
//! `..` component; we also drop symlinks whose target leaves the
//! extraction root), and the `strip-top-level-dir` decision. Pure: the
//! extraction itself is `sys::unpack`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The compression around a tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// A plain tar.
    None,
    /// gzip (`.tar.gz`, `.tgz`).
    Gzip,
    /// bzip2 (`.tar.bz2`).
    Bzip2,
    /// xz (`.tar.xz`).
    Xz,
    /// lzip (`.tar.lz`), one or more members.
    Lzip,
}

/// An archive format recipes can unpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A tar, possibly compressed.
    Tar(Compression),
    /// A zip file (stored and deflated members).
    Zip,
}

/// The format of an archive from its first bytes (at least 262 are needed
/// to recognise a plain tar); `None` when it is none we know.
pub(crate) fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Tar(Compression::Gzip))
    } else if head.starts_with(b"BZh") {
        Some(Format::Tar(Compression::Bzip2))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Format::Tar(Compression::Xz))
    } else if head.starts_with(b"LZIP") {
        Some(Format::Tar(Compression::Lzip))
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" || has_valid_tar_checksum(head) {
        Some(Format::Tar(Compression::None))
    } else {
        None
    }
}

/// The size of an lzip member's trailer (CRC32, data size, member size).
pub(crate) const LZIP_TRAILER_SIZE: usize = 20;

/// The members of an lzip file, as ranges, found from its end: each
/// trailer ends with the size of its member.
///
/// # Errors
/// A member size that does not fit the file.
pub(crate) fn lzip_members(data: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
    let mut members = Vec::new();
    let mut end = data.len();
    while end > 0 {
        let trailer = end.checked_sub(LZIP_TRAILER_SIZE).and_then(|start| data.get(start..end)).ok_or("truncated lzip member")?;
        let mut size_bytes = [0u8; 8];
        size_bytes.copy_from_slice(&trailer[12..20]);
        let size = usize::try_from(u64::from_le_bytes(size_bytes)).map_err(|_| "lzip member too large")?;
        let start = end.checked_sub(size).filter(|_| size >= 6 + LZIP_TRAILER_SIZE).ok_or("invalid lzip member size")?;
        if !data[start..].starts_with(b"LZIP") {
            return Err("invalid lzip member header".to_owned());
        }
        members.push(start..end);
        end = start;
    }
    members.reverse();
    Ok(members)
}

/// An lzip member's dictionary size, from its coded byte (bits 0-4: log2
/// of a base; bits 5-7: sixteenths of the base to subtract).
///
/// # Errors
/// Outside lzip's 4 KiB – 512 MiB.
pub(crate) fn lzip_dictionary_size(coded: u8) -> Result<u32, String> {
    let exponent = u32::from(coded & 0x1f);
    if !(12..=29).contains(&exponent) {
        return Err(format!("invalid lzip dictionary size byte {coded:#04x}"));
    }
    let base = 1u32 << exponent;
    Ok(base - (base / 16) * u32::from(coded >> 5))
}

/// Whether `head` starts with a tar header whose checksum holds (old V7
/// tars carry no `ustar` magic).
fn has_valid_tar_checksum(head: &[u8]) -> bool {
    let Some(header) = head.get(..512) else { return false };
    let field = &header[148..156];
    let digits: String = field.iter().map(|&byte| byte as char).filter(|c| ('0'..='7').contains(c)).collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else { return false };
    let computed: u32 =
        header.iter().enumerate().map(|(index, &byte)| if (148..156).contains(&index) { u32::from(b' ') } else { u32::from(byte) }).sum();
    stored == computed
}

/// Where member `name` (as stored, `/`-separated) goes, relative to the
/// extraction root; `None` for the members slapos.recipe.build skips:
/// absolute names and names with a `..` component.
pub(crate) fn member_path(name: &[u8]) -> Option<PathBuf> {
    if name.starts_with(b"/") || name.split(|&byte| byte == b'/').any(|part| part == b"..") {
        return None;
    }
    let path: PathBuf = name
        .split(|&byte| byte == b'/')
        .filter(|part| !part.is_empty() && *part != b".")
        .map(OsStr::from_bytes)
        .collect();
    if path.as_os_str().is_empty() {
        return None;
    }
    Some(path)
}

/// Whether a symlink stored at `member` (relative to the root) with target
/// `target` resolves, lexically, inside the extraction root. Absolute
/// targets never do.
pub(crate) fn symlink_stays_inside(member: &Path, target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let mut depth: usize = member.components().count().saturating_sub(1);
    for component in Path::new(OsStr::from_bytes(target)).components() {
        match component {
            Component::ParentDir => match depth.checked_sub(1) {
                Some(parent) => depth = parent,
                None => return false,
            },
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// The `strip-top-level-dir` option: unset means "strip when the archive
/// holds exactly one entry and it is a directory".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strip {
    /// Unset.
    Auto,
    /// `true`: the archive must hold exactly one top entry.
    Always,
    /// `false`.
    Never,
}

impl Strip {
    /// Parses the option (`true`/`false` exactly, as slapos.recipe.build's
    /// `is_true`); `None` when absent.
    pub(crate) fn parse(value: Option<&str>) -> Result<Strip, String> {
        match value {
            None => Ok(Strip::Auto),
            Some("true") => Ok(Strip::Always),
            Some("false") => Ok(Strip::Never),
            Some(other) => Err(format!("invalid value for 'strip-top-level-dir': {} (expected true or false)", crate::pytext::repr(other))),
        }
    }

    /// The top entry to strip, given the extracted top entries (name, is a
    /// directory); `None` to keep the layout.
    ///
    /// # Errors
    /// `Always` with other than exactly one entry.
    pub(crate) fn top_to_strip(self, entries: &[(OsString, bool)]) -> Result<Option<OsString>, String> {
        match (self, entries) {
            (Strip::Never, _) => Ok(None),
            (Strip::Auto, [(name, true)]) => Ok(Some(name.clone())),
            (Strip::Auto, _) => Ok(None),
            (Strip::Always, [(name, _)]) => Ok(Some(name.clone())),
            (Strip::Always, _) => {
                Err(format!("strip-top-level-dir = true needs exactly one top-level entry in the archive, found {}", entries.len()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_filter_skips_absolute_and_parent_names() {
        assert_eq!(member_path(b"a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(member_path(b"./a/./b/"), Some(PathBuf::from("a/b")));
        assert_eq!(member_path(b"/etc/passwd"), None);
        assert_eq!(member_path(b"a/../../evil"), None);
        assert_eq!(member_path(b".."), None);
        assert_eq!(member_path(b"./"), None);
    }

    #[test]
    fn symlinks_must_resolve_inside() {
        assert!(symlink_stays_inside(Path::new("top/bin/x"), b"../lib/y"));
        assert!(symlink_stays_inside(Path::new("top/x"), b"y"));
        assert!(!symlink_stays_inside(Path::new("top/x"), b"../../y"));
        assert!(!symlink_stays_inside(Path::new("x"), b"/etc/passwd"));
        assert!(!symlink_stays_inside(Path::new("x"), b".."));
    }

    #[test]
    fn strip_decisions() {
        let one_dir = [(OsString::from("top"), true)];
        let one_file = [(OsString::from("f"), false)];
        assert_eq!(Strip::Auto.top_to_strip(&one_dir), Ok(Some(OsString::from("top"))));
        assert_eq!(Strip::Auto.top_to_strip(&one_file), Ok(None));
        assert_eq!(Strip::Never.top_to_strip(&one_dir), Ok(None));
        assert!(Strip::Always.top_to_strip(&[]).is_err());
        assert_eq!(Strip::parse(Some("yes")).map(|_| ()).map_err(|e| e.contains("strip-top-level-dir")), Err(true));
    }

    #[test]
    fn lzip_layout() {
        assert_eq!(lzip_dictionary_size(0x17), Ok(1 << 23));
        assert_eq!(lzip_dictionary_size(0x37), Ok((1 << 23) - (1 << 19)));
        assert!(lzip_dictionary_size(0x05).is_err());
        let mut member = b"LZIP\x01\x17".to_vec();
        member.extend_from_slice(&[0; 4]);
        member.extend_from_slice(&[0; 12]);
        member.extend_from_slice(&30u64.to_le_bytes());
        let mut two = member.clone();
        two.extend_from_slice(&member);
        assert_eq!(lzip_members(&two), Ok(vec![0..30, 30..60]));
        assert!(lzip_members(&two[1..]).is_err());
    }

    #[test]
    fn formats_by_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Some(Format::Tar(Compression::Gzip)));
        assert_eq!(detect(b"BZh91AY"), Some(Format::Tar(Compression::Bzip2)));
        assert_eq!(detect(b"PK\x03\x04"), Some(Format::Zip));
        assert_eq!(detect(b"hello"), None);
    }
}
