//! CKKS parameters: a plain `ParametersLiteral` (what a user writes) validated into
//! `Parameters` (primes generated, security checked, rings built), as in Lattigo.

use super::math::generate_ntt_primes;
use super::ring::RnsRing;
use std::sync::Arc;

/// Largest log2(Q·P) for 128-bit classical security with a uniform ternary secret and σ ≈ 3.2
/// (HomomorphicEncryption.org standard, Table 1; 2^16 as extended by OpenFHE).
pub const MAX_LOG_QP_128: [(u32, u32); 7] = [
    (10, 27),
    (11, 54),
    (12, 109),
    (13, 218),
    (14, 438),
    (15, 881),
    (16, 1772),
];

/// The security bound for ring degree 2^log_n, if the standard covers it.
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    MAX_LOG_QP_128
        .iter()
        .find(|&&(l, _)| l == log_n)
        .map(|&(_, b)| b)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamsError {
    #[error("log N = {0} is outside the supported range 10..=16")]
    LogN(u32),
    #[error(
        "insecure parameters: log2(QP) = {log_qp:.1} bits exceeds the 128-bit security bound of {max} bits for N = 2^{log_n} (HomomorphicEncryption.org standard)"
    )]
    Insecure { log_n: u32, log_qp: f64, max: u32 },
    #[error("prime size {bits} bits is outside 20..=61 (needs > log2(2N) and < 62)")]
    PrimeSize { bits: u32 },
    #[error("the Q chain is empty")]
    EmptyQ,
    #[error("at least one special prime P is required for key switching")]
    EmptyP,
    #[error("could not find enough {bits}-bit NTT primes for N = 2^{log_n}")]
    NotEnoughPrimes { bits: u32, log_n: u32 },
    #[error("default scale 2^{0} is outside 10..=60")]
    Scale(u32),
    #[error(
        "the base prime q0 ({q0_bits} bits) must exceed the default scale 2^{scale_bits}: after the last rescale a value times the scale has to fit q0 (SEAL and Lattigo choose q0 ≥ scale + the integer bits needed)"
    )]
    BasePrimeTooSmall { q0_bits: u32, scale_bits: u32 },
    #[error(
        "key-switching digit of {digit_bits:.0} bits exceeds the special modulus P ({p_bits:.0} bits): add special primes"
    )]
    DigitTooLarge { digit_bits: f64, p_bits: f64 },
    #[error("ring construction failed: {0}")]
    Ring(String),
    #[error("unknown parameter preset {0:?} (known: {known})", known = PRESET_NAMES.join(", "))]
    UnknownPreset(String),
}

/// What a user writes: sizes only; primes are derived.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParametersLiteral {
    pub log_n: u32,
    /// Bit sizes of the ciphertext primes q_0 (base) … q_L.
    pub log_q: Vec<u32>,
    /// Bit sizes of the special primes used only inside key switching; their count is the
    /// hybrid key-switching digit size α (digits = ⌈|Q| / α⌉).
    pub log_p: Vec<u32>,
    pub log_default_scale: u32,
}

/// Names of the built-in parameter sets.
pub const PRESET_NAMES: [&str; 8] = [
    "depth7-n14",
    "depth6-n14",
    "depth18-n15",
    "depth5-n14",
    "depth3-n13",
    "depth3-n13-p2",
    "depth1-n13",
    "depth1-n12",
];

