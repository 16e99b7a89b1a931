//! Wire formats: round trips, the sizes we promise, and hostile bytes (truncated, corrupted,
//! oversized, mismatched) rejected with errors, never panics.

use privact::ckks::wire::{self, WireError};
use privact::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvaluationKeys, Evaluator, KeyGenerator, Parameters,
    SecretKey,
};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

struct Fixture {
    params: Parameters,
    sk: SecretKey,
    keys: EvaluationKeys,
    ct: Ciphertext,
    values: Vec<f64>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let params = Parameters::preset("depth1-n12").unwrap();
        let mut kg = KeyGenerator::from_seed(&params, [9; 32]);
        let sk = kg.gen_secret_key();
        let keys = kg.gen_evaluation_keys(&sk, &[1, -3], true);
        let values: Vec<f64> = (0..params.slots())
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let pt = Encoder::new(&params)
            .encode(&values, params.max_level(), params.default_scale())
            .unwrap();
        let ct = Encryptor::new(&params, &sk).encrypt(&pt).unwrap();
        Fixture {
            params,
            sk,
            keys,
            ct,
            values,
        }
    })
}

fn decrypt(f: &Fixture, ct: &Ciphertext) -> Vec<f64> {
    Encoder::new(&f.params)
        .decode(&Decryptor::new(&f.params, &f.sk).decrypt(ct).unwrap())
        .unwrap()
}

