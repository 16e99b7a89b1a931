//! RNS polynomials in Z_Q[X]/(X^N+1): limb-major storage, NTT via `tfhe-ntt`, automorphisms,
//! basis extension and sampling. Knows nothing of CKKS scales or slots.

mod basis;
mod basis_avx512;
mod dot_avx2;
mod dot_avx512;
#[cfg(target_arch = "x86_64")]
mod ifma;
pub mod limb;
mod limb_avx512;
mod poly;
mod rns_ring;
mod sampler;
pub mod simd;

pub use basis::{BasisExtender, extend_basis_lazy};
pub use poly::{Coeff, Ntt, Poly};
pub use rns_ring::RnsRing;
pub use sampler::Sampler;
pub use simd::SimdLevel;
