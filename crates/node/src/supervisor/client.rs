//! Talking to the supervisor daemon over `instance_root/sv.sock`, and
//! launching it when nobody answers (spec §8.3 "launch"). The CLI verbs
//! (`slapos node status|start|stop|restart|tail`) and the instance loop use
//! this; only the CLI knows the command line that runs the daemon, so
//! `launch` takes it as a parameter.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use super::protocol::{self, ActionResult, ProcessStatus, Reply, Request};
use super::SupervisorError;

/// Default bound on one request: above the default stop timeout (60 s)
/// since `stop` answers once processes are gone.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on the liveness check done by `launch`.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// PATH given to the daemon when the caller gives none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A connection to the daemon; requests are answered in order.
#[derive(Debug)]
pub struct Client {
    socket: PathBuf,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
}

impl Client {
    /// Connect to the daemon of `instance_root`.
    ///
    /// # Errors
    ///
    /// `Connect` when no daemon listens.
    pub async fn connect(instance_root: &Path) -> Result<Client, SupervisorError> {
        let socket = instance_root.join(super::SOCKET_FILE);
        let stream =
            UnixStream::connect(&socket)
                .await
                .map_err(|source| SupervisorError::Connect {
                    path: socket.clone(),
                    source,
                })?;
        let (read, writer) = stream.into_split();
        Ok(Client {
            socket,
            reader: BufReader::new(read),
            writer,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// Bound every request by `timeout` instead of the default 300 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Send one request and read its reply.
    ///
    /// # Errors
    ///
    /// The socket fails, the reply is late or not a reply. A `Reply::Error`
    /// is returned as a reply, not an error.
    pub async fn request(&mut self, request: &Request) -> Result<Reply, SupervisorError> {
        let socket = self.socket.clone();
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(SupervisorError::Timeout {
                path: socket,
                waited: timeout,
            }),
        }
    }

    async fn exchange(&mut self, request: &Request) -> Result<Reply, SupervisorError> {
        let mut line = serde_json::to_string(request)
            .map_err(|error| self.protocol_error(error.to_string()))?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|error| SupervisorError::io(&self.socket, error))?;
        let mut answer = String::new();
        let limit = u64::try_from(protocol::LINE_BYTES_MAX).unwrap_or(u64::MAX);
        let read = (&mut self.reader).take(limit).read_line(&mut answer).await;
        match read {
            Ok(0) => Err(self.protocol_error("connection closed before the reply".to_owned())),
            Ok(_) => serde_json::from_str(answer.trim_end())
                .map_err(|error| self.protocol_error(error.to_string())),
            Err(error) => Err(SupervisorError::io(&self.socket, error)),
        }
    }

    fn protocol_error(&self, message: String) -> SupervisorError {
        SupervisorError::Protocol {
            path: self.socket.clone(),
            message,
        }
    }

    async fn done(&mut self, request: Request) -> Result<Vec<ActionResult>, SupervisorError> {
        match self.request(&request).await? {
            Reply::Done { results } => Ok(results),
            other => Err(self.unexpected(other)),
        }
    }

    fn unexpected(&self, reply: Reply) -> SupervisorError {
        match reply {
            Reply::Error { message } => SupervisorError::Refused(message),
            other => self.protocol_error(format!("unexpected reply {other:?}")),
        }
    }

    /// The daemon's pid; proves it answers.
    ///
    /// # Errors
    ///
    /// As `request`.
    pub async fn ping(&mut self) -> Result<u32, SupervisorError> {
        match self.request(&Request::Ping).await? {
            Reply::Pong { pid } => Ok(pid),
            other => Err(self.unexpected(other)),
        }
    }

    /// Recompute partition's programs from `directory` (added ones stay
    /// stopped; removed or changed ones are stopped first).
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` when the directory cannot be read.
    pub async fn update_group(
        &mut self,
        partition: &str,
        directory: &Path,
    ) -> Result<Vec<ActionResult>, SupervisorError> {
        self.done(Request::UpdateGroup {
            partition: partition.to_owned(),
            directory: directory.to_owned(),
        })
        .await
    }

    /// Stop every process of `partition` and forget it.
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` for an unknown partition.
    pub async fn remove_group(
        &mut self,
        partition: &str,
    ) -> Result<Vec<ActionResult>, SupervisorError> {
        self.done(Request::RemoveGroup {
            partition: partition.to_owned(),
        })
        .await
    }

    /// Start every non-running process of `partition`.
    ///
    /// # Errors
    ///
    /// As `start`.
    pub async fn start_group(
        &mut self,
        partition: &str,
    ) -> Result<Vec<ActionResult>, SupervisorError> {
        self.start(&format!("{partition}:*")).await
    }

    /// Stop every process of `partition`; returns once they are gone.
    ///
    /// # Errors
    ///
    /// As `stop`.
    pub async fn stop_group(
        &mut self,
        partition: &str,
    ) -> Result<Vec<ActionResult>, SupervisorError> {
        self.stop(&format!("{partition}:*")).await
    }

    /// Start `P:name`, `P:*` or `all`.
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` for an unknown name.
    pub async fn start(&mut self, target: &str) -> Result<Vec<ActionResult>, SupervisorError> {
        self.done(Request::Start {
            target: target.to_owned(),
        })
        .await
    }

    /// Stop `P:name`, `P:*` or `all`; returns once they are gone.
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` for an unknown name.
    pub async fn stop(&mut self, target: &str) -> Result<Vec<ActionResult>, SupervisorError> {
        self.done(Request::Stop {
            target: target.to_owned(),
        })
        .await
    }

    /// Stop then start `P:name`, `P:*` or `all`.
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` for an unknown name.
    pub async fn restart(&mut self, target: &str) -> Result<Vec<ActionResult>, SupervisorError> {
        self.done(Request::Restart {
            target: target.to_owned(),
        })
        .await
    }

    /// Every process with its state, sorted by full name.
    ///
    /// # Errors
    ///
    /// As `request`.
    pub async fn status(&mut self) -> Result<Vec<ProcessStatus>, SupervisorError> {
        match self.request(&Request::Status).await? {
            Reply::Status { processes } => Ok(processes),
            other => Err(self.unexpected(other)),
        }
    }

    /// The last `bytes` bytes of the log of `P:name`.
    ///
    /// # Errors
    ///
    /// As `request`; `Refused` for an unknown process.
    pub async fn tail(&mut self, process: &str, bytes: u64) -> Result<String, SupervisorError> {
        match self
            .request(&Request::Tail {
                process: process.to_owned(),
                bytes,
            })
            .await?
        {
            Reply::Tail { text } => Ok(text),
            other => Err(self.unexpected(other)),
        }
    }

    /// Stop the daemon; with `stop_processes` its processes first,
    /// otherwise they keep running for the next daemon to adopt.
    ///
    /// # Errors
    ///
    /// As `request`.
    pub async fn shutdown_daemon(&mut self, stop_processes: bool) -> Result<(), SupervisorError> {
        self.done(Request::Shutdown { stop_processes })
            .await
            .map(drop)
    }
}

/// How to launch the daemon when none answers.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Program and arguments, e.g. `[slapos, node, supervisord, --instance-root, R]`.
    pub command: Vec<OsString>,
    /// The daemon's whole environment (supervisord got an empty one);
    /// `PATH` defaults to the standard system directories.
    pub environment: Vec<(OsString, OsString)>,
    /// Where the daemon's stdout and stderr go (appended); none: nowhere.
    pub log_file: Option<PathBuf>,
    /// How long to wait for the new daemon to answer.
    pub wait: Duration,
}

impl LaunchOptions {
    /// Launch `command` with the defaults (empty environment, no log, 10 s).
    pub fn new(command: Vec<OsString>) -> Self {
        LaunchOptions {
            command,
            environment: Vec::new(),
            log_file: None,
            wait: Duration::from_secs(10),
        }
    }
}

async fn answering(instance_root: &Path) -> Option<Client> {
    let mut client = Client::connect(instance_root)
        .await
        .ok()?
        .with_timeout(PING_TIMEOUT);
    client.ping().await.ok()?;
    Some(client.with_timeout(REQUEST_TIMEOUT))
}

/// A client of the daemon of `instance_root`, spawning the daemon first
/// (detached in its own session) when nobody answers.
///
/// # Errors
///
/// `Launch` when the command cannot be spawned, or exits or stays silent
/// beyond `options.wait`.
pub async fn launch(
    instance_root: &Path,
    options: &LaunchOptions,
) -> Result<Client, SupervisorError> {
    if let Some(client) = answering(instance_root).await {
        return Ok(client);
    }
    let command_text = options
        .command
        .iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let launch_error = |message: String| SupervisorError::Launch {
        command: command_text.clone(),
        message,
    };
    let Some((program, arguments)) = options.command.split_first() else {
        return Err(launch_error("empty command".to_owned()));
    };
    let output = match &options.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| SupervisorError::io(path, error))?;
            let copy = file
                .try_clone()
                .map_err(|error| SupervisorError::io(path, error))?;
            (Stdio::from(file), Stdio::from(copy))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = std::process::Command::new(program);
    command
        .args(arguments)
        .current_dir(instance_root)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(output.0)
        .stderr(output.1);
    if !options.environment.iter().any(|(key, _)| key == "PATH") {
        command.env("PATH", DEFAULT_PATH);
    }
    command.envs(options.environment.iter().map(|(key, value)| (key, value)));
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our
    // session so it outlives us and our terminal.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|error| launch_error(error.to_string()))?;
    let (exited_tx, mut exited_rx) = tokio::sync::oneshot::channel();
    // Reap the daemon whenever it ends, so it never lingers as a zombie of
    // a long-running caller.
    std::thread::spawn(move || {
        let _ = exited_tx.send(child.wait());
    });
    let deadline = Instant::now() + options.wait;
    loop {
        if let Some(client) = answering(instance_root).await {
            tracing::info!(instance_root = %instance_root.display(), "supervisor daemon launched");
            return Ok(client);
        }
        if let Ok(status) = exited_rx.try_recv() {
            // Another launcher may have won the lock: check once more.
            if let Some(client) = answering(instance_root).await {
                return Ok(client);
            }
            let status = status.map_or_else(|error| error.to_string(), |status| status.to_string());
            return Err(launch_error(format!("exited before answering ({status})")));
        }
        if Instant::now() >= deadline {
            return Err(launch_error(format!(
                "no answer on {} within {} s",
                super::SOCKET_FILE,
                options.wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
