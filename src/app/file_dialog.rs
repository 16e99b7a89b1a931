//! File choosing without blocking the UI: the native dialog (rfd, desktop portal) on a helper
//! thread, and an in-app browser for machines without a portal (e.g. a bare X server).

use super::intent::Intent;
use super::worker::{DialogPurpose, Event, Worker};
use std::path::{Path, PathBuf};

/// Extensions the loader understands (DICOM files often have none).
const IMAGE_EXTENSIONS: [&str; 7] = ["dcm", "dicom", "ima", "png", "jpg", "jpeg", "tif"];

/// True when a native dialog can be expected to appear: a desktop session bus for the portal
/// on Linux, always on Windows and macOS. `PRIVACT_NO_NATIVE_DIALOG=1` forces the in-app one.
pub fn native_dialog_available() -> bool {
    if std::env::var_os("PRIVACT_NO_NATIVE_DIALOG").is_some() {
        return false;
    }
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

/// Opens the native dialog on a helper thread; the answer arrives as `Event::Picked`.
pub fn spawn_native(worker: &Worker, purpose: DialogPurpose) {
    worker.spawn_io("dialog", move || {
        let dialog = rfd::FileDialog::new();
        let path = match purpose {
            DialogPurpose::Open => dialog
                .set_title("Open a CT slice (DICOM, PNG, JPEG, TIFF)")
                .pick_file(),
            DialogPurpose::ExportPng => dialog
                .set_title("Export the displayed image as PNG")
                .add_filter("PNG image", &["png"])
                .set_file_name(purpose.default_name())
                .save_file(),
            DialogPurpose::ExportDenoisedPng => dialog
                .set_title("Export the denoised slice as PNG (abdomen window)")
                .add_filter("PNG image", &["png"])
                .set_file_name(purpose.default_name())
                .save_file(),
            DialogPurpose::ExportDenoisedDicom => dialog
                .set_title("Export the denoised slice as DICOM (derived series)")
                .add_filter("DICOM", &["dcm"])
                .set_file_name(purpose.default_name())
                .save_file(),
        };
        Event::Picked { purpose, path }
    });
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
}

/// The in-app browser's state: a folder listing, and a file name when saving.
#[derive(Clone, Debug)]
pub struct FileBrowser {
    pub purpose: DialogPurpose,
    pub dir: PathBuf,
    pub entries: Vec<Entry>,
    pub file_name: String,
    pub selected: Option<usize>,
    pub error: Option<String>,
    pub show_all: bool,
}

fn start_dir() -> PathBuf {
    std::env::current_dir()
        .ok()
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl FileBrowser {
    pub fn new(purpose: DialogPurpose) -> FileBrowser {
        let mut b = FileBrowser {
            purpose,
            dir: start_dir(),
            entries: Vec::new(),
            file_name: purpose.default_name().into(),
            selected: None,
            error: None,
            show_all: false,
        };
        b.refresh();
        b
    }

    pub fn navigate(&mut self, dir: &Path) {
        self.dir = dir.to_path_buf();
        self.selected = None;
        self.refresh();
    }

    /// Lists the folder: folders first, then files the loader can read (or all files).
    pub fn refresh(&mut self) {
        self.error = None;
        self.entries.clear();
        match std::fs::read_dir(&self.dir) {
            Ok(rd) => {
                for e in rd.flatten().take(5000) {
                    let name = e.file_name().to_string_lossy().to_string();
                    if name.starts_with('.') {
                        continue;
                    }
                    let meta = e.metadata().ok();
                    let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
                    if !is_dir && !self.show_all && !looks_loadable(&name) {
                        continue;
                    }
                    self.entries.push(Entry {
                        name,
                        is_dir,
                        size: meta.map_or(0, |m| m.len()),
                    });
                }
                self.entries
                    .sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then(a.name.cmp(&b.name)));
            }
            Err(e) => self.error = Some(format!("cannot list this folder: {e}")),
        }
    }

    /// The path chosen by the current selection/name, if any.
    pub fn chosen(&self) -> Option<PathBuf> {
        match self.purpose {
            DialogPurpose::Open => self
                .selected
                .and_then(|i| self.entries.get(i))
                .map(|e| self.dir.join(&e.name)),
            export => {
                let name = self.file_name.trim();
                let ext = export.extension();
                if name.is_empty() || name.contains('/') || name.contains('\\') {
                    None
                } else if name.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
                    Some(self.dir.join(name))
                } else {
                    Some(self.dir.join(format!("{name}.{ext}")))
                }
            }
        }
    }

    /// Draws the browser window; returns what the user asked for.
    pub fn show(&mut self, ctx: &egui::Context) -> Vec<Intent> {
        let mut out = Vec::new();
        let title = match self.purpose {
            DialogPurpose::Open => "Open a file (in-app browser)",
            DialogPurpose::ExportPng => "Export PNG (in-app browser)",
            DialogPurpose::ExportDenoisedPng => "Export denoised PNG (in-app browser)",
            DialogPurpose::ExportDenoisedDicom => "Export denoised DICOM (in-app browser)",
        };
        let mut navigate_to: Option<PathBuf> = None;
        egui::Window::new(title)
            .collapsible(false)
            .resizable(true)
            .default_size([560.0, 440.0])
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    if ui.button("Parent folder").clicked()
                        && let Some(parent) = self.dir.parent()
                    {
                        navigate_to = Some(parent.to_path_buf());
                    }
                    if ui.button("Home").clicked()
                        && let Some(home) = std::env::var_os("HOME")
                    {
                        navigate_to = Some(PathBuf::from(home));
                    }
                    if ui
                        .checkbox(&mut self.show_all, "Show all files")
                        .changed()
                    {
                        self.refresh();
                    }
                });
                ui.label(egui::RichText::new(self.dir.display().to_string()).monospace());
                if let Some(e) = &self.error {
                    ui.colored_label(egui::Color32::from_rgb(255, 120, 100), e);
                }
                ui.separator();
                egui::ScrollArea::vertical()
                    .max_height(280.0)
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        for (i, e) in self.entries.iter().enumerate() {
                            let text = if e.is_dir {
                                format!("{}/", e.name)
                            } else {
                                format!("{}  ({})", e.name, super::view::fmt_bytes(e.size))
                            };
                            let r = ui.selectable_label(self.selected == Some(i), text);
                            if r.clicked() {
                                if e.is_dir {
                                    navigate_to = Some(self.dir.join(&e.name));
                                } else {
                                    self.selected = Some(i);
                                    if self.purpose.is_export() {
                                        self.file_name = e.name.clone();
                                    }
                                }
                            }
                            if r.double_clicked() && !e.is_dir && self.purpose == DialogPurpose::Open {
                                out.push(Intent::LoadPath(self.dir.join(&e.name)));
                                out.push(Intent::CloseBrowser);
                            }
                        }
                        if self.entries.is_empty() {
                            ui.weak("(no readable images here)");
                        }
                    });
                ui.separator();
                if self.purpose.is_export() {
                    ui.horizontal(|ui| {
                        let label = ui.label("File name:");
                        ui.add(egui::TextEdit::singleline(&mut self.file_name).desired_width(260.0))
                            .labelled_by(label.id);
                    });
                }
                ui.horizontal(|ui| {
                    let label = if self.purpose.is_export() {
                        "Save here"
                    } else {
                        "Open selected"
                    };
                    if ui
                        .add_enabled(self.chosen().is_some(), egui::Button::new(label))
                        .clicked()
                        && let Some(p) = self.chosen()
                    {
                        out.push(match self.purpose {
                            DialogPurpose::Open => Intent::LoadPath(p),
                            DialogPurpose::ExportPng => Intent::ExportPngTo(p),
                            DialogPurpose::ExportDenoisedPng
                            | DialogPurpose::ExportDenoisedDicom => Intent::ExportDenoisedTo(p),
                        });
                        out.push(Intent::CloseBrowser);
                    }
                    if self.purpose == DialogPurpose::Open
                        && ui
                            .button("Open this folder as a series")
                            .on_hover_text("Loads every DICOM file of this folder, sorted along the patient axis")
                            .clicked()
                    {
                        out.push(Intent::LoadPath(self.dir.clone()));
                        out.push(Intent::CloseBrowser);
                    }
                    if ui.button("Cancel").clicked() {
                        out.push(Intent::CloseBrowser);
                    }
                });
            });
        if let Some(d) = navigate_to {
            self.navigate(&d);
        }
        out
    }
}

