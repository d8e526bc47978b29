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
    let of_broken = |l: &&Value| l["path"].as_str().is_some_and(|p| p.ends_with("broken.pdf"));
    let stages: Vec<&str> =
        lines.iter().filter(of_broken).filter(|l| l["event"] == "stage").filter_map(|l| l["stage"].as_str()).collect();
    assert_eq!(stages, ["extracting"], "a document that fails extraction is never embedded");
    let broken = lines.iter().filter(of_broken).find(|l| l["event"] == "document").expect("broken");
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

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

#[test]
fn ask_follow_up_conversations_and_answer_eval() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).expect("mkdir");
    std::fs::write(
        docs.join("ssh.md"),
        "# The ssh agent\n\nThe ssh-agent program holds your private keys in memory.\n\n## Adding keys\n\nRun ssh-add \
         to add your default key to the agent; ssh-add -l lists the keys it holds.",
    )
    .expect("write");
    let data = tmp.path().join("data");
    let chat = crate::support::model(crate::answer::CHAT_MODEL);
    let ask = |args: &[&str]| {
        let mut cmd = quire(&data);
        cmd.args(["--threads", "2", "ask", "--json", "--max-tokens", "48", "--temperature", "0", "--model"]).arg(&chat);
        cmd.args(args);
        json_lines(&cmd.output().expect("ask"))
    };
    assert!(quire(&data).arg("ingest").arg(&docs).status().expect("ingest").success());

    let first = ask(&["How do I add a key to the ssh agent?"]);
    let kinds: Vec<&str> = first.iter().filter_map(|e| e["type"].as_str()).collect();
    let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("no {k} event: {kinds:?}"));
    assert!(pos("retrieved") < pos("sources") && pos("sources") < pos("token") && pos("token") < pos("done"));
    let done = first.last().expect("done");
    assert_eq!(done["type"], "done");
    let id = done["conversation"].as_str().expect("conversation id").to_string();
    assert!(done["answer"]["usage"]["completion_tokens"].as_u64().expect("usage") > 0);
    assert!(done["answer"]["sources"][0]["path"].as_str().expect("source path").ends_with("ssh.md"));

    let second = ask(&["and how do I list them?", "--conversation", &id]);
    assert!(second.iter().any(|e| e["type"] == "rewritten"), "the follow-up is rewritten: {second:?}");
    assert_eq!(second.last().expect("done")["conversation"], id.as_str());

    let list = json_of(quire(&data).args(["conversations", "list", "--json"]));
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["messages"], 4);
    let renamed = quire(&data).args(["conversations", "rename", &id, "SSH keys"]).output().expect("rename");
    assert!(renamed.status.success());
    let md = quire(&data).args(["conversations", "export", &id, "--format", "markdown"]).output().expect("export");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.starts_with("# SSH keys\n") && md.contains("## You\n\nand how do I list them?"), "{md}");
    let exported = json_of(quire(&data).args(["conversations", "export", &id, "--format", "json"]));
    assert_eq!(exported["messages"].as_array().expect("messages").len(), 4);
    assert!(exported["messages"][1]["model"].as_str().expect("model").starts_with("SmolLM2"));
    let bad = quire(&data).args(["conversations", "show", "../../etc/passwd"]).output().expect("show");
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("not a conversation id"));
    assert!(quire(&data).args(["conversations", "delete", &id]).status().expect("delete").success());
    assert_eq!(json_of(quire(&data).args(["conversations", "list", "--json"])).as_array().map(Vec::len), Some(0));

    // ROUGE-L of answers against references, computed over the same library.
    let cases = tmp.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        "{\"question\": \"What does ssh-agent hold?\", \"reference\": \"The ssh-agent holds your private keys in memory.\"}\n\
         {\"question\": \"How do I list the keys of the agent?\", \"reference\": \"Run ssh-add -l.\"}\n",
    )
    .expect("write");
    let mut eval = quire(&data);
    eval.args(["--threads", "2", "eval", "--json", "--max-tokens", "48", "--temperature", "0", "--model"]).arg(&chat);
    let report = json_of(eval.arg("--answers").arg(&cases));
    assert_eq!(report["questions"], 2);
    let mean = report["rouge_l_f1"].as_f64().expect("mean");
    let per: Vec<f64> =
        report["cases"].as_array().expect("cases").iter().map(|c| c["rouge_l"]["f1"].as_f64().expect("f1")).collect();
    assert!((mean - per.iter().sum::<f64>() / 2.0).abs() < 1e-9);
    assert!(per.iter().all(|f| (0.0..=1.0).contains(f)));
}

