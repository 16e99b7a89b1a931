//! Persisted preferences: the only thing the app stores between runs.
//!
//! Deliberately small and typed: theme, last window preset, whether patient identifiers are
//! masked by default, panel widths, and the server choice (URL and certificate fingerprint
//! only). Never patient data, file paths, keys or ciphertexts (a test serialises this struct
//! and checks its fields).

use crate::imaging::window::Preset;
use serde::{Deserialize, Serialize};

/// The eframe storage key.
pub const STORAGE_KEY: &str = "privact.prefs.v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    Dark,
    Light,
}

/// A window preset by name (the imaging `Preset` is not serialisable on purpose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresetName {
    Abdomen,
    Kidney,
    Liver,
    Bone,
    Lung,
    Brain,
    DicomDefault,
    Auto,
}

impl From<Preset> for PresetName {
    fn from(p: Preset) -> Self {
        match p {
            Preset::Abdomen => PresetName::Abdomen,
            Preset::Kidney => PresetName::Kidney,
            Preset::Liver => PresetName::Liver,
            Preset::Bone => PresetName::Bone,
            Preset::Lung => PresetName::Lung,
            Preset::Brain => PresetName::Brain,
            Preset::DicomDefault => PresetName::DicomDefault,
            Preset::Auto => PresetName::Auto,
        }
    }
}

impl From<PresetName> for Preset {
    fn from(p: PresetName) -> Self {
        match p {
            PresetName::Abdomen => Preset::Abdomen,
            PresetName::Kidney => Preset::Kidney,
            PresetName::Liver => Preset::Liver,
            PresetName::Bone => Preset::Bone,
            PresetName::Lung => Preset::Lung,
            PresetName::Brain => Preset::Brain,
            PresetName::DicomDefault => Preset::DicomDefault,
            PresetName::Auto => Preset::Auto,
        }
    }
}

/// Where the encrypted steps run: the built-in worker, or `privact serve` at `url`, trusted
/// by the SHA-256 `fingerprint` of its certificate (issue 17).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerPref {
    pub remote: bool,
    pub url: String,
    pub fingerprint: String,
}

/// Longest stored URL or fingerprint (characters); longer values are cut when read back.
const MAX_SERVER_TEXT: usize = 1024;

/// True when `folder` names none of the patient identifiers of `slices` (name parts, ID,
/// birth date; case-insensitive, parts of 3 characters or more). PACS exports often name
/// folders after the patient: such a folder is not remembered.
pub fn folder_is_free_of(folder: &str, slices: &[crate::imaging::Slice]) -> bool {
    let folder = folder.to_lowercase();
    slices
        .iter()
        .filter_map(|s| s.info.as_ref())
        .flat_map(|i| {
            let p = &i.patient;
            [&p.name, &p.id, &p.birth_date]
                .into_iter()
                .flatten()
                .flat_map(|v| {
                    v.split(|c: char| !c.is_alphanumeric())
                        .map(str::to_lowercase)
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .all(|part| part.chars().count() < 3 || !folder.contains(&part))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prefs {
    pub theme: Theme,
    pub last_preset: PresetName,
    /// Mask patient identifiers when a file opens (the reveal toggle itself is never stored).
    pub mask_phi_by_default: bool,
    pub left_panel_width: f32,
    pub right_panel_width: f32,
    pub server: ServerPref,
    /// The folder of the last file opened (empty: none), where the file dialogs start. The
    /// folder only, never a file name, and never a folder named after the patient
    /// (`folder_is_free_of`).
    pub last_folder: String,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            theme: Theme::Dark,
            last_preset: PresetName::Abdomen,
            mask_phi_by_default: true,
            left_panel_width: 300.0,
            right_panel_width: 470.0,
            server: ServerPref::default(),
            last_folder: String::new(),
        }
    }
}

impl Prefs {
    /// Clamps values read back from storage into sane ranges.
    pub fn sanitised(mut self) -> Self {
        let clamp = |w: f32, lo: f32, hi: f32, d: f32| {
            if w.is_finite() { w.clamp(lo, hi) } else { d }
        };
        self.left_panel_width = clamp(self.left_panel_width, 200.0, 600.0, 300.0);
        self.right_panel_width = clamp(self.right_panel_width, 320.0, 800.0, 470.0);
        for text in [
            &mut self.server.url,
            &mut self.server.fingerprint,
            &mut self.last_folder,
        ] {
            *text = text.chars().take(MAX_SERVER_TEXT).collect();
        }
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses stored preferences; anything unreadable gives the defaults.
    pub fn from_json(s: &str) -> Prefs {
        serde_json::from_str::<Prefs>(s)
            .map(Prefs::sanitised)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_prefs_hold_only_the_known_fields() {
        let json = Prefs::default().to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "last_folder",
                "last_preset",
                "left_panel_width",
                "mask_phi_by_default",
                "right_panel_width",
                "server",
                "theme"
            ]
        );
        let server = v["server"].as_object().unwrap();
        let mut server_keys: Vec<&str> = server.keys().map(|k| k.as_str()).collect();
        server_keys.sort_unstable();
        assert_eq!(server_keys, ["fingerprint", "remote", "url"]);
        // No other value can hold a path or a name: every value is an enum tag, a bool or a
        // number (the texts are the server's URL and the last folder, never a file).
        for (k, val) in v
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "server" | "last_folder"))
        {
            assert!(
                val.is_boolean()
                    || val.is_number()
                    || (val.is_string() && !val.as_str().unwrap().contains('/')),
                "{k} = {val}"
            );
        }
    }

    #[test]
    fn round_trip_and_garbage() {
        let p = Prefs {
            last_preset: PresetName::Lung,
            mask_phi_by_default: false,
            ..Prefs::default()
        };
        assert_eq!(Prefs::from_json(&p.to_json()), p);
        assert_eq!(Prefs::from_json("not json"), Prefs::default());
        // A stored file with an unexpected field (e.g. a path someone added) is rejected whole.
        assert_eq!(
            Prefs::from_json(r#"{"theme":"Dark","last_file":"/home/x/ct.dcm"}"#),
            Prefs::default()
        );
        let wide = Prefs::from_json(r#"{"left_panel_width": 1e9}"#);
        assert_eq!(wide.left_panel_width, 600.0);
        let remote = Prefs {
            server: ServerPref {
                remote: true,
                url: "https://10.0.0.5:8443".into(),
                fingerprint: "ab".repeat(32),
            },
            ..Prefs::default()
        };
        assert_eq!(Prefs::from_json(&remote.to_json()), remote);
        let long = Prefs::from_json(&format!(r#"{{"server":{{"url":"{}"}}}}"#, "x".repeat(5000)));
        assert_eq!(long.server.url.len(), MAX_SERVER_TEXT);
    }

    #[test]
    fn preset_names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(Preset::from(PresetName::from(p)), p);
        }
    }
}
