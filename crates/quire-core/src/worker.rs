//! Supervised child processes that speak JSON lines over stdio.
//!
//! Parsers and the llama.cpp runtime can crash, abort, hang or exhaust memory. They run in a worker: the same
//! binary started again in a worker mode, serving requests read from stdin and writing answers to stdout. The
//! parent holds a [`Worker`], which starts the child on first use, gives every call a timeout, turns a dead
//! child into a readable error (with the signal and the last lines it wrote to stderr) and starts a fresh child
//! for the next call. Several calls can be in flight on one child. The child side is [`serve`] (one request
//! at a time) or [`serve_lanes`] (a thread per lane, e.g. one per llama.cpp context).
//!
//! Wire format, one JSON object per line:
//! - parent → child: `{"id":1,"req":…}` and `{"id":1,"cancel":true}`;
//! - child → parent: [`MARKER`] then `{"id":1,"event":…}` (any number) and `{"id":1,"done":…}` (the answer),
//!   or `{"id":1,"error":"…"}` when the request could not be read.
//!
//! Lines on the child's stdout without the marker (a library printing to stdout) are logged, never parsed.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Starts every protocol line a worker writes to stdout.
pub const MARKER: &str = "\u{1e}quire:";

/// How many lines of a worker's stderr are kept for error messages.
const STDERR_TAIL_LINES: usize = 40;

/// How to start a worker process.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// Used in messages ("the extract worker stopped unexpectedly").
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
}

impl WorkerSpec {
    /// A worker that re-runs the current executable as `<exe> __worker <name> <args…>`.
    pub fn current_exe(name: &str, args: Vec<String>) -> Result<WorkerSpec> {
        let program = std::env::current_exe().map_err(|e| Error::io("the running program", e))?;
        Ok(WorkerSpec::with_program(program, name, args))
    }

    /// A worker started as `<program> __worker <name> <args…>`.
    pub fn with_program(program: PathBuf, name: &str, args: Vec<String>) -> WorkerSpec {
        let mut all = vec!["__worker".to_string(), name.to_string()];
        all.extend(args);
        WorkerSpec { name: name.to_string(), program, args: all, envs: Vec::new() }
    }
}

/// A handle on a worker process, started lazily and restarted after it dies.
///
/// Several calls may be in flight at once: each line carries its request id, and a reader task hands every
/// answer to the call that waits for it. The worker decides what runs in parallel (see [`serve_lanes`]).
pub struct Worker {
    spec: WorkerSpec,
    running: tokio::sync::Mutex<Option<Arc<Running>>>,
    next_id: AtomicU64,
    starts: AtomicU64,
}

/// One live child process.
struct Running {
    pid: Option<u32>,
    child: tokio::sync::Mutex<Child>,
    stdin: tokio::sync::Mutex<ChildStdin>,
    /// The calls waiting for lines, by request id. Closed (None) once the child's stdout has ended.
    pending: StdMutex<Option<HashMap<u64, mpsc::UnboundedSender<String>>>>,
    stderr_tail: Arc<StdMutex<VecDeque<String>>>,
    /// How the child died, worked out once by the first call that notices.
    death: tokio::sync::OnceCell<String>,
}

impl Running {
    /// Registers a call; None when the child's output has already ended.
    fn register(&self, id: u64) -> Option<mpsc::UnboundedReceiver<String>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pending = self.pending.lock().ok()?;
        pending.as_mut()?.insert(id, tx);
        Some(rx)
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut pending) = self.pending.lock()
            && let Some(p) = pending.as_mut()
        {
            p.remove(&id);
        }
    }

    fn is_dead(&self) -> bool {
        self.pending.lock().map(|p| p.is_none()).unwrap_or(true)
    }

    async fn send(&self, line: &str) -> bool {
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(line.as_bytes()).await.is_ok() && stdin.flush().await.is_ok()
    }

    async fn kill(&self) {
        let mut child = self.child.lock().await;
        let _ = child.start_kill();
        let _ = child.wait().await;
    }

    /// Waits for the dead child and describes how it died.
    async fn death(&self) -> String {
        self.death
            .get_or_init(|| async {
                let status = {
                    let mut child = self.child.lock().await;
                    match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
                        Ok(Ok(status)) => Some(status),
                        _ => {
                            let _ = child.start_kill();
                            child.wait().await.ok()
                        }
                    }
                };
                // Give the stderr reader a moment to drain the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let tail: Vec<String> =
                    self.stderr_tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
                describe_death(status, &tail)
            })
            .await
            .clone()
    }
}

