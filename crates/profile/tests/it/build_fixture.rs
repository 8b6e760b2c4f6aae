//! Shared fixture of the build-recipe tests (download, download-unpacked,
//! cmmi): a loopback HTTP/1.0 server serving files the test puts, a
//! [`Fetch`] that talks to it over plain TCP, a progress recorder, and a
//! runner that loads a profile, initialises its parts with the native
//! recipes and installs them in order (what the lifecycle will do).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use profile::recipe::{Environment, InstallContext, Options, Progress, RecipeRun, Recipes};
use profile::Fetch;

/// A loopback HTTP server; stopped when dropped.
pub struct HttpServer {
    address: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, requests, stop) = (files.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &files, &requests);
                    }
                }
            })
        };
        HttpServer { address, files, requests, stop, thread: Some(thread) }
    }

    /// Serves `body` at `/path`.
    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.files.lock().expect("files lock").insert(format!("/{path}"), body.into());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    /// The paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>, requests: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(count) => request.extend_from_slice(&buffer[..count]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    requests.lock().expect("requests lock").push(path.clone());
    let body = files.lock().expect("files lock").get(&path).cloned();
    let response = match body {
        Some(body) => {
            let mut response = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            response.extend_from_slice(&body);
            response
        }
        None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    };
    let _ = stream.write_all(&response);
}

/// A [`Fetch`] speaking HTTP/1.0 to loopback servers, streaming bodies.
pub struct TestFetch;

impl TestFetch {
    fn get(url: &str) -> Result<(TcpStream, Option<u64>, Vec<u8>), String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("unsupported URL {url}"))?;
        let (host, path) = rest.split_once('/').map(|(host, path)| (host, format!("/{path}"))).unwrap_or((rest, "/".to_owned()));
        let mut stream = TcpStream::connect(host).map_err(|error| error.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|error| error.to_string())?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|error| error.to_string())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).map_err(|error| error.to_string())? == 0 {
                return Err("connection closed in headers".to_owned());
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status_line = head.lines().next().unwrap_or("");
        let status = status_line.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("");
            return Err(format!("HTTP Error {status}: {reason}"));
        }
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .and_then(|value| value.trim().parse().ok());
        Ok((stream, length, Vec::new()))
    }
}

impl Fetch for TestFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let (mut stream, _, mut body) = TestFetch::get(url)?;
        stream.read_to_end(&mut body).map_err(|error| error.to_string())?;
        Ok(body)
    }

    fn fetch_to(&self, url: &str, sink: &mut dyn Write, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<u64, String> {
        let (mut stream, total, _) = TestFetch::get(url)?;
        let mut done = 0u64;
        let mut buffer = [0u8; 4096];
        loop {
            let count = stream.read(&mut buffer).map_err(|error| error.to_string())?;
            if count == 0 {
                return Ok(done);
            }
            sink.write_all(&buffer[..count]).map_err(|error| error.to_string())?;
            done += count as u64;
            progress(done, total);
        }
    }
}

/// Records progress events.
#[derive(Default)]
pub struct RecordingProgress {
    pub steps: Mutex<Vec<String>>,
    pub bytes_done_max: Mutex<u64>,
}

impl Progress for RecordingProgress {
    fn step(&self, part: &str, message: &str) {
        self.steps.lock().expect("steps lock").push(format!("{part}: {message}"));
    }

    fn bytes(&self, _part: &str, done: u64, _total: Option<u64>) {
        let mut maximum = self.bytes_done_max.lock().expect("bytes lock");
        *maximum = (*maximum).max(done);
    }
}

/// The registry of the recipes under test.
pub fn recipes() -> Recipes {
    let mut recipes = Recipes::new();
    profile::recipe::download::register(&mut recipes);
    profile::recipe::download_unpacked::register(&mut recipes);
    profile::recipe::cmmi::register(&mut recipes);
    recipes
}

/// What an install run gave.
#[derive(Debug, Default)]
pub struct Run {
    /// Each installed part's final options.
    pub options: BTreeMap<String, Options>,
    /// Each installed part's returned paths.
    pub paths: BTreeMap<String, Vec<PathBuf>>,
    /// The failure, if a part failed: (part, message, its created paths).
    pub failure: Option<(String, String, Vec<PathBuf>)>,
}

impl Run {
    pub fn error(&self) -> &str {
        self.failure.as_ref().map(|(_, message, _)| message.as_str()).unwrap_or("")
    }

    pub fn option(&self, part: &str, option: &str) -> String {
        self.options.get(part).and_then(|options| options.get(option)).cloned().unwrap_or_default()
    }
}

/// Writes `buildout.cfg` into `directory` (and `parts/`), loads it,
/// initialises its parts with [`recipes`] and installs them in order; stops
/// at the first failure. Initialisation errors are returned as `Err`.
pub fn install(directory: &Path, profile_text: &str) -> Result<Run, String> {
    let progress = RecordingProgress::default();
    install_with(directory, profile_text, &progress, |_, _| ())
}

