//! Versioned binary wire formats for everything that crosses the client/server boundary.
//!
//! Layout: `"PVCT"`, version (u8), kind (u8), flags (u16: bit 0 seeded, bits 8–15 the seed
//! PRNG, see `SEED_PRNG_CHACHA20`), parameter fingerprint (u64), then a kind-specific body,
//! all little-endian. Residues are bit-packed to ⌈log2 q_i⌉ bits. Uniform
//! halves (`a`) of fresh ciphertexts and keys travel as 32-byte seeds.
//!
//! Decoding checks magic, version, kind, the parameter fingerprint, every length (before
//! allocating: all sizes follow from already-validated parameters) and every residue range.
//! There is deliberately no encoder for `SecretKey`.

mod codec;

use crate::ckks::params::{Parameters, ParametersLiteral, ParamsError};
use crate::ckks::ring::{Ntt, Poly, RnsRing, Sampler};
use crate::ckks::rlwe::{
    Ciphertext, EvaluationKeys, GaloisKey, KeyDigit, PublicKey, RelinearizationKey, SwitchingKey,
    expand_key_a,
};
use codec::{Reader, Writer, packed_len};

/// The bit-packing writer, for tests that look for leaked key material in encodings.
#[cfg(test)]
pub mod testing {
    pub use super::codec::Writer;
}

pub const MAGIC: [u8; 4] = *b"PVCT";
/// 2: the header names the seed PRNG (flags bits 8–15).
pub const VERSION: u8 = 2;
/// Upper bound on Galois keys in one message (2N/2 distinct rotations exist at most; models need tens).
pub const MAX_GALOIS_KEYS: u32 = 512;