#[derive(Serialize)]
struct RequestLine<'a, T: Serialize> {
    id: u64,
    req: &'a T,
}

#[derive(Serialize)]
struct CancelLine {
    id: u64,
    cancel: bool,
}

#[derive(Deserialize)]
struct ReplyLine<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    done: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ReplyId {
    id: u64,
}

impl Worker {
    pub fn new(spec: WorkerSpec) -> Worker {
        Worker { spec, running: tokio::sync::Mutex::new(None), next_id: AtomicU64::new(1), starts: AtomicU64::new(0) }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// How many times a process has been started for this worker.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    /// The process id of the running child, if one is running.
    pub async fn pid(&self) -> Option<u32> {
        self.running.lock().await.as_ref().filter(|r| !r.is_dead()).and_then(|r| r.pid)
    }

    /// Starts the process now if it is not running (otherwise the first call starts it).
    pub async fn start(&self) -> Result<()> {
        self.live().await.map(|_| ())
    }

    /// Stops the process; the next call starts a new one.
    pub async fn stop(&self) {
        let running = self.running.lock().await.take();
        if let Some(running) = running {
            running.kill().await;
        }
    }

    /// The running process, started if there is none or the last one died.
    async fn live(&self) -> Result<Arc<Running>> {
        let mut guard = self.running.lock().await;
        if let Some(r) = guard.as_ref()
            && !r.is_dead()
        {
            return Ok(Arc::clone(r));
        }
        let r = self.spawn()?;
        *guard = Some(Arc::clone(&r));
        Ok(r)
    }

    /// Forgets `running` if it is still the current process, so that the next call starts a new one.
    async fn forget(&self, running: &Arc<Running>) {
        let mut guard = self.running.lock().await;
        if guard.as_ref().is_some_and(|r| Arc::ptr_eq(r, running)) {
            *guard = None;
        }
    }

    async fn died(&self, running: &Arc<Running>) -> Error {
        let detail = running.death().await;
        self.forget(running).await;
        tracing::warn!(worker = %self.spec.name, "worker died: {detail}");
        self.crashed(detail)
    }

    /// Sends a request and waits for its answer. `timeout` bounds the wait for the answer; on expiry the
    /// process is killed.
    pub async fn call<Req, Resp>(&self, req: &Req, timeout: Duration) -> Result<Resp>
    where
        Req: Serialize + Sync,
        Resp: DeserializeOwned,
    {
        self.call_streaming(req, timeout, None, |_: serde::de::IgnoredAny| ()).await
    }

    /// Sends a request, hands every event the worker streams back to `on_event`, and returns the answer.
    /// `idle_timeout` bounds the wait for each line; on expiry the process is killed (and calls in flight on
    /// it fail). When `cancel` is set, the worker is asked to stop the request; it still answers (with
    /// whatever its protocol says a cancelled request returns).
    pub async fn call_streaming<Req, Ev, Resp>(
        &self,
        req: &Req,
        idle_timeout: Duration,
        cancel: Option<&AtomicBool>,
        mut on_event: impl FnMut(Ev) + Send,
    ) -> Result<Resp>
    where
        Req: Serialize + Sync,
        Ev: DeserializeOwned,
        Resp: DeserializeOwned,
    {
        let running = self.live().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut line = serde_json::to_string(&RequestLine { id, req })
            .map_err(|e| Error::InvalidInput(format!("request for the {} worker: {e}", self.spec.name)))?;
        line.push('\n');
        let Some(mut rx) = running.register(id) else {
            return Err(self.died(&running).await);
        };
        if !running.send(&line).await {
            running.unregister(id);
            return Err(self.died(&running).await);
        }

        let mut cancel_sent = false;
        let poll = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        loop {
            // Checked before every wait, so a cancel reaches the worker even while lines stream in quickly.
            if let Some(flag) = cancel
                && flag.load(Ordering::Relaxed)
                && !cancel_sent
            {
                cancel_sent = true;
                let mut c = serde_json::to_string(&CancelLine { id, cancel: true }).unwrap_or_default();
                c.push('\n');
                let _ = running.send(&c).await;
            }
            let text = match tokio::time::timeout(poll, rx.recv()).await {
                Err(_) => {
                    waited += poll;
                    if waited >= idle_timeout {
                        running.unregister(id);
                        running.kill().await;
                        self.forget(&running).await;
                        tracing::warn!(worker = %self.spec.name, secs = idle_timeout.as_secs(), "worker timed out; killed");
                        return Err(Error::WorkerTimeout {
                            name: self.spec.name.clone(),
                            secs: idle_timeout.as_secs().max(1),
                        });
                    }
                    continue;
                }
                Ok(Some(text)) => text,
                Ok(None) => return Err(self.died(&running).await),
            };
            waited = Duration::ZERO;
            let reply: ReplyLine<'_> = match serde_json::from_str(&text) {
                Ok(r) => r,
                Err(e) => {
                    running.unregister(id);
                    return Err(Error::Model(format!("the {} worker sent an unreadable line: {e}", self.spec.name)));
                }
            };
            if let Some(message) = reply.error {
                running.unregister(id);
                return Err(Error::InvalidInput(format!(
                    "the {} worker refused the request: {message}",
                    self.spec.name
                )));
            }
            if let Some(done) = reply.done {
                running.unregister(id);
                return serde_json::from_str(done.get()).map_err(|e| {
                    Error::Model(format!("the {} worker sent an unreadable answer: {e}", self.spec.name))
                });
            }
            if let Some(event) = reply.event {
                match serde_json::from_str(event.get()) {
                    Ok(ev) => on_event(ev),
                    Err(e) => tracing::warn!(worker = %self.spec.name, "unreadable event: {e}"),
                }
            }
        }
    }