/// By extension, or no extension at all (common for DICOM).
pub fn looks_loadable(name: &str) -> bool {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        None => true,
        Some(ext) => {
            let ext = ext.to_ascii_lowercase();
            IMAGE_EXTENSIONS.contains(&ext.as_str()) || ext == "tiff"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadable_names() {
        assert!(looks_loadable("IM0001"));
        assert!(looks_loadable("slice.DCM"));
        assert!(looks_loadable("a.tiff"));
        assert!(!looks_loadable("notes.txt"));
    }

    #[test]
    fn export_name_gets_png_extension_and_no_separators() {
        let mut b = FileBrowser::new(DialogPurpose::ExportPng);
        b.dir = PathBuf::from("/tmp");
        b.file_name = "out".into();
        assert_eq!(b.chosen(), Some(PathBuf::from("/tmp/out.png")));
        b.file_name = "../evil.png".into();
        assert_eq!(b.chosen(), None);
        b.file_name = "  ".into();
        assert_eq!(b.chosen(), None);
        let mut b = FileBrowser::new(DialogPurpose::ExportDenoisedDicom);
        assert_eq!(b.file_name, "privact-denoised.dcm");
        b.dir = PathBuf::from("/tmp");
        b.file_name = "den".into();
        assert_eq!(b.chosen(), Some(PathBuf::from("/tmp/den.dcm")));
    }
}
