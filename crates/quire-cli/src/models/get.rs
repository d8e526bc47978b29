//! `quire models catalog | download | search | import`: the curated catalog, downloads (resumable, verified,
//! installed atomically) from Hugging Face or a mirror, the Hub's GGUF search, and importing a GGUF file the user
//! already has. The network clients block, so they run on a thread of their own, off the async runtime.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use quire_models::{
    CatalogEntry, DownloadRequest, Downloader, HfClient, HfFile, HfModel, ImportMode, Installed, ModelRole, Outcome,
    Progress, Stage, catalog, catalog_entry, describe, human, import_gguf, models_dir,
};

use super::role_name;

/// Runs `f` on a thread of its own: the blocking HTTP client must not run inside the async runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|_| bail!("the download thread panicked")))
}

#[derive(Serialize)]
struct CatalogRow<'a> {
    #[serde(flatten)]
    entry: &'a CatalogEntry,
    installed: bool,
    path: PathBuf,
}

pub fn show_catalog(role: Option<&str>, language: Option<&str>, as_json: bool) -> Result<()> {
    let dir = models_dir();
    let rows: Vec<CatalogRow> = catalog()
        .models
        .iter()
        .filter(|m| role.is_none_or(|r| role_name(m.role) == r))
        .filter(|m| language.is_none_or(|l| m.supports_language(l)))
        .map(|m| {
            let path = dir.join(m.file_name());
            CatalogRow { installed: path.is_file(), path, entry: m }
        })
        .collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&json!({ "models_dir": dir, "models": rows }))?);
        return Ok(());
    }
    for (r, title) in
        [(ModelRole::Chat, "Chat"), (ModelRole::Embedding, "Embedding"), (ModelRole::Reranker, "Reranker")]
    {
        let of_role: Vec<&CatalogRow> = rows.iter().filter(|row| row.entry.role == r).collect();
        if of_role.is_empty() {
            continue;
        }
        println!("{title} models");
        for row in of_role {
            let m = row.entry;
            let size = m.size.map(human).unwrap_or_else(|| "size unknown".into());
            let installed = if row.installed { ", installed" } else { "" };
            println!("  {}  {} {} {}, {size}{installed}", m.id, m.name, m.parameters, m.quantization);
            let sha = if m.sha256.is_some() { "sha256 known" } else { "sha256 not yet known: recorded at download" };
            println!(
                "      {}; licence {}; languages {}; context {}; {sha}",
                m.repo.as_deref().unwrap_or("made by scripts/models.sh"),
                m.license,
                m.languages.join(" "),
                m.context_length
            );
            if let Some(notes) = &m.notes {
                println!("      {notes}");
            }
        }
        println!();
    }
    println!("Download one with `quire models download ID` into {}", dir.display());
    Ok(())
}

/// What `quire models download` was asked for, resolved to one request.
fn resolve(model: &str, url: Option<&str>, endpoint: &str) -> Result<(DownloadRequest, Option<ModelRole>)> {
    if let Ok(entry) = catalog_entry(model) {
        let request = match url {
            Some(url) => DownloadRequest::from_catalog_at(entry, url.to_string()),
            // a model made on this machine has no download, but may well be installed: that is checked first
            None if entry.repo.is_none() => DownloadRequest::from_catalog_at(entry, String::new()),
            None => DownloadRequest::from_catalog(entry, endpoint)?,
        };
        return Ok((request, Some(entry.role)));
    }
    let parts: Vec<&str> = model.splitn(3, '/').collect();
    let [owner, name, path] = parts[..] else {
        bail!(
            "{model:?} is neither a catalog id (`quire models catalog` lists them) nor a Hugging Face file \
             (owner/repository/file.gguf, as `quire models search` shows)"
        );
    };
    if !path.to_ascii_lowercase().ends_with(".gguf") {
        bail!("{path} is not a .gguf file");
    }
    let repo = format!("{owner}/{name}");
    let client = HfClient::new(endpoint)?;
    let file = client.gguf_file(&repo, path)?.with_context(|| {
        format!("{repo} has no file {path} on its main branch; `quire models search {name}` lists its GGUF files")
    })?;
    if let Some((_, parts)) = file.split {
        bail!("{path} is one of {parts} parts of a split model; Quire loads single-file models only");
    }
    if file.projector {
        bail!("{path} is a vision projector (mmproj), not a model on its own");
    }
    let mut request = file.request(client.endpoint());
    if let Some(url) = url {
        request.url = url.to_string();
    }
    Ok((request, None))
}

