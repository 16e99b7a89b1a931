//! What encryption cost: every protocol step with its side, duration and bytes. The app shows
//! it as the pipeline and the overhead table; the CLI prints it.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Side {
    Client,
    Server,
    Wire,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    pub name: String,
    pub side: Side,
    pub seconds: f64,
    /// Bytes produced by (or sent in) this step, if any.
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Ledger {
    pub steps: Vec<Step>,
}

impl Ledger {
    pub fn record(&mut self, name: impl Into<String>, side: Side, elapsed: Duration, bytes: usize) {
        self.steps.push(Step {
            name: name.into(),
            side,
            seconds: elapsed.as_secs_f64(),
            bytes: bytes as u64,
        });
    }

    pub fn total_seconds(&self, side: Side) -> f64 {
        self.steps
            .iter()
            .filter(|s| s.side == side)
            .map(|s| s.seconds)
            .sum()
    }

    pub fn bytes(&self, name: &str) -> u64 {
        self.steps
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.bytes)
            .sum()
    }
}
