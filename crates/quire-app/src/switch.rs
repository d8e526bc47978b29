//! Switching a library's embedding model in the background (see [`quire_core::switch`]) with the app's
//! models: the new model runs in a model worker of its own (or is a remote server) while the library keeps
//! searching and importing with the current one.

use std::sync::atomic::AtomicBool;

pub use quire_core::switch::{Adopted, EmbeddingSwitch, Filled, SwitchPlan, SwitchProgress};

use crate::Opened;
use quire_core::Result;

/// Embeds the library `opened` (open with the plan's source model) with the plan's target model until every
/// document is done, then commits the switch: the caller then opens the library again, which finishes it. Or
/// until `cancel` is raised (the plan is saved; run again to resume). The new model's worker stops at the end.
pub async fn run(
    opened: &Opened,
    switch: &mut EmbeddingSwitch,
    cancel: &AtomicBool,
    on_progress: &mut (dyn FnMut(SwitchProgress) + Send),
) -> Result<Filled> {
    let options = opened.options.with_embedding(&switch.plan.target);
    let (embedder, _worker) = crate::embedder(&options).await?;
    let store = opened.library.store();
    if let Some(previous) = switch.set_target_model(embedder.info())? {
        store.drop_model(&previous).await?;
    }
    let batch = opened.library.config().embed_batch;
    let gate = opened.library.gate();
    let filled = switch.fill(store.as_ref(), embedder.as_ref(), gate, cancel, batch, on_progress).await?;
    if filled == Filled::Ready {
        switch.commit(store.as_ref()).await?;
    }
    Ok(filled)
}