fn max_err(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn parameters_round_trip_and_are_revalidated() {
    for name in privact::ckks::params::PRESET_NAMES {
        let p = Parameters::preset(name).unwrap();
        let back = wire::decode_parameters(&wire::encode_parameters(&p)).unwrap();
        assert_eq!(back, p, "{name}");
    }
    // Hand-craft an insecure literal: the decoder must refuse it like the constructor does.
    let mut bytes = wire::encode_parameters(&Parameters::preset("depth1-n12").unwrap());
    let n = bytes.len();
    bytes[n - 1] = 61;
    bytes[n - 2] = 61;
    assert!(matches!(
        wire::decode_parameters(&bytes),
        Err(WireError::Params(_))
    ));
}

#[test]
fn ciphertexts_round_trip_seeded_full_and_degree_two() {
    let f = fixture();
    let seeded = wire::encode_ciphertext(&f.params, &f.ct);
    let back = wire::decode_ciphertext(&f.params, &seeded).unwrap();
    assert!(max_err(&decrypt(f, &back), &f.values) < 1e-4);
    assert_eq!(
        back.parts(),
        f.ct.parts(),
        "seed expansion reproduces c1 exactly"
    );

    let eval = Evaluator::new(&f.params, Arc::new(f.keys.clone()));
    let full = eval.add(&f.ct, &f.ct).unwrap();
    let full_bytes = wire::encode_ciphertext(&f.params, &full);
    assert!(
        full_bytes.len() > seeded.len() * 19 / 10,
        "a seeded ciphertext is about half a full one"
    );
    assert_eq!(
        wire::decode_ciphertext(&f.params, &full_bytes)
            .unwrap()
            .parts(),
        full.parts()
    );

    let deg2 = eval.mul(&f.ct, &f.ct).unwrap();
    let back =
        wire::decode_ciphertext(&f.params, &wire::encode_ciphertext(&f.params, &deg2)).unwrap();
    assert_eq!(back.parts(), deg2.parts());
    assert_eq!(back.scale(), deg2.scale());
}

#[test]
fn keys_round_trip_and_still_work() {
    let f = fixture();
    let keys =
        wire::decode_evaluation_keys(&f.params, &wire::encode_evaluation_keys(&f.params, &f.keys))
            .unwrap();
    assert_eq!(keys.galois.len(), f.keys.galois.len());
    let eval = Evaluator::new(&f.params, Arc::new(keys));
    let rotated = decrypt(f, &eval.rotate(&f.ct, -3).unwrap());
    let slots = f.params.slots();
    let want: Vec<f64> = (0..slots)
        .map(|i| f.values[(i + slots - 3) % slots])
        .collect();
    assert!(max_err(&rotated, &want) < 1e-3);
    let squared = decrypt(f, &eval.mul_relin_rescale(&f.ct, &f.ct).unwrap());
    let want: Vec<f64> = f.values.iter().map(|x| x * x).collect();
    assert!(max_err(&squared, &want) < 1e-3);

    let relin = f.keys.relin.as_ref().unwrap();
    let rk = wire::decode_relinearization_key(
        &f.params,
        &wire::encode_relinearization_key(&f.params, relin),
    )
    .unwrap();
    assert_eq!(rk.0.digits[0].b_q, relin.0.digits[0].b_q);
    assert_eq!(rk.0.digits[0].a_p, relin.0.digits[0].a_p);
    let gk = f.keys.galois.values().next().unwrap();
    let back = wire::decode_galois_key(&f.params, &wire::encode_galois_key(&f.params, gk)).unwrap();
    assert_eq!(back.galois_element, gk.galois_element);

    let mut kg = KeyGenerator::from_seed(&f.params, [1; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk);
    let back =
        wire::decode_public_key(&f.params, &wire::encode_public_key(&f.params, &pk)).unwrap();
    assert_eq!((back.a, back.b), (pk.a, pk.b));
}

#[test]
fn fresh_seeded_ciphertext_at_depth7_n14_is_at_most_three_quarters_of_a_megabyte() {
    let params = Parameters::preset("depth7-n14").unwrap();
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let pt = Encoder::new(&params)
        .encode(&[0.5; 8192], params.max_level(), params.default_scale())
        .unwrap();
    let bytes =
        wire::encode_ciphertext(&params, &Encryptor::new(&params, &sk).encrypt(&pt).unwrap());
    // 16 header + 2 + 8 + 32 seed + 16384·(49 + 7·40)/8 packed bits.
    assert_eq!(bytes.len(), 16 + 2 + 8 + 32 + 16384 * 329 / 8);
    assert!(bytes.len() <= 750_000, "{} bytes", bytes.len());
}

#[test]
fn header_problems_are_named() {
    let f = fixture();
    let good = wire::encode_ciphertext(&f.params, &f.ct);
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(
        wire::decode_ciphertext(&f.params, &bad).unwrap_err(),
        WireError::BadMagic
    );
    let mut bad = good.clone();
    bad[4] = 99;
    assert_eq!(
        wire::decode_ciphertext(&f.params, &bad).unwrap_err(),
        WireError::UnsupportedVersion(99)
    );
    assert!(matches!(
        wire::decode_relinearization_key(&f.params, &good),
        Err(WireError::WrongKind { .. })
    ));
    let other = Parameters::preset("depth3-n13").unwrap();
    assert!(matches!(
        wire::decode_ciphertext(&other, &good),
        Err(WireError::ParameterMismatch { .. })
    ));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        wire::decode_ciphertext(&f.params, &long).unwrap_err(),
        WireError::TrailingBytes { extra: 1 }
    );
    assert_eq!(
        wire::decode_ciphertext(&f.params, &[]).unwrap_err(),
        WireError::BadMagic
    );
}

#[test]
fn out_of_range_residues_and_oversized_counts_are_refused() {
    let f = fixture();
    let mut bad = wire::encode_ciphertext(&f.params, &f.ct);
    let body = 16 + 2 + 8 + 32;
    // All-ones in the first packed residue is 2^bits − 1 ≥ q.
    for b in &mut bad[body..body + 8] {
        *b = 0xff;
    }
    assert!(matches!(
        wire::decode_ciphertext(&f.params, &bad),
        Err(WireError::CoefficientOutOfRange { .. })
    ));

    let mut bad = wire::encode_ciphertext(&f.params, &f.ct);
    bad[16] = 200; // level
    assert!(matches!(
        wire::decode_ciphertext(&f.params, &bad),
        Err(WireError::Invalid(_))
    ));

    let keys = EvaluationKeys {
        relin: None,
        galois: Default::default(),
    };
    let mut bad = wire::encode_evaluation_keys(&f.params, &keys);
    let n = bad.len();
    bad[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        wire::decode_evaluation_keys(&f.params, &bad),
        Err(WireError::Invalid(_))
    ));
}

fn all_encodings() -> Vec<(&'static str, Vec<u8>)> {
    let f = fixture();
    let relin = f.keys.relin.as_ref().unwrap();
    vec![
        ("params", wire::encode_parameters(&f.params)),
        ("ciphertext", wire::encode_ciphertext(&f.params, &f.ct)),
        ("relin", wire::encode_relinearization_key(&f.params, relin)),
        (
            "galois",
            wire::encode_galois_key(&f.params, f.keys.galois.values().next().unwrap()),
        ),
        (
            "evaluation keys",
            wire::encode_evaluation_keys(&f.params, &f.keys),
        ),
        (
            "compact",
            wire::encode_compact_ciphertext(&f.params, &level0(f), COMPACT).unwrap(),
        ),
    ]
}

