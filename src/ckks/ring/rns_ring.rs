//! The ring Z_Q[X]/(X^N+1) for one RNS basis: its moduli, their NTT plans and the
//! index maps that turn Galois automorphisms into permutations of NTT slots.

use super::poly::{Coeff, Ntt, Poly};
use super::simd::SimdLevel;
use super::{dot_avx2, dot_avx512};
use crate::ckks::math::Modulus;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tfhe_ntt::prime64::Plan;

/// Why a ring could not be built from a set of primes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RingError {
    #[error("no negacyclic NTT of size {n} exists modulo {prime} (need a prime p ≡ 1 mod 2N)")]
    NoNtt { n: usize, prime: u64 },
    #[error("the NTT slot order of prime {prime} differs from the first prime's")]
    InconsistentNttOrder { prime: u64 },
}

pub struct RnsRing {
    log_n: u32,
    moduli: Vec<Modulus>,
    plans: Vec<Plan>,
    /// NTT slot j holds the evaluation at ψ^exponent[j] (ψ a primitive 2N-th root, same for all primes).
    exponent: Vec<u32>,
    /// Inverse map: odd exponent e ↦ NTT slot index (indexed by e/2).
    slot_of_exponent: Vec<u32>,
    /// Per prime, ι = ψ^{N/2} (a primitive 4th root of unity): X^{N/2} evaluates to ι at
    /// the slots whose exponent is 1 mod 4 and to −ι at the others.
    iota: Vec<u64>,
    galois_cache: RwLock<HashMap<u64, Arc<Vec<u32>>>>,
}

