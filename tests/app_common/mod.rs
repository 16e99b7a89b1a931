//! Helpers of the app's UI tests (`app_ui`, `app_viewer`): build the app in an egui_kittest
//! harness, step it until the worker's results arrive, and look for labels.
#![allow(dead_code)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use privact::app::prefs::Prefs;
use privact::app::{Launch, PrivactApp};
use std::time::{Duration, Instant};

pub type App = Harness<'static, PrivactApp>;

/// The app as `privact gui [FILE] [--run TASK]` starts it, in a window of `size` points.
pub fn harness_with(prefs: Prefs, launch: Launch, size: [f32; 2]) -> App {
    Harness::builder().with_size(size).build_ui_state(
        |ui, app: &mut PrivactApp| app.ui(ui),
        PrivactApp::new(prefs, launch),
    )
}

/// Steps the harness (with short sleeps for the worker) until `done` holds; on timeout the
/// failure names what it waited for and the app's last messages.
pub fn step_until(h: &mut App, what: &str, timeout: Duration, done: impl Fn(&App) -> bool) {
    let t = Instant::now();
    h.step();
    while !done(h) {
        assert!(
            t.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; the app's last messages: {:?}",
            h.state()
                .state
                .toasts
                .iter()
                .map(|t| format!("{}: {}", t.title, t.message))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

/// A widget or label with exactly this accessible name exists.
pub fn has(h: &App, label: &str) -> bool {
    h.query_by_label(label).is_some()
}

/// Some accessible name contains `part`.
pub fn has_containing(h: &App, part: &str) -> bool {
    h.query_all_by_label_contains(part).next().is_some()
}

/// Waits until the start-up image (the phantom, or the file given at launch) is on screen.
pub fn loaded(h: &mut App) {
    step_until(h, "the first image", Duration::from_secs(60), |h| {
        h.state().state.image.is_some() && h.state().textures.slice.is_some()
    });
    h.step();
}
