//! The extract worker: the child-process side of [`crate::ProcessExtractor`].
//!
//! The app and the CLI call [`worker_main`] when they are started as
//! `<exe> __worker extract [--memory-limit-mb N] [--max-file-mb N]`. The worker caps its own address space
//! (RLIMIT_AS), then serves requests read from stdin ([`quire_core::worker::serve`]): each job runs on a fresh
//! thread with a large stack, under `catch_unwind`, so a panicking parser fails that document only. Whatever
//! `catch_unwind` cannot stop (a stack overflow, an allocation failure at the memory cap, an abort) ends the
//! process; the parent reports it and starts a new worker for the next document.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use quire_core::{ExtractError, ExtractedDoc, Format};
use serde::{Deserialize, Serialize};

use crate::{Limits, MB, extract_file};

/// The worker's name: `<exe> __worker extract`.
pub const WORKER_NAME: &str = "extract";

/// Stack of the thread that runs a job: deep but finite, so runaway recursion still ends in a clean crash.
const JOB_STACK_BYTES: u64 = 256 * MB;

/// One request to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractRequest {
    pub path: PathBuf,
    pub format: Format,
}

/// The worker's answer to one request.
pub type ExtractResponse = Result<ExtractedDoc, ExtractError>;

/// The worker's command line, after `__worker extract`.
#[derive(Debug, Clone, Default, PartialEq)]
struct WorkerArgs {
    memory_limit_mb: Option<u64>,
    max_file_mb: Option<u64>,
}

fn parse_args(args: &[String]) -> Result<WorkerArgs, String> {
    // Accept the whole command line (`<exe> __worker extract …`), or only what follows `__worker extract`.
    let rest = match args.iter().position(|a| a == "__worker") {
        Some(i) => {
            if args.get(i + 1).map(String::as_str) != Some(WORKER_NAME) {
                return Err(format!("expected `__worker {WORKER_NAME}`"));
            }
            &args[i + 2..]
        }
        None if args.first().map(String::as_str) == Some(WORKER_NAME) => &args[1..],
        None => args,
    };
    let mut out = WorkerArgs::default();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number of megabytes"))
        };
        match flag.as_str() {
            "--memory-limit-mb" => out.memory_limit_mb = Some(number(flag)?),
            "--max-file-mb" => out.max_file_mb = Some(number(flag)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(out)
}

/// Runs the extract worker until its parent closes stdin. `args` is the process's command line (from
/// `std::env::args()`), or the part after `__worker extract`.
pub fn worker_main(args: &[String]) -> ExitCode {
    run(args, None)
}

/// [`worker_main`] with a function called with each request's path before the job runs, on the job's thread.
/// Only for tests (the test worker binary uses it to simulate hangs, crashes and memory blow-ups).
#[doc(hidden)]
pub fn worker_main_with_hook(args: &[String], before_job: fn(&Path)) -> ExitCode {
    run(args, Some(before_job))
}

fn run(args: &[String], hook: Option<fn(&Path)>) -> ExitCode {
    init_tracing();
    let parsed = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("quire extract worker: {e}");
            eprintln!("usage: <exe> __worker {WORKER_NAME} [--memory-limit-mb N] [--max-file-mb N]");
            return ExitCode::from(2);
        }
    };
    let limits = parsed.max_file_mb.map(Limits::with_max_file_mb).unwrap_or_default();
    let mut stack = JOB_STACK_BYTES;
    if let Some(mb) = parsed.memory_limit_mb {
        let bytes = mb.saturating_mul(MB);
        if let Err(e) = limit_address_space(bytes) {
            // (macOS refuses RLIMIT_AS.) The parent's timeout still bounds a runaway job.
            tracing::warn!("could not limit the worker's memory to {mb} MB: {e}");
        }
        // The stack is address space too: leave most of the budget to the heap.
        stack = stack.min(bytes / 4);
    }
    install_panic_hook();
    tracing::debug!(?limits, memory_limit_mb = parsed.memory_limit_mb, "extract worker ready");

    let served = quire_core::worker::serve(|req: ExtractRequest, _responder| -> ExtractResponse {
        run_job(req, &limits, stack, hook)
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("extract worker: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs one job on its own thread (large stack, panics caught).
fn run_job(req: ExtractRequest, limits: &Limits, stack: u64, hook: Option<fn(&Path)>) -> ExtractResponse {
    let limits = limits.clone();
    let format = req.format;
    let started = std::time::Instant::now();
    let spawned = std::thread::Builder::new()
        .name("extract-job".into())
        .stack_size(usize::try_from(stack).unwrap_or(usize::MAX))
        .spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                if let Some(hook) = hook {
                    hook(&req.path);
                }
                extract_file(&req.path, req.format, &limits)
            }))
        });
    let joined = match spawned {
        Ok(handle) => handle.join(),
        Err(e) => return Err(ExtractError::Crashed(format!("the extraction thread could not start: {e}"))),
    };
    let result = match joined {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) | Err(panic) => Err(ExtractError::Damaged(format!(
            "the {} parser stopped on something it could not handle: {}",
            format_name(format),
            panic_words(panic.as_ref())
        ))),
    };
    tracing::debug!(ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "job done");
    result
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Pdf => "PDF",
        Format::Markdown => "Markdown",
        Format::Text => "text",
        Format::Html => "HTML",
        Format::Code => "code",
        Format::Docx => "Word",
        Format::Epub => "EPUB",
    }
}