pub fn download(model: &str, url: Option<&str>, endpoint: &str, as_json: bool) -> Result<()> {
    let dir = models_dir();
    let outcome = off_runtime(|| {
        let (request, role) = resolve(model, url, endpoint)?;
        let downloader = Downloader::new(&dir)?;
        if request.url.is_empty() {
            // installed already (then nothing is fetched), or the reason there is no download
            let Ok(Some(installed)) = downloader.installed(&request) else {
                let entry = catalog_entry(model)?;
                return Err(DownloadRequest::from_catalog(entry, endpoint)
                    .err()
                    .map(anyhow::Error::from)
                    .unwrap_or_else(|| anyhow::anyhow!("{model} has no download")));
            };
            return Ok((request, role, Ok(Outcome::Installed(installed))));
        }
        let bar = (!as_json && std::io::stderr().is_terminal()).then(|| new_bar(&request));
        if !as_json {
            eprintln!("Downloading {} from {}", request.file_name, request.url);
            eprintln!("(an interrupted download resumes where it stopped when run again)");
        }
        let result = downloader.download(&request, &AtomicBool::new(false), &mut |p| match &bar {
            Some(bar) => show_progress(bar, p),
            None if as_json => println!("{}", json!({ "event": "progress", "model": model, "progress": p })),
            None => {}
        });
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        Ok((request, role, result))
    })?;
    let (request, role, result) = outcome;
    let installed = match result {
        Ok(Outcome::Installed(installed)) => installed,
        Ok(Outcome::Paused(p)) => bail!("the download stopped at {} bytes; run the command again to resume", p.done),
        Err(e) => {
            if as_json {
                println!("{}", json!({ "event": "error", "model": model, "message": e.to_string() }));
            }
            return Err(e.into());
        }
    };
    let described = describe(&installed.path).ok();
    let role_warning = match (role, described.as_ref()) {
        (Some(expected), Some(d)) if d.role != expected => Some(format!(
            "the catalog lists it as a {} model but its metadata makes it a {} model",
            role_name(expected),
            role_name(d.role)
        )),
        _ => None,
    };
    if as_json {
        println!(
            "{}",
            json!({
                "event": "installed",
                "model": model,
                "url": request.url,
                "installed": installed,
                "role": described.as_ref().map(|d| role_name(d.role)),
                "warning": role_warning,
            })
        );
        return Ok(());
    }
    print_installed(&installed);
    if let Some(w) = role_warning {
        println!("  warning: {w}");
    }
    Ok(())
}

