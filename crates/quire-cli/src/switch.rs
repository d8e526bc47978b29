//! `quire models use-embedding`: switching the library to another embedding model from the command line, the
//! same switch the desktop app runs when its settings choose another model (see `quire_app::switch`).

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use quire_app::OpenOptions;
use quire_app::switch::{EmbeddingSwitch, Filled, SwitchProgress};
use quire_core::settings::{EmbeddingChoice, Settings};

/// The embedding model `options` open the library with when no switch is under way.
fn choice_of(options: &OpenOptions) -> EmbeddingChoice {
    EmbeddingChoice { local: options.embed_model.clone(), remote: options.remote.embedding.clone() }
}

/// Saves the settings' embedding model (the desktop app reads the same file).
fn save_choice(data_dir: &Path, choice: &EmbeddingChoice) -> Result<()> {
    Settings::load(data_dir)?.with_embedding(choice).save(data_dir)?;
    Ok(())
}

fn say(json: bool, value: serde_json::Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        eprintln!("{text}");
    }
}

/// Begins (or resumes) the switch to `file` and runs it to the end; Ctrl-C stops it after the current
/// document, to be resumed by running the command again.
pub async fn use_embedding(options: &OpenOptions, file: &Path, json: bool) -> Result<()> {
    let file = std::fs::canonicalize(file).with_context(|| format!("cannot read {}", file.display()))?;
    let target = EmbeddingChoice { local: Some(file.clone()), remote: None };
    let data_dir = &options.data_dir;
    let pending = EmbeddingSwitch::load(data_dir)?;
    if let Some(switch) = &pending
        && !switch.plan.committed
        && switch.plan.target != target
    {
        bail!(
            "the library is switching to {}; finish that (`quire models use-embedding` with it) or give it up \
             (`quire models use-embedding --cancel`) first",
            switch.plan.target.label()
        );
    }
    let opened = quire_app::open(options).await?;
    let mut switch = match pending.filter(|s| !s.plan.committed) {
        Some(switch) => switch,
        None => {
            let from = opened.library.embedder().info().model_id.clone();
            if quire_llm::model_id(&file) == from {
                bail!("the library is already indexed with {}", file.display());
            }
            let switch =
                EmbeddingSwitch::begin(data_dir, choice_of(options), &from, target.clone(), quire_core::now_ms())?;
            save_choice(data_dir, &target)?;
            switch
        }
    };
    let cancel = crate::output::cancel_on_ctrl_c(Some("stopping after the current document…"));
    let terminal = !json && std::io::stderr().is_terminal();
    let mut progress = |p: SwitchProgress| {
        if json {
            println!("{}", json!({ "event": "progress", "done": p.done, "total": p.total }));
        } else if terminal {
            eprint!("\rembedding with {}: {} of {} documents", target.label(), p.done, p.total);
            let _ = std::io::stderr().flush();
        }
    };
    let filled = quire_app::switch::run(&opened, &mut switch, &cancel, &mut progress).await?;
    if terminal {
        eprintln!();
    }
    if filled == Filled::Cancelled {
        let text = "stopped: the library stays with its current model; run the command again to go on";
        say(json, json!({ "event": "stopped" }), text);
        return Ok(());
    }
    drop(opened);
    // Opening with the new model finishes the switch.
    let switched = quire_app::open(&options.with_embedding(&target)).await?;
    let model = switched.library.embedder().info().model_id.clone();
    let left = switched.documents_of_other_models().await?;
    let text = if left == 0 {
        format!("switched to {model}")
    } else {
        format!("switched to {model}; {left} document(s) changed meanwhile: `quire ingest` embeds them")
    };
    say(json, json!({ "event": "switched", "model": model, "left": left }), &text);
    Ok(())
}

/// Gives up the switch under way: its table goes, the library and the settings stay with the current model.
pub async fn cancel(options: &OpenOptions, json: bool) -> Result<()> {
    let Some(switch) = EmbeddingSwitch::load(&options.data_dir)? else {
        bail!("no switch of embedding model is under way");
    };
    if switch.plan.committed {
        bail!("the switch is done: the library is indexed with {}", switch.plan.target.label());
    }
    let source = switch.plan.source.clone();
    let opened = quire_app::open(options).await?;
    switch.abandon(opened.library.store().as_ref()).await?;
    save_choice(&options.data_dir, &source)?;
    say(json, json!({ "event": "cancelled", "model": opened.library.embedder().info().model_id }), "cancelled");
    Ok(())
}
