//! Records the git commit for `privact --version`. Works without git and outside a checkout
//! (source tarball, `cargo package`, vendored builds): then `PRIVACT_GIT_HASH` from the
//! environment is used if set, else "unknown". Never fails the build.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=PRIVACT_GIT_HASH");
    println!("cargo:rerun-if-changed=build.rs");

    let from_env = std::env::var("PRIVACT_GIT_HASH")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let (hash, date) = match from_env {
        Some(h) => (h.trim().to_string(), None),
        None => match in_own_checkout()
            .then(|| git(&["rev-parse", "--short=12", "HEAD"]))
            .flatten()
        {
            Some(h) => {
                // Rebuild when HEAD moves: HEAD itself (branch switch, detached commits), the
                // branch ref it points to, and packed-refs. `--git-path` resolves worktrees.
                for p in ["HEAD", "packed-refs"] {
                    watch(git(&["rev-parse", "--git-path", p]));
                }
                if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    watch(git(&["rev-parse", "--git-path", &r]));
                }
                (h, git(&["log", "-1", "--format=%cs", "HEAD"]))
            }
            None => ("unknown".to_string(), None),
        },
    };
    println!("cargo:rustc-env=PRIVACT_GIT_HASH={hash}");
    println!(
        "cargo:rustc-env=PRIVACT_GIT_DATE={}",
        date.unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=PRIVACT_BUILD_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=PRIVACT_BUILD_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
}

/// `rerun-if-changed` for a git path if it exists (relative paths are relative to the
/// manifest directory, which is where git ran).
fn watch(path: Option<String>) {
    let Some(p) = path else { return };
    let mut full = manifest_dir();
    full.push(p);
    if full.exists() {
        println!("cargo:rerun-if-changed={}", full.display());
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()))
}

/// True when the package root is the top of a git work tree (so an unpacked source tarball
/// that happens to sit inside some other repository does not report that repository's commit).
fn in_own_checkout() -> bool {
    let top =
        git(&["rev-parse", "--show-toplevel"]).and_then(|t| PathBuf::from(t).canonicalize().ok());
    top.is_some() && top == manifest_dir().canonicalize().ok()
}