/// Flags bit 0: the uniform half (`a`) travels as a 32-byte seed.
const FLAG_SEEDED_BIT: u16 = 1;
/// Flags bits 8–15 name the PRNG that expands a seed. 1 = ChaCha20: the RFC 8439 block
/// function with 20 rounds, keyed by the seed, stream 0 (`rand_chacha` 0.9
/// `ChaCha20Rng::from_seed`), residues drawn limb by limb by rejecting ⌈log2 q_i⌉-bit words
/// ≥ q_i. Any other PRNG id is refused, so a peer never expands a seed differently.
pub const SEED_PRNG_CHACHA20: u16 = 1;
/// The flags of every seeded encoding this version writes.
const SEEDED_CHACHA20: u16 = FLAG_SEEDED_BIT | (SEED_PRNG_CHACHA20 << 8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Parameters = 1,
    Ciphertext = 2,
    PublicKey = 3,
    RelinearizationKey = 4,
    GaloisKey = 5,
    EvaluationKeys = 6,
    /// A level-0 reply with low-order bits dropped (`encode_compact_ciphertext`).
    CompactCiphertext = 7,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Parameters,
            2 => Self::Ciphertext,
            3 => Self::PublicKey,
            4 => Self::RelinearizationKey,
            5 => Self::GaloisKey,
            6 => Self::EvaluationKeys,
            7 => Self::CompactCiphertext,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("not a PrivaCT message (bad magic bytes)")]
    BadMagic,
    #[error("unsupported wire version {0} (this build reads version {VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("expected a {expected:?} message, found {found:?}")]
    WrongKind { expected: Kind, found: Kind },
    #[error(
        "message was made for other CKKS parameters (fingerprint {found:#018x}, expected {expected:#018x})"
    )]
    ParameterMismatch { expected: u64, found: u64 },
    #[error("message truncated at byte {offset} (needed {needed} more bytes)")]
    Truncated { offset: usize, needed: usize },
    #[error("{extra} unexpected trailing bytes")]
    TrailingBytes { extra: usize },
    #[error("residue {value} is not reduced modulo {modulus}")]
    CoefficientOutOfRange { value: u64, modulus: u64 },
    #[error("invalid field: {0}")]
    Invalid(&'static str),
    #[error("invalid parameters: {0}")]
    Params(#[from] ParamsError),
}

const HEADER_BYTES: usize = 16;

fn poly_bytes(ring: &RnsRing, limbs: usize) -> usize {
    (0..limbs)
        .map(|i| packed_len(ring.n(), ring.modulus(i).bits()))
        .sum()
}

/// Exact encoded size of a degree-1 ciphertext at `level`, known before encrypting.
pub fn ciphertext_size(params: &Parameters, level: usize, seeded: bool) -> usize {
    let polys = poly_bytes(params.ring_q(), level + 1);
    HEADER_BYTES + 2 + 8 + if seeded { 32 + polys } else { 2 * polys }
}

/// Exact encoded size of one seeded switching key (relinearisation or Galois, without header).
fn switching_key_size(params: &Parameters) -> usize {
    let digits = params.digits_at(params.max_level());
    1 + 32
        + digits
            * (poly_bytes(params.ring_q(), params.max_level() + 1)
                + poly_bytes(params.ring_p(), params.digit_size()))
}

/// Exact encoded size of an evaluation-key bundle with `galois` Galois keys.
pub fn evaluation_keys_size(params: &Parameters, galois: usize, relin: bool) -> usize {
    HEADER_BYTES
        + 1
        + 4
        + usize::from(relin) * switching_key_size(params)
        + galois * (8 + switching_key_size(params))
}

fn header(kind: Kind, flags: u16, fingerprint: u64) -> Writer {
    let mut w = Writer::default();
    w.bytes(&MAGIC);
    w.u8(VERSION);
    w.u8(kind as u8);
    w.u16(flags);
    w.u64(fingerprint);
    w
}

/// Reads and checks the header; returns the flags.
fn read_header(
    r: &mut Reader,
    expected: Kind,
    fingerprint: Option<u64>,
    allowed_flags: &[u16],
) -> Result<(u16, u64), WireError> {
    if r.take(4).map_err(|_| WireError::BadMagic)? != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    let kind_byte = r.u8()?;
    let found = Kind::from_u8(kind_byte).ok_or(WireError::UnknownKind(kind_byte))?;
    if found != expected {
        return Err(WireError::WrongKind { expected, found });
    }
    let flags = r.u16()?;
    // Flags the encoder would not write for this kind are refused, so every accepted
    // encoding is the canonical one (re-encoding gives the same bytes).
    if !allowed_flags.contains(&flags) {
        return Err(WireError::Invalid("header flags not valid for this kind"));
    }
    let fp = r.u64()?;
    if let Some(expected) = fingerprint.filter(|&e| e != fp) {
        return Err(WireError::ParameterMismatch {
            expected,
            found: fp,
        });
    }
    Ok((flags, fp))
}

fn write_poly(w: &mut Writer, ring: &RnsRing, p: &Poly<Ntt>) {
    for i in 0..p.limbs() {
        w.limb(p.limb(i), ring.modulus(i));
    }
}

fn read_poly(r: &mut Reader, ring: &RnsRing, limbs: usize) -> Result<Poly<Ntt>, WireError> {
    // Check the whole length first so a short message allocates nothing large.
    let needed: usize = (0..limbs)
        .map(|i| packed_len(ring.n(), ring.modulus(i).bits()))
        .sum();
    let mut probe = Reader::new(r.take(needed)?);
    let mut p = Poly::zero(ring.n(), limbs);
    for i in 0..limbs {
        probe.limb(p.limb_mut(i), ring.modulus(i))?;
    }
    Ok(p)
}

// ---------- parameters ----------

pub fn encode_parameters(params: &Parameters) -> Vec<u8> {
    let lit = params.literal();
    let mut w = header(Kind::Parameters, 0, params.fingerprint());
    w.u8(lit.log_n as u8);
    w.u8(lit.log_default_scale as u8);
    w.u8(lit.log_q.len() as u8);
    w.u8(lit.log_p.len() as u8);
    lit.log_q
        .iter()
        .chain(&lit.log_p)
        .for_each(|&b| w.u8(b as u8));
    w.buf
}

/// Reads the parameter literal and the fingerprint it claims, building nothing: a server
/// compares the literal with its allow-list before it spends time on primes and NTT tables.
pub fn decode_parameters_literal(bytes: &[u8]) -> Result<(ParametersLiteral, u64), WireError> {
    let mut r = Reader::new(bytes);
    let (_, fp) = read_header(&mut r, Kind::Parameters, None, &[0])?;
    let log_n = u32::from(r.u8()?);
    let log_default_scale = u32::from(r.u8()?);
    let (nq, np) = (r.u8()? as usize, r.u8()? as usize);
    let log_q = r.take(nq)?.iter().map(|&b| u32::from(b)).collect();
    let log_p = r.take(np)?.iter().map(|&b| u32::from(b)).collect();
    r.finish()?;
    Ok((
        ParametersLiteral {
            log_n,
            log_q,
            log_p,
            log_default_scale,
        },
        fp,
    ))
}

/// Rebuilds (and so re-validates, including the security bound) the parameters.
pub fn decode_parameters(bytes: &[u8]) -> Result<Parameters, WireError> {
    let (literal, fp) = decode_parameters_literal(bytes)?;
    check_fingerprint(Parameters::new(literal)?, fp)
}

/// `params` if they are the ones whose fingerprint a message claimed.
pub fn check_fingerprint(params: Parameters, claimed: u64) -> Result<Parameters, WireError> {
    if params.fingerprint() != claimed {
        return Err(WireError::ParameterMismatch {
            expected: params.fingerprint(),
            found: claimed,
        });
    }
    Ok(params)
}

// ---------- ciphertexts ----------

/// Seeded ciphertexts (fresh symmetric encryptions) omit `c1`: about half the bytes.
/// A decoded ciphertext's scale must be finite, ≥ 1 and fit the modulus of its level.
fn check_scale_field(params: &Parameters, scale: f64, level: usize) -> Result<(), WireError> {
    if !scale.is_finite() || scale < 1.0 {
        return Err(WireError::Invalid(
            "ciphertext scale must be finite and ≥ 1",
        ));
    }
    if crate::ckks::scheme::check_scale(params, scale, level).is_err() {
        return Err(WireError::Invalid(
            "ciphertext scale does not fit the modulus of its level",
        ));
    }
    Ok(())
}

/// A ciphertext with c1 = 0 is readable without the key: never accepted from the wire.
fn refuse_transparent(ct: &Ciphertext) -> Result<(), WireError> {
    if ct.is_transparent() {
        return Err(WireError::Invalid(
            "transparent ciphertext (c1 = 0): its content is readable without the key",
        ));
    }
    Ok(())
}

pub fn encode_ciphertext(params: &Parameters, ct: &Ciphertext) -> Vec<u8> {
    let seeded = ct.seed().is_some() && ct.degree() == 1;
    let mut w = header(
        Kind::Ciphertext,
        if seeded { SEEDED_CHACHA20 } else { 0 },
        params.fingerprint(),
    );
    // One allocation of the final size (degree-1 ciphertexts, the ones that travel), not a
    // doubling per limb: replies carry thousands of these.
    w.buf
        .reserve(ciphertext_size(params, ct.level(), seeded).saturating_sub(w.buf.len()));
    w.u8(ct.level() as u8);
    w.u8(ct.degree() as u8);
    w.f64(ct.scale());
    let rq = params.ring_q();
    match ct.seed().filter(|_| seeded) {
        Some(seed) => {
            w.bytes(&seed);
            write_poly(&mut w, rq, &ct.parts()[0]);
        }
        None => ct.parts().iter().for_each(|p| write_poly(&mut w, rq, p)),
    }
    w.buf
}

pub fn decode_ciphertext(params: &Parameters, bytes: &[u8]) -> Result<Ciphertext, WireError> {
    let mut r = Reader::new(bytes);
    let (flags, _) = read_header(
        &mut r,
        Kind::Ciphertext,
        Some(params.fingerprint()),
        &[0, SEEDED_CHACHA20],
    )?;
    let level = r.u8()? as usize;
    let degree = r.u8()? as usize;
    let scale = r.f64()?;
    if level > params.max_level() {
        return Err(WireError::Invalid(
            "ciphertext level above the parameters' maximum",
        ));
    }
    if !(1..=2).contains(&degree) {
        return Err(WireError::Invalid("ciphertext degree must be 1 or 2"));
    }
    check_scale_field(params, scale, level)?;
    let rq = params.ring_q();
    let ct = if flags & FLAG_SEEDED_BIT != 0 {
        if degree != 1 {
            return Err(WireError::Invalid(
                "only degree-1 ciphertexts can be seeded",
            ));
        }
        let seed = r.seed()?;
        let c0 = read_poly(&mut r, rq, level + 1)?;
        let mut c1 = Sampler::from_seed(seed).uniform_ntt(rq, rq.len());
        c1.truncate(level + 1);
        Ciphertext::seeded(vec![c0, c1], scale, seed, params.fingerprint())
    } else {
        let parts = (0..=degree)
            .map(|_| read_poly(&mut r, rq, level + 1))
            .collect::<Result<_, _>>()?;
        Ciphertext::new(parts, scale, params.fingerprint())
    };
    refuse_transparent(&ct)?;
    r.finish()?;
    Ok(ct)
}

// ---------- compact replies ----------

/// Low-order bits a compact ciphertext leaves out of each coefficient of c0 and c1.
///
/// Why: a reply the client only decrypts needs no more precision than the noise it already
/// carries. Decryption computes c0 + c1·s, so dropping d bits of c0 adds at most 2^(d−1) to a
/// coefficient (σ = 2^d/√12), and dropping d bits of c1 adds that times ‖s‖₁ (σ = 2^d·√(h/12)
/// for a secret of h non-zero ternary coefficients): c1 can lose far fewer bits than c0. This
/// is the "decrypt-only" serialization of deployed systems (e.g. the compact ciphertexts of
/// the FHE libraries' last-level transfers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DroppedBits {
    pub c0: u32,
    pub c1: u32,
}