impl std::fmt::Debug for RnsRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RnsRing")
            .field("log_n", &self.log_n)
            .field(
                "moduli",
                &self.moduli.iter().map(Modulus::value).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RnsRing {
    pub fn new(log_n: u32, primes: &[u64]) -> Result<Self, RingError> {
        let n = 1usize << log_n;
        let mut plans = Vec::with_capacity(primes.len());
        for &p in primes {
            plans.push(Plan::try_new(n, p).ok_or(RingError::NoNtt { n, prime: p })?);
        }
        let moduli: Vec<Modulus> = primes.iter().map(|&p| Modulus::new(p)).collect();
        let (exponent, slot_of_exponent) = match (plans.first(), moduli.first()) {
            (Some(plan), Some(m)) => Self::slot_exponents(plan, m),
            _ => (Vec::new(), Vec::new()),
        };
        for (plan, m) in plans.iter().zip(&moduli).skip(1) {
            if Self::slot_exponents(plan, m).0 != exponent {
                return Err(RingError::InconsistentNttOrder { prime: m.value() });
            }
        }
        let iota = plans
            .iter()
            .zip(&moduli)
            .map(|(plan, m)| {
                let mut x = vec![0u64; n];
                x[1] = 1;
                plan.fwd(&mut x);
                // x[0] = ψ (exponent 1 by construction of `slot_exponents`).
                (0..n / 2).fold(1u64, |acc, _| m.mul(acc, x[0]))
            })
            .collect();
        Ok(Self {
            log_n,
            moduli,
            plans,
            exponent,
            slot_of_exponent,
            iota,
            galois_cache: RwLock::default(),
        })
    }

    /// Discovers which power of the root each NTT output slot holds, by transforming X.
    fn slot_exponents(plan: &Plan, m: &Modulus) -> (Vec<u32>, Vec<u32>) {
        let n = plan.ntt_size();
        let mut x = vec![0u64; n];
        x[1] = 1;
        plan.fwd(&mut x);
        let root = x[0];
        let root_sq = m.mul(root, root);
        let mut exponent_of_value = HashMap::with_capacity(n);
        let mut power = root;
        for k in 0..n as u32 {
            exponent_of_value.insert(power, 2 * k + 1);
            power = m.mul(power, root_sq);
        }
        let exponent: Vec<u32> = x
            .iter()
            .map(|v| exponent_of_value.get(v).copied().unwrap_or(u32::MAX))
            .collect();
        let mut slot_of_exponent = vec![0u32; n];
        for (j, &e) in exponent.iter().enumerate() {
            if e != u32::MAX {
                slot_of_exponent[(e / 2) as usize] = j as u32;
            }
        }
        (exponent, slot_of_exponent)
    }

    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    pub fn log_n(&self) -> u32 {
        self.log_n
    }

    pub fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    pub fn modulus(&self, i: usize) -> &Modulus {
        &self.moduli[i]
    }

    pub fn len(&self) -> usize {
        self.moduli.len()
    }

    pub fn is_empty(&self) -> bool {
        self.moduli.is_empty()
    }

    pub fn ntt_limb(&self, i: usize, limb: &mut [u64]) {
        self.plans[i].fwd(limb);
    }

    pub fn intt_limb(&self, i: usize, limb: &mut [u64]) {
        self.plans[i].inv(limb);
        self.plans[i].normalize(limb);
    }

    pub fn ntt(&self, mut p: Poly<Coeff>) -> Poly<Ntt> {
        let n = p.n();
        p.data_mut()
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, l)| self.ntt_limb(i, l));
        p.cast()
    }

    pub fn intt(&self, mut p: Poly<Ntt>) -> Poly<Coeff> {
        let n = p.n();
        p.data_mut()
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, l)| self.intt_limb(i, l));
        p.cast()
    }

    pub fn add_assign<R: Send + Sync>(&self, a: &mut Poly<R>, b: &Poly<R>) {
        self.zip_limbs(a, b, |m, x, y| {
            for (x, &y) in x.iter_mut().zip(y) {
                *x = m.add(*x, y);
            }
        });
    }

    pub fn sub_assign<R: Send + Sync>(&self, a: &mut Poly<R>, b: &Poly<R>) {
        self.zip_limbs(a, b, |m, x, y| {
            for (x, &y) in x.iter_mut().zip(y) {
                *x = m.sub(*x, y);
            }
        });
    }

    pub fn neg_assign<R: Send + Sync>(&self, a: &mut Poly<R>) {
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(&self.moduli)
            .for_each(|(x, m)| {
                for x in x.iter_mut() {
                    *x = m.neg(*x);
                }
            });
    }

    /// a ← a·b slot-wise (vectorised by `tfhe-ntt`).
    pub fn mul_assign(&self, a: &mut Poly<Ntt>, b: &Poly<Ntt>) {
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(b.data().par_chunks(n))
            .enumerate()
            .for_each(|(i, (x, y))| {
                let mut acc = vec![0u64; n];
                self.plans[i].mul_accumulate(&mut acc, x, y);
                x.copy_from_slice(&acc);
            });
    }

    /// acc ← acc + a·b slot-wise; all three must have the same limb count.
    pub fn mul_accumulate(&self, acc: &mut Poly<Ntt>, a: &Poly<Ntt>, b: &Poly<Ntt>) {
        let n = acc.n();
        let limbs = acc.limbs().min(a.limbs()).min(b.limbs());
        acc.data_mut()[..limbs * n]
            .par_chunks_mut(n)
            .zip(a.data().par_chunks(n))
            .zip(b.data().par_chunks(n))
            .enumerate()
            .for_each(|(i, ((z, x), y))| self.plans[i].mul_accumulate(z, x, y));
    }

    /// `outs ← outs + [Σ_d φ(x_d) ⊙ y0_d, Σ_d φ(x_d) ⊙ y1_d]` over the outputs' limbs, where
    /// φ is the automorphism φ_g for `galois = Some(g)` and the identity otherwise: the inner
    /// product of key switching (digits x_d, key halves y0_d = b_d and y1_d = a_d), added in
    /// place so that the lazy sums of `Evaluator::rotate_sum` need no pair per term. With
    /// the IFMA kernel the digits are read once through the slot permutation and each
    /// coefficient is reduced once; otherwise each digit is permuted, then multiplied into
    /// both sums.
    ///
    /// Panics (a caller bug, never input-driven) if `ys` do not have one entry per digit or
    /// a polynomial has fewer limbs than the outputs.
    pub fn dot_pair_accumulate(
        &self,
        xs: &[&Poly<Ntt>],
        ys: [&[&Poly<Ntt>]; 2],
        galois: Option<u64>,
        outs: [&mut Poly<Ntt>; 2],
    ) {
        self.dot_pair_on(xs, ys, galois, outs, dot_avx512::available());
    }

    /// `dot_pair_accumulate`, with the IFMA kernel allowed or not (tests compare the two).
    fn dot_pair_on(
        &self,
        xs: &[&Poly<Ntt>],
        ys: [&[&Poly<Ntt>]; 2],
        galois: Option<u64>,
        mut outs: [&mut Poly<Ntt>; 2],
        ifma: bool,
    ) {
        let n = self.n();
        let limbs = outs[0].limbs();
        assert!(ys.iter().all(|y| y.len() == xs.len()));
        assert!(outs[1].limbs() == limbs && outs.iter().all(|o| o.n() == n));
        assert!(
            xs.iter()
                .chain(ys[0].iter())
                .chain(ys[1].iter())
                .all(|p| p.limbs() >= limbs && p.n() == n)
        );
        let ifma = ifma
            && n.is_multiple_of(8)
            && xs.len() + 1 < dot_avx512::MAX_TERMS
            && self.moduli[..limbs]
                .iter()
                .all(|m| m.value() < dot_avx512::MAX_MODULUS);
        if !ifma {
            let mut permuted = galois.map(|_| Poly::zero(n, limbs));
            for (d, x) in xs.iter().enumerate() {
                let x = match (galois, permuted.as_mut()) {
                    (Some(g), Some(p)) => {
                        self.automorphism_ntt_into(x, g, p);
                        &*p
                    }
                    _ => *x,
                };
                let [o0, o1] = &mut outs;
                self.mul_accumulate(o0, x, ys[0][d]);
                self.mul_accumulate(o1, x, ys[1][d]);
            }
            return;
        }
        let perm = galois.map(|g| self.galois_permutation(g));
        let perm = perm.as_deref().map(Vec::as_slice);
        let [o0, o1] = outs;
        o0.data_mut()
            .par_chunks_mut(n)
            .zip(o1.data_mut().par_chunks_mut(n))
            .enumerate()
            .for_each(|(i, (a, b))| {
                let (x, y0, y1) = (limbs_at(xs, i), limbs_at(ys[0], i), limbs_at(ys[1], i));
                // SAFETY: `available` checked the CPU; moduli and digit count are checked
                // above, residues (outputs included) are < q < 2^50, every limb has n words
                // (n a multiple of 8) and a Galois permutation maps 0..n onto itself.
                unsafe {
                    dot_avx512::dot_pair(self.moduli[i].value(), &x, perm, [&y0, &y1], [a, b])
                };
            });
    }

    /// Multiplies limb `i` by `scalars[i]` (already reduced mod q_i).
    pub fn mul_scalar_assign<R: Send + Sync>(&self, a: &mut Poly<R>, scalars: &[u64]) {
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(&self.moduli)
            .zip(scalars)
            .for_each(|((x, m), &s)| {
                let s_shoup = m.shoup(s);
                for x in x.iter_mut() {
                    *x = m.mul_shoup(*x, s, s_shoup);
                }
            });
    }

    /// `out[o] = Σ_j inputs[j] · scalars[o][j][i]` on limb `i` of the first `limbs` limbs
    /// (scalars already reduced mod q_i): the taps of a convolution whose weights are
    /// constants, as one matrix product with no plaintext polynomial to store or stream.
    /// Products are summed in 128 bits and reduced once per coefficient (each is
    /// < q² < 2^100, so 2^27 terms cannot overflow); a block of coefficients of every input
    /// is reused for all outputs while it is in cache.
    ///
    /// Panics (a caller bug, never input-driven) if an input has fewer than `limbs` limbs,
    /// a row of `scalars` does not match `inputs`, or there are 2^27 inputs or more.
    pub fn linear_combinations<R: Send + Sync>(
        &self,
        inputs: &[&Poly<R>],
        scalars: &[Vec<Vec<u64>>],
        limbs: usize,
    ) -> Vec<Poly<R>> {
        assert!(inputs.len() < 1 << 27 && inputs.iter().all(|p| p.limbs() >= limbs));
        assert!(
            scalars
                .iter()
                .all(|row| { row.len() == inputs.len() && row.iter().all(|s| s.len() >= limbs) })
        );
        self.linear_combinations_on(inputs, scalars, limbs, SimdLevel::current())
    }

    /// `linear_combinations` with the kernel of the given level (`Avx2`: `dot_avx2`,
    /// `Avx512Ifma`: `dot_avx512`) where its bounds allow, the portable one otherwise (tests
    /// compare them).
    fn linear_combinations_on<R: Send + Sync>(
        &self,
        inputs: &[&Poly<R>],
        scalars: &[Vec<Vec<u64>>],
        limbs: usize,
        kernel: SimdLevel,
    ) -> Vec<Poly<R>> {
        /// Coefficients summed at once: the 128-bit accumulators stay in L1.
        const CHUNK: usize = 64;
        let n = self.n();
        let (max_terms, max_modulus) = match kernel {
            SimdLevel::Avx512Ifma => (dot_avx512::MAX_TERMS, dot_avx512::MAX_MODULUS),
            SimdLevel::Avx2 => (dot_avx2::MAX_TERMS, dot_avx2::MAX_MODULUS),
            SimdLevel::Portable => (0, 0),
        };
        let kernel =
            if inputs.len() < max_terms && self.moduli.iter().all(|m| m.value() < max_modulus) {
                kernel
            } else {
                SimdLevel::Portable
            };
        let mut outs: Vec<Poly<R>> = (0..scalars.len()).map(|_| Poly::zero(n, limbs)).collect();
        // per_limb[i][o]: output o's limb i, so limbs are filled in parallel.
        let mut per_limb: Vec<Vec<&mut [u64]>> = (0..limbs).map(|_| Vec::new()).collect();
        for out in outs.iter_mut() {
            for (i, limb) in out.data_mut().chunks_mut(n).take(limbs).enumerate() {
                per_limb[i].push(limb);
            }
        }
        per_limb
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut outs)| {
                let m = &self.moduli[i];
                let xs: Vec<&[u64]> = inputs
                    .iter()
                    .map(|p| &p.data()[i * n..(i + 1) * n])
                    .collect();
                let ss: Vec<Vec<u64>> = scalars
                    .iter()
                    .map(|row| row.iter().map(|s| s[i]).collect())
                    .collect();
                match kernel {
                    // SAFETY (both): `SimdLevel::current` or the caller checked the CPU; moduli, term count
                    // and lengths are checked above, and residues are < 2q < 2^52.
                    SimdLevel::Avx512Ifma => {
                        unsafe { dot_avx512::linear_combinations(m, &xs, &ss, &mut outs) };
                        return;
                    }
                    SimdLevel::Avx2 => {
                        unsafe { dot_avx2::linear_combinations(m, &xs, &ss, &mut outs) };
                        return;
                    }
                    SimdLevel::Portable => {}
                }
                let mut acc = [0u128; CHUNK];
                for c in 0..n.div_ceil(CHUNK) {
                    let range = c * CHUNK..((c + 1) * CHUNK).min(n);
                    for (out, row) in outs.iter_mut().zip(&ss) {
                        let acc = &mut acc[..range.len()];
                        acc.fill(0);
                        for (x, &s) in xs.iter().zip(row) {
                            for (a, &x) in acc.iter_mut().zip(&x[range.clone()]) {
                                *a += x as u128 * s as u128;
                            }
                        }
                        for (o, &a) in out[range.clone()].iter_mut().zip(acc.iter()) {
                            *o = m.reduce_u128(a);
                        }
                    }
                }
            });
        outs
    }

    /// Adds the constant polynomial `scalars` (per limb): in NTT form every slot gets it.
    pub fn add_scalar_ntt_assign(&self, a: &mut Poly<Ntt>, scalars: &[u64]) {
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(&self.moduli)
            .zip(scalars)
            .for_each(|((x, m), &s)| {
                for x in x.iter_mut() {
                    *x = m.add(*x, s);
                }
            });
    }

    /// Adds `a_i + b_i·X^{N/2}` (residues per limb) to an NTT-form polynomial without any
    /// transform: the NTT image of X^{N/2} is ±ι in every slot.
    pub fn add_binomial_half_ntt_assign(&self, p: &mut Poly<Ntt>, a: &[u64], b: &[u64]) {
        let n = p.n();
        p.data_mut()
            .par_chunks_mut(n)
            .zip(&self.moduli)
            .zip(a.par_iter().zip(b.par_iter()).zip(self.iota.par_iter()))
            .for_each(|((x, m), ((&a, &b), &iota))| {
                let bi = m.mul(b, iota);
                let (plus, minus) = (m.add(a, bi), m.sub(a, bi));
                for (x, &e) in x.iter_mut().zip(&self.exponent) {
                    *x = m.add(*x, if iota_slot(e) { plus } else { minus });
                }
            });
    }

    /// p ← p·X^{N/2} in NTT form, without any transform: X^{N/2} is ±ι in every NTT slot (ι a
    /// primitive fourth root of unity mod each prime), so this is one product per slot.
    pub fn mul_half_power_assign(&self, p: &mut Poly<Ntt>) {
        let n = p.n();
        p.data_mut()
            .par_chunks_mut(n)
            .zip(&self.moduli)
            .zip(self.iota.par_iter())
            .for_each(|((x, m), &iota)| {
                let (plus, minus) = (iota, m.neg(iota));
                let (plus_shoup, minus_shoup) = (m.shoup(plus), m.shoup(minus));
                for (x, &e) in x.iter_mut().zip(&self.exponent) {
                    *x = if iota_slot(e) {
                        m.mul_shoup(*x, plus, plus_shoup)
                    } else {
                        m.mul_shoup(*x, minus, minus_shoup)
                    };
                }
            });
    }

    fn zip_limbs<R: Send + Sync>(
        &self,
        a: &mut Poly<R>,
        b: &Poly<R>,
        f: impl Fn(&Modulus, &mut [u64], &[u64]) + Sync,
    ) {
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(b.data().par_chunks(n))
            .zip(&self.moduli)
            .for_each(|((x, y), m)| f(m, x, y));
    }

    /// Galois element for a left rotation of the CKKS slots by `k` (5^k mod 2N).
    pub fn galois_element_for_rotation(&self, k: i64) -> u64 {
        let two_n = 2 * self.n() as u64;
        let slots = (self.n() / 2) as i64;
        let k = k.rem_euclid(slots) as u64;
        let mut acc = 1u64;
        let mut base = 5u64;
        let mut e = k;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * base % two_n;
            }
            base = base * base % two_n;
            e >>= 1;
        }
        acc
    }

    /// Galois element of complex conjugation (X ↦ X^{-1}).
    pub fn galois_element_conjugate(&self) -> u64 {
        2 * self.n() as u64 - 1
    }

    /// Slot permutation realising X ↦ X^g on NTT-form polynomials (cached per g).
    pub fn galois_permutation(&self, g: u64) -> Arc<Vec<u32>> {
        if let Some(p) = self
            .galois_cache
            .read()
            .ok()
            .and_then(|c| c.get(&g).cloned())
        {
            return p;
        }
        let two_n = 2 * self.n() as u64;
        let perm: Vec<u32> = self
            .exponent
            .iter()
            .map(|&e| self.slot_of_exponent[((e as u64 * g % two_n) / 2) as usize])
            .collect();
        let perm = Arc::new(perm);
        if let Ok(mut cache) = self.galois_cache.write() {
            cache.insert(g, perm.clone());
        }
        perm
    }

    /// φ_g(a) for `a` in NTT form: a pure permutation of slots, no arithmetic.
    pub fn automorphism_ntt(&self, a: &Poly<Ntt>, g: u64) -> Poly<Ntt> {
        let mut out = Poly::zero(a.n(), a.limbs());
        self.automorphism_ntt_into(a, g, &mut out);
        out
    }

    pub fn automorphism_ntt_into(&self, a: &Poly<Ntt>, g: u64, out: &mut Poly<Ntt>) {
        let perm = self.galois_permutation(g);
        let n = a.n();
        out.data_mut()
            .par_chunks_mut(n)
            .zip(a.data().par_chunks(n))
            .for_each(|(o, x)| {
                for (o, &p) in o.iter_mut().zip(perm.iter()) {
                    *o = x[p as usize];
                }
            });
    }

    /// φ_g(a) in coefficient form: X^i ↦ ±X^{i·g mod N}.
    pub fn automorphism_coeff(&self, a: &Poly<Coeff>, g: u64) -> Poly<Coeff> {
        let n = a.n();
        let mut out = Poly::zero(n, a.limbs());
        let two_n = 2 * n as u64;
        for (l, m) in self.moduli.iter().enumerate().take(a.limbs()) {
            let (src, dst) = (a.limb(l), out.limb_mut(l));
            for (i, &x) in src.iter().enumerate() {
                let j = (i as u64 * g % two_n) as usize;
                if j < n {
                    dst[j] = x;
                } else {
                    dst[j - n] = m.neg(x);
                }
            }
        }
        out
    }

    /// Embeds small signed coefficients into every limb.
    ///
    /// When every |c| is below the smallest modulus used (encodings, errors and ternary
    /// secrets almost always are) each residue is c or c + q, chosen without a branch: the
    /// signs of errors and encodings are random, and a mispredicted branch per coefficient
    /// cost more than the rest of the conversion.
    pub fn from_signed(&self, coeffs: &[i64], limbs: usize) -> Poly<Coeff> {
        let limbs = limbs.min(self.moduli.len());
        let largest = coeffs.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0);
        let small = self.moduli[..limbs].iter().all(|m| largest < m.value());
        Poly::from_fn(coeffs.len(), limbs, |i, k| {
            let (c, m) = (coeffs[k], &self.moduli[i]);
            if small {
                // c >> 63 is all ones for c < 0: add q then, 0 otherwise.
                (c + ((c >> 63) & m.value() as i64)) as u64
            } else {
                m.reduce_i64(c)
            }
        })
    }
}

