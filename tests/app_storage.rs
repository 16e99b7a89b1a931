//! Data safety (issue 8): what the app persists through eframe storage holds only preferences:
//! no patient data, no file names, no key material — even after a slice with identifiers was
//! opened, revealed, and classified under encryption. The one path it may keep is the folder
//! of the last file opened (issue 20), and never a folder named after the patient.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use privact::app::intent::Intent;
use privact::app::prefs::{Prefs, STORAGE_KEY};
use privact::app::{Launch, PrivactApp};
use privact::imaging::dicom::write::{CtDescription, ct_bytes, random_uid};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// An in-memory eframe storage that records everything the app writes.
#[derive(Default)]
struct Recorder(BTreeMap<String, String>);

impl eframe::Storage for Recorder {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

const NAME: &str = "SENTINEL^JANE";
const ID: &str = "MRN-7731-SENTINEL";

fn identified_slice(dir: &std::path::Path) -> std::path::PathBuf {
    let (rows, cols) = (64, 64);
    let hu: Vec<f32> = (0..rows * cols)
        .map(|i| (i % 97) as f32 * 4.0 - 100.0)
        .collect();
    let d = CtDescription {
        patient_name: NAME.into(),
        patient_id: ID.into(),
        study_uid: random_uid(),
        series_uid: random_uid(),
        sop_instance_uid: random_uid(),
        series_description: "storage test".into(),
        pixel_spacing_mm: [0.7, 0.7],
        slice_thickness_mm: 1.0,
        kvp: 120.0,
        window: (40.0, 400.0),
        date: "20260101".into(),
    };
    let path = dir.join("identified-slice.dcm");
    std::fs::write(&path, ct_bytes(rows, cols, &hu, &d).unwrap()).unwrap();
    path
}

fn step_until(
    h: &mut Harness<'static, PrivactApp>,
    what: &str,
    done: impl Fn(&PrivactApp) -> bool,
) {
    let t = Instant::now();
    h.step();
    while !done(h.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

#[test]
fn storage_holds_no_phi_paths_or_key_material() {
    // PACS exports often name folders after the patient: such a folder is never remembered.
    let dir = std::env::temp_dir()
        .join(format!("privact-storage-{}", std::process::id()))
        .join("SENTINEL_JANE_MRN-7731");
    std::fs::create_dir_all(&dir).unwrap();
    let path = identified_slice(&dir);

    let mut h = Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_ui_state(
            |ui, app: &mut PrivactApp| app.ui(ui),
            PrivactApp::new(
                Prefs::default(),
                Launch {
                    open: Some(path.clone()),
                    run: None,
                },
            ),
        );
    step_until(&mut h, "the identified slice", |app| {
        app.state.image.is_some() && app.textures.slice.is_some()
    });
    // Reveal the identifiers on screen, then run the encrypted job so keys exist in memory.
    h.state_mut().apply(Intent::RevealPhi(true));
    h.run_steps(2);
    assert!(
        h.query_by_label_contains(NAME).is_some(),
        "the revealed name is on screen (so the test would notice it leaking)"
    );
    h.state_mut().apply(Intent::RunClassify);
    step_until(&mut h, "the encrypted classification", |app| !app.busy());
    assert!(h.state().state.pipeline.outcome.is_some(), "the job ran");

    let mut storage = Recorder::default();
    eframe::App::save(h.state_mut(), &mut storage);

    assert_eq!(
        storage.0.keys().collect::<Vec<_>>(),
        [STORAGE_KEY],
        "only the preferences key is written"
    );
    let stored: String = storage.0.values().cloned().collect();
    for forbidden in [
        NAME,
        "SENTINEL",
        ID,
        "identified-slice",
        dir.to_string_lossy().as_ref(),
        std::env::temp_dir().to_string_lossy().as_ref(),
    ] {
        assert!(
            !stored.contains(forbidden),
            "storage contains {forbidden:?}: {stored}"
        );
    }
    // Key material or ciphertexts would be long runs of digits/base64; preferences are short.
    assert!(
        stored.len() < 1024,
        "storage is small: {} bytes",
        stored.len()
    );
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let fields: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert!(
        fields.iter().all(|f| [
            "theme",
            "last_preset",
            "mask_phi_by_default",
            "left_panel_width",
            "right_panel_width",
            "server",
            "last_folder",
            "version"
        ]
        .contains(&f.as_str())),
        "unexpected preference fields {fields:?}"
    );
    assert_eq!(
        value["last_folder"], "",
        "the patient's folder is not remembered"
    );

    // A neutral folder is remembered (where the next dialog opens), as the folder only.
    let neutral = dir.parent().unwrap().join("ct-exports");
    std::fs::create_dir_all(&neutral).unwrap();
    let copy = neutral.join("identified-slice.dcm");
    std::fs::copy(&path, &copy).unwrap();
    let generation = h.state().state.generation;
    h.state_mut().apply(Intent::LoadPath(copy));
    step_until(&mut h, "the copy", |app| app.state.generation > generation);
    let mut storage = Recorder::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let stored: String = storage.0.values().cloned().collect();
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["last_folder"], neutral.display().to_string());
    for forbidden in [NAME, "SENTINEL", ID, "identified-slice"] {
        assert!(
            !stored.contains(forbidden),
            "storage contains {forbidden:?}: {stored}"
        );
    }
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