/// As [`install`], with a progress recorder and a hook called with each
/// installed part (to call `update` on it).
pub fn install_with(
    directory: &Path,
    profile_text: &str,
    progress: &RecordingProgress,
    mut after: impl FnMut(&mut dyn profile::recipe::Part, &mut InstallContext<'_>),
) -> Result<Run, String> {
    std::fs::write(directory.join("buildout.cfg"), profile_text).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(directory.join("parts")).map_err(|error| error.to_string())?;
    let mut options = super::cases::options();
    options.cwd = Some(directory.to_path_buf());
    let profile = profile::load_file(&directory.join("buildout.cfg"), &options).map_err(|error| error.to_string())?;
    let recipes = recipes();
    let environment = Environment { fetch: &TestFetch, progress };
    let hook = RecipeRun::new(&recipes, &environment);
    let mut resolver = profile.resolver(&hook).map_err(|error| error.to_string())?;
    profile::select_parts(&mut resolver).map_err(|error| error.to_string())?;
    let order = resolver.parts().to_vec();
    let mut parts = hook.take_parts();
    let mut run = Run::default();
    for name in order {
        let part_options: Options = resolver
            .options(&name)
            .map_err(|error| error.to_string())?
            .into_iter()
            .map(|(key, value)| (key, profile::final_read(&value)))
            .collect();
        let mut part = parts.remove(&name).ok_or_else(|| format!("part {name} was not initialised"))?.part;
        let mut context = InstallContext::new(&name, &part_options, directory, &environment);
        match part.install(&mut context) {
            Ok(paths) => {
                after(part.as_mut(), &mut context);
                run.paths.insert(name.clone(), paths);
                run.options.insert(name.clone(), part_options.clone());
            }
            Err(error) => {
                run.failure = Some((name.clone(), error.to_string(), context.created_paths().to_vec()));
                break;
            }
        }
    }
    Ok(run)
}

/// Writes `buildout.cfg` into `directory` and runs the real lifecycle
/// (`.installed.cfg` kept there) with [`recipes`]; the error as text.
pub fn lifecycle_install(directory: &Path, profile_text: &str) -> Result<profile::lifecycle::InstallReport, String> {
    std::fs::write(directory.join("buildout.cfg"), profile_text).map_err(|error| error.to_string())?;
    let mut options = super::cases::options();
    options.cwd = Some(directory.to_path_buf());
    let profile = profile::load_file(&directory.join("buildout.cfg"), &options).map_err(|error| error.to_string())?;
    let progress = RecordingProgress::default();
    let environment = Environment { fetch: &TestFetch, progress: &progress };
    profile::lifecycle::install(&profile, &recipes(), &environment, &profile::lifecycle::NoEvents).map_err(|failure| failure.error.to_string())
}

/// A `buildout.cfg` with `[buildout] parts = <parts>` and `sections`.
pub fn profile(parts: &str, sections: &str) -> String {
    format!("[buildout]\nparts = {parts}\n\n{sections}")
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(data))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

pub fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha512::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One member of a test tarball.
pub enum Member<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A tar stream of `members`, names written raw (so that `../x` and
/// absolute names can be made).
pub fn tar_bytes(members: &[Member<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_old();
        let (name, data, mode, kind, link): (&str, &[u8], u32, tar::EntryType, Option<&str>) = match member {
            Member::File(name, data, mode) => (name, data, *mode, tar::EntryType::Regular, None),
            Member::Dir(name) => (name, b"", 0o755, tar::EntryType::Directory, None),
            Member::Symlink(name, target) => (name, b"", 0o777, tar::EntryType::Symlink, Some(target)),
        };
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, data).expect("append to an in-memory tar");
    }
    builder.into_inner().expect("finish an in-memory tar")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut output = Vec::new();
    lzma_rs::xz_compress(&mut std::io::Cursor::new(data), &mut output).expect("xz in memory");
    output
}

/// IEEE CRC-32 (zip and lzip trailers).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// An lzip file of one member per chunk: lzma-rs's LZMA stream (lc 3,
/// lp 0, pb 2, end marker) without its 13-byte header, between lzip's
/// header and trailer.
pub fn lzip(chunks: &[&[u8]]) -> Vec<u8> {
    let mut output = Vec::new();
    for chunk in chunks {
        let mut lzma = Vec::new();
        lzma_rs::lzma_compress(&mut std::io::Cursor::new(chunk), &mut lzma).expect("lzma in memory");
        let start = output.len();
        output.extend_from_slice(b"LZIP\x01\x17");
        output.extend_from_slice(&lzma[13..]);
        output.extend_from_slice(&crc32(chunk).to_le_bytes());
        output.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
        let member_size = (output.len() - start + 8) as u64;
        output.extend_from_slice(&member_size.to_le_bytes());
    }
    output
}

/// bzip2 through the system `bzip2` (the crate we use only decodes).
pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("bzip2")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bzip2 is installed");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("bzip2 runs");
    writer.join().expect("writer thread").expect("bzip2 reads its input");
    assert!(output.status.success(), "bzip2 failed");
    output.stdout
}
