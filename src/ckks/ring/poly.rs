//! Typestate RNS polynomial: `Poly<Coeff>` and `Poly<Ntt>` cannot be mixed by accident.

use std::marker::PhantomData;
use zeroize::Zeroize;

/// Coefficient representation (needed for rescaling, basis extension, encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coeff;
/// Evaluation (NTT) representation, in `tfhe-ntt`'s bit-reversed order; ciphertexts live here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ntt;

/// A polynomial stored limb-major: limb `i` holds the residues modulo the ring's `i`-th prime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poly<R> {
    n: usize,
    data: Vec<u64>,
    _rep: PhantomData<R>,
}

impl<R> Poly<R> {
    pub fn zero(n: usize, limbs: usize) -> Self {
        Self {
            n,
            data: vec![0; n * limbs],
            _rep: PhantomData,
        }
    }

    /// `limbs` limbs of `n` residues, residue k of limb i being `f(i, k)`, computed limb by
    /// limb in parallel and written once (no zeroing pass first: on the encoder's hot path
    /// the zeroing cost as much as the values).
    pub fn from_fn(n: usize, limbs: usize, f: impl Fn(usize, usize) -> u64 + Sync) -> Self {
        use rayon::prelude::*;
        let len = n * limbs;
        let mut data: Vec<u64> = Vec::with_capacity(len);
        data.spare_capacity_mut()[..len]
            .par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(i, limb)| {
                for (k, x) in limb.iter_mut().enumerate() {
                    x.write(f(i, k));
                }
            });
        // SAFETY: the loop above wrote every one of the first `len` elements, and the
        // capacity is at least `len`.
        unsafe { data.set_len(len) };
        Self {
            n,
            data,
            _rep: PhantomData,
        }
    }

    /// Wraps limb-major data; the caller guarantees `data.len()` is a multiple of `n`.
    pub(crate) fn from_data(n: usize, data: Vec<u64>) -> Self {
        debug_assert!(n > 0 && data.len().is_multiple_of(n));
        Self {
            n,
            data,
            _rep: PhantomData,
        }
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn limbs(&self) -> usize {
        self.data.len() / self.n
    }

    pub fn limb(&self, i: usize) -> &[u64] {
        &self.data[i * self.n..(i + 1) * self.n]
    }

    pub fn limb_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.data[i * self.n..(i + 1) * self.n]
    }

    /// True when every residue is zero (early exit: O(1) for any non-zero polynomial).
    pub fn is_zero(&self) -> bool {
        self.data.iter().all(|&x| x == 0)
    }

    pub fn data(&self) -> &[u64] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// Keeps the first `limbs` limbs (dropping levels is exact in RNS).
    pub fn truncate(&mut self, limbs: usize) {
        self.data.truncate(limbs * self.n);
    }

    pub fn truncated(&self, limbs: usize) -> Self {
        Self::from_data(self.n, self.data[..limbs * self.n].to_vec())
    }

    /// Reinterprets the representation; only the ring's transforms may call this.
    pub(crate) fn cast<S>(self) -> Poly<S> {
        Poly {
            n: self.n,
            data: self.data,
            _rep: PhantomData,
        }
    }
}

impl<R> Zeroize for Poly<R> {
    fn zeroize(&mut self) {
        self.data.zeroize();
    }
}
