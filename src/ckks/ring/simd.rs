//! Which vector kernels the ring may use, decided once per process from the CPU and two
//! environment switches: `PRIVACT_PORTABLE=1` forces the portable code (CI tests it), and
//! `PRIVACT_SIMD=avx2` stops at the AVX2 kernels on a CPU that also has AVX-512 IFMA, so the
//! AVX2 path can be tested and timed on such a machine (`PRIVACT_SIMD=portable` equals
//! `PRIVACT_PORTABLE=1`). `tfhe-ntt` chooses its own NTT kernels and ignores both.

use std::sync::OnceLock;

/// Kernel families, slowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Scalar Rust: any CPU.
    Portable,
    /// 256-bit integer lanes (`dot_avx2`).
    Avx2,
    /// AVX-512F, DQ and IFMA (`dot_avx512`, `basis_avx512`, `limb_avx512`).
    Avx512Ifma,
}

impl SimdLevel {
    /// What the engine uses in this process.
    pub fn current() -> Self {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let var = |name| std::env::var(name).ok();
            Self::from_switches(
                Self::detected(),
                var("PRIVACT_PORTABLE").as_deref(),
                var("PRIVACT_SIMD").as_deref(),
            )
        })
    }

    /// What this CPU supports.
    pub fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512ifma")
            {
                return SimdLevel::Avx512Ifma;
            }
            if std::is_x86_feature_detected!("avx2") {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Portable
    }

    /// `detected` capped by the switches' values (`PRIVACT_PORTABLE`, `PRIVACT_SIMD`).
    fn from_switches(detected: Self, portable: Option<&str>, simd: Option<&str>) -> Self {
        if portable == Some("1") {
            return SimdLevel::Portable;
        }
        match simd {
            Some("avx2") => detected.min(SimdLevel::Avx2),
            Some("portable") => SimdLevel::Portable,
            _ => detected,
        }
    }

    /// Human-readable name for `privact --version`.
    pub fn describe(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "AVX2",
            SimdLevel::Avx512Ifma => "AVX-512 IFMA",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SimdLevel::{self, *};

    #[test]
    fn switches_only_ever_lower_the_level() {
        let cases = [
            (Avx512Ifma, None, None, Avx512Ifma),
            (Avx512Ifma, Some("1"), None, Portable),
            (Avx512Ifma, None, Some("avx2"), Avx2),
            (Avx512Ifma, None, Some("portable"), Portable),
            (Avx2, None, Some("avx2"), Avx2),
            (Portable, None, Some("avx2"), Portable),
            (Avx2, Some("0"), Some("bogus"), Avx2),
        ];
        for (detected, portable, simd, want) in cases {
            assert_eq!(
                SimdLevel::from_switches(detected, portable, simd),
                want,
                "{detected:?} with PRIVACT_PORTABLE={portable:?}, PRIVACT_SIMD={simd:?}"
            );
        }
    }
}
