#!/usr/bin/env python3
"""Compare PrivaCT's pure-Rust RNS-CKKS engine with Microsoft SEAL 4.x.

SEAL is driven through ``tenseal.sealapi`` (TenSEAL's thin pybind11 bindings of
SEAL), installed by this script into a cached virtualenv (``target/seal-venv``).
Both engines run single-threaded, ops are timed at the top level of the chain
(median of ``--repeats`` runs after warm-up), and serialized sizes are recorded.

Parameter sets (both N/2 real slots, scale 2^40):
  depth7-n14   N = 2^14, SEAL coeff_modulus [60, 40 x 7, 60]
  depth18-n15  N = 2^15, SEAL coeff_modulus [60, 40 x 18, 60]

The modulus chains differ on purpose. For SEAL these are its best chains for
the depth: 40-bit rescaling primes, a 60-bit base prime and ONE 60-bit special
prime, so key switching decomposes per prime (dnum = L + 1) in 64-bit words.
PrivaCT uses primes of at most 50 bits and hybrid key switching (several
special primes, fewer digits), so its log_q / log_p (reported from its own JSON)
do not match SEAL's prime for prime (SEAL checks its chains against its 128-bit
bound). The comparison is per op at equal N, depth, slot count and scale.

Ops: encode (N/2 doubles; includes the Python list -> vector<double> copy),
encrypt (SEAL symmetric / secret-key; ``encrypt_pk`` is public-key), decrypt
(no decode; ``decode`` separately), mul_plain (no rescale), mul_relin_rescale
(ct x ct + relinearize + rescale_to_next), rotate (rotate_vector by 1, one
Galois key). Sizes: SEAL's default compression (zstd) and uncompressed
(compr_mode none, obtained by decompressing SEAL's own output); "seeded" objects
store the PRNG seed instead of the uniform half (SEAL's Serializable<T>).
SEAL here is TenSEAL's PyPI build, without Intel HEXL (no AVX-512 NTT).

Usage:
  python3 benches/compare_seal.py [--privact target/release/privact]
  python3 benches/compare_seal.py --privact-json FILE --json out.json
Exit status is non-zero only on real errors, never on a failed ratio.
"""
import argparse
import gc
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TENSEAL_REQ = ["tenseal==0.3.18", "zstandard"]
SETS = {"depth7-n14": (14, 7), "depth18-n15": (15, 18)}  # name -> (log_n, levels)
DEFAULT_REPEATS = {"depth7-n14": 20, "depth18-n15": 10}
SCALE_BITS = 40
OPS = ["encode", "encrypt", "encrypt_pk", "decrypt", "decode", "mul_plain",
       "mul_relin_rescale", "rotate", "rotate_hoisted_each"]
SIZES = ["ciphertext_full", "ciphertext_seeded", "relin_key", "relin_key_seeded",
         "galois_key", "galois_key_seeded"]