/// The fixture's ciphertext at level 0, the only level replies travel compact at.
fn level0(f: &Fixture) -> Ciphertext {
    Evaluator::without_keys(&f.params)
        .drop_levels(&f.ct, f.ct.level())
        .unwrap()
}

const COMPACT: wire::DroppedBits = wire::DroppedBits { c0: 6, c1: 1 };

fn decode_any(which: &str, bytes: &[u8]) -> bool {
    let p = &fixture().params;
    match which {
        "params" => wire::decode_parameters(bytes).is_ok(),
        "ciphertext" => wire::decode_ciphertext(p, bytes).is_ok(),
        "relin" => wire::decode_relinearization_key(p, bytes).is_ok(),
        "galois" => wire::decode_galois_key(p, bytes).is_ok(),
        "compact" => wire::decode_compact_ciphertext(p, bytes).is_ok(),
        _ => wire::decode_evaluation_keys(p, bytes).is_ok(),
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (which, bytes) in all_encodings() {
        assert!(decode_any(which, &bytes), "{which} decodes whole");
        let step = (bytes.len() / 300).max(1);
        for len in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
            assert!(
                !decode_any(which, &bytes[..len]),
                "{which} truncated to {len} bytes was accepted"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random corruption never panics; header and length corruption is always caught.
    #[test]
    fn corrupted_encodings_never_panic(which in 0usize..6, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let (name, mut bytes) = all_encodings().swap_remove(which);
        for (pos, val) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= val | 1;
        }
        let _ = decode_any(name, &bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), which in 0usize..6) {
        let names = ["params", "ciphertext", "relin", "galois", "evaluation keys", "compact"];
        prop_assert!(!decode_any(names[which], &bytes) || which == 0);
    }
}

#[test]
fn compact_replies_round_trip_within_the_dropped_bits_and_refuse_everything_else() {
    let f = fixture();
    let p = &f.params;
    let ct = level0(f);
    let full = decrypt(f, &ct);
    // No error without dropping, error growing with the bits dropped, and far below one part
    // in 10^4 at the replies' setting.
    let mut last = 0.0;
    for drop in [
        wire::DroppedBits { c0: 0, c1: 0 },
        COMPACT,
        wire::DroppedBits { c0: 12, c1: 6 },
    ] {
        let bytes = wire::encode_compact_ciphertext(p, &ct, drop).unwrap();
        assert_eq!(bytes.len(), wire::compact_ciphertext_size(p, drop));
        if drop.c0 == 0 && drop.c1 == 0 {
            let (exact, _) = wire::decode_compact_ciphertext(p, &bytes).unwrap();
            assert_eq!(decrypt(f, &exact), full, "dropping nothing is lossless");
        }
        let (back, got) = wire::decode_compact_ciphertext(p, &bytes).unwrap();
        assert_eq!(got, drop);
        assert_eq!(
            (back.level(), back.degree(), back.scale()),
            (0, 1, ct.scale())
        );
        // Canonical: what decodes re-encodes to the same bytes.
        assert_eq!(
            wire::encode_compact_ciphertext(p, &back, drop).unwrap(),
            bytes
        );
        let err = max_err(&decrypt(f, &back), &full);
        assert!(
            err >= last && (last == 0.0 || err > 4.0 * last),
            "{drop:?}: {err:e} after {last:e}"
        );
        assert!(err < 1e-2, "{drop:?}: {err:e}");
        last = err;
    }
    let at_setting = max_err(
        &decrypt(
            f,
            &wire::decode_compact_ciphertext(
                p,
                &wire::encode_compact_ciphertext(p, &ct, COMPACT).unwrap(),
            )
            .unwrap()
            .0,
        ),
        &f.values,
    );
    assert!(at_setting < 1e-4, "{at_setting:e}");
    // Smaller than the full encoding by the dropped bits.
    let saved = wire::ciphertext_size(p, 0, false) - wire::compact_ciphertext_size(p, COMPACT);
    assert_eq!(saved, p.n() * 7 / 8, "6 + 1 bits per coefficient");
    // Only level 0 and degree 1; no drop that leaves fewer than 16 bits.
    assert!(wire::encode_compact_ciphertext(p, &f.ct, COMPACT).is_err());
    let bits = p.ring_q().modulus(0).bits();
    let too_many = wire::DroppedBits {
        c0: bits - 15,
        c1: 0,
    };
    assert!(wire::encode_compact_ciphertext(p, &ct, too_many).is_err());
    // A hostile drop count is refused by its check, before any length arithmetic: with the
    // body made exactly as long as that count would need, and at 255.
    let header_and_scale = &wire::encode_compact_ciphertext(p, &ct, COMPACT).unwrap()[..24];
    for d0 in [bits - 15, bits, 64, 255] {
        let kept = u64::from(bits.saturating_sub(d0));
        let body = (p.n() as u64 * (kept + u64::from(bits))).div_ceil(8) as usize;
        let hostile = [header_and_scale, &[d0 as u8, 0], &vec![0u8; body]].concat();
        assert_eq!(
            wire::decode_compact_ciphertext(p, &hostile).unwrap_err(),
            WireError::Invalid("compact ciphertext drops more bits than its modulus has to spare"),
            "d0 = {d0}"
        );
    }
    // The largest allowed drop (16 bits kept) still decodes.
    let most = wire::DroppedBits {
        c0: bits - 16,
        c1: bits - 16,
    };
    let bytes = wire::encode_compact_ciphertext(p, &ct, most).unwrap();
    assert_eq!(wire::decode_compact_ciphertext(p, &bytes).unwrap().1, most);
    // The two ciphertext kinds never stand in for each other.
    let compact = wire::encode_compact_ciphertext(p, &ct, COMPACT).unwrap();
    assert!(matches!(
        wire::decode_ciphertext(p, &compact),
        Err(WireError::WrongKind { .. })
    ));
    assert!(wire::decode_compact_ciphertext(p, &wire::encode_ciphertext(p, &ct)).is_err());
    // A value the encoder never writes (all ones: v·2^d ≥ q0) is refused.
    let mut high = compact.clone();
    let body = 16 + 8 + 2;
    high[body..body + 8].fill(0xff);
    assert!(matches!(
        wire::decode_compact_ciphertext(p, &high),
        Err(WireError::CoefficientOutOfRange { .. })
    ));
}

#[test]
fn predicted_sizes_equal_encoded_sizes() {
    let f = fixture();
    let p = &f.params;
    assert_eq!(
        wire::ciphertext_size(p, f.ct.level(), true),
        wire::encode_ciphertext(p, &f.ct).len()
    );
    let mut low = f.ct.clone();
    low.drop_to_level(0);
    assert_eq!(
        wire::ciphertext_size(p, 0, true),
        wire::encode_ciphertext(p, &low).len()
    );
    // Any computed ciphertext travels unseeded.
    let low = Evaluator::without_keys(p).add_const(&low, 0.0).unwrap();
    assert!(low.seed().is_none());
    assert_eq!(
        wire::ciphertext_size(p, 0, false),
        wire::encode_ciphertext(p, &low).len()
    );
    assert_eq!(
        wire::evaluation_keys_size(p, f.keys.galois.len(), true),
        wire::encode_evaluation_keys(p, &f.keys).len()
    );
}

/// Fuzz finding (wire_decoders, session 2): a ciphertext whose header flags had unknown bits
/// set was accepted and re-encoded differently. Only the flags the encoder writes are valid.
#[test]
fn non_canonical_header_flags_are_refused() {
    let f = fixture();
    let good = wire::encode_ciphertext(&f.params, &f.ct);
    assert!(wire::decode_ciphertext(&f.params, &good).is_ok());
    for flags in [11u8, 2, 0x80] {
        let mut bad = good.clone();
        bad[6] = flags; // flags (u16, little-endian) follow magic, version and kind
        assert!(
            wire::decode_ciphertext(&f.params, &bad).is_err(),
            "flags {flags:#x} accepted"
        );
    }
}

/// Security review (issue 21, finding 8): seeded encodings name the PRNG that expands the
/// seed (flags bits 8–15; 1 = ChaCha20), and no other PRNG id is accepted.
#[test]
fn seeded_encodings_name_their_prng_and_unknown_prngs_are_refused() {
    let f = fixture();
    let good = wire::encode_ciphertext(&f.params, &f.ct);
    assert_eq!(good[4], wire::VERSION);
    assert_eq!(
        u16::from_le_bytes([good[6], good[7]]),
        1 | (wire::SEED_PRNG_CHACHA20 << 8),
        "seeded ciphertext, ChaCha20"
    );
    for prng in [0u8, 2, 0xff] {
        let mut bad = good.clone();
        bad[7] = prng;
        assert!(
            wire::decode_ciphertext(&f.params, &bad).is_err(),
            "seed PRNG id {prng} accepted"
        );
    }
}
