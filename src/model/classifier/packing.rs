//! The packing plan of the HE-CNN: how the Approx-CNN's tensors sit in CKKS slots, which
//! rotations each layer needs (so the client generates exactly those Galois keys) and how many
//! levels the network consumes.
//!
//! Layout (N = 2^14, 8,192 slots = 8 blocks of 1,024 = one 32×32 grid per block):
//! - **Input**: 4 ciphertexts holding two real planes each (real and imaginary parts, which
//!   halves the upload); plane i, block b holds patch offset o = 8i + b of every 8×8 patch, so
//!   the patchify convolution needs no spatial rotation at all. Plane 2j is the real part and
//!   plane 2j + 1 the imaginary part of ciphertext j; conv1 uses complex weights whose real
//!   part, taken once by a conjugation after the layer, is the real convolution.
//! - **After conv1/act1**: `CTS1` = C1/8 ciphertexts, channel 8m + j in block j of ciphertext
//!   m (32×32 grid).
//! - **After pool1**: the 16×16 grid at stride 2 inside each block; the other three slots of
//!   every 2×2 cell hold partial sums.
//! - **Dense packing** (one masking level): the pooled cells are masked and the ciphertexts
//!   interleaved, four per ciphertext: conv1 ciphertext m goes to quadrant q = m mod 4 (slot
//!   offset [`quadrant_offset`]: 0, 1, 32, 33 inside each 2×2 cell) of packed ciphertext m / 4,
//!   so channel 8m + j sits in block j, quadrant m mod 4. Every slot now carries a channel.
//! - **After conv2/act2**: `CTS2` = C2/32 ciphertexts in the same dense layout: channel
//!   8(4k + q) + j in block j, quadrant q of ciphertext k.
//! - **Logits**: slots 0, 1, 2 of one ciphertext.
//! - **Class-activation map** (optional, issue 19): one more ciphertext at the logits' level;
//!   in every block, the cyst map at the pooled cells (2u, 2v) shifted one slot right and the
//!   tumour map at (2u, 2v) itself — the per-cell terms of the logits before global pooling
//!   (see [`map_slot`]). It needs no extra level and only the rotations the logits use.
//!
//! conv1 mixes channels by hoisted block rotations (multiples of 1,024) of the input
//! ciphertexts, computed once per slice for every ensemble member. conv2 reads each output
//! quadrant's 3×3 neighbourhood across all four input quadrants: row shifts R·32 and column
//! shifts C (R, C ∈ −3..3, two hoisted stages, 12 Galois keys) give 49 rotated copies of each
//! packed ciphertext, and block rotations are giant steps on the outputs: CTS2 · 8 · PACKED ·
//! 49 plaintext products and CTS2 · 7 giant-step rotations per member — a third of the
//! 2,304 products the stride-2 layout needed, because every product now fills every slot.
//! The rotation set does not depend on the widths, so neither do the Galois keys.

pub const IMAGE: usize = 256;
pub const PATCH: usize = 8;
pub const GRID: usize = IMAGE / PATCH; // 32
pub const BLOCK: usize = GRID * GRID; // 1024
pub const BLOCKS: usize = 8;
pub const SLOTS: usize = BLOCK * BLOCKS; // 8192
/// Real input planes (patch offsets / 8).
pub const INPUT_PLANES: usize = PATCH * PATCH / BLOCKS; // 8
/// Ciphertexts uploaded per slice: two planes per ciphertext.
pub const INPUT_CTS: usize = INPUT_PLANES / 2; // 4
/// Channels after conv1 and after conv2 (the Approx-CNN's widths, `weights::approx_arch`).
pub const C1: usize = super::weights::approx_arch::C1;
pub const C2: usize = super::weights::approx_arch::C2;
/// Ciphertexts holding the conv1 channels (8 per ciphertext, one per block).
pub const CTS1: usize = C1 / BLOCKS;
/// Quadrants of a 2×2 cell: channels per block of a densely packed ciphertext.
pub const QUADRANTS: usize = 4;
/// Densely packed ciphertexts holding the pooled conv1 channels (conv2's inputs).
pub const PACKED: usize = C1 / (BLOCKS * QUADRANTS);
/// Densely packed ciphertexts holding the conv2 channels.
pub const CTS2: usize = C2 / (BLOCKS * QUADRANTS);
const _: () = assert!(
    C1.is_multiple_of(BLOCKS * QUADRANTS)
        && C2.is_multiple_of(BLOCKS * QUADRANTS)
        && PACKED > 0
        && CTS2 > 0
);
pub const POOLED: usize = GRID / 2; // 16
pub const CLASSES: usize = 3;
/// mul_plain (conv1), square, mul_plain (dense-packing mask), mul_plain (conv2), square,
/// mul_plain (fc).
pub const LEVELS_NEEDED: usize = 6;
/// The parameter set with exactly those levels (see `ckks::params`).
pub const PRESET: &str = "depth6-n14";