/// The message of a panic payload.
pub(crate) fn panic_words(payload: &(dyn Any + Send)) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "an unexpected internal error".to_string()
    };
    let msg = msg.lines().next().unwrap_or_default().trim();
    let msg = plain(msg);
    let msg: String = msg.chars().take(300).collect();
    if msg.is_empty() { "an unexpected internal error".into() } else { msg }
}

/// Library panic messages in plainer words where they are Rust jargon.
fn plain(msg: &str) -> String {
    if msg.contains("InvalidContentStream") {
        return "a page's drawing instructions (its content stream) are broken".into();
    }
    if msg.starts_with("called `Option::unwrap()` on a `None` value") {
        return "a part it needs is missing".into();
    }
    if let Some(rest) = msg.strip_prefix("called `Result::unwrap()` on an `Err` value: ") {
        return format!("a step failed ({rest})");
    }
    if msg.contains("index out of bounds") || msg.contains("out of range for slice") {
        return format!("a part is shorter than it claims ({msg})");
    }
    msg.to_string()
}

/// A panic hook that writes one line (no backtrace) and does not say "panicked at" (the parent reads that as
/// the cause of a crash; a caught panic is not one).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = panic_words(info.payload());
        let at = info.location().map(|l| format!(" ({}:{})", l.file(), l.line())).unwrap_or_default();
        tracing::warn!("parser panic, caught: {msg}{at}");
    }));
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("QUIRE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,lopdf=error,pdf_extract=error,html5ever=error"));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_env_filter(filter).try_init();
}

/// Caps the process's address space (soft limit; the hard limit is left as it is).
fn limit_address_space(bytes: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let (_, hard) = rlimit::Resource::AS.get()?;
        rlimit::Resource::AS.set(bytes.min(hard), hard)
    }
    #[cfg(not(unix))]
    {
        // No RLIMIT_AS here: the parent's timeout still bounds a runaway worker.
        let _ = bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_command_line() {
        let want = WorkerArgs { memory_limit_mb: Some(512), max_file_mb: Some(64) };
        assert_eq!(
            parse_args(&s(&["/bin/quire", "__worker", "extract", "--memory-limit-mb", "512", "--max-file-mb", "64"])),
            Ok(want.clone())
        );
        assert_eq!(parse_args(&s(&["extract", "--memory-limit-mb", "512", "--max-file-mb", "64"])), Ok(want));
        assert_eq!(parse_args(&s(&[])), Ok(WorkerArgs::default()));
        assert!(parse_args(&s(&["__worker", "model"])).is_err());
        assert!(parse_args(&s(&["--memory-limit-mb"])).is_err());
        assert!(parse_args(&s(&["--test-hooks"])).is_err(), "no test hooks in production");
    }

    #[test]
    fn panic_messages_are_short() {
        let p: Box<dyn Any + Send> = Box::new(String::from("unsupported encoding Foo\nmore detail"));
        assert_eq!(panic_words(p.as_ref()), "unsupported encoding Foo");
        let p: Box<dyn Any + Send> = Box::new("called `Option::unwrap()` on a `None` value");
        assert_eq!(panic_words(p.as_ref()), "a part it needs is missing");
        let p: Box<dyn Any + Send> = Box::new(42);
        assert_eq!(panic_words(p.as_ref()), "an unexpected internal error");
    }

    #[test]
    fn a_job_that_panics_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.txt");
        std::fs::write(&path, "hello").expect("write");
        fn boom(_: &Path) {
            panic!("boom in the parser");
        }
        let req = ExtractRequest { path: path.clone(), format: Format::Text };
        let err = run_job(req, &Limits::default(), 8 * MB, Some(boom)).expect_err("panic");
        assert_eq!(
            err,
            ExtractError::Damaged(
                "the text parser stopped on something it could not handle: boom in the parser".into()
            )
        );
        let ok = run_job(ExtractRequest { path, format: Format::Text }, &Limits::default(), 8 * MB, None);
        assert_eq!(ok.expect("text").blocks[0].text, "hello");
    }
}
