//! The extract worker as a program of its own, for quire-extract's tests and for debugging:
//!
//!     quire-extract-worker __worker extract [--memory-limit-mb N] [--max-file-mb N] [--test-hooks]
//!
//! It reads `{"id":1,"req":{"path":…,"format":"pdf"}}` lines on stdin and answers on stdout, exactly as the
//! app's own `<exe> __worker extract` does. With `--test-hooks` (tests only: the app and the CLI never accept
//! it), a file whose name is one of the `quire-test-*` names below makes the job misbehave on purpose.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let before = args.len();
    args.retain(|a| a != "--test-hooks");
    if args.len() < before {
        quire_extract::worker::worker_main_with_hook(&args, misbehave)
    } else {
        quire_extract::worker_main(&args)
    }
}

/// Simulated failures, chosen by the file name.
fn misbehave(path: &Path) {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("quire-test-hang") => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        Some("quire-test-oom") => {
            let mut hog: Vec<Vec<u8>> = Vec::new();
            loop {
                hog.push(vec![7u8; 64 << 20]);
                std::hint::black_box(&hog);
            }
        }
        Some("quire-test-stack") => {
            std::hint::black_box(recurse(0));
        }
        Some("quire-test-abort") => std::process::abort(),
        Some("quire-test-panic") => panic!("simulated parser panic"),
        _ => {}
    }
}

/// Recursion without end (in practice): overflows the job thread's stack.
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 4096];
    frame[(depth % 4096) as usize] = depth as u8;
    std::hint::black_box(&mut frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[0] as u64)
}
