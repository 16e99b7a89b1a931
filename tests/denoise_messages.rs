//! Denoising messages: existing message kinds keep their bytes, new kinds round-trip, and
//! hostile list fields are refused without panicking.

use privact::protocol::Message;

#[test]
fn existing_messages_are_byte_compatible() {
    // The envelope layout is that of version 1; version 2 (compact denoising replies) changed
    // only the version byte, and a version-1 peer is refused at its first message.
    use privact::protocol::messages::VERSION;
    assert_eq!(VERSION, 2);
    let ack = Message::SetupAck {
        key_memory_bytes: 0x0102,
    }
    .encode();
    let mut want = b"PVMS".to_vec();
    want.extend([
        VERSION, 2, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0,
    ]);
    assert_eq!(ack, want);
    let mut old = want.clone();
    old[4] = 1;
    let err = Message::decode(&old).unwrap_err().to_string();
    assert!(
        err.contains('1'),
        "a version-1 message names its version: {err}"
    );
    let req = Message::ClassifyRequest {
        inputs: vec![vec![7], vec![8, 9]],
    }
    .encode();
    let mut want = b"PVMS".to_vec();
    want.extend([VERSION, 3, 2, 0, 0, 0]);
    want.extend([1, 0, 0, 0, 0, 0, 0, 0, 7]);
    want.extend([2, 0, 0, 0, 0, 0, 0, 0, 8, 9]);
    assert_eq!(req, want);
}

#[test]
fn denoise_messages_round_trip_and_refuse_garbage() {
    let msgs = [
        Message::DenoiseRequest {
            tiles: vec![vec![1; 3]; 400],
        },
        Message::DenoiseMasked {
            round: 3,
            cts: vec![vec![2; 5], vec![]],
            server_seconds: 1.5,
        },
        Message::DenoiseActivations {
            round: 3,
            cts: vec![vec![4; 2]],
        },
        Message::DenoiseResult {
            tiles: vec![vec![5]],
            server_seconds: 0.25,
        },
    ];
    for m in &msgs {
        let bytes = m.encode();
        assert_eq!(&Message::decode(&bytes).unwrap(), m);
        for cut in 0..bytes.len().min(200) {
            assert!(Message::decode(&bytes[..cut]).is_err(), "prefix {cut}");
        }
        // Flip every byte of the first 64: errors or a valid (different) message, no panic.
        for i in 0..bytes.len().min(64) {
            let mut b = bytes.clone();
            b[i] ^= 0xa5;
            let _ = Message::decode(&b);
        }
    }
    // A list field that claims more items than it holds.
    let mut bytes = Message::DenoiseRequest {
        tiles: vec![vec![1]],
    }
    .encode();
    bytes[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Message::decode(&bytes).is_err());
}
