//! The gate every ingest passes before each document: closed while the user has paused indexing, and while an
//! answer is being written (indexing yields the CPU to the chat model), open otherwise. A document already in
//! the model is finished; the next one waits. A cancelled run never waits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Why the gate is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateState {
    /// The user paused indexing.
    pub paused: bool,
    /// Answers being written now.
    pub answering: usize,
}

impl GateState {
    pub fn is_open(&self) -> bool {
        !self.paused && self.answering == 0
    }
}

/// Shared by a library's runs and whoever pauses them (see the module docs).
#[derive(Debug)]
pub struct Gate {
    state: watch::Sender<GateState>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { state: watch::Sender::new(GateState::default()) }
    }
}

/// Keeps the gate closed for an answer until dropped.
#[must_use = "the gate opens again when this is dropped"]
pub struct AnswerHold<'a> {
    gate: &'a Gate,
}

impl Drop for AnswerHold<'_> {
    fn drop(&mut self) {
        self.gate.state.send_modify(|s| s.answering = s.answering.saturating_sub(1));
    }
}

/// How often a waiting run looks at its cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(200);

impl Gate {
    pub fn state(&self) -> GateState {
        *self.state.borrow()
    }

    /// Pauses or resumes indexing.
    pub fn set_paused(&self, paused: bool) {
        self.state.send_modify(|s| s.paused = paused);
    }

    /// Closes the gate while an answer is written.
    pub fn hold_for_answer(&self) -> AnswerHold<'_> {
        self.state.send_modify(|s| s.answering += 1);
        AnswerHold { gate: self }
    }

    /// Waits until the gate is open or `cancel` is set.
    pub async fn pass(&self, cancel: Option<&AtomicBool>) {
        let mut changes = self.state.subscribe();
        loop {
            if changes.borrow_and_update().is_open() || cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return;
            }
            // Wakes on a change, and now and then to look at the cancel flag.
            let _ = tokio::time::timeout(CANCEL_CHECK, changes.changed()).await;
        }
    }

    /// Notified of every change (for showing the state).
    pub fn subscribe(&self) -> watch::Receiver<GateState> {
        self.state.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_open_gate_lets_a_run_through_at_once() {
        let gate = Gate::default();
        tokio::time::timeout(Duration::from_secs(1), gate.pass(None)).await.expect("the gate is open");
    }

    #[tokio::test]
    async fn a_pause_holds_runs_until_resumed() {
        let gate = Arc::new(Gate::default());
        gate.set_paused(true);
        let waiting = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.pass(None).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a paused gate let a run through");
        gate.set_paused(false);
        tokio::time::timeout(Duration::from_secs(2), waiting).await.expect("resumed").expect("no panic");
    }

    #[tokio::test]
    async fn answers_close_the_gate_until_the_last_one_ends() {
        let gate = Gate::default();
        let first = gate.hold_for_answer();
        let second = gate.hold_for_answer();
        assert_eq!(gate.state(), GateState { paused: false, answering: 2 });
        drop(first);
        assert!(!gate.state().is_open());
        drop(second);
        assert!(gate.state().is_open());
    }

    #[tokio::test]
    async fn a_cancelled_run_does_not_wait() {
        let gate = Gate::default();
        gate.set_paused(true);
        let cancel = AtomicBool::new(true);
        tokio::time::timeout(Duration::from_secs(1), gate.pass(Some(&cancel))).await.expect("cancel passes");
    }
}