impl ParametersLiteral {
    /// Named 128-bit presets. Every prime is ≤ 50 bits so `tfhe-ntt` can use AVX-512 IFMA.
    pub fn preset(name: &str) -> Result<Self, ParamsError> {
        let lit = |log_n, log_q: Vec<u32>, log_p: Vec<u32>, scale| Self {
            log_n,
            log_q,
            log_p,
            log_default_scale: scale,
        };
        Ok(match name {
            // 329 + 98 = 427 ≤ 438 bits; 7 rescalings of a 40-bit scale; 4 key-switching digits.
            "depth7-n14" => lit(14, [vec![49], vec![40; 7]].concat(), vec![49, 49], 40),
            // 770 + 100 = 870 ≤ 881 bits; 18 rescalings; 10 digits.
            "depth18-n15" => lit(15, [vec![50], vec![40; 18]].concat(), vec![50, 50], 40),
            // 289 + 147 = 436 ≤ 438 bits: the classifier's set — exactly the 6 levels it uses, so
            // ciphertexts and keys carry no unused primes. Three special primes make digits of
            // three primes: 3 key-switching digits at the top level instead of 4 with two.
            "depth6-n14" => lit(14, [vec![49], vec![40; 6]].concat(), vec![49, 49, 49], 40),
            // 249 + 98 = 347 ≤ 438 bits: the classifier's set until its conv2 was packed densely
            // (2026-12-03), with exactly the 5 levels it used then (3 key-switching digits).
            "depth5-n14" => lit(14, [vec![49], vec![40; 5]].concat(), vec![49, 49], 40),
            // 158 + 50 = 208 ≤ 218 bits: small and fast, for tests and shallow models.
            "depth3-n13" => lit(13, vec![50, 36, 36, 36], vec![50], 36),
            // 140 + 78 = 218 ≤ 218 bits: the interactive denoiser's set. Two special primes make
            // key-switching digits of two primes (2 digits at the top level instead of 4), and
            // a 2^32 scale with a 44-bit base keeps every ciphertext that crosses the wire 12 %
            // smaller than on `depth3-n13`; the first digit (q0·q1, 76 bits) stays below P
            // (78 bits; `build` allows digits up to 2P).
            "depth3-n13-p2" => lit(13, vec![44, 32, 32, 32], vec![39, 39], 32),
            // 68 + 38 = 106 ≤ 109 bits: the smallest secure ring, one rescaling.
            "depth1-n12" => lit(12, vec![38, 30], vec![38], 30),
            // The same moduli on N = 2^13 (106 ≤ 218 bits): the linear denoiser's set. Its
            // 4,096 slots hold 64×64 tiles, whose 6-pixel halo wastes far less than the 64×32
            // tiles of N = 2^12 (1.56 instead of 2.03 slots per pixel), so every message is
            // about a quarter smaller; the Galois keys, sent once, double.
            "depth1-n13" => lit(13, vec![38, 30], vec![38], 30),
            other => return Err(ParamsError::UnknownPreset(other.to_string())),
        })
    }
}

/// Validated parameters with their rings; cheap to clone.
#[derive(Clone, Debug)]
pub struct Parameters(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    literal: ParametersLiteral,
    q: Vec<u64>,
    p: Vec<u64>,
    ring_q: RnsRing,
    ring_p: RnsRing,
    fingerprint: u64,
}