impl DroppedBits {
    /// Every kept residue has at least this many bits: more dropping leaves nothing to decrypt.
    pub const MIN_KEPT_BITS: u32 = 16;

    /// `InvalidDrop` unless both counts leave `MIN_KEPT_BITS` of a `bits`-bit residue.
    fn check(self, bits: u32) -> Result<(), WireError> {
        if self.c0.max(self.c1) + Self::MIN_KEPT_BITS > bits {
            return Err(WireError::Invalid(
                "compact ciphertext drops more bits than its modulus has to spare",
            ));
        }
        Ok(())
    }
}

/// Exact encoded size of a compact (level-0, degree-1) ciphertext.
pub fn compact_ciphertext_size(params: &Parameters, drop: DroppedBits) -> usize {
    let (n, bits) = (params.n(), params.ring_q().modulus(0).bits());
    HEADER_BYTES
        + 8
        + 2
        + packed_len(n, bits.saturating_sub(drop.c0))
        + packed_len(n, bits.saturating_sub(drop.c1))
}

/// A level-0, degree-1 ciphertext for a peer that will only decrypt it: both polynomials in
/// coefficient form with their low `drop` bits rounded off (round(c / 2^d), and 0 for the
/// values that round up to q0, which are ≡ 0 within 2^(d−1)).
///
/// Layout after the header (kind `CompactCiphertext`, flags 0): scale (f64), d0 (u8), d1
/// (u8), then c0 packed at ⌈log2 q0⌉ − d0 bits and c1 at ⌈log2 q0⌉ − d1 bits per coefficient.
///
/// Errors: `Invalid` when the ciphertext is not level 0 and degree 1, or `drop` leaves fewer
/// than `DroppedBits::MIN_KEPT_BITS`.
pub fn encode_compact_ciphertext(
    params: &Parameters,
    ct: &Ciphertext,
    drop: DroppedBits,
) -> Result<Vec<u8>, WireError> {
    if ct.level() != 0 || ct.degree() != 1 {
        return Err(WireError::Invalid(
            "only level-0, degree-1 ciphertexts travel compact",
        ));
    }
    let rq = params.ring_q();
    let (q0, bits) = (rq.modulus(0).value(), rq.modulus(0).bits());
    drop.check(bits)?;
    let mut w = header(Kind::CompactCiphertext, 0, params.fingerprint());
    w.buf
        .reserve(compact_ciphertext_size(params, drop).saturating_sub(w.buf.len()));
    w.f64(ct.scale());
    w.u8(drop.c0 as u8);
    w.u8(drop.c1 as u8);
    for (part, d) in ct.parts().iter().zip([drop.c0, drop.c1]) {
        let coeffs = rq.intt(part.clone());
        let half = (1u64 << d) >> 1;
        let rounded: Vec<u64> = coeffs
            .limb(0)
            .iter()
            .map(|&c| {
                let v = (c + half) >> d;
                // v·2^d ≥ q0 means c is within 2^(d−1) below q0 ≡ 0.
                if (v << d) >= q0 { 0 } else { v }
            })
            .collect();
        w.packed(&rounded, bits - d);
    }
    Ok(w.buf)
}