/// The scale of the logit ciphertext for inputs encrypted at level `LEVELS_NEEDED` with the
/// default scale: weights are encoded at the prime they are rescaled by, so plaintext
/// layers keep the scale and each square maps s to s²/q_ℓ. The client accepts a response
/// only at exactly this scale and level 0 (a server cannot choose what the client decrypts).
pub fn output_scale(params: &crate::ckks::Parameters) -> Option<f64> {
    let q = |level: usize| params.q().get(level).map(|&q| q as f64);
    let l = LEVELS_NEEDED;
    let mut s = params.default_scale();
    s = s * q(l)? / q(l)?; // conv1
    s = s * s / q(l - 1)?; // square
    s = s * q(l - 2)? / q(l - 2)?; // dense-packing mask
    s = s * q(l - 3)? / q(l - 3)?; // conv2
    s = s * s / q(l - 4)?; // square
    s = s * q(l - 5)? / q(l - 5)?; // fully connected
    Some(s)
}

/// Side of the class-activation map: the pooled grid (one cell per 16×16 input pixels).
pub const MAP_SIDE: usize = POOLED; // 16
/// Classes with a map, in the order [`map_slot`] numbers them: cyst (1), tumour (2).
pub const MAP_CLASSES: [usize; 2] = [1, 2];

/// Slot (inside block 0; every block holds a copy) of map `m` (index into [`MAP_CLASSES`]) at
/// cell (u, v): tumour at the pooled slot itself, cyst one slot to its right (a rotation by
/// −1 that the logits' gather already needs), so both fit one ciphertext.
pub fn map_slot(m: usize, u: usize, v: usize) -> usize {
    2 * u * GRID + 2 * v + usize::from(MAP_CLASSES[m] == 1)
}

/// Reads the maps out of the decoded slots of the map ciphertext (block 0). Missing slots
/// read as NaN, so a short vector cannot pass as a map.
pub fn unpack_map(slots: &[f64]) -> super::ClassMaps {
    let read = |m: usize| -> Vec<f64> {
        (0..MAP_SIDE * MAP_SIDE)
            .map(|cell| {
                let at = map_slot(m, cell / MAP_SIDE, cell % MAP_SIDE);
                slots.get(at).copied().unwrap_or(f64::NAN)
            })
            .collect()
    };
    super::ClassMaps {
        side: MAP_SIDE,
        cyst: read(0),
        tumor: read(1),
    }
}

/// Rotation amounts for the block giant steps (r·1024, r = 1..7).
pub fn block_rotations() -> Vec<i64> {
    (1..BLOCKS as i64).map(|r| r * BLOCK as i64).collect()
}

/// Slot offset of quadrant q (0..4, row-major in the 2×2 cell) from the cell's corner.
pub fn quadrant_offset(q: usize) -> usize {
    (q / 2) * GRID + q % 2
}

/// Every quadrant's offset as a rotation, quadrant 0's (no rotation) included: the terms of
/// the 2×2 pooling sum, and the rotations that bring each quadrant to its cell's corner.
pub fn quadrant_steps() -> Vec<i64> {
    (0..QUADRANTS).map(|q| quadrant_offset(q) as i64).collect()
}