/// Limb `i` of every polynomial.
fn limbs_at<'a, R>(polys: &[&'a Poly<R>], i: usize) -> Vec<&'a [u64]> {
    polys.iter().map(|p| p.limb(i)).collect()
}

/// Whether X^{N/2} is +ι (else −ι) in the NTT slot evaluating at ψ^e (e odd): ψ^{e·N/2} is
/// ι^e, and e mod 4 is 1 or 3.
fn iota_slot(e: u32) -> bool {
    e % 4 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::math::generate_ntt_primes;
    use rand::{Rng, SeedableRng};

    fn schoolbook(a: &[u64], b: &[u64], m: &Modulus) -> Vec<u64> {
        let n = a.len();
        let mut out = vec![0u64; n];
        for i in 0..n {
            for j in 0..n {
                let prod = m.mul(a[i], b[j]);
                if i + j < n {
                    out[i + j] = m.add(out[i + j], prod);
                } else {
                    out[i + j - n] = m.sub(out[i + j - n], prod);
                }
            }
        }
        out
    }

    /// Every SIMD level this process may use, for tests to compare with the portable kernel.
    fn simd_levels_here() -> Vec<SimdLevel> {
        [SimdLevel::Avx2, SimdLevel::Avx512Ifma]
            .into_iter()
            .filter(|&l| l <= SimdLevel::current())
            .collect()
    }

    #[test]
    fn linear_combinations_are_exact_on_both_kernels() {
        let mut primes = generate_ntt_primes(50, 12, 1, &[]).unwrap();
        primes.extend(generate_ntt_primes(36, 12, 2, &[]).unwrap());
        let ring = RnsRing::new(12, &primes).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (n, limbs) = (ring.n(), 3);
        // 45 inputs, 5 outputs; residues up to 2q − 1 (NTT outputs may be lazy) and scalars
        // at the extremes.
        let inputs: Vec<Poly<Ntt>> = (0..45)
            .map(|_| {
                let mut p = Poly::zero(n, limbs);
                for (i, limb) in p.data_mut().chunks_mut(n).enumerate() {
                    let q = primes[i];
                    limb.iter_mut()
                        .for_each(|x| *x = rng.random_range(0..2 * q));
                }
                p
            })
            .collect();
        let refs: Vec<&Poly<Ntt>> = inputs.iter().collect();
        let scalars: Vec<Vec<Vec<u64>>> = (0..5)
            .map(|o| {
                (0..inputs.len())
                    .map(|j| {
                        primes
                            .iter()
                            .map(|&q| match (o + j) % 3 {
                                0 => q - 1,
                                1 => 0,
                                _ => rng.random_range(0..q),
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let portable = ring.linear_combinations_on(&refs, &scalars, limbs, SimdLevel::Portable);
        for (o, out) in portable.iter().enumerate() {
            for (i, &q) in primes.iter().enumerate() {
                let m = Modulus::new(q);
                for k in [0, 1, 31, 32, 1000, n - 1] {
                    let want = refs.iter().zip(&scalars[o]).fold(0u64, |acc, (p, s)| {
                        m.add(acc, m.mul(m.reduce(p.data()[i * n + k]), s[i]))
                    });
                    assert_eq!(
                        out.data()[i * n + k],
                        want,
                        "output {o}, limb {i}, coeff {k}"
                    );
                }
            }
        }
        let kernels = simd_levels_here();
        if kernels.is_empty() {
            eprintln!("no AVX2 or AVX-512 IFMA here (or PRIVACT_PORTABLE=1): portable kernel only");
        }
        for kernel in kernels {
            let simd = ring.linear_combinations_on(&refs, &scalars, limbs, kernel);
            for (a, b) in portable.iter().zip(&simd) {
                assert_eq!(
                    a.data(),
                    b.data(),
                    "{kernel:?} differs from the portable kernel"
                );
            }
        }
    }

    /// The register reduction at its limits: 4,095 products of (2q − 1)·(q − 1) under a
    /// modulus just below 2^50 push the high accumulator past 2^52 (the 2^104 term); 2,047
    /// of them fill the AVX2 kernel's middle sums nearly to 2^64.
    #[test]
    fn linear_combinations_reduce_exactly_at_the_term_limit() {
        for (kernel, max_terms) in [
            (SimdLevel::Avx512Ifma, dot_avx512::MAX_TERMS),
            (SimdLevel::Avx2, dot_avx2::MAX_TERMS),
        ] {
            if simd_levels_here().contains(&kernel) {
                linear_combinations_at_the_term_limit(kernel, max_terms - 1);
            } else {
                eprintln!("no {kernel:?} here (or PRIVACT_PORTABLE=1): portable kernel only");
                linear_combinations_at_the_term_limit(SimdLevel::Portable, max_terms - 1);
            }
        }
    }

    fn linear_combinations_at_the_term_limit(kernel: SimdLevel, terms: usize) {
        let primes = generate_ntt_primes(50, 6, 1, &[]).unwrap();
        let ring = RnsRing::new(6, &primes).unwrap();
        let (n, q) = (ring.n(), primes[0]);
        let m = Modulus::new(q);
        let inputs: Vec<Poly<Ntt>> = (0..terms)
            .map(|j| {
                Poly::from_fn(n, 1, |_, k| {
                    if (j + k) % 5 == 0 {
                        j as u64
                    } else {
                        2 * q - 1
                    }
                })
            })
            .collect();
        let refs: Vec<&Poly<Ntt>> = inputs.iter().collect();
        let scalars = vec![
            vec![vec![q - 1]; terms],
            (0..terms).map(|j| vec![j as u64 % q]).collect(),
        ];
        let outs = ring.linear_combinations_on(&refs, &scalars, 1, kernel);
        for (out, row) in outs.iter().zip(&scalars) {
            for k in 0..n {
                let want = refs.iter().zip(row).fold(0u64, |acc, (p, s)| {
                    m.add(acc, m.mul(m.reduce(p.data()[k]), s[0]))
                });
                assert_eq!(
                    out.data()[k],
                    want,
                    "{kernel:?}, {terms} terms, coefficient {k}"
                );
            }
        }
    }

    /// The fused key-switching inner product equals permuting each digit and multiplying it
    /// into both sums, with and without a Galois element, with keys longer than the digits,
    /// and added to what the outputs held.
    #[test]
    fn dot_pair_equals_permute_then_multiply_accumulate() {
        let primes = generate_ntt_primes(50, 10, 4, &[]).unwrap();
        let ring = RnsRing::new(10, &primes).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let n = ring.n();
        let random = |limbs: usize, rng: &mut rand::rngs::StdRng| {
            let mut p = Poly::<Ntt>::zero(n, limbs);
            for (i, limb) in p.data_mut().chunks_mut(n).enumerate() {
                limb.iter_mut()
                    .for_each(|x| *x = rng.random_range(0..primes[i]));
            }
            p
        };
        let (digits, limbs) = (3, 3);
        let xs: Vec<Poly<Ntt>> = (0..digits).map(|_| random(limbs, &mut rng)).collect();
        let ys: Vec<Vec<Poly<Ntt>>> = (0..2)
            .map(|_| (0..digits).map(|_| random(4, &mut rng)).collect())
            .collect();
        let xr: Vec<&Poly<Ntt>> = xs.iter().collect();
        let y0: Vec<&Poly<Ntt>> = ys[0].iter().collect();
        let y1: Vec<&Poly<Ntt>> = ys[1].iter().collect();
        for galois in [
            None,
            Some(ring.galois_element_for_rotation(3)),
            Some(ring.galois_element_conjugate()),
        ] {
            let start = [random(limbs, &mut rng), random(limbs, &mut rng)];
            let mut portable = start.clone();
            let [p0, p1] = &mut portable;
            ring.dot_pair_on(&xr, [&y0, &y1], galois, [p0, p1], false);
            for (o, y) in [&y0, &y1].iter().enumerate() {
                for (i, &q) in primes.iter().enumerate().take(limbs) {
                    let m = Modulus::new(q);
                    for k in [0, 1, 7, 8, 500, n - 1] {
                        let first = start[o].limb(i)[k];
                        let want = xr.iter().zip(y.iter()).fold(first, |acc, (x, y)| {
                            let x = match galois {
                                Some(g) => ring.automorphism_ntt(x, g).limb(i)[k],
                                None => x.limb(i)[k],
                            };
                            m.add(acc, m.mul(m.reduce(x), y.limb(i)[k]))
                        });
                        assert_eq!(
                            m.reduce(portable[o].limb(i)[k]),
                            want,
                            "output {o}, limb {i}, coeff {k}"
                        );
                    }
                }
            }
            if dot_avx512::available() {
                let mut ifma = start.clone();
                let [i0, i1] = &mut ifma;
                ring.dot_pair_on(&xr, [&y0, &y1], galois, [i0, i1], true);
                for (a, b) in portable.iter().zip(&ifma) {
                    for (&a, (&b, i)) in a.data().iter().zip(b.data().iter().zip(0..)) {
                        let m = Modulus::new(primes[i / n]);
                        assert_eq!(
                            m.reduce(a),
                            b,
                            "the IFMA inner product differs ({galois:?})"
                        );
                    }
                }
            } else {
                eprintln!("no AVX-512 IFMA here (or PRIVACT_PORTABLE=1): portable path only");
            }
        }
    }

    /// Both conversions of signed coefficients, the branch-free one (every |c| below the
    /// smallest modulus) and the reducing one (some |c| above it), give the residues of c.
    #[test]
    fn signed_coefficients_embed_as_their_residues() {
        let mut primes = generate_ntt_primes(40, 4, 1, &[]).unwrap();
        primes.extend(generate_ntt_primes(30, 4, 1, &[]).unwrap());
        let ring = RnsRing::new(4, &primes).unwrap();
        let q_small = primes[1] as i64;
        let small: Vec<i64> = (0..16).map(|k| (k - 8) * (q_small / 9)).collect();
        let mut large = small.clone();
        large[3] = -(q_small * 5 + 7);
        large[4] = i64::MIN;
        large[5] = i64::MAX;
        for coeffs in [&small, &large] {
            let p = ring.from_signed(coeffs, 2);
            for (i, &q) in primes.iter().enumerate() {
                for (k, &c) in coeffs.iter().enumerate() {
                    let want = (c as i128).rem_euclid(q as i128) as u64;
                    assert_eq!(p.limb(i)[k], want, "limb {i}, coefficient {k} = {c}");
                }
            }
        }
    }

    fn random_poly(ring: &RnsRing, rng: &mut impl Rng) -> Poly<Coeff> {
        let n = ring.n();
        let mut p = Poly::zero(n, ring.len());
        for (i, m) in ring.moduli().iter().enumerate() {
            for x in p.limb_mut(i) {
                *x = rng.random_range(0..m.value());
            }
        }
        p
    }

    #[test]
    fn ntt_product_equals_schoolbook_negacyclic_product() {
        let primes = generate_ntt_primes(50, 8, 2, &[]).unwrap();
        let ring = RnsRing::new(8, &primes).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (random_poly(&ring, &mut rng), random_poly(&ring, &mut rng));
        let mut prod = ring.ntt(a.clone());
        ring.mul_assign(&mut prod, &ring.ntt(b.clone()));
        let prod = ring.intt(prod);
        for (i, m) in ring.moduli().iter().enumerate() {
            assert_eq!(prod.limb(i), schoolbook(a.limb(i), b.limb(i), m).as_slice());
        }
    }

    #[test]
    fn ntt_round_trip_is_identity() {
        let primes = generate_ntt_primes(45, 10, 3, &[]).unwrap();
        let ring = RnsRing::new(10, &primes).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let a = random_poly(&ring, &mut rng);
        assert_eq!(ring.intt(ring.ntt(a.clone())), a);
    }

    #[test]
    fn ntt_automorphism_matches_coefficient_automorphism() {
        let primes = generate_ntt_primes(40, 9, 3, &[]).unwrap();
        let ring = RnsRing::new(9, &primes).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = random_poly(&ring, &mut rng);
        for g in [
            ring.galois_element_for_rotation(1),
            ring.galois_element_for_rotation(-7),
            ring.galois_element_conjugate(),
        ] {
            let via_ntt = ring.intt(ring.automorphism_ntt(&ring.ntt(a.clone()), g));
            assert_eq!(via_ntt, ring.automorphism_coeff(&a, g), "g = {g}");
        }
    }

    #[test]
    fn bad_prime_is_refused() {
        assert!(matches!(
            RnsRing::new(10, &[97]),
            Err(RingError::NoNtt { .. })
        ));
    }
}