/// Decodes `encode_compact_ciphertext` back to an NTT-form level-0 ciphertext (each dropped
/// bit is zero) and the bits that were dropped.
///
/// Errors: as `decode_ciphertext`, plus `Invalid` for a drop that leaves fewer than
/// `DroppedBits::MIN_KEPT_BITS`, and `CoefficientOutOfRange` for values the encoder would not
/// write (v·2^d ≥ q0), so every accepted encoding is the canonical one.
pub fn decode_compact_ciphertext(
    params: &Parameters,
    bytes: &[u8],
) -> Result<(Ciphertext, DroppedBits), WireError> {
    let mut r = Reader::new(bytes);
    read_header(
        &mut r,
        Kind::CompactCiphertext,
        Some(params.fingerprint()),
        &[0],
    )?;
    let scale = r.f64()?;
    check_scale_field(params, scale, 0)?;
    let drop = DroppedBits {
        c0: u32::from(r.u8()?),
        c1: u32::from(r.u8()?),
    };
    let rq = params.ring_q();
    let (n, q0, bits) = (rq.n(), rq.modulus(0).value(), rq.modulus(0).bits());
    drop.check(bits)?;
    // Check the whole length first so a short message allocates nothing large.
    let needed = packed_len(n, bits - drop.c0) + packed_len(n, bits - drop.c1);
    let mut body = Reader::new(r.take(needed)?);
    let mut parts = Vec::with_capacity(2);
    for d in [drop.c0, drop.c1] {
        let mut p = Poly::<crate::ckks::ring::Coeff>::zero(n, 1);
        body.packed(p.limb_mut(0), bits - d)?;
        for c in p.limb_mut(0) {
            let value = *c << d;
            if value >= q0 {
                return Err(WireError::CoefficientOutOfRange { value, modulus: q0 });
            }
            *c = value;
        }
        parts.push(rq.ntt(p));
    }
    r.finish()?;
    let ct = Ciphertext::new(parts, scale, params.fingerprint());
    refuse_transparent(&ct)?;
    Ok((ct, drop))
}

