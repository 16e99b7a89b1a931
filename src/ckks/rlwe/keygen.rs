//! Key generation. Only the client holds a `KeyGenerator` (it needs the secret key).

use super::keys::{
    EvaluationKeys, GaloisKey, KeyDigit, PublicKey, RelinearizationKey, SecretKey, SwitchingKey,
    expand_key_a,
};
use crate::ckks::params::Parameters;
use crate::ckks::ring::{Ntt, Poly, Sampler};
use zeroize::Zeroizing;

pub struct KeyGenerator {
    params: Parameters,
    sampler: Sampler,
}

impl KeyGenerator {
    /// Keys from OS-seeded ChaCha20 randomness.
    pub fn new(params: &Parameters) -> Self {
        Self {
            params: params.clone(),
            sampler: Sampler::from_os(),
        }
    }

    /// Reproducible keys (tests and known-answer vectors only).
    pub fn from_seed(params: &Parameters, seed: [u8; 32]) -> Self {
        Self {
            params: params.clone(),
            sampler: Sampler::from_seed(seed),
        }
    }

    /// A uniform ternary secret. The generator re-keys its ChaCha20 state right after, so
    /// the generator a session keeps (for Galois keys made later) cannot regenerate s.
    pub fn gen_secret_key(&mut self) -> SecretKey {
        let coeffs = self.sampler.ternary(self.params.n());
        self.sampler.rekey();
        let (rq, rp) = (self.params.ring_q(), self.params.ring_p());
        let q = rq.ntt(rq.from_signed(&coeffs, rq.len()));
        let p = rp.ntt(rp.from_signed(&coeffs, rp.len()));
        SecretKey { coeffs, q, p }
    }

    pub fn gen_public_key(&mut self, sk: &SecretKey) -> PublicKey {
        let params = self.params.clone();
        let rq = params.ring_q();
        let seed = self.sampler.fresh_seed();
        let a = Sampler::from_seed(seed).uniform_ntt(rq, rq.len());
        let mut b = self.error_ntt_q(rq.len());
        let mut a_s = Zeroizing::new(a.clone());
        rq.mul_assign(&mut a_s, &sk.q);
        rq.sub_assign(&mut b, &a_s);
        PublicKey { b, a, seed }
    }

    pub fn gen_relinearization_key(&mut self, sk: &SecretKey) -> RelinearizationKey {
        let mut s2 = Zeroizing::new(sk.q.clone());
        self.params.ring_q().mul_assign(&mut s2, &sk.q);
        RelinearizationKey(self.gen_switching_key(sk, &s2))
    }

    pub fn gen_galois_key(&mut self, sk: &SecretKey, galois_element: u64) -> GaloisKey {
        let s_g = Zeroizing::new(self.params.ring_q().automorphism_ntt(&sk.q, galois_element));
        GaloisKey {
            galois_element,
            key: self.gen_switching_key(sk, &s_g),
        }
    }

    /// Relinearisation key plus Galois keys for exactly the listed rotations (and conjugation
    /// if asked): keys are large, so generate only what a computation needs.
    pub fn gen_evaluation_keys(
        &mut self,
        sk: &SecretKey,
        rotations: &[i64],
        conjugate: bool,
    ) -> EvaluationKeys {
        let rq = self.params.ring_q();
        let mut elements: Vec<u64> = rotations
            .iter()
            .map(|&k| rq.galois_element_for_rotation(k))
            .filter(|&g| g != 1)
            .collect();
        if conjugate {
            elements.push(rq.galois_element_conjugate());
        }
        elements.sort_unstable();
        elements.dedup();
        let galois = elements
            .into_iter()
            .map(|g| (g, self.gen_galois_key(sk, g)))
            .collect();
        EvaluationKeys {
            relin: Some(self.gen_relinearization_key(sk)),
            galois,
        }
    }

    /// Digit d: b_d = −a_d·s + e_d + [P]_{q_i}·s' on the limbs of digit d (zero elsewhere).
    fn gen_switching_key(&mut self, sk: &SecretKey, s_prime: &Poly<Ntt>) -> SwitchingKey {
        let params = self.params.clone();
        let (rq, rp) = (params.ring_q(), params.ring_p());
        let alpha = params.digit_size();
        let digits = params.digits_at(params.max_level());
        let seed = self.sampler.fresh_seed();
        let p_mod_q: Vec<u64> = rq
            .moduli()
            .iter()
            .map(|m| {
                params
                    .p()
                    .iter()
                    .fold(1u64, |acc, &p| m.mul(acc, m.reduce(p)))
            })
            .collect();
        let digits = expand_key_a(&params, seed, digits)
            .into_iter()
            .enumerate()
            .map(|(d, (a_q, a_p))| {
                let e = Zeroizing::new(self.sampler.gaussian(params.n()));
                let mut b_q = rq.ntt(rq.from_signed(&e, rq.len()));
                let mut b_p = rp.ntt(rp.from_signed(&e, rp.len()));
                let mut t = Zeroizing::new(a_q.clone());
                rq.mul_assign(&mut t, &sk.q);
                rq.sub_assign(&mut b_q, &t);
                let mut t = Zeroizing::new(a_p.clone());
                rp.mul_assign(&mut t, &sk.p);
                rp.sub_assign(&mut b_p, &t);
                for (i, &w) in p_mod_q.iter().enumerate().skip(d * alpha).take(alpha) {
                    let m = rq.modulus(i);
                    let ws = m.shoup(w);
                    let src = Zeroizing::new(s_prime.limb(i).to_vec());
                    for (b, &s) in b_q.limb_mut(i).iter_mut().zip(src.iter()) {
                        *b = m.add(*b, m.mul_shoup(s, w, ws));
                    }
                }
                KeyDigit { b_q, b_p, a_q, a_p }
            })
            .collect();
        SwitchingKey {
            digits,
            seed,
            params_id: params.fingerprint(),
        }
    }

    fn error_ntt_q(&mut self, limbs: usize) -> Poly<Ntt> {
        let rq = self.params.ring_q();
        let e = Zeroizing::new(self.sampler.gaussian(self.params.n()));
        rq.ntt(rq.from_signed(&e, limbs))
    }
}