thread_local! {
    /// How many parameter sets this thread has built (prime search and NTT tables): lets
    /// tests check that admission refuses before building anything.
    static BUILDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Presets built once per process (servers admit clients by comparing literals, then share
/// the already-built set instead of searching primes and planning NTTs per session).
static SHARED_PRESETS: std::sync::Mutex<Vec<(String, Parameters)>> =
    std::sync::Mutex::new(Vec::new());

impl Parameters {
    /// Validates `literal` (128-bit bound, prime sizes, digit sizes), finds the primes and
    /// builds the NTT tables. Refusals that need only the numbers come before any work.
    pub fn new(literal: ParametersLiteral) -> Result<Self, ParamsError> {
        let built = Self::build(literal);
        if built.is_ok() {
            BUILDS.with(|b| b.set(b.get() + 1));
        }
        built
    }

    /// Parameter sets built on the calling thread so far (a test hook; see `BUILDS`).
    pub fn builds_on_this_thread() -> u64 {
        BUILDS.with(|b| b.get())
    }

    /// The named preset, built once per process and shared (cheap to clone).
    pub fn preset_shared(name: &str) -> Result<Self, ParamsError> {
        let mut cache = SHARED_PRESETS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, p)) = cache.iter().find(|(n, _)| n == name) {
            return Ok(p.clone());
        }
        let p = Self::preset(name)?;
        cache.push((name.to_string(), p.clone()));
        Ok(p)
    }

    fn build(literal: ParametersLiteral) -> Result<Self, ParamsError> {
        let ParametersLiteral {
            log_n,
            log_q,
            log_p,
            log_default_scale,
        } = &literal;
        let log_n = *log_n;
        let max = max_log_qp_128(log_n).ok_or(ParamsError::LogN(log_n))?;
        if log_q.is_empty() {
            return Err(ParamsError::EmptyQ);
        }
        if log_p.is_empty() {
            return Err(ParamsError::EmptyP);
        }
        if !(10..=60).contains(log_default_scale) {
            return Err(ParamsError::Scale(*log_default_scale));
        }
        if let Some(&bits) = log_q
            .iter()
            .chain(log_p)
            .find(|&&b| !(20..=61).contains(&b) || b <= log_n + 1)
        {
            return Err(ParamsError::PrimeSize { bits });
        }
        if log_q[0] <= *log_default_scale {
            return Err(ParamsError::BasePrimeTooSmall {
                q0_bits: log_q[0],
                scale_bits: *log_default_scale,
            });
        }
        let nominal: u32 = log_q.iter().chain(log_p).sum();
        if nominal > max + 1 {
            return Err(ParamsError::Insecure {
                log_n,
                log_qp: nominal as f64,
                max,
            });
        }
        let mut taken: Vec<u64> = Vec::new();
        let mut pick = |sizes: &[u32]| -> Result<Vec<u64>, ParamsError> {
            sizes
                .iter()
                .map(|&bits| {
                    let p = generate_ntt_primes(bits, log_n, 1, &taken)
                        .ok_or(ParamsError::NotEnoughPrimes { bits, log_n })?[0];
                    taken.push(p);
                    Ok(p)
                })
                .collect()
        };
        let q = pick(log_q)?;
        let p = pick(log_p)?;
        let log_qp: f64 = q.iter().chain(&p).map(|&x| (x as f64).log2()).sum();
        if log_qp > max as f64 {
            return Err(ParamsError::Insecure { log_n, log_qp, max });
        }
        let p_bits: f64 = p.iter().map(|&x| (x as f64).log2()).sum();
        for digit in q.chunks(p.len()) {
            let digit_bits: f64 = digit.iter().map(|&x| (x as f64).log2()).sum();
            if digit_bits > p_bits + 1.0 {
                return Err(ParamsError::DigitTooLarge { digit_bits, p_bits });
            }
        }
        let ring_q = RnsRing::new(log_n, &q).map_err(|e| ParamsError::Ring(e.to_string()))?;
        let ring_p = RnsRing::new(log_n, &p).map_err(|e| ParamsError::Ring(e.to_string()))?;
        let fingerprint = fingerprint(log_n, &q, &p, *log_default_scale);
        Ok(Self(Arc::new(Inner {
            literal,
            q,
            p,
            ring_q,
            ring_p,
            fingerprint,
        })))
    }

    pub fn preset(name: &str) -> Result<Self, ParamsError> {
        Self::new(ParametersLiteral::preset(name)?)
    }

    pub fn literal(&self) -> &ParametersLiteral {
        &self.0.literal
    }
    pub fn log_n(&self) -> u32 {
        self.0.literal.log_n
    }
    pub fn n(&self) -> usize {
        1 << self.log_n()
    }
    /// Complex slots per ciphertext (N/2).
    pub fn slots(&self) -> usize {
        self.n() / 2
    }
    /// Highest level: the number of rescalings available.
    pub fn max_level(&self) -> usize {
        self.0.q.len() - 1
    }
    pub fn q(&self) -> &[u64] {
        &self.0.q
    }
    pub fn p(&self) -> &[u64] {
        &self.0.p
    }
    pub fn ring_q(&self) -> &RnsRing {
        &self.0.ring_q
    }
    pub fn ring_p(&self) -> &RnsRing {
        &self.0.ring_p
    }
    /// Hybrid key-switching digit size α (= number of special primes).
    pub fn digit_size(&self) -> usize {
        self.0.p.len()
    }
    /// Number of key-switching digits at `level`.
    pub fn digits_at(&self, level: usize) -> usize {
        (level + 1).div_ceil(self.digit_size())
    }
    pub fn default_scale(&self) -> f64 {
        2f64.powi(self.0.literal.log_default_scale as i32)
    }
    pub fn log_qp(&self) -> f64 {
        self.0
            .q
            .iter()
            .chain(&self.0.p)
            .map(|&x| (x as f64).log2())
            .sum()
    }
    pub fn log_q(&self) -> f64 {
        self.0.q.iter().map(|&x| (x as f64).log2()).sum()
    }
    /// log2(q_0⋯q_level): the room a scaled value has at `level` (levels above the chain
    /// count as the full chain).
    pub fn log_q_at(&self, level: usize) -> f64 {
        self.0
            .q
            .iter()
            .take(level + 1)
            .map(|&x| (x as f64).log2())
            .sum()
    }
    /// Identifies the exact prime chain; every wire object carries it.
    pub fn fingerprint(&self) -> u64 {
        self.0.fingerprint
    }
    /// Security level claimed for this set (validated at construction).
    pub fn security_bits(&self) -> u32 {
        128
    }
}