// ---------- keys ----------

pub fn encode_public_key(params: &Parameters, pk: &PublicKey) -> Vec<u8> {
    let mut w = header(Kind::PublicKey, SEEDED_CHACHA20, params.fingerprint());
    w.bytes(&pk.seed);
    write_poly(&mut w, params.ring_q(), &pk.b);
    w.buf
}

pub fn decode_public_key(params: &Parameters, bytes: &[u8]) -> Result<PublicKey, WireError> {
    let mut r = Reader::new(bytes);
    read_header(
        &mut r,
        Kind::PublicKey,
        Some(params.fingerprint()),
        &[SEEDED_CHACHA20],
    )?;
    let seed = r.seed()?;
    let rq = params.ring_q();
    let b = read_poly(&mut r, rq, rq.len())?;
    r.finish()?;
    let a = Sampler::from_seed(seed).uniform_ntt(rq, rq.len());
    Ok(PublicKey { b, a, seed })
}

fn write_switching_key(w: &mut Writer, params: &Parameters, key: &SwitchingKey) {
    w.u8(key.digits.len() as u8);
    w.bytes(&key.seed);
    for d in &key.digits {
        write_poly(w, params.ring_q(), &d.b_q);
        write_poly(w, params.ring_p(), &d.b_p);
    }
}

fn read_switching_key(r: &mut Reader, params: &Parameters) -> Result<SwitchingKey, WireError> {
    let digits = r.u8()? as usize;
    if digits != params.digits_at(params.max_level()) {
        return Err(WireError::Invalid(
            "switching key digit count does not match the parameters",
        ));
    }
    let seed = r.seed()?;
    let (rq, rp) = (params.ring_q(), params.ring_p());
    let bs = (0..digits)
        .map(|_| Ok((read_poly(r, rq, rq.len())?, read_poly(r, rp, rp.len())?)))
        .collect::<Result<Vec<_>, WireError>>()?;
    let digits = bs
        .into_iter()
        .zip(expand_key_a(params, seed, digits))
        .map(|((b_q, b_p), (a_q, a_p))| KeyDigit { b_q, b_p, a_q, a_p })
        .collect();
    Ok(SwitchingKey {
        digits,
        seed,
        params_id: params.fingerprint(),
    })
}