ACCEPT_OPS = ("mul_relin_rescale", "rotate")
SINGLE_THREAD = {"RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class BenchError(Exception):
    """A real failure: reported on stderr, exit status 2."""


# ----------------------------------------------------------------- SEAL side
# (runs inside the virtualenv, as `compare_seal.py --seal-worker`)

def seal_file_size(path):
    """(stored bytes, uncompressed bytes, SEAL version) of a SEAL-saved file."""
    data = Path(path).read_bytes()
    magic, hsize, vmaj, vmin, mode, _, total = struct.unpack_from("<HBBBBHQ", data)
    if magic != 0xA15E or total != len(data):
        raise BenchError(f"{path}: not a SEAL serialization")
    body = data[hsize:]  # compr_mode 0 = none, 1 = zlib, 2 = zstd
    if mode == 1:
        body = zlib.decompress(body)
    elif mode == 2:
        import zstandard
        body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return len(data), hsize + len(body), f"{vmaj}.{vmin}"


def median_ms(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    gc.disable()  # no collector pauses inside a timed call
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    gc.enable()
    return statistics.median(times)


def seal_bench(name, repeats, warmup, tmp):
    import tenseal.sealapi as s
    log_n, levels = SETS[name]
    n, scale = 1 << log_n, 2.0 ** SCALE_BITS
    bits = [60] + [SCALE_BITS] * levels + [60]
    parms = s.EncryptionParameters(s.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(n)
    parms.set_coeff_modulus(s.CoeffModulus.Create(n, bits))
    ctx = s.SEALContext(parms, True, s.SEC_LEVEL_TYPE.TC128)
    if not ctx.parameters_set():
        raise BenchError(f"SEAL rejected {name}: {ctx.parameters_error_message()}")
    keygen = s.KeyGenerator(ctx)
    sk, pk, rk, gk = keygen.secret_key(), s.PublicKey(), s.RelinKeys(), s.GaloisKeys()
    keygen.create_public_key(pk)
    keygen.create_relin_keys(rk)
    # The first bound list[int] overload takes Galois *elements*: 3 = rotate by 1.
    keygen.create_galois_keys([3], gk)
    if not gk.has_key(3):
        raise BenchError("Galois key for rotation by 1 (element 3) missing")
    encoder, ev = s.CKKSEncoder(ctx), s.Evaluator(ctx)
    sym, asym, dec = s.Encryptor(ctx, sk), s.Encryptor(ctx, pk), s.Decryptor(ctx, sk)
    rng = random.Random(1)
    vals = [rng.uniform(-1, 1) for _ in range(encoder.slot_count())]
    pt, pt_tmp, pt_out = s.Plaintext(), s.Plaintext(), s.Plaintext()
    encoder.encode(vals, scale, pt)
    ct, ct2, tmp_ct, out = (s.Ciphertext(ctx) for _ in range(4))
    sym.encrypt_symmetric(pt, ct)
    sym.encrypt_symmetric(pt, ct2)

    def mul_relin_rescale():
        ev.multiply(ct, ct2, out)
        ev.relinearize_inplace(out, rk)
        ev.rescale_to_next_inplace(out)

    ops = {
        "encode": lambda: encoder.encode(vals, scale, pt_tmp),
        "encrypt": lambda: sym.encrypt_symmetric(pt, tmp_ct),
        "encrypt_pk": lambda: asym.encrypt(pt, tmp_ct),
        "decrypt": lambda: dec.decrypt(ct, pt_out),
        "decode": lambda: encoder.decode_double(pt_out),
        "mul_plain": lambda: ev.multiply_plain(ct, pt, out),
        "mul_relin_rescale": mul_relin_rescale,
        "rotate": lambda: ev.rotate_vector(ct, 1, gk, out),
    }
    checks = {  # op -> expected slot 0 after decrypting `out`
        "mul_plain": vals[0] ** 2, "mul_relin_rescale": vals[0] ** 2, "rotate": vals[1]}
    ops_ms = {}
    for op, fn in ops.items():
        print(f"  SEAL {name} {op} ...", file=sys.stderr, flush=True)
        ops_ms[op] = median_ms(fn, repeats, warmup)
        if op in checks:
            dec.decrypt(out, pt_tmp)
            got = encoder.decode_double(pt_tmp)[0]  # decode divides by out.scale
            if abs(got - checks[op]) > 1e-3:
                raise BenchError(f"SEAL {name} {op}: wrong result {got} vs {checks[op]}")

    # The *_seeded objects are Serializable<T>: saved with the PRNG seed, not c1.
    objs = {"ciphertext_full": ct, "relin_key": rk, "galois_key": gk,
            "ciphertext_seeded": sym.encrypt_symmetric(pt),
            "relin_key_seeded": keygen.create_relin_keys(),
            "galois_key_seeded": keygen.create_galois_keys([3])}
    sizes, sizes_zstd, version = {}, {}, "?"
    for key, obj in objs.items():
        path = os.path.join(tmp, f"{name}-{key}.seal")
        obj.save(path)
        sizes_zstd[key], sizes[key], version = seal_file_size(path)
        os.remove(path)
    return {"name": name, "log_n": log_n, "log_q": bits[:-1], "log_p": bits[-1:],
            "levels": levels, "seal_version": version, "repeats": repeats,
            "ops_ms": ops_ms, "bytes": sizes, "bytes_zstd": sizes_zstd}


def seal_worker(args):
    import tenseal
    with tempfile.TemporaryDirectory() as tmp:
        sets = [seal_bench(name, args.repeats or DEFAULT_REPEATS[name], args.warmup, tmp)
                for name in args.sets]
    json.dump({"tenseal_version": tenseal.__version__, "sets": sets,
               "loadavg": os.getloadavg()}, sys.stdout)


# ----------------------------------------------------------- orchestration

def ensure_venv(venv_dir):
    """Create/reuse the virtualenv with tenseal; return its python."""
    py = venv_dir / "bin" / "python"
    probe = [str(py), "-c", "import tenseal.sealapi, zstandard"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    print(f"setting up {venv_dir} with {' '.join(TENSEAL_REQ)} ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check",
                        "-q", *TENSEAL_REQ], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        raise BenchError(
            f"could not install {' '.join(TENSEAL_REQ)} into {venv_dir} ({e}). Needs "
            "PyPI access and a tenseal wheel for this CPython version and platform "
            "(this script does not build TenSEAL/SEAL from source).")
    return py


def run_seal(args):
    py = ensure_venv(args.venv)
    cmd = [str(py), str(Path(__file__).resolve()), "--seal-worker",
           "--sets", ",".join(args.sets), "--warmup", str(args.warmup)]
    if args.repeats:
        cmd += ["--repeats", str(args.repeats)]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, env={**os.environ, **SINGLE_THREAD})
    if res.returncode != 0:
        raise BenchError(f"SEAL benchmark failed (exit {res.returncode})")
    return json.loads(res.stdout)


def run_privact(args):
    if args.privact_json:
        text = Path(args.privact_json).read_text()
    else:
        cmd = [str(args.privact), "bench", "--json"]
        try:
            res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, **SINGLE_THREAD})
        except OSError as e:
            raise BenchError(f"cannot run {cmd[0]}: {e} (build with cargo build --release)")
        if res.returncode != 0:
            raise BenchError(f"{' '.join(cmd)} failed (exit {res.returncode})")
        text = res.stdout
    try:  # the whole output, else its last line that opens an object
        return json.loads(text)
    except json.JSONDecodeError:
        lines = [ln for ln in text.splitlines() if ln.lstrip().startswith("{")] or ["?"]
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            raise BenchError("PrivaCT output is not the expected JSON object") from None


def fmt_bytes(v):
    if v is None:
        return "-"
    return f"{v / 1024:,.1f} KiB" if v < 1 << 20 else f"{v / (1 << 20):,.2f} MiB"


def compare(seal, privact):
    """Print one table per set; return (speedups, accept)."""
    p_sets = {s["name"]: s for s in privact.get("sets", [])}
    speedups, accept = {}, True
    version = seal["sets"][0]["seal_version"] if seal["sets"] else "?"
    print(f"SEAL {version} via tenseal {seal['tenseal_version']}; single thread; median ms "
          f"at the top level; load average during SEAL {seal['loadavg'][0]:.2f}")
    for sd in seal["sets"]:
        name, pd = sd["name"], p_sets.get(sd["name"])
        print(f"\n== {name}: SEAL log_q={sd['log_q']} log_p={sd['log_p']}", end="")
        print(f" | PrivaCT log_q={pd.get('log_q')} log_p={pd.get('log_p')}" if pd
              else " | PrivaCT: set missing")
        p_ops, p_bytes = (pd or {}).get("ops_ms", {}), (pd or {}).get("bytes", {})
        print(f"{'op':<22}{'SEAL ms':>11}{'PrivaCT ms':>12}{'speed-up':>10}")
        sp = {}
        for op in OPS:
            a, b = sd["ops_ms"].get(op), p_ops.get(op)
            if a is None and b is None:
                continue
            sp[op] = a / b if a is not None and b else None
            a, b = ("-" if v is None else f"{v:.3f}" for v in (a, b))
            ratio = "-" if sp[op] is None else f"{sp[op]:.2f}x"
            print(f"{op:<22}{a:>11}{b:>12}{ratio:>10}")
        print(f"{'size':<22}{'SEAL none':>14}{'SEAL zstd':>14}{'PrivaCT':>14}{'SEAL/P':>8}")
        for key in SIZES:
            a, z, b = sd["bytes"].get(key), sd["bytes_zstd"].get(key), p_bytes.get(key)
            ratio = f"{a / b:.2f}" if a and b else "-"
            print(f"{key:<22}{fmt_bytes(a):>14}{fmt_bytes(z):>14}{fmt_bytes(b):>14}{ratio:>8}")
        speedups[name] = sp
        accept &= all((sp.get(op) or 0) >= 2.0 for op in ACCEPT_OPS)
    accept &= set(speedups) >= set(SETS)  # both sets must have been compared
    return speedups, accept


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--privact", type=Path, default=ROOT / "target/release/privact",
                    help="privact binary, run as `privact bench --json`")
    ap.add_argument("--privact-json", type=Path,
                    help="read PrivaCT results from this file instead of running the binary")
    ap.add_argument("--seal-json", type=Path,
                    help="reuse SEAL results saved by an earlier --json run")
    ap.add_argument("--json", type=Path, help="write the combined results here")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    ap.add_argument("--repeats", type=int,
                    help="timed runs per op (default 20 at n14, 10 at n15)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs per op")
    ap.add_argument("--venv", type=Path, default=ROOT / "target/seal-venv",
                    help="virtualenv for tenseal (created and reused)")
    ap.add_argument("--seal-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep table and progress in order
    args.sets = [s for s in args.sets.split(",") if s]
    try:
        unknown = [s for s in args.sets if s not in SETS]
        if unknown:
            raise BenchError(f"unknown set(s) {unknown}; known: {list(SETS)}")
        if args.seal_worker:
            seal_worker(args)
            return 0
        if args.seal_json:
            seal = json.loads(args.seal_json.read_text())["seal"]
            seal["sets"] = [s for s in seal["sets"] if s["name"] in args.sets]
        else:
            seal = run_seal(args)
        privact = run_privact(args)
        speedups, accept = compare(seal, privact)
        verdict = "yes" if accept else "no"
        print(f"\nACCEPT mul_relin_rescale>=2x and rotate>=2x at both sets: {verdict}")
        if args.json:
            args.json.write_text(json.dumps({"seal": seal, "privact": privact,
                                             "speedups": speedups, "accept": accept},
                                            indent=2) + "\n")
        return 0
    except (BenchError, OSError, KeyError, ValueError) as e:
        print(f"compare_seal: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
