//! Archive extraction: tar (plain, gzip, bzip2, xz, lzip) through the `tar`
//! crate, zip (stored and deflated members) by a small reader of the
//! central directory. Which members are written is decided by
//! `recipe::archive`; entries are then written with the `tar` crate's
//! `unpack_in`, which also refuses to write through a symlink leaving the
//! root.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{create, create_dir_all, open, set_mode, ScratchDir};
use crate::recipe::archive::{lzip_dictionary_size, lzip_members, member_path, symlink_stays_inside, Compression, LZIP_TRAILER_SIZE};
use crate::recipe::RecipeError;

/// Extracts the tar at `archive` into directory `root` (which exists),
/// skipping the members `archive::member_path` refuses, device nodes and
/// FIFOs, and symlinks leaving `root`.
pub(crate) fn unpack_tar(archive: &Path, compression: Compression, root: &Path) -> Result<(), RecipeError> {
    let file = BufReader::new(open(archive)?);
    match compression {
        Compression::None => unpack_tar_stream(file, archive, root),
        Compression::Gzip => unpack_tar_stream(flate2::read::MultiGzDecoder::new(file), archive, root),
        Compression::Bzip2 => unpack_tar_stream(bzip2_rs::DecoderReader::new(file), archive, root),
        Compression::Xz | Compression::Lzip => {
            // lzma-rs decodes into a writer, not as a reader: go through a
            // scratch file so that memory stays bounded.
            let scratch = ScratchDir::new("tar")?;
            let tar_path = scratch.path().join("archive.tar");
            let mut output = BufWriter::new(create(&tar_path)?);
            let decoded = match compression {
                Compression::Lzip => decode_lzip(archive, &mut output),
                _ => lzma_rs::xz_decompress(&mut { file }, &mut output).map_err(|error| error.to_string()),
            };
            decoded.map_err(|why| RecipeError::Failed(format!("{}: invalid compressed data: {why}", archive.display())))?;
            output.into_inner().map_err(|error| RecipeError::io(&tar_path, error.into_error()))?;
            unpack_tar_stream(BufReader::new(open(&tar_path)?), archive, root)
        }
    }
}

/// Decodes every member of the lzip file at `archive`: each is a raw LZMA
/// stream (lc 3, lp 0, pb 2, end marker) given to lzma-rs behind the
/// classic 13-byte LZMA header it expects.
fn decode_lzip(archive: &Path, output: &mut impl std::io::Write) -> Result<(), String> {
    let data = std::fs::read(archive).map_err(|error| error.to_string())?;
    for member in lzip_members(&data)? {
        let member = &data[member];
        let dictionary_size = lzip_dictionary_size(member[5])?;
        let mut header = vec![0x5d];
        header.extend_from_slice(&dictionary_size.to_le_bytes());
        header.extend_from_slice(&u64::MAX.to_le_bytes());
        let stream = &member[6..member.len() - LZIP_TRAILER_SIZE];
        let mut input = BufReader::new(header.as_slice().chain(stream));
        lzma_rs::lzma_decompress(&mut input, output).map_err(|error| error.to_string())?;
    }
    Ok(())
}

fn unpack_tar_stream(reader: impl Read, archive_path: &Path, root: &Path) -> Result<(), RecipeError> {
    let invalid = |error: std::io::Error| RecipeError::Failed(format!("{}: invalid tar archive: {error}", archive_path.display()));
    let mut archive = tar::Archive::new(reader);
    let mut directories: Vec<(PathBuf, u32)> = Vec::new();
    for entry in archive.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        let Some(relative) = member_path(&entry.path_bytes()) else { continue };
        let kind = entry.header().entry_type();
        let keep = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse | tar::EntryType::Directory => true,
            tar::EntryType::Symlink => entry.link_name_bytes().is_some_and(|target| symlink_stays_inside(&relative, &target)),
            tar::EntryType::Link => entry.link_name_bytes().is_some_and(|target| member_path(&target).is_some()),
            _ => false,
        };
        if !keep {
            continue;
        }
        entry.set_preserve_mtime(true);
        let destination = root.join(&relative);
        entry.unpack_in(root).map_err(|error| RecipeError::io(&destination, error))?;
        if kind == tar::EntryType::Directory {
            // A read-only directory would refuse its own members: keep it
            // writable until the end, then give it its mode.
            let mode = entry.header().mode().unwrap_or(0o755) & 0o7777;
            set_mode(&destination, mode | 0o700)?;
            directories.push((destination, mode));
        }
    }
    for (directory, mode) in directories.iter().rev() {
        set_mode(directory, *mode)?;
    }
    Ok(())
}

/// One member of a zip's central directory.
struct ZipMember {
    name: Vec<u8>,
    method: u16,
    compressed_size: u64,
    unix_mode: Option<u32>,
    local_header_offset: u64,
}

const ZIP_SIZE_MAX: u32 = u32::MAX;
const ZIP_END_RECORD_SIZE: u64 = 22;
const ZIP_COMMENT_SIZE_MAX: u64 = 0xffff;