pub fn encode_relinearization_key(params: &Parameters, key: &RelinearizationKey) -> Vec<u8> {
    let mut w = header(
        Kind::RelinearizationKey,
        SEEDED_CHACHA20,
        params.fingerprint(),
    );
    write_switching_key(&mut w, params, &key.0);
    w.buf
}

pub fn decode_relinearization_key(
    params: &Parameters,
    bytes: &[u8],
) -> Result<RelinearizationKey, WireError> {
    let mut r = Reader::new(bytes);
    read_header(
        &mut r,
        Kind::RelinearizationKey,
        Some(params.fingerprint()),
        &[SEEDED_CHACHA20],
    )?;
    let key = read_switching_key(&mut r, params)?;
    r.finish()?;
    Ok(RelinearizationKey(key))
}

fn read_galois_element(r: &mut Reader, params: &Parameters) -> Result<u64, WireError> {
    let g = r.u64()?;
    if g % 2 == 0 || g >= 2 * params.n() as u64 || g == 1 {
        return Err(WireError::Invalid(
            "Galois element must be odd, ≠ 1 and below 2N",
        ));
    }
    Ok(g)
}

pub fn encode_galois_key(params: &Parameters, key: &GaloisKey) -> Vec<u8> {
    let mut w = header(Kind::GaloisKey, SEEDED_CHACHA20, params.fingerprint());
    w.u64(key.galois_element);
    write_switching_key(&mut w, params, &key.key);
    w.buf
}

pub fn decode_galois_key(params: &Parameters, bytes: &[u8]) -> Result<GaloisKey, WireError> {
    let mut r = Reader::new(bytes);
    read_header(
        &mut r,
        Kind::GaloisKey,
        Some(params.fingerprint()),
        &[SEEDED_CHACHA20],
    )?;
    let galois_element = read_galois_element(&mut r, params)?;
    let key = read_switching_key(&mut r, params)?;
    r.finish()?;
    Ok(GaloisKey {
        galois_element,
        key,
    })
}

/// All evaluation keys in one message (what the client uploads once per session).
pub fn encode_evaluation_keys(params: &Parameters, keys: &EvaluationKeys) -> Vec<u8> {
    let mut w = header(Kind::EvaluationKeys, SEEDED_CHACHA20, params.fingerprint());
    w.u8(u8::from(keys.relin.is_some()));
    if let Some(rk) = &keys.relin {
        write_switching_key(&mut w, params, &rk.0);
    }
    w.u32(keys.galois.len() as u32);
    for gk in keys.galois.values() {
        w.u64(gk.galois_element);
        write_switching_key(&mut w, params, &gk.key);
    }
    w.buf
}

pub fn decode_evaluation_keys(
    params: &Parameters,
    bytes: &[u8],
) -> Result<EvaluationKeys, WireError> {
    let mut r = Reader::new(bytes);
    read_header(
        &mut r,
        Kind::EvaluationKeys,
        Some(params.fingerprint()),
        &[SEEDED_CHACHA20],
    )?;
    let relin = match r.u8()? {
        0 => None,
        1 => Some(RelinearizationKey(read_switching_key(&mut r, params)?)),
        _ => {
            return Err(WireError::Invalid(
                "relinearisation-key flag must be 0 or 1",
            ));
        }
    };
    let count = r.u32()?;
    if count > MAX_GALOIS_KEYS {
        return Err(WireError::Invalid("too many Galois keys"));
    }
    let mut galois = std::collections::BTreeMap::new();
    for _ in 0..count {
        let galois_element = read_galois_element(&mut r, params)?;
        let key = read_switching_key(&mut r, params)?;
        if galois
            .insert(
                galois_element,
                GaloisKey {
                    galois_element,
                    key,
                },
            )
            .is_some()
        {
            return Err(WireError::Invalid("duplicate Galois element"));
        }
    }
    r.finish()?;
    Ok(EvaluationKeys { relin, galois })
}