    fn spawn(&self) -> Result<Arc<Running>> {
        let mut cmd = Command::new(&self.spec.program);
        cmd.args(&self.spec.args)
            .envs(self.spec.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| Error::WorkerCrashed {
            name: self.spec.name.clone(),
            detail: format!("could not start {}: {e}", self.spec.program.display()),
        })?;
        self.starts.fetch_add(1, Ordering::Relaxed);
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(self.crashed("its standard streams could not be opened".into()));
        };
        let stderr_tail = Arc::new(StdMutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let tail = Arc::clone(&stderr_tail);
        let name = self.spec.name.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::trace!(worker = %name, "stderr: {line}");
                if let Ok(mut t) = tail.lock() {
                    if t.len() == STDERR_TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        let pid = child.id();
        let running = Arc::new(Running {
            pid,
            child: tokio::sync::Mutex::new(child),
            stdin: tokio::sync::Mutex::new(stdin),
            pending: StdMutex::new(Some(HashMap::new())),
            stderr_tail,
            death: tokio::sync::OnceCell::new(),
        });
        start_reader(self.spec.name.clone(), stdout, Arc::downgrade(&running));
        tracing::debug!(worker = %self.spec.name, pid, "worker started");
        Ok(running)
    }

    fn crashed(&self, detail: String) -> Error {
        Error::WorkerCrashed { name: self.spec.name.clone(), detail }
    }
}

/// Reads the child's stdout and hands each protocol line to the call it answers. When the output ends (the
/// child died or closed it), every waiting call is woken by its channel closing.
fn start_reader(name: String, stdout: ChildStdout, running: std::sync::Weak<Running>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(text)) = lines.next_line().await {
            let Some(pos) = text.find(MARKER) else {
                tracing::debug!(worker = %name, "stdout: {text}");
                continue;
            };
            let payload = &text[pos + MARKER.len()..];
            let Ok(ReplyId { id }) = serde_json::from_str::<ReplyId>(payload) else {
                tracing::warn!(worker = %name, "unreadable line: {payload}");
                continue;
            };
            let Some(r) = running.upgrade() else { return };
            let tx = r.pending.lock().ok().and_then(|p| p.as_ref().and_then(|p| p.get(&id).cloned()));
            if let Some(tx) = tx {
                let _ = tx.send(payload.to_string());
            }
        }
        if let Some(r) = running.upgrade()
            && let Ok(mut pending) = r.pending.lock()
        {
            *pending = None;
        }
    });
}

