//! Command-line front ends: each subcommand lives in its own file and returns `anyhow::Result`.

#[cfg(feature = "train")]
pub mod assemble_classifier;
pub mod bench;
pub mod bench_pipelines;
pub mod bench_serve;
pub mod check_input;
pub mod classify;
pub mod classify_series;
pub mod denoise;
pub mod evaluate_denoise;
pub mod inspect;
pub mod phantom;
pub mod serve;
pub mod simulate_ldct;
#[cfg(feature = "train")]
pub mod train_classifier;
#[cfg(feature = "train")]
pub mod train_denoiser;

use crate::ckks::ring::SimdLevel;
use std::sync::OnceLock;

/// What `privact --version` (and `-V`) prints after the program name: the version plus the
/// build facts a bug report needs (commit, target, profile, the CPU features found at run time
/// and which basis-extension kernel runs). Used as `#[command(version = LONG_VERSION)]`; the
/// text itself is [`long_version`] (e.g. for an About dialog).
pub const LONG_VERSION: LongVersion = LongVersion;

/// Marker that clap turns into the [`long_version`] text when it builds the command.
#[derive(Clone, Copy, Debug)]
pub struct LongVersion;

impl clap::builder::IntoResettable<clap::builder::Str> for LongVersion {
    fn into_resettable(self) -> clap::builder::Resettable<clap::builder::Str> {
        clap::builder::Resettable::Value(long_version().into())
    }
}

/// The multi-line version text (computed once per process):
///
/// ```text
/// 0.1.0
/// commit: 0123456789ab (2026-11-21)
/// build: x86_64-unknown-linux-gnu, release
/// cpu: avx2 fma avx512f avx512dq avx512ifma
/// kernels: AVX-512 IFMA
/// ```
pub fn long_version() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let date = env!("PRIVACT_GIT_DATE");
        let commit = if date.is_empty() {
            env!("PRIVACT_GIT_HASH").to_string()
        } else {
            format!("{} ({date})", env!("PRIVACT_GIT_HASH"))
        };
        let features = cpu_features();
        let (level, detected) = (SimdLevel::current(), SimdLevel::detected());
        let kernels = if level < detected {
            format!(
                "{} (capped by PRIVACT_PORTABLE / PRIVACT_SIMD; the CPU has {})",
                level.describe(),
                detected.describe()
            )
        } else {
            level.describe().to_string()
        };
        format!(
            "{}\ncommit: {commit}\nbuild: {}, {}\ncpu: {}\nkernels: {kernels}",
            env!("CARGO_PKG_VERSION"),
            env!("PRIVACT_BUILD_TARGET"),
            env!("PRIVACT_BUILD_PROFILE"),
            if features.is_empty() {
                "(none of the tracked features)".to_string()
            } else {
                features.join(" ")
            },
        )
    })
}

/// The SIMD features the engine and its NTT library can use, as detected on this CPU now.
pub fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(
                if std::is_x86_feature_detected!($f) {
                    found.push($f);
                }
            )*};
        }
        probe!(
            "avx2",
            "fma",
            "avx512f",
            "avx512dq",
            "avx512bw",
            "avx512vl",
            "avx512ifma"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon");
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_version_has_build_facts() {
        let v = super::long_version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")));
        for key in ["\ncommit: ", "\nbuild: ", "\ncpu: ", "\nkernels: "] {
            assert!(v.contains(key), "{key:?} missing in {v}");
        }
    }
}
