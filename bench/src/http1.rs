//! The load generator's HTTP/1.1 client: one connection, requests written
//! in one piece, answers read by `Content-Length`, chunks or end of stream.
//!
//! Why not `reqwest`: at one client the round trip is the server's work
//! plus the client's, one after the other, and `reqwest` spent about 95 µs
//! of CPU per request (URL parsing, header maps, pool checkout, form
//! serialisation), a quarter of our server's round trip. This client does
//! only what the benchmark needs, the same way for both servers, so that
//! the rates measure the servers. It reconnects when a server closes the
//! connection (the Python slapproxy answers HTTP/1.0 and closes each one).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes of a response head (status line and headers) at most.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// An answer: status code and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// A keep-alive connection to one server, opened on first use and again
/// after the server closed it.
#[derive(Debug)]
pub(crate) struct Connection {
    address: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(address: SocketAddr) -> Connection {
        Connection { address, host: address.to_string(), stream: None, buffer: Vec::new() }
    }

    /// The server's address.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// `GET target` (path and query, already encoded).
    pub(crate) async fn get(&mut self, target: &str) -> Result<Answer, TransportError> {
        let head = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.exchange(head.into_bytes()).await
    }

    /// `POST target` with a url-encoded form body.
    pub(crate) async fn post_form(&mut self, target: &str, body: &str) -> Result<Answer, TransportError> {
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body.as_bytes());
        self.exchange(request).await
    }

    /// Sends `request` and reads its answer. A kept-alive connection the
    /// server closed while idle fails before any byte of answer; the
    /// request is then sent once more on a new connection (the server
    /// never saw it).
    async fn exchange(&mut self, request: Vec<u8>) -> Result<Answer, TransportError> {
        let reused = self.stream.is_some();
        match self.exchange_once(&request).await {
            Err(Attempt::NothingRead(_)) if reused => {
                self.stream = None;
                self.exchange_once(&request).await.map_err(Attempt::into_error)
            }
            result => result.map_err(Attempt::into_error),
        }
    }

    async fn exchange_once(&mut self, request: &[u8]) -> Result<Answer, Attempt> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.address).await.map_err(|e| Attempt::Failed(e.into()))?;
                stream.set_nodelay(true).map_err(|e| Attempt::Failed(e.into()))?;
                self.buffer.clear();
                self.stream.insert(stream)
            }
        };
        if let Err(error) = stream.write_all(request).await {
            self.stream = None;
            return Err(Attempt::NothingRead(error.into()));
        }
        let answer = read_answer(stream, &mut self.buffer).await;
        match answer {
            Ok((answer, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(answer)
            }
            Err(error) => {
                self.stream = None;
                Err(error)
            }
        }
    }
}

/// A failed attempt, and whether the server may have seen the request.
enum Attempt {
    NothingRead(TransportError),
    Failed(TransportError),
}

impl Attempt {
    fn into_error(self) -> TransportError {
        match self {
            Attempt::NothingRead(error) | Attempt::Failed(error) => error,
        }
    }
}

/// Reads one answer from `stream`; `buffer` keeps bytes read past it.
/// Returns the answer and whether the connection stays open.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(Answer, bool), Attempt> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > HEAD_BYTES_MAX {
            return Err(Attempt::Failed(TransportError::Malformed("response head over 64 KiB".into())));
        }
        if fill(stream, buffer).await.map_err(|e| Attempt::Failed(e.into()))? == 0 {
            let error = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before an answer");
            return Err(if buffer.is_empty() { Attempt::NothingRead(error.into()) } else { Attempt::Failed(error.into()) });
        }
    };
    let head = Head::parse(&buffer[..head_end]).map_err(Attempt::Failed)?;
    buffer.drain(..head_end + 4);
    let body = match head.framing {
        Framing::Length(length) => {
            while buffer.len() < length {
                if fill(stream, buffer).await.map_err(|e| Attempt::Failed(e.into()))? == 0 {
                    return Err(Attempt::Failed(TransportError::Malformed(format!(
                        "body ended after {} of {length} bytes",
                        buffer.len()
                    ))));
                }
            }
            buffer.drain(..length).collect()
        }
        Framing::Chunked => read_chunked(stream, buffer).await.map_err(Attempt::Failed)?,
        Framing::UntilClose => {
            while fill(stream, buffer).await.map_err(|e| Attempt::Failed(e.into()))? > 0 {}
            std::mem::take(buffer)
        }
    };
    let keep_alive = head.keep_alive && !matches!(head.framing, Framing::UntilClose);
    Ok((Answer { status: head.status, body }, keep_alive))
}

