//! Resource limits on untrusted input (issue 8): decoders check ring degree, modulus size,
//! field and list counts and lengths *before* allocating, servers refuse oversized requests and
//! report what a session's keys cost in memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use privact::ckks::wire::{self, WireError};
use privact::ckks::{KeyGenerator, Parameters, ParametersLiteral, ParamsError};
use privact::model::classifier::he::ApproxParams;
use privact::model::classifier::packing;
use privact::model::denoiser::ModelKind;
use privact::model::denoiser::weights::builtin;
use privact::protocol::classify::server::{Server, key_memory_bytes};
use privact::protocol::denoise::server::{DenoiseServer, MAX_TILES};
use privact::protocol::messages::{MAGIC, MAX_FIELDS, MAX_LIST, VERSION};
use privact::protocol::{Message, MessageError};

/// Counts live and peak heap bytes per thread, so one test can bound what a
/// call allocates while other tests run in parallel.
struct PeakPerThread;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only adds bookkeeping in
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for PeakPerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.with(|l| {
            l.set(l.get() + layout.size());
            l.get()
        });
        PEAK.with(|p| p.set(p.get().max(live)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|l| l.set(l.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakPerThread = PeakPerThread;

/// Peak heap bytes this thread held while running `f`, above what it held before.
fn peak_bytes_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    (out, PEAK.with(Cell::get) - before)
}

fn refusal(reply: &[u8]) -> String {
    match Message::decode(reply) {
        Ok(Message::Error { message }) => message,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[test]
fn resource_limit_unsupported_ring_degrees_and_insecure_moduli_are_refused() {
    let literal = |log_n, log_q: Vec<u32>| ParametersLiteral {
        log_n,
        log_q,
        log_p: vec![60],
        log_default_scale: 40,
    };
    // N = 2^30 would need gigabytes per polynomial: refused from the number alone.
    assert!(matches!(
        Parameters::new(literal(30, vec![60, 40])),
        Err(ParamsError::LogN(30))
    ));
    // log QP = 4·60 + 60 = 300 > 218, the 128-bit bound for N = 2^13.
    assert!(matches!(
        Parameters::new(literal(13, vec![60; 4])),
        Err(ParamsError::Insecure { log_n: 13, .. })
    ));

    // The same checks run when parameters arrive as bytes: patch the ring degree of a valid
    // encoding (log_n is the first byte after the header: nq and np byte counts close it).
    let params = Parameters::preset(packing::PRESET).expect("preset");
    let good = wire::encode_parameters(&params);
    let body = good.len() - (4 + params.q().len() + params.p().len());
    assert_eq!(u32::from(good[body]), params.log_n());
    let mut bad = good.clone();
    bad[body] = 30;
    assert!(wire::decode_parameters(&bad).is_err());
    // A claimed limb count longer than the message is a truncation, not an allocation.
    let mut bad = good;
    bad[body + 2] = 255;
    assert!(matches!(
        wire::decode_parameters(&bad),
        Err(WireError::Truncated { .. } | WireError::Invalid(_) | WireError::Params(_))
    ));
}

/// An envelope header followed by `rest`.
fn envelope(kind: u8, fields: u32, rest: &[u8]) -> Vec<u8> {
    let mut m = MAGIC.to_vec();
    m.push(VERSION);
    m.push(kind);
    m.extend_from_slice(&fields.to_le_bytes());
    m.extend_from_slice(rest);
    m
}

#[test]
fn resource_limit_message_counts_and_lengths_are_checked_before_allocating() {
    // Too many fields.
    assert_eq!(
        Message::decode(&envelope(1, MAX_FIELDS as u32 + 1, &[])),
        Err(MessageError::Fields(MAX_FIELDS + 1))
    );
    // One field claiming a terabyte, backed by three bytes.
    let mut rest = (1u64 << 40).to_le_bytes().to_vec();
    rest.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        Message::decode(&envelope(1, 1, &rest)),
        Err(MessageError::Truncated)
    );
    // A field length that overflows the address space.
    assert_eq!(
        Message::decode(&envelope(1, 1, &u64::MAX.to_le_bytes())),
        Err(MessageError::Truncated)
    );
    // A denoising request whose tile list claims more items than any list may hold.
    let request = Message::DenoiseRequest {
        tiles: vec![vec![0u8; 1]],
    }
    .encode();
    let list_count_at = 10 + 8;
    let mut bad = request.clone();
    bad[list_count_at..list_count_at + 4].copy_from_slice(&(MAX_LIST as u32 + 1).to_le_bytes());
    assert!(matches!(
        Message::decode(&bad),
        Err(MessageError::Invalid(_))
    ));
    assert!(Message::decode(&request).is_ok());
}

#[test]
fn resource_limit_denoise_server_refuses_more_tiles_than_its_limit() {
    let linear = builtin(ModelKind::Linear).expect("linear model");
    let nonlinear = builtin(ModelKind::Nonlinear).expect("nonlinear model");
    let mut server = DenoiseServer::new(linear, nonlinear);
    // Tiles are counted before any of them is decoded (these are not even ciphertexts).
    let request = Message::DenoiseRequest {
        tiles: vec![Vec::new(); MAX_TILES + 1],
    }
    .encode();
    let message = refusal(&server.handle(&request));
    // The client gets a fixed sentence; the operator's log has the numbers.
    assert!(message.contains("limits"), "{message}");
    assert!(!message.chars().any(|c| c.is_ascii_digit()), "{message}");
    let detail = server.last_error().unwrap_or_default();
    assert!(detail.contains("exceed the limit"), "{detail}");
}

#[test]
fn resource_limit_server_reports_the_memory_its_session_keys_take() {
    let params = Parameters::preset(packing::PRESET).expect("preset");
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &packing::rotations(), packing::NEEDS_CONJUGATION);
    let eval_keys = wire::encode_evaluation_keys(&params, &keys);
    let setup = Message::Setup {
        task: privact::protocol::messages::Task::ClassifyKidney,
        params: wire::encode_parameters(&params),
        eval_keys: eval_keys.clone(),
    };
    let mut server = Server::new(vec![ApproxParams::synthetic(3)]);
    let reported = match Message::decode(&server.handle(&setup.encode())) {
        Ok(Message::SetupAck { key_memory_bytes }) => key_memory_bytes,
        other => panic!("expected SetupAck, got {other:?}"),
    };
    assert_eq!(reported, key_memory_bytes(&params, &keys));
    // In memory every residue takes a full u64; on the wire they are bit-packed (and the
    // expanded uniform halves are still counted), so memory is the larger figure.
    assert!(
        reported > eval_keys.len() as u64,
        "{reported} vs {}",
        eval_keys.len()
    );
    // One key per Galois element plus relinearisation.
    let per_key = reported / (keys.galois.len() as u64 + 1);
    assert_eq!(per_key * (keys.galois.len() as u64 + 1), reported);
}

/// Fuzz finding (dicom_loader, session 3): a file meta group length (0002,0000)
/// that claims more bytes than the group holds made dicom-object start the data
/// set elsewhere than the loader's pre-scan, where a 0xA4000000-byte UL value
/// was allocated (> 2 GB RSS from 597 bytes). The loader now only lets the
/// standard reader walk meta groups whose length matches the scan.
#[test]
fn resource_limit_dicom_meta_group_length_cannot_move_the_data_set_past_the_scan() {
    let bytes =
        include_bytes!("../fuzz/seeds/dicom_loader/regression-meta-group-length-overclaims");
    let label = Path::new("overclaiming-meta.dcm");
    let (result, peak) =
        peak_bytes_during(|| privact::imaging::load_bytes(bytes, label, &Default::default()));
    // The data set holds no pixel data: a clear error, and memory on the
    // order of the file, not of the lengths it claims.
    let err = result.expect_err("a data set without pixel data cannot load");
    assert!(err.to_string().contains("overclaiming-meta.dcm"), "{err}");
    assert!(
        peak < 16 << 20,
        "peak heap {peak} bytes for a 597-byte file"
    );
}
