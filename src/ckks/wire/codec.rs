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

    /// Packs each value into exactly `bits` bits (1..=64; values must fit).
    pub fn packed(&mut self, limb: &[u64], bits: u32) {
        let mut acc: u128 = 0;
        let mut filled = 0u32;
        self.buf.reserve(packed_len(limb.len(), bits));
        for &x in limb {
            acc |= (x as u128) << filled;
            filled += bits;
            while filled >= 8 {
                self.buf.push(acc as u8);
                acc >>= 8;
                filled -= 8;
            }
        }
        if filled > 0 {
            self.buf.push(acc as u8);
        }
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

    /// Unpacks `out.len()` values of `bits` bits each (1..=64).
    pub fn packed(&mut self, out: &mut [u64], bits: u32) -> Result<(), WireError> {
        let bytes = self.take(packed_len(out.len(), bits))?;
        let mask = (1u128 << bits) - 1;
        let mut acc: u128 = 0;
        let mut filled = 0u32;
        let mut it = bytes.iter();
        for x in out.iter_mut() {
            while filled < bits {
                let b = it.next().copied().unwrap_or(0);
                acc |= (b as u128) << filled;
                filled += 8;
            }
            *x = (acc & mask) as u64;
            acc >>= bits;
            filled -= bits;
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
