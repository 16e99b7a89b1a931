//! Little-endian writer/reader and limb bit-packing. The reader is bounds-checked everywhere:
//! hostile bytes produce `WireError`, never a panic.

use super::WireError;
use crate::ckks::math::Modulus;

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Packs each residue of a limb into exactly ⌈log2 q⌉ bits.
    pub fn limb(&mut self, limb: &[u64], m: &Modulus) {
        self.packed(limb, m.bits());
    }

    /// Packs each value into exactly `bits` bits (1..=64; values must fit), little-endian,
    /// value 0 in the lowest bits; whole 64-bit words are written as soon as they fill.
    pub fn packed(&mut self, limb: &[u64], bits: u32) {
        let mut acc: u128 = 0;
        let mut filled = 0u32;
        self.buf.reserve(packed_len(limb.len(), bits));
        for &x in limb {
            // filled < 64 and bits ≤ 64: the shift stays inside 128 bits.
            acc |= (x as u128) << filled;
            filled += bits;
            if filled >= 64 {
                self.buf.extend_from_slice(&(acc as u64).to_le_bytes());
                acc >>= 64;
                filled -= 64;
            }
        }
        let tail = (acc as u64).to_le_bytes();
        self.buf
            .extend_from_slice(&tail[..filled.div_ceil(8) as usize]);
    }
}

/// Bytes a packed limb of `n` residues of `bits` bits occupies.
pub fn packed_len(n: usize, bits: u32) -> usize {
    (n * bits as usize).div_ceil(8)
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Truncated {
                offset: self.pos,
                needed: len,
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const K: usize>(&mut self) -> Result<[u8; K], WireError> {
        let mut a = [0u8; K];
        a.copy_from_slice(self.take(K)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64, WireError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    pub fn seed(&mut self) -> Result<[u8; 32], WireError> {
        self.array()
    }

    /// Unpacks one limb into `out`, rejecting residues ≥ q.
    pub fn limb(&mut self, out: &mut [u64], m: &Modulus) -> Result<(), WireError> {
        self.packed(out, m.bits())?;
        match out.iter().find(|&&v| v >= m.value()) {
            Some(&value) => Err(WireError::CoefficientOutOfRange {
                value,
                modulus: m.value(),
            }),
            None => Ok(()),
        }
    }

    /// Unpacks `out.len()` values of `bits` bits each (1..=64), the inverse of
    /// `Writer::packed`, reading whole 64-bit words while they last.
    pub fn packed(&mut self, out: &mut [u64], bits: u32) -> Result<(), WireError> {
        let bytes = self.take(packed_len(out.len(), bits))?;
        let mask = (1u128 << bits) - 1;
        let mut acc: u128 = 0;
        let mut filled = 0u32;
        let mut words = bytes.chunks(8);
        for x in out.iter_mut() {
            if filled < bits {
                // `take` checked the length: the bytes hold every bit of every value.
                let chunk = words.next().unwrap_or(&[]);
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                acc |= (u64::from_le_bytes(word) as u128) << filled;
                filled += 8 * chunk.len() as u32;
            }
            *x = (acc & mask) as u64;
            acc >>= bits;
            filled = filled.saturating_sub(bits);
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), WireError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { extra }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The packing, bit by bit: bit j of value i is bit i·bits + j of the stream.
    fn reference(values: &[u64], bits: u32) -> Vec<u8> {
        let mut out = vec![0u8; packed_len(values.len(), bits)];
        for (i, &v) in values.iter().enumerate() {
            for j in 0..bits as usize {
                if v >> j & 1 == 1 {
                    let at = i * bits as usize + j;
                    out[at / 8] |= 1 << (at % 8);
                }
            }
        }
        out
    }

    #[test]
    fn word_packing_equals_the_bitwise_layout_for_every_width_and_length() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for bits in 1..=64u32 {
            for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 200] {
                let values: Vec<u64> = (0..len)
                    .map(|_| rng.random::<u64>() >> (64 - bits))
                    .collect();
                let mut w = Writer { buf: Vec::new() };
                w.packed(&values, bits);
                assert_eq!(w.buf, reference(&values, bits), "bits {bits}, len {len}");
                let mut back = vec![0u64; len];
                let mut r = Reader::new(&w.buf);
                r.packed(&mut back, bits).unwrap();
                r.finish().unwrap();
                assert_eq!(back, values, "bits {bits}, len {len}");
                if !w.buf.is_empty() {
                    let short = &w.buf[..w.buf.len() - 1];
                    assert!(Reader::new(short).packed(&mut back, bits).is_err());
                }
            }
        }
    }
}