/// Channel in block `block`, quadrant `q` of densely packed ciphertext `ct` (conv2's inputs
/// and outputs alike): 8·(4·ct + q) + block.
pub fn dense_channel(ct: usize, q: usize, block: usize) -> usize {
    (QUADRANTS * ct + q) * BLOCKS + block
}

/// The kernel offsets (dy, dx) of conv2's 3×3 kernel on the pooled grid.
pub fn conv2_offsets() -> Vec<(i64, i64)> {
    (-1..=1)
        .flat_map(|dy| (-1..=1).map(move |dx| (dy, dx)))
        .collect()
}

/// Shifts (in rows or columns of the 32×32 grid) that reach every quadrant of a 3×3
/// neighbourhood from every quadrant: 2·d + (input quadrant − output quadrant) ∈ −3..3.
pub const CONV2_SHIFTS: std::ops::RangeInclusive<i64> = -3..=3;

/// conv2's first hoisted stage: row shifts R·32.
pub fn conv2_row_steps() -> Vec<i64> {
    CONV2_SHIFTS.map(|r| r * GRID as i64).collect()
}

/// conv2's second hoisted stage, on each row-shifted copy: column shifts C.
pub fn conv2_col_steps() -> Vec<i64> {
    CONV2_SHIFTS.collect()
}

/// Shifts per axis.
const CONV2_SIDE: usize = (*CONV2_SHIFTS.end() - *CONV2_SHIFTS.start() + 1) as usize;
/// Number of rotated copies conv2 reads per packed ciphertext, in the order of the two hoisted
/// stages: tap t is row shift `conv2_row_steps()[t / 7]` then column shift
/// `conv2_col_steps()[t % 7]` (see [`conv2_tap`]).
pub const CONV2_TAPS: usize = CONV2_SIDE * CONV2_SIDE;

/// Row and column shift (R, C) of tap t: the copy rotated by R·32 + C.
pub fn conv2_tap(t: usize) -> (i64, i64) {
    let shift = |i: usize| *CONV2_SHIFTS.start() + i as i64;
    (shift(t / CONV2_SIDE), shift(t % CONV2_SIDE))
}

/// For an output in row (or column) quadrant `out` ∈ {0, 1} and a shift `shift` ∈ −3..3: the
/// input quadrant row (column) and kernel offset it reads, if the kernel reaches it.
pub fn conv2_source(out: usize, shift: i64) -> Option<(usize, i64)> {
    let pos = shift + out as i64; // = 2·d + input quadrant
    let input = pos.rem_euclid(2);
    let d = (pos - input) / 2;
    (-1..=1).contains(&d).then_some((input as usize, d))
}

/// Rotations that sum a pooled 16×16 grid (stride 2) into the first slot of its block.
pub fn global_pool_rotations() -> Vec<i64> {
    let mut v: Vec<i64> = (1..=4).map(|j| 2i64 << (j - 1)).collect(); // 2, 4, 8, 16 (columns)
    v.extend((1..=4).map(|j| (2 * GRID as i64) << (j - 1))); // 64, 128, 256, 512 (rows)
    v
}

/// conv1 takes the real part of its complex result with one conjugation.
pub const NEEDS_CONJUGATION: bool = true;

/// Every rotation the network uses: exactly the Galois keys the client must generate
/// (plus conjugation, see `NEEDS_CONJUGATION`).
pub fn rotations() -> Vec<i64> {
    let mut r = block_rotations();
    // 2×2 average pooling (hoisted sum), and quadrants to the cell corner for fc and map.
    r.extend(quadrant_steps().into_iter().filter(|&k| k != 0));
    r.extend([-1, -(GRID as i64)]); // dense packing: quadrants 1 and 3, then 2 and 3
    r.extend(conv2_row_steps().into_iter().filter(|&k| k != 0));
    r.extend(conv2_col_steps().into_iter().filter(|&k| k != 0));
    r.extend(global_pool_rotations());
    r.extend([-1, -2]); // gather the three class partial sums
    r.extend([BLOCK as i64, 2 * BLOCK as i64, 4 * BLOCK as i64]); // sum over blocks
    r.sort_unstable();
    r.dedup();
    r
}

