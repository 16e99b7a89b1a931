//! Pure-Rust RNS-CKKS, layered like Lattigo: `math` → `ring` → `rlwe` → `scheme`.
