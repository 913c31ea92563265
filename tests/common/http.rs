//! A few HTTP/1.1 requests over std's TcpStream, and `lstm-sentiment serve` running in the
//! background on a free port of the loopback address.

use super::bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for the server at most (to start, or to answer one request).
const PATIENCE: Duration = Duration::from_secs(120);

/// A server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Connects and sends the request line, `headers` and the first `sent` bytes of `body`; the
/// rest is for [`finish`].
pub fn start(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    sent: usize,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..sent]).unwrap();
    stream.flush().unwrap();
    stream
}

/// Sends the rest of a started request's body and reads the answer.
pub fn finish(mut stream: TcpStream, rest: &[u8]) -> Reply {
    stream.write_all(rest).unwrap();
    read_reply(stream)
}

pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    read_reply(start(addr, method, path, headers, body, body.len()))
}

pub fn get(addr: &str, path: &str) -> Reply {
    request(addr, "GET", path, &[], b"")
}

pub fn post(addr: &str, path: &str, body: &str) -> Reply {
    request(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// Reads an answer to its end (requests ask the server to close the connection after it).
pub fn read_reply(mut stream: TcpStream) -> Reply {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the server answers");
    let end = (raw.windows(4).position(|w| w == b"\r\n\r\n"))
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..end].to_vec()).expect("headers are text");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if reply.header("transfer-encoding") == Some("chunked") {
        reply.body = unchunk(&reply.body);
    }
    reply
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 4 + size..];
    }
}

/// `lstm-sentiment serve` on a free port, killed when dropped.
pub struct Served {
    child: Child,
    /// host:port
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

/// Starts `lstm-sentiment serve --port 0 ARGS` and waits until `/health` answers 200.
pub fn serve(args: &[&str]) -> Served {
    let mut child = bin()
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let collected = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            collected.lock().unwrap().push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("the server did not start: {}", stderr.lock().unwrap()));
        if let Some(addr) = line.split("listening on http://").nth(1) {
            break addr.trim().to_string();
        }
    };
    let served = Served {
        child,
        addr,
        stderr,
    };
    let start = Instant::now();
    while get(&served.addr, "/health").status != 200 {
        assert!(
            start.elapsed() < PATIENCE,
            "never healthy: {}",
            served.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    served
}

impl Served {
    /// What the server has printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(status.expect("kill runs").success());
    }

    /// Waits for the server to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the server does not exit: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