/// Extracts the zip at `archive` into directory `root`, with the member
/// filter of [`unpack_tar`]. Zip64 archives and methods other than stored
/// and deflate are refused.
pub(crate) fn unpack_zip(archive: &Path, root: &Path) -> Result<(), RecipeError> {
    let invalid = |why: &str| RecipeError::Failed(format!("{}: invalid or unsupported zip archive: {why}", archive.display()));
    let io = |error: std::io::Error| RecipeError::io(archive, error);
    let mut file = open(archive)?;
    let members = read_central_directory(&mut file, archive)?;
    for member in members {
        let Some(relative) = member_path(&member.name) else { continue };
        let destination = root.join(&relative);
        ensure_real_parents(root, &relative)?;
        let is_symlink = member.unix_mode.is_some_and(|mode| mode & 0o170000 == 0o120000);
        if member.name.ends_with(b"/") {
            create_dir_all(&destination)?;
            continue;
        }
        if let Some(parent) = destination.parent() {
            create_dir_all(parent)?;
        }
        file.seek(SeekFrom::Start(member.local_header_offset)).map_err(io)?;
        let mut local = [0u8; 30];
        file.read_exact(&mut local).map_err(io)?;
        if local[..4] != *b"PK\x03\x04" {
            return Err(invalid("bad local header"));
        }
        let skip = u64::from(u16::from_le_bytes([local[26], local[27]])) + u64::from(u16::from_le_bytes([local[28], local[29]]));
        file.seek(SeekFrom::Current(skip as i64)).map_err(io)?;
        let data = (&mut file).take(member.compressed_size);
        let mut reader: Box<dyn Read + '_> = match member.method {
            0 => Box::new(data),
            8 => Box::new(flate2::read::DeflateDecoder::new(data)),
            other => return Err(invalid(&format!("compression method {other}"))),
        };
        if is_symlink {
            let mut target = Vec::new();
            reader.read_to_end(&mut target).map_err(io)?;
            if symlink_stays_inside(&relative, &target) {
                use std::os::unix::ffi::OsStrExt;
                let target = std::ffi::OsStr::from_bytes(&target);
                std::os::unix::fs::symlink(target, &destination).map_err(|error| RecipeError::io(&destination, error))?;
            }
            continue;
        }
        let mut output = create(&destination)?;
        std::io::copy(&mut reader, &mut output).map_err(|error| RecipeError::io(&destination, error))?;
        if let Some(mode) = member.unix_mode.filter(|mode| mode & 0o777 != 0) {
            set_mode(&destination, mode & 0o777)?;
        }
    }
    Ok(())
}

fn read_central_directory(file: &mut File, archive: &Path) -> Result<Vec<ZipMember>, RecipeError> {
    let invalid = |why: &str| RecipeError::Failed(format!("{}: invalid or unsupported zip archive: {why}", archive.display()));
    let io = |error: std::io::Error| RecipeError::io(archive, error);
    let size = file.seek(SeekFrom::End(0)).map_err(io)?;
    let tail_size = size.min(ZIP_END_RECORD_SIZE + ZIP_COMMENT_SIZE_MAX);
    file.seek(SeekFrom::Start(size - tail_size)).map_err(io)?;
    let mut tail = Vec::new();
    file.take(tail_size).read_to_end(&mut tail).map_err(io)?;
    let end = tail
        .windows(4)
        .rposition(|window| window == b"PK\x05\x06")
        .filter(|&position| tail.len() - position >= ZIP_END_RECORD_SIZE as usize)
        .ok_or_else(|| invalid("no end of central directory"))?;
    let record = &tail[end..];
    let count = u16::from_le_bytes([record[10], record[11]]);
    let directory_size = u32::from_le_bytes([record[12], record[13], record[14], record[15]]);
    let directory_offset = u32::from_le_bytes([record[16], record[17], record[18], record[19]]);
    if count == u16::MAX || directory_offset == ZIP_SIZE_MAX {
        return Err(invalid("zip64"));
    }
    file.seek(SeekFrom::Start(u64::from(directory_offset))).map_err(io)?;
    let mut directory = Vec::new();
    file.take(u64::from(directory_size)).read_to_end(&mut directory).map_err(io)?;
    let mut members = Vec::with_capacity(usize::from(count));
    let mut at = 0usize;
    for _ in 0..count {
        let header = directory.get(at..at + 46).ok_or_else(|| invalid("truncated central directory"))?;
        if header[..4] != *b"PK\x01\x02" {
            return Err(invalid("bad central directory entry"));
        }
        let field16 = |offset: usize| u16::from_le_bytes([header[offset], header[offset + 1]]);
        let field32 = |offset: usize| u32::from_le_bytes([header[offset], header[offset + 1], header[offset + 2], header[offset + 3]]);
        let name_length = usize::from(field16(28));
        let extra_length = usize::from(field16(30)) + usize::from(field16(32));
        let compressed_size = field32(20);
        if compressed_size == ZIP_SIZE_MAX || field32(42) == ZIP_SIZE_MAX {
            return Err(invalid("zip64"));
        }
        let made_on_unix = field16(4) >> 8 == 3;
        let name = directory.get(at + 46..at + 46 + name_length).ok_or_else(|| invalid("truncated name"))?.to_vec();
        members.push(ZipMember {
            name,
            method: field16(10),
            compressed_size: u64::from(compressed_size),
            unix_mode: made_on_unix.then(|| field32(38) >> 16),
            local_header_offset: u64::from(field32(42)),
        });
        at += 46 + name_length + extra_length;
    }
    Ok(members)
}

/// Fails when a directory on the way from `root` to `relative` is a
/// symlink (written earlier by the same archive), so that no member is
/// written through it.
fn ensure_real_parents(root: &Path, relative: &Path) -> Result<(), RecipeError> {
    let mut current = root.to_path_buf();
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            break;
        }
        current.push(component);
        if std::fs::symlink_metadata(&current).is_ok_and(|metadata| metadata.file_type().is_symlink()) {
            return Err(RecipeError::Failed(format!("archive member {} would be written through a symlink", relative.display())));
        }
    }
    Ok(())
}