/// A readable account of a worker's death from its exit status and its last stderr lines.
pub fn describe_death(status: Option<std::process::ExitStatus>, stderr_tail: &[String]) -> String {
    let how = match status {
        None => "it stopped answering".to_string(),
        Some(s) => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (Some(code), _) => format!("it exited with code {code}"),
                    (None, Some(sig)) => format!("it was killed by signal {sig} ({})", signal_name(sig)),
                    _ => "it exited".to_string(),
                }
            }
            #[cfg(not(unix))]
            {
                format!("it exited ({s})")
            }
        }
    };
    const CLUES: [&str; 7] = [
        "GGML_ASSERT",
        "overflowed its stack",
        "memory allocation of",
        "out of memory",
        "panicked at",
        "error:",
        "Segmentation fault",
    ];
    // The most telling clue wins; among lines with the same clue, the last one.
    let clue = CLUES.iter().find_map(|c| stderr_tail.iter().rev().find(|l| l.contains(c)));
    match clue {
        Some(line) => format!("{how}: {}", line.trim()),
        None => how,
    }
}

#[cfg(unix)]
fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => "illegal instruction",
        6 => "aborted",
        7 => "bus error",
        8 => "arithmetic error",
        9 => "killed",
        11 => "segmentation fault",
        15 => "terminated",
        _ => "signal",
    }
}

/// The child side of a request: streams events, and tells whether the parent asked to cancel.
pub struct Responder {
    id: u64,
    cancelled: Arc<AtomicBool>,
}

impl Responder {
    /// Sends one event to the parent.
    pub fn event<T: Serialize>(&self, event: &T) {
        write_line(self.id, "event", event);
    }

    /// True once the parent has asked to cancel this request.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The flag behind [`Responder::is_cancelled`], for code that polls it (e.g. a llama.cpp abort callback).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }
}

