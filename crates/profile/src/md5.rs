//! MD5 as buildout uses it: names of `extends-cache` copies
//! (`md5(url).hexdigest()`), signatures and checksums of downloaded files.
//! Never for security.

use md5::{Digest, Md5};

/// The MD5 digest of `data` as 32 lowercase hexadecimal digits.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// Lowercase hexadecimal digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digests() {
        assert_eq!(super::md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        // Python: hashlib.md5(b'http://example.net/a.cfg').hexdigest()
        assert_eq!(super::md5_hex(b"http://example.net/a.cfg"), "75d0ca23f99c91b3d06cfb41853c6dd5");
    }
}
