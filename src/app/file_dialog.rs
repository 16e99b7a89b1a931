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
pub fn spawn_native(worker: &Worker, purpose: DialogPurpose, last_folder: &str) {
    let last = PathBuf::from(last_folder);
    worker.spawn_io("dialog", move || {
        let mut dialog = rfd::FileDialog::new();
        if last.is_dir() {
            dialog = dialog.set_directory(&last);
        }
        let path = match purpose {
            DialogPurpose::Open => dialog
                .set_title("Open a CT slice (DICOM, PNG, JPEG, TIFF)")
                .pick_file(),
            DialogPurpose::OpenReference => dialog
                .set_title("Open a reference image of the same size (e.g. the full dose)")
                .pick_file(),
            DialogPurpose::ExportReport => dialog
                .set_title("Export the teaching report (one HTML file)")
                .add_filter("HTML", &["html"])
                .set_file_name(purpose.default_name())
                .save_file(),
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
    /// The path field: a folder to go to, or a file to open (or to save as).
    pub path_text: String,
}

fn start_dir() -> PathBuf {
    std::env::current_dir()
        .ok()
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl FileBrowser {
    /// A browser opened on `last_folder` when it still exists, else the working directory.
    pub fn new(purpose: DialogPurpose, last_folder: &str) -> FileBrowser {
        let last = PathBuf::from(last_folder);
        Self::at(
            purpose,
            if !last_folder.is_empty() && last.is_dir() {
                last
            } else {
                start_dir()
            },
        )
    }

    /// A browser opened on `dir`.
    pub fn at(purpose: DialogPurpose, dir: PathBuf) -> FileBrowser {
        let mut b = FileBrowser {
            purpose,
            path_text: dir.display().to_string(),
            dir,
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
        self.path_text = self.dir.display().to_string();
        self.refresh();
    }

    /// The path field was confirmed: a folder is opened in the browser; a file is opened (or,
    /// when saving, its folder and name are taken). Returns the intents to apply (empty when
    /// the browser stays open).
    pub fn enter_path(&mut self) -> Vec<Intent> {
        let text = self.path_text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        // A relative path is taken from the folder on show.
        let path = self.dir.join(text);
        if path.is_dir() {
            self.navigate(&path);
            return Vec::new();
        }
        if self.purpose.is_export() {
            match (path.parent().filter(|p| p.is_dir()), path.file_name()) {
                (Some(dir), Some(name)) => {
                    self.file_name = name.to_string_lossy().into_owned();
                    let dir = dir.to_path_buf();
                    self.navigate(&dir);
                }
                _ => self.error = Some(format!("no such folder: {}", path.display())),
            }
            return Vec::new();
        }
        if path.is_file() {
            vec![open_intent(self.purpose, path), Intent::CloseBrowser]
        } else {
            self.error = Some(format!("no such file or folder: {}", path.display()));
            Vec::new()
        }
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
                self.entries.sort_by(|a, b| {
                    b.is_dir
                        .cmp(&a.is_dir)
                        .then_with(|| natural_cmp(&a.name, &b.name))
                });
            }
            Err(e) => self.error = Some(format!("cannot list this folder: {e}")),
        }
    }

    /// The path chosen by the current selection/name, if any.
    pub fn chosen(&self) -> Option<PathBuf> {
        match self.purpose {
            DialogPurpose::Open | DialogPurpose::OpenReference => self
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
            DialogPurpose::OpenReference => "Open a reference image (in-app browser)",
            DialogPurpose::ExportReport => "Export teaching report (in-app browser)",
        };
        let mut navigate_to: Option<PathBuf> = None;
        let mut go = false;
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
                ui.horizontal(|ui| {
                    let label = ui.label("Path:");
                    let field = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.path_text)
                                .desired_width(400.0)
                                .font(egui::TextStyle::Monospace),
                        )
                        .labelled_by(label.id)
                        .on_hover_text("A folder to show, or a file to open; Enter confirms");
                    let entered =
                        field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if entered || ui.button("Go").clicked() {
                        go = true;
                    }
                });
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
                            if r.double_clicked() && !e.is_dir && !self.purpose.is_export() {
                                out.push(open_intent(self.purpose, self.dir.join(&e.name)));
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
                        out.push(open_intent(self.purpose, p));
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
        if go {
            out.extend(self.enter_path());
        }
        out
    }
}

/// Natural order of file names: digit runs compare as numbers ("slice2" before "slice10",
/// "L506_18" before "L506_167"), the rest case-insensitively; ties fall back to the plain
/// byte order so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(x.len());
                let m = y.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(y.len());
                let (p, q) = (
                    x[..n].trim_start_matches('0'),
                    y[..m].trim_start_matches('0'),
                );
                let o = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[c.len_utf8()..];
                y = &y[d.len_utf8()..];
            }
        }
    }
}

