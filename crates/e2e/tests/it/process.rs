//! Real `slapos` processes for end-to-end tests: found next to the test
//! binary, started on `127.0.0.1:0`, their bound address read from the one
//! line they print, killed (by pid) when the guard drops, even on failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `slapos` binary of this build (`target/debug/slapos`).
pub fn slapos_binary() -> PathBuf {
    let test = std::env::current_exe().expect("test binary path");
    let debug = test.parent().and_then(|deps| deps.parent()).expect("target/debug");
    let binary = debug.join("slapos");
    assert!(binary.exists(), "{} is missing: build it first (cargo build -p cli)", binary.display());
    binary
}

/// A running `slapos` server, killed on drop.
pub struct Server {
    child: Child,
    /// Its base URL, e.g. `http://127.0.0.1:41234/`.
    pub url: String,
}

impl Server {
    /// Starts `slapos ARGS…`, which must print `… listening on URL` first.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(slapos_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn slapos");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, url)) = line.split_once("listening on ") {
                    let _ = sender.send(url.trim().to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut server = Server { child, url: String::new() };
        while Instant::now() < deadline {
            if let Ok(url) = receiver.recv_timeout(Duration::from_millis(100)) {
                server.url = url;
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("slapos {args:?} exited with {status} before listening");
            }
        }
        panic!("slapos {args:?} did not report its address within 30 s");
    }
}

impl Server {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