fn write_line<T: Serialize>(id: u64, field: &str, value: &T) {
    let body = match serde_json::to_string(value) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("worker: cannot encode {field}: {e}");
            return;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{MARKER}{{\"id\":{id},\"{field}\":{body}}}");
    let _ = out.flush();
}

#[derive(Deserialize)]
struct IncomingLine {
    id: u64,
    #[serde(default)]
    req: Option<Box<RawValue>>,
    #[serde(default)]
    cancel: bool,
}

/// A request on its way to a lane, with its cancel flag.
struct Job<Req> {
    id: u64,
    req: Req,
    cancelled: Arc<AtomicBool>,
}

/// The cancel flags of the requests not yet answered, by id.
type CancelFlags = Arc<StdMutex<HashMap<u64, Arc<AtomicBool>>>>;

/// Builds a lane's handler on the lane's own thread (so what it owns never has to move between threads).
pub type LaneFactory<Req, Resp> = Box<dyn FnOnce() -> Box<dyn FnMut(Req, &Responder) -> Resp> + Send>;

/// Reads stdin on its own thread: requests go to the lane `lane_of` picks, cancel lines set the flag of
/// their request. Returns when stdin closes.
fn read_requests<Req>(
    senders: Vec<std::sync::mpsc::Sender<Job<Req>>>,
    lane_of: impl Fn(&Req) -> usize + Send + 'static,
    flags: CancelFlags,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    Req: DeserializeOwned + Send + 'static,
{
    std::thread::Builder::new().name("worker-stdin".into()).spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<IncomingLine>(&line) {
                Ok(IncomingLine { id, cancel: true, .. }) => {
                    if let Ok(f) = flags.lock()
                        && let Some(flag) = f.get(&id)
                    {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
                Ok(IncomingLine { id, req: Some(raw), .. }) => {
                    let req: Req = match serde_json::from_str(raw.get()) {
                        Ok(r) => r,
                        Err(e) => {
                            write_line(id, "error", &e.to_string());
                            continue;
                        }
                    };
                    let cancelled = Arc::new(AtomicBool::new(false));
                    if let Ok(mut f) = flags.lock() {
                        f.insert(id, Arc::clone(&cancelled));
                    }
                    let lane = lane_of(&req).min(senders.len().saturating_sub(1));
                    if senders.get(lane).is_none_or(|tx| tx.send(Job { id, req, cancelled }).is_err()) {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!("worker: unreadable request: {e}"),
            }
        }
    })
}

/// Serves the jobs of one lane, one at a time, until the reader stops.
fn run_lane<Req, Resp: Serialize>(
    jobs: std::sync::mpsc::Receiver<Job<Req>>,
    flags: &CancelFlags,
    handle: &mut dyn FnMut(Req, &Responder) -> Resp,
) {
    while let Ok(Job { id, req, cancelled }) = jobs.recv() {
        let responder = Responder { id, cancelled };
        let resp = handle(req, &responder);
        write_line(id, "done", &resp);
        if let Ok(mut f) = flags.lock() {
            f.remove(&id);
        }
    }
}

/// Serves requests read from stdin until stdin closes (the parent exited), one at a time on the calling
/// thread, answering each with what `handle` returns. Cancel lines set the cancel flag of their request.
pub fn serve<Req, Resp>(mut handle: impl FnMut(Req, &Responder) -> Resp) -> std::io::Result<()>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize,
{
    let flags: CancelFlags = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    read_requests(vec![tx], |_: &Req| 0, Arc::clone(&flags))?;
    run_lane(rx, &flags, &mut handle);
    Ok(())
}

/// Serves requests on several lanes, each a thread that handles its requests one at a time: requests of
/// different lanes run in parallel (e.g. embeddings while an answer is generated). `lane_of` picks the lane
/// of a request (an index into `lanes`). Returns once stdin has closed and every lane has finished.
pub fn serve_lanes<Req, Resp>(
    lane_of: impl Fn(&Req) -> usize + Send + 'static,
    lanes: Vec<LaneFactory<Req, Resp>>,
) -> std::io::Result<()>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + 'static,
{
    let flags: CancelFlags = Arc::default();
    let mut senders = Vec::new();
    let mut threads = Vec::new();
    for (i, factory) in lanes.into_iter().enumerate() {
        let (tx, rx) = std::sync::mpsc::channel::<Job<Req>>();
        senders.push(tx);
        let flags = Arc::clone(&flags);
        threads.push(std::thread::Builder::new().name(format!("worker-lane-{i}")).spawn(move || {
            let mut handle = factory();
            run_lane(rx, &flags, &mut *handle);
        })?);
    }
    let reader = read_requests(senders, lane_of, flags)?;
    let _ = reader.join();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A worker played by a shell script.
    fn sh(script: &str) -> Worker {
        Worker::new(WorkerSpec {
            name: "test".into(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            envs: vec![],
        })
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn answers_and_ignores_stray_output() {
        let w = sh(
            r#"read line; echo "library noise"; printf '\036quire:{"id":1,"event":"e1"}\n\036quire:{"id":1,"done":42}\n'; sleep 5"#,
        );
        let mut events = Vec::new();
        let answer: u32 =
            w.call_streaming(&"hello", 5 * SECOND, None, |e: String| events.push(e)).await.expect("answer");
        assert_eq!(answer, 42);
        assert_eq!(events, vec!["e1".to_string()]);
    }

    #[tokio::test]
    async fn a_crash_becomes_a_readable_error_and_the_next_call_restarts() {
        let w = sh(r#"read line; echo "GGML_ASSERT(n_tokens <= n_ubatch) failed" >&2; kill -ABRT $$"#);
        let err = w.call::<_, u32>(&"x", 5 * SECOND).await.expect_err("crash");
        let msg = err.to_string();
        assert!(msg.contains("signal 6 (aborted)") && msg.contains("GGML_ASSERT"), "{msg}");
        assert!(matches!(err, Error::WorkerCrashed { .. }));
        let _ = w.call::<_, u32>(&"x", 5 * SECOND).await;
        assert_eq!(w.starts(), 2);
    }

    #[tokio::test]
    async fn a_hang_times_out_and_kills_the_worker() {
        let w = sh("read line; sleep 30");
        let started = std::time::Instant::now();
        let err = w.call::<_, u32>(&"x", Duration::from_millis(300)).await.expect_err("timeout");
        assert!(matches!(err, Error::WorkerTimeout { .. }), "{err}");
        assert!(started.elapsed() < 5 * SECOND);
        assert_eq!(w.pid().await, None, "the hung process is gone");
    }

    #[tokio::test]
    async fn an_exit_code_is_reported() {
        let w = sh("read line; echo 'error: model file not found' >&2; exit 3");
        let msg = w.call::<_, u32>(&"x", 5 * SECOND).await.expect_err("exit").to_string();
        assert!(msg.contains("exited with code 3") && msg.contains("model file not found"), "{msg}");
    }

    #[tokio::test]
    async fn cancel_is_sent_to_the_worker() {
        // The script answers only once it has read the cancel line for request 1.
        let w = sh(
            r#"read req; read cancel; case "$cancel" in *'"cancel":true'*) printf '\036quire:{"id":1,"done":"stopped"}\n';; esac; sleep 5"#,
        );
        let flag = AtomicBool::new(true);
        let answer: String =
            w.call_streaming(&"x", 5 * SECOND, Some(&flag), |_: serde::de::IgnoredAny| ()).await.expect("answer");
        assert_eq!(answer, "stopped");
    }

    #[tokio::test]
    async fn concurrent_calls_get_their_own_answers() {
        // The script reads both requests, then answers the second before the first.
        let w = sh(
            r#"read a; read b; printf '\036quire:{"id":2,"done":"second"}\n\036quire:{"id":1,"done":"first"}\n'; sleep 5"#,
        );
        let (a, b) = tokio::join!(w.call::<_, String>(&"a", 5 * SECOND), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            w.call::<_, String>(&"b", 5 * SECOND).await
        });
        assert_eq!(a.expect("first"), "first");
        assert_eq!(b.expect("second"), "second");
        assert_eq!(w.starts(), 1);
    }

    #[tokio::test]
    async fn a_crash_fails_every_call_in_flight() {
        let w = sh(r#"read a; read b; echo "out of memory" >&2; kill -KILL $$"#);
        let (a, b) = tokio::join!(w.call::<_, u32>(&"a", 5 * SECOND), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            w.call::<_, u32>(&"b", 5 * SECOND).await
        });
        for r in [a, b] {
            let msg = r.expect_err("crash").to_string();
            assert!(msg.contains("signal 9"), "{msg}");
        }
        assert_eq!(w.pid().await, None);
    }

    #[test]
    fn describes_deaths() {
        let tail = vec![
            "thread 'main' has overflowed its stack".to_string(),
            "fatal runtime error: stack overflow".to_string(),
        ];
        assert_eq!(describe_death(None, &tail), "it stopped answering: thread 'main' has overflowed its stack");
    }
}