/// What choosing `path` for `purpose` asks the app to do.
pub fn open_intent(purpose: DialogPurpose, path: PathBuf) -> Intent {
    match purpose {
        DialogPurpose::Open => Intent::LoadPath(path),
        DialogPurpose::OpenReference => Intent::LoadReferencePath(path),
        DialogPurpose::ExportPng => Intent::ExportPngTo(path),
        DialogPurpose::ExportDenoisedPng | DialogPurpose::ExportDenoisedDicom => {
            Intent::ExportDenoisedTo(path)
        }
        DialogPurpose::ExportReport => Intent::ExportReportTo(path),
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
    fn names_sort_naturally() {
        let mut names = vec![
            "slice10.dcm",
            "slice2.dcm",
            "L506_167",
            "Slice1.dcm",
            "L506_18",
            "L506_018b",
            "a",
            "slice02.dcm",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "a",
                "L506_18",
                "L506_018b",
                "L506_167",
                "Slice1.dcm",
                "slice02.dcm",
                "slice2.dcm",
                "slice10.dcm"
            ]
        );
    }

    #[test]
    fn the_path_field_opens_folders_and_files() {
        let dir = std::env::temp_dir().join(format!("privact-browser-{}", std::process::id()));
        let sub = dir.join("series");
        std::fs::create_dir_all(&sub).unwrap();
        for n in ["slice10.dcm", "slice2.dcm", "slice1.dcm"] {
            std::fs::write(sub.join(n), b"x").unwrap();
        }
        let mut b = FileBrowser::at(DialogPurpose::Open, dir.clone());
        b.path_text = "series".into();
        assert!(b.enter_path().is_empty(), "a folder is shown, not opened");
        assert_eq!(b.dir, sub);
        let names: Vec<&str> = b.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["slice1.dcm", "slice2.dcm", "slice10.dcm"]);
        b.path_text = sub.join("slice2.dcm").display().to_string();
        let out = b.enter_path();
        assert!(
            matches!(&out[..], [Intent::LoadPath(p), Intent::CloseBrowser] if *p == sub.join("slice2.dcm")),
            "{out:?}"
        );
        b.path_text = "nothing-here".into();
        assert!(b.enter_path().is_empty());
        assert!(
            b.error
                .as_deref()
                .is_some_and(|e| e.contains("no such file"))
        );
        // Saving: the path gives the folder and the name.
        let mut b = FileBrowser::at(DialogPurpose::ExportReport, dir.clone());
        b.path_text = sub.join("teaching.html").display().to_string();
        assert!(b.enter_path().is_empty());
        assert_eq!(b.chosen(), Some(sub.join("teaching.html")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_browser_starts_in_the_remembered_folder_while_it_exists() {
        let dir = std::env::temp_dir().join(format!("privact-last-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let b = FileBrowser::new(DialogPurpose::Open, &dir.display().to_string());
        assert_eq!(b.dir, dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let b = FileBrowser::new(DialogPurpose::Open, &dir.display().to_string());
        assert_eq!(b.dir, start_dir(), "a folder that is gone falls back");
    }

    #[test]
    fn loadable_names() {
        assert!(looks_loadable("IM0001"));
        assert!(looks_loadable("slice.DCM"));
        assert!(looks_loadable("a.tiff"));
        assert!(!looks_loadable("notes.txt"));
    }

    #[test]
    fn export_name_gets_png_extension_and_no_separators() {
        let mut b = FileBrowser::new(DialogPurpose::ExportPng, "");
        b.dir = PathBuf::from("/tmp");
        b.file_name = "out".into();
        assert_eq!(b.chosen(), Some(PathBuf::from("/tmp/out.png")));
        b.file_name = "../evil.png".into();
        assert_eq!(b.chosen(), None);
        b.file_name = "  ".into();
        assert_eq!(b.chosen(), None);
        let mut b = FileBrowser::new(DialogPurpose::ExportDenoisedDicom, "");
        assert_eq!(b.file_name, "privact-denoised.dcm");
        b.dir = PathBuf::from("/tmp");
        b.file_name = "den".into();
        assert_eq!(b.chosen(), Some(PathBuf::from("/tmp/den.dcm")));
    }
}
