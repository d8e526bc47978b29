//! A small HTTP/1.1 server on loopback for download tests (std only: a listener thread and a thread per
//! connection). It serves files from disk or canned bytes, honours `Range` and `If-Range` like a CDN, and can
//! misbehave on purpose: drop the connection after some bytes, refuse ranges, flip a byte, change its ETag.
//! Shared by quire-models' and quire-cli's tests (`#[path]`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What a route serves.
#[derive(Clone)]
pub enum Body {
    /// The first `len` bytes of a file (`None`: all of it).
    File(PathBuf, Option<u64>),
    Bytes(Arc<Vec<u8>>),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::File(path, limit) => {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                limit.map_or(size, |l| l.min(size))
            }
            Body::Bytes(b) => b.len() as u64,
        }
    }
}

/// A route and how it behaves.
#[derive(Clone)]
pub struct Resource {
    pub body: Body,
    pub content_type: &'static str,
    pub etag: Option<String>,
    /// Answer `Range` requests with 206 (otherwise always 200 with the whole body).
    pub ranges: bool,
    /// For the next requests in turn: close the connection after this many body bytes.
    pub drop_after: Vec<u64>,
    /// Flip the byte at this offset of the file.
    pub corrupt_at: Option<u64>,
    /// The status to answer instead (404, 500, …), with an empty body.
    pub status: Option<u16>,
    pub extra_headers: Vec<(String, String)>,
}

impl Resource {
    pub fn file(path: impl Into<PathBuf>) -> Resource {
        Resource {
            body: Body::File(path.into(), None),
            content_type: "application/octet-stream",
            etag: Some("\"v1\"".into()),
            ranges: true,
            drop_after: Vec::new(),
            corrupt_at: None,
            status: None,
            extra_headers: Vec::new(),
        }
    }

    pub fn json(text: impl Into<String>) -> Resource {
        Resource {
            body: Body::Bytes(Arc::new(text.into().into_bytes())),
            content_type: "application/json; charset=utf-8",
            etag: None,
            ranges: false,
            ..Resource::file("")
        }
    }
}

/// A request the server answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Path and query, as requested.
    pub target: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Resource>,
    log: Vec<Logged>,
}

pub struct TestServer {
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (state, stop) = (state.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = state.clone();
                    thread::spawn(move || {
                        let _ = serve(conn, &state);
                    });
                }
            });
        }
        TestServer { base, state, stop }
    }

    /// Serves `resource` at `target` (a path, optionally with its exact query).
    pub fn add(&self, target: &str, resource: Resource) {
        self.state.lock().expect("state").routes.insert(target.to_string(), resource);
    }

    /// Changes a route in place.
    pub fn edit(&self, target: &str, f: impl FnOnce(&mut Resource)) {
        let mut state = self.state.lock().expect("state");
        f(state.routes.get_mut(target).expect("route"));
    }

    pub fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state.lock().expect("state").log.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Logged> {
        self.requests().into_iter().filter(|r| r.target.split('?').next() == Some(path)).collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (resource, drop_after) = {
        let mut state = state.lock().expect("state");
        let path = target.split('?').next().unwrap_or("/").to_string();
        let key = if state.routes.contains_key(&target) { target.clone() } else { path };
        match state.routes.get_mut(&key) {
            Some(r) => {
                let drop_after = if r.drop_after.is_empty() { None } else { Some(r.drop_after.remove(0)) };
                (Some(r.clone()), drop_after)
            }
            None => (None, None),
        }
    };
    let range = headers.get("range").cloned();
    let if_range = headers.get("if-range").cloned();
    let log = |status: u16| {
        state.lock().expect("state").log.push(Logged {
            target: target.clone(),
            range: range.clone(),
            if_range: if_range.clone(),
            status,
        })
    };
    let Some(r) = resource else {
        log(404);
        return write!(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    if let Some(status) = r.status {
        log(status);
        return write!(conn, "HTTP/1.1 {status} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let total = r.body.len();
    let validator_ok = match (&if_range, &r.etag) {
        (None, _) => true,
        (Some(v), Some(e)) => v == e,
        (Some(_), None) => false,
    };
    let start = range
        .as_deref()
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| r.ranges && validator_ok);
    let mut head = String::new();
    let (status, from) = match start {
        Some(s) if s >= total => {
            log(416);
            return write!(
                conn,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
        }
        Some(s) => {
            head.push_str(&format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\n",
                total - 1
            ));
            (206, s)
        }
        None => {
            head.push_str("HTTP/1.1 200 OK\r\n");
            (200, 0)
        }
    };
    head.push_str(&format!("Content-Length: {}\r\nContent-Type: {}\r\n", total - from, r.content_type));
    if r.ranges {
        head.push_str("Accept-Ranges: bytes\r\n");
    }
    if let Some(e) = &r.etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    for (k, v) in &r.extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    log(status);
    conn.write_all(head.as_bytes())?;

    let limit = drop_after.map_or(total - from, |d| d.min(total - from));
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut source: Box<dyn Read> = match &r.body {
        Body::File(path, _) => {
            let mut f = File::open(path)?;
            f.seek(SeekFrom::Start(from))?;
            Box::new(f)
        }
        Body::Bytes(b) => Box::new(std::io::Cursor::new(b[from as usize..].to_vec())),
    };
    while sent < limit {
        let want = (limit - sent).min(buf.len() as u64) as usize;
        let n = source.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        if let Some(at) = r.corrupt_at {
            let offset = from + sent;
            if at >= offset && at < offset + n as u64 {
                buf[(at - offset) as usize] ^= 0xff;
            }
        }
        conn.write_all(&buf[..n])?;
        sent += n as u64;
    }
    conn.flush()?;
    if drop_after.is_some() {
        conn.shutdown(Shutdown::Both)?;
    }
    Ok(())
}