fn new_bar(request: &DownloadRequest) -> ProgressBar {
    let bar = ProgressBar::new(request.size.unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>11} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn show_progress(bar: &ProgressBar, p: &Progress) {
    if let Some(total) = p.total {
        bar.set_length(total);
    }
    bar.set_position(p.done);
    bar.set_message(match p.stage {
        Stage::Connecting => "connecting",
        Stage::Downloading => "downloading",
        Stage::Verifying => "verifying",
        Stage::Installing => "installing",
    });
}

fn print_installed(i: &Installed) {
    let what = if i.already_installed { "Already installed" } else { "Installed" };
    println!("{what}: {} ({})", i.path.display(), human(i.size));
    if i.sha256_verified {
        println!("  sha256 {} (verified)", i.sha256);
    } else {
        println!(
            "  sha256 {} (recorded: no sha256 was known for this file; compare it with the publisher's)",
            i.sha256
        );
    }
    if i.resumed_from > 0 || i.restarts > 0 || i.retries > 0 {
        println!(
            "  resumed from {} bytes; {} reconnection(s); started over {} time(s)",
            i.resumed_from, i.retries, i.restarts
        );
    }
}

#[derive(Serialize)]
struct Found {
    #[serde(flatten)]
    model: HfModel,
    files: Vec<FoundFile>,
    /// Why the files could not be listed.
    error: Option<String>,
}

#[derive(Serialize)]
struct FoundFile {
    #[serde(flatten)]
    file: HfFile,
    /// The argument for `quire models download`, for a file Quire can use.
    download: Option<String>,
}

pub fn search(query: &str, limit: usize, endpoint: &str, as_json: bool) -> Result<()> {
    let found = off_runtime(|| {
        let client = HfClient::new(endpoint)?;
        let models = client.search(query, limit)?;
        Ok(models
            .into_iter()
            .map(|model| match client.gguf_files(&model.id) {
                Ok(files) => Found {
                    files: files
                        .into_iter()
                        .map(|file| FoundFile {
                            download: (file.split.is_none() && !file.projector && !model.gated)
                                .then(|| format!("{}/{}", file.repo, file.path)),
                            file,
                        })
                        .collect(),
                    model,
                    error: None,
                },
                Err(e) => Found { model, files: Vec::new(), error: Some(e.to_string()) },
            })
            .collect::<Vec<_>>())
    })?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "query": query, "endpoint": endpoint, "models": found }))?
        );
        return Ok(());
    }
    if found.is_empty() {
        println!("No GGUF models on {endpoint} match {query:?}.");
        return Ok(());
    }
    for f in &found {
        let m = &f.model;
        let licence = m.license().map(|l| format!(", licence {l}")).unwrap_or_default();
        println!("{} ({} downloads, {} likes{licence})", m.id, m.downloads, m.likes);
        if m.gated {
            println!("  gated: its licence must be accepted with a Hugging Face account; Quire cannot download it");
        }
        if let Some(e) = &f.error {
            println!("  files unavailable: {e}");
        }
        for file in &f.files {
            let mut facts = vec![human(file.file.size)];
            facts.extend(file.file.quantization.clone());
            if let Some((part, parts)) = file.file.split {
                facts.push(format!("part {part} of {parts}: not loadable by Quire"));
            }
            if file.file.projector {
                facts.push("vision projector".into());
            }
            if file.file.sha256.is_none() {
                facts.push("no sha256 published".into());
            }
            println!("  {}  {}", file.file.path, facts.join(", "));
            if let Some(d) = &file.download {
                println!("      quire models download {d}");
            }
        }
        println!();
    }
    Ok(())
}

pub fn import(file: &Path, in_place: bool, as_json: bool) -> Result<()> {
    let mode = if in_place { ImportMode::InPlace } else { ImportMode::Copy };
    let dir = models_dir();
    let imported = import_gguf(&dir, file, mode)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&imported)?);
        return Ok(());
    }
    let m = &imported.model;
    let verb = match (imported.already, mode) {
        (true, _) => "Already there",
        (false, ImportMode::Copy) => "Copied into the models folder",
        (false, ImportMode::InPlace) => "Registered in place",
    };
    println!("{verb}: {}", m.path.display());
    println!(
        "  {} model, {}, {}{}",
        role_name(m.role),
        m.architecture,
        human(m.size_bytes),
        m.quantization.as_deref().map(|q| format!(", {q}")).unwrap_or_default()
    );
    if let Some(sha) = &imported.sha256 {
        println!("  sha256 {sha}");
    }
    if mode == ImportMode::InPlace && !imported.already {
        println!("  the file stays where it is; moving or deleting it removes the model ({})", dir.display());
    }
    Ok(())
}