#[test]
fn ask_within_a_collection_or_a_path_uses_only_those_documents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().join("work");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(
        work.join("backup.md"),
        "# Work backups\n\nThe office backup runs every night with rsync to the NAS.",
    )
    .expect("write");
    std::fs::write(
        home.join("backup.md"),
        "# Home backups\n\nThe home backup runs on Sundays with borg to a USB disk.",
    )
    .expect("write");
    let data = tmp.path().join("data");
    assert!(quire(&data).arg("ingest").arg(&work).arg(&home).status().expect("ingest").success());
    assert!(quire(&data).args(["collections", "add", "job"]).arg(&work).status().expect("add").success());
    let listed = quire(&data).args(["collections", "list"]).output().expect("list");
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("job: "));
    let chat = crate::support::model(crate::answer::CHAT_MODEL);
    let sources_of = |scope: &[&str]| -> Vec<String> {
        let mut cmd = quire(&data);
        cmd.args(["--threads", "2", "ask", "--json", "--max-tokens", "8", "--model"]).arg(&chat);
        cmd.arg("When does the backup run?").args(scope);
        let events = json_lines(&cmd.output().expect("ask"));
        let done = events.last().expect("done");
        done["answer"]["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .map(|s| s["path"].as_str().expect("path").to_string())
            .collect()
    };
    let everywhere = sources_of(&[]);
    assert!(everywhere.iter().any(|p| p.contains("/home/")) && everywhere.iter().any(|p| p.contains("/work/")));
    let in_job = sources_of(&["--collection", "job"]);
    assert!(!in_job.is_empty() && in_job.iter().all(|p| p.contains("/work/")), "{in_job:?}");
    let in_home = sources_of(&["--in", home.to_str().expect("utf-8 path")]);
    assert!(!in_home.is_empty() && in_home.iter().all(|p| p.contains("/home/")), "{in_home:?}");
    let unknown = quire(&data).args(["ask", "x", "--collection", "nope"]).output().expect("ask");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no collection \"nope\""));
}

#[test]
fn a_watched_folder_is_synced_new_changed_and_deleted_files_included() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("nested")).expect("mkdir");
    std::fs::write(docs.join("quilt.md"), "# Quilt\n\nQuilt keeps a stack of patches over upstream source.")
        .expect("write");
    std::fs::write(docs.join("nested/apt.txt"), "Apt preferences pin a package to a release.").expect("write");
    let data = tmp.path().join("data");

    let added = quire(&data).args(["watch", "add", "--collection", "packaging"]).arg(&docs).output().expect("add");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let (state, _) = library_state(&data);
    assert_eq!(state.keys().collect::<Vec<_>>(), ["apt.txt", "quilt.md"], "adding a watch imports the folder");
    let watched = json_of(quire(&data).args(["watch", "list", "--json"]));
    assert_eq!(watched[0]["collection"], "packaging");
    let listed = quire(&data).args(["collections", "list"]).output().expect("list");
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("packaging: "), "the collection holds the folder");

    // While nothing watched it: one file deleted, one changed, one created in a new folder.
    std::fs::remove_file(docs.join("quilt.md")).expect("rm");
    std::fs::write(docs.join("nested/apt.txt"), "Apt pinning now lives in preferences.d files.").expect("write");
    std::fs::create_dir_all(docs.join("new")).expect("mkdir");
    std::fs::write(docs.join("new/dput.txt"), "dput uploads a signed package to the archive.").expect("write");
    let sync = json_lines(&quire(&data).args(["watch", "sync", "--json"]).output().expect("sync"));
    let outcome = |name: &str| {
        sync.iter()
            .find(|e| e["event"] == "document" && e["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|e| e["outcome"]["status"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(outcome("quilt.md").as_deref(), Some("removed"), "{sync:?}");
    assert_eq!(outcome("apt.txt").as_deref(), Some("indexed"), "{sync:?}");
    assert_eq!(outcome("dput.txt").as_deref(), Some("indexed"), "{sync:?}");
    let (state, _) = library_state(&data);
    assert_eq!(state.keys().collect::<Vec<_>>(), ["apt.txt", "dput.txt"]);

    // A second sync has nothing to do.
    let again = json_lines(&quire(&data).args(["watch", "sync", "--json"]).output().expect("sync"));
    assert!(
        again.iter().filter(|e| e["outcome"].is_object()).all(|e| e["outcome"]["status"] == "unchanged"),
        "{again:?}"
    );

    assert!(quire(&data).args(["watch", "remove"]).arg(&docs).status().expect("remove").success());
    assert_eq!(json_of(quire(&data).args(["watch", "list", "--json"])), serde_json::json!([]));
    let (state, _) = library_state(&data);
    assert_eq!(state.len(), 2, "unwatching keeps the documents");
}