impl PartialEq for Parameters {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint() == other.fingerprint() && self.0.q == other.0.q && self.0.p == other.0.p
    }
}

/// FNV-1a over the defining numbers: stable across platforms and releases.
fn fingerprint(log_n: u32, q: &[u64], p: &[u64], log_scale: u32) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |x: u64| {
        for b in x.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    eat(u64::from(log_n));
    eat(q.len() as u64);
    q.iter().for_each(|&x| eat(x));
    eat(p.len() as u64);
    p.iter().for_each(|&x| eat(x));
    eat(u64::from(log_scale));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_secure_and_match_their_names() {
        for name in PRESET_NAMES {
            let p = Parameters::preset(name).unwrap();
            assert!(
                p.log_qp() <= max_log_qp_128(p.log_n()).unwrap() as f64,
                "{name}"
            );
            assert!(
                p.q().iter().chain(p.p()).all(|&x| x < 1 << 51),
                "{name}: primes ≤ 50 bits"
            );
        }
        assert_eq!(Parameters::preset("depth7-n14").unwrap().max_level(), 7);
        assert_eq!(Parameters::preset("depth18-n15").unwrap().max_level(), 18);
        assert_eq!(Parameters::preset("depth7-n14").unwrap().digits_at(7), 4);
        assert_eq!(Parameters::preset("depth6-n14").unwrap().max_level(), 6);
        assert_eq!(Parameters::preset("depth6-n14").unwrap().digits_at(6), 3);
    }

    #[test]
    fn insecure_sets_are_refused_with_a_clear_error() {
        let lit = ParametersLiteral {
            log_n: 14,
            log_q: vec![60; 8],
            log_p: vec![60],
            log_default_scale: 40,
        };
        let err = Parameters::new(lit).unwrap_err();
        assert!(
            matches!(
                err,
                ParamsError::Insecure {
                    log_n: 14,
                    max: 438,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("insecure"));
        // SEAL's default depth-18 chain is fine at 2^15 but not at 2^14.
        let lit = ParametersLiteral {
            log_n: 13,
            log_q: vec![50, 40, 40, 40, 40],
            log_p: vec![50],
            log_default_scale: 40,
        };
        assert!(matches!(
            Parameters::new(lit),
            Err(ParamsError::Insecure { max: 218, .. })
        ));
    }

    #[test]
    fn malformed_literals_are_refused() {
        let base = ParametersLiteral::preset("depth1-n12").unwrap();
        assert_eq!(
            Parameters::new(ParametersLiteral {
                log_n: 9,
                ..base.clone()
            })
            .unwrap_err(),
            ParamsError::LogN(9)
        );
        assert_eq!(
            Parameters::new(ParametersLiteral {
                log_p: vec![],
                ..base.clone()
            })
            .unwrap_err(),
            ParamsError::EmptyP
        );
        assert!(matches!(
            Parameters::new(ParametersLiteral {
                log_q: vec![12],
                ..base.clone()
            }),
            Err(ParamsError::PrimeSize { .. })
        ));
        assert!(matches!(
            Parameters::preset("nope"),
            Err(ParamsError::UnknownPreset(_))
        ));
    }

    #[test]
    fn fingerprint_distinguishes_sets() {
        let a = Parameters::preset("depth7-n14").unwrap();
        let b = Parameters::preset("depth3-n13").unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            a.fingerprint(),
            Parameters::preset("depth7-n14").unwrap().fingerprint()
        );
    }
}
