//! The `quire` command line as a user runs it, and what survives `kill -9`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{EMBED_MODEL, copy_into, fixture, model, quire_cli};

fn quire(data: &Path) -> Command {
    let mut cmd = Command::new(quire_cli());
    cmd.arg("--data-dir").arg(data).arg("--embed-model").arg(model(EMBED_MODEL));
    cmd
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("quire runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Documents (path → (status, chunk_count)) and the total chunk count, from `quire status --json`.
fn library_state(data: &Path) -> (BTreeMap<String, (String, u64)>, u64) {
    let status = json_of(quire(data).args(["status", "--json"]));
    let docs = status["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| {
            let name = d["path"].as_str().and_then(|p| p.rsplit('/').next()).unwrap_or_default().to_string();
            (name, (d["status"].as_str().unwrap_or_default().to_string(), d["chunk_count"].as_u64().unwrap_or(0)))
        })
        .collect();
    (docs, status["stats"]["chunks"].as_u64().expect("chunks"))
}

fn corpus(dir: &Path) {
    let html: Vec<_> = std::fs::read_dir(fixture("docs/html"))
        .expect("html fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    copy_into(dir, &html);
}

#[test]
fn ingest_search_status_remove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    copy_into(&docs, &[fixture("docs/html/pkgtools.en.html"), fixture("docs/html/kernel.en.html")]);
    std::fs::write(docs.join("broken.pdf"), b"%PDF-1.4 this is not really a PDF").expect("write");
    let data = tmp.path().join("data");

    let out = quire(&data).arg("ingest").arg("--json").arg(&docs).output().expect("ingest");
    assert_eq!(out.status.code(), Some(3), "a failed document gives exit code 3");
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines[0]["event"], "scanned");
    assert_eq!(lines[0]["files"], 3);
    let report = lines.last().expect("report");
    assert_eq!(
        (report["event"].as_str(), report["indexed"].as_u64(), report["failed"].as_u64()),
        (Some("report"), Some(2), Some(1))
    );
    let broken = lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("broken.pdf"))).expect("broken");
    assert_eq!(broken["outcome"]["status"], "failed");
    assert!(broken["outcome"]["reason"].as_str().is_some_and(|r| r.contains("damaged")), "{broken}");

    let hits = json_of(quire(&data).args(["search", "What is dpkg?", "-k", "3", "--json"]));
    let first = &hits[0];
    assert!(first["path"].as_str().is_some_and(|p| p.ends_with("pkgtools.en.html")), "{hits}");
    for field in ["score", "text", "heading_path", "page_start", "char_start"] {
        assert!(first.get(field).is_some(), "hit without {field}");
    }

    let human = quire(&data).args(["search", "kernel"]).output().expect("search");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.starts_with("1. ") && text.contains("kernel.en.html"), "{text}");

    let (state, chunks) = library_state(&data);
    assert_eq!(state.len(), 3);
    assert_eq!(state["broken.pdf"].0, "failed");
    assert_eq!(chunks, state.values().map(|(_, c)| c).sum::<u64>());

    let removed = json_of(quire(&data).arg("remove").arg(docs.join("kernel.en.html")).arg("--json"));
    assert_eq!(removed["removed"].as_array().map(Vec::len), Some(1));
    let out = quire(&data).arg("remove").arg(docs.join("kernel.en.html")).output().expect("remove");
    assert!(!out.status.success(), "removing what is not there is an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing in the library"));
}

#[test]
fn kill_9_during_ingest_loses_nothing_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    corpus(&docs);

    // A clean ingest, for comparison.
    let clean = tmp.path().join("clean");
    let out = quire(&clean).arg("ingest").arg(&docs).output().expect("ingest");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = library_state(&clean);

    for kill_after in [1usize, 7] {
        let data = tmp.path().join(format!("killed-{kill_after}"));
        let mut child = quire(&data)
            .arg("ingest")
            .arg("--json")
            .arg(&docs)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut indexed = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if line.contains("\"indexed\"") && line.contains("\"document\"") {
                indexed += 1;
                if indexed == kill_after {
                    break;
                }
            }
        }
        // kill -9: no chance to clean up.
        Command::new("kill").args(["-9", &child.id().to_string()]).status().expect("kill");
        let _ = child.wait();
        let (partial, _) = library_state(&data);
        assert!(partial.len() < expected.0.len() || kill_after == expected.0.len());

        let out = quire(&data).arg("ingest").arg(&docs).output().expect("ingest again");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(library_state(&data), expected, "after kill -9 at document {kill_after}");
    }
}