/// Decodes a chunked body (chunk extensions and trailers ignored).
async fn read_chunked(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Vec<u8>, TransportError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(end) = find(buffer, b"\r\n") {
                break end;
            }
            if fill(stream, buffer).await? == 0 {
                return Err(TransportError::Malformed("chunked body cut short".into()));
            }
        };
        let line = String::from_utf8_lossy(&buffer[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| TransportError::Malformed(format!("bad chunk size line {line:?}")))?;
        buffer.drain(..line_end + 2);
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                if let Some(end) = find(buffer, b"\r\n") {
                    buffer.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                } else if fill(stream, buffer).await? == 0 {
                    return Err(TransportError::Malformed("chunked body cut short".into()));
                }
            }
        }
        while buffer.len() < size + 2 {
            if fill(stream, buffer).await? == 0 {
                return Err(TransportError::Malformed("chunked body cut short".into()));
            }
        }
        body.extend_from_slice(&buffer[..size]);
        buffer.drain(..size + 2);
    }
}

/// Reads what is available into `buffer`; 0 at end of stream.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0_u8; 16 * 1024];
    let read = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..read]);
    Ok(read)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// How the body of an answer ends.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// What the client needs of a response head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

impl Head {
    fn parse(head: &[u8]) -> Result<Head, TransportError> {
        let text = std::str::from_utf8(head).map_err(|_| TransportError::Malformed("response head is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status = parts
            .next()
            .and_then(|code| code.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| TransportError::Malformed(format!("bad status line {status_line:?}")))?;
        let mut keep_alive = version == "HTTP/1.1";
        let mut framing = Framing::UntilClose;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let length = value
                    .parse()
                    .map_err(|_| TransportError::Malformed(format!("bad Content-Length {value:?}")))?;
                if framing != Framing::Chunked {
                    framing = Framing::Length(length);
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            } else if name.eq_ignore_ascii_case("connection") {
                keep_alive = value.eq_ignore_ascii_case("keep-alive") || (keep_alive && !value.eq_ignore_ascii_case("close"));
            }
        }
        Ok(Head { status, framing, keep_alive })
    }
}

/// `application/x-www-form-urlencoded` encoding of `fields`.
pub(crate) fn form_urlencoded<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded = String::new();
    for (name, value) in fields {
        if !encoded.is_empty() {
            encoded.push('&');
        }
        encode_component(name, &mut encoded);
        encoded.push('=');
        encode_component(value, &mut encoded);
    }
    encoded
}

fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_framing_and_keep_alive() {
        let head = |text: &str| Head::parse(text.as_bytes()).expect("a head");
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 12"),
            Head { status: 200, framing: Framing::Length(12), keep_alive: true }
        );
        assert_eq!(
            head("HTTP/1.0 404 NOT FOUND\r\nContent-Type: text/html\r\nContent-Length: 3"),
            Head { status: 404, framing: Framing::Length(3), keep_alive: false }
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close"),
            Head { status: 200, framing: Framing::Chunked, keep_alive: false }
        );
        assert_eq!(head("HTTP/1.1 500 x"), Head { status: 500, framing: Framing::UntilClose, keep_alive: true });
        assert!(Head::parse(b"SSH-2.0-OpenSSH").is_err());
        assert!(Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: many").is_err());
    }

    #[test]
    fn forms_are_encoded_as_browsers_do() {
        assert_eq!(form_urlencoded([("a b", "<x y=\"1\"/>&é"), ("k", "-._*")]), "a+b=%3Cx+y%3D%221%22%2F%3E%26%C3%A9&k=-._*");
    }

    /// Keep-alive answers by length and by chunks, then an HTTP/1.0 answer
    /// that closes the connection, then a reconnection: from a scripted
    /// server on loopback.
    #[tokio::test]
    async fn reads_answers_and_reconnects_after_a_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let answers: [&[&[u8]]; 2] = [
                &[
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
                ],
                &[b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"],
            ];
            for connection_answers in answers {
                let (mut socket, _) = listener.accept().await.expect("accept");
                for answer in connection_answers {
                    let mut request = Vec::new();
                    while find(&request, b"\r\n\r\n").is_none() {
                        let mut chunk = [0_u8; 1024];
                        let read = socket.read(&mut chunk).await.expect("read");
                        assert!(read > 0, "client closed early");
                        request.extend_from_slice(&chunk[..read]);
                    }
                    socket.write_all(answer).await.expect("write");
                }
            }
        });
        let mut connection = Connection::new(address);
        let answer = connection.get("/a").await.expect("first");
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"hello"[..]));
        let answer = connection.post_form("/b", "x=1").await.expect("second");
        assert_eq!((answer.status, answer.body.as_slice()), (201, &b"abcde"[..]));
        let answer = connection.get("/c").await.expect("third");
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"until close"[..]));
        let answer = connection.get("/d").await.expect("fourth, on a new connection");
        assert_eq!((answer.status, answer.body.len()), (404, 0));
        server.await.expect("scripted server");
    }
}