/// Client-side layout: the preprocessed 256×256 image → 8 real planes (see `pack_planes`).
pub fn input_planes(image: &[f32]) -> Vec<Vec<f64>> {
    let mut cts = vec![vec![0.0; SLOTS]; INPUT_PLANES];
    for (o, _) in (0..PATCH * PATCH).enumerate() {
        let (dy, dx) = (o / PATCH, o % PATCH);
        let (ct, block) = (o / BLOCKS, o % BLOCKS);
        for py in 0..GRID {
            for px in 0..GRID {
                let v = image
                    .get((py * PATCH + dy) * IMAGE + px * PATCH + dx)
                    .copied()
                    .unwrap_or(0.0);
                cts[ct][block * BLOCK + py * GRID + px] = f64::from(v);
            }
        }
    }
    cts
}

/// Two real planes per complex slot vector: plane 2j + i·plane 2j+1.
pub fn pack_planes(planes: &[Vec<f64>]) -> Vec<Vec<num_complex::Complex64>> {
    planes
        .chunks(2)
        .map(|p| match p {
            [re, im] => re
                .iter()
                .zip(im)
                .map(|(&a, &b)| num_complex::Complex64::new(a, b))
                .collect(),
            [re] => re
                .iter()
                .map(|&a| num_complex::Complex64::new(a, 0.0))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// What the client encrypts: the packed input ciphertexts' slot values.
pub fn input_layout(image: &[f32]) -> Vec<Vec<num_complex::Complex64>> {
    pack_planes(&input_planes(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_list_is_small_and_complete() {
        let r = rotations();
        assert!(r.len() <= 30, "{} Galois keys", r.len());
        for k in [1, 32, 33, 1024, 7168, -96, 96, -3, 3, -2, 512] {
            assert!(r.contains(&k), "missing {k}");
        }
        assert!(!r.contains(&0));
    }

    #[test]
    fn conv2_taps_follow_the_two_hoisted_stages() {
        let (rows, cols) = (conv2_row_steps(), conv2_col_steps());
        assert_eq!(rows.len() * cols.len(), CONV2_TAPS);
        for t in 0..CONV2_TAPS {
            let (r, c) = conv2_tap(t);
            assert_eq!(rows[t / cols.len()], r * GRID as i64);
            assert_eq!(cols[t % cols.len()], c);
        }
        // Every output quadrant reaches every input quadrant at every kernel offset.
        for out in 0..2 {
            let mut seen: Vec<(usize, i64)> =
                CONV2_SHIFTS.filter_map(|s| conv2_source(out, s)).collect();
            seen.sort_unstable();
            assert_eq!(seen.len(), 6, "{seen:?}");
            seen.dedup();
            assert_eq!(seen.len(), 6);
        }
    }

    #[test]
    fn map_slots_are_distinct_and_inside_block_zero() {
        let mut seen = std::collections::BTreeSet::new();
        for m in 0..MAP_CLASSES.len() {
            for u in 0..MAP_SIDE {
                for v in 0..MAP_SIDE {
                    let s = map_slot(m, u, v);
                    assert!(s < BLOCK);
                    assert!(seen.insert(s), "slot {s} used twice");
                }
            }
        }
        // The cyst map sits one slot right of the tumour map: rotation −1 is a key already.
        assert_eq!(map_slot(0, 3, 4), map_slot(1, 3, 4) + 1);
        assert!(rotations().contains(&-1));
    }

    #[test]
    fn layout_puts_each_patch_offset_in_its_own_block() {
        let image: Vec<f32> = (0..IMAGE * IMAGE).map(|i| i as f32).collect();
        let planes = input_planes(&image);
        // Offset (dy=1, dx=2) → o = 10 → plane 1, block 2; patch (py=3, px=4).
        let pixel = (3 * PATCH + 1) * IMAGE + 4 * PATCH + 2;
        assert_eq!(planes[1][2 * BLOCK + 3 * GRID + 4], pixel as f64);
        // Plane 1 is the imaginary part of ciphertext 0.
        assert_eq!(
            input_layout(&image)[0][2 * BLOCK + 3 * GRID + 4].im,
            pixel as f64
        );
    }
}
