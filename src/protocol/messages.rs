//! Protocol messages: an envelope (`"PVMS"`, version, kind, length-prefixed fields) around
//! `ckks::wire` payloads. Decoding checks sizes before allocating and never panics.

pub const MAGIC: [u8; 4] = *b"PVMS";
/// 2: denoising replies carry compact ciphertexts (`wire::encode_compact_ciphertext`), so a
/// peer of version 1 is refused at its first message instead of after the server's work.
pub const VERSION: u8 = 2;
/// Largest message accepted (a full key bundle at N = 2^15 is a few hundred MB).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;
pub const MAX_FIELDS: usize = 256;

/// What the client asks the server to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[repr(u8)]
pub enum Task {
    ClassifyKidney = 1,
    /// One-shot encrypted denoising with the linear model.
    DenoiseLinear = 2,
    /// Interactive encrypted denoising with the nonlinear model.
    DenoiseNonlinear = 3,
}

impl Task {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Task::ClassifyKidney),
            2 => Some(Task::DenoiseLinear),
            3 => Some(Task::DenoiseNonlinear),
            _ => None,
        }
    }
}

/// Most ciphertexts in one list field of a denoising message.
pub const MAX_LIST: usize = 1 << 16;

/// One field of an envelope: plain bytes, or a list of byte strings packed in place as
/// u32 count, then (u64 length, bytes) each. Writing lists straight into the message saves a
/// copy of every ciphertext (hundreds of MB per denoising round).
enum Field<'a> {
    Bytes(&'a [u8]),
    List(&'a [Vec<u8>]),
}

impl Field<'_> {
    fn len(&self) -> usize {
        match self {
            Field::Bytes(b) => b.len(),
            Field::List(items) => 4 + items.iter().map(|i| 8 + i.len()).sum::<usize>(),
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Field::Bytes(b) => out.extend_from_slice(b),
            Field::List(items) => {
                out.extend_from_slice(&(items.len() as u32).to_le_bytes());
                for i in *items {
                    out.extend_from_slice(&(i.len() as u64).to_le_bytes());
                    out.extend_from_slice(i);
                }
            }
        }
    }
}

fn unpack_list(field: &[u8]) -> Result<Vec<Vec<u8>>, MessageError> {
    let count = field
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(MessageError::Truncated)? as usize;
    if count > MAX_LIST {
        return Err(MessageError::Invalid("too many items in a list field"));
    }
    let mut items = Vec::with_capacity(count.min(field.len() / 8));
    let mut pos = 4usize;
    for _ in 0..count {
        let len = field
            .get(pos..pos + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or(MessageError::Truncated)?;
        let len = usize::try_from(len).map_err(|_| MessageError::Truncated)?;
        pos += 8;
        let end = pos.checked_add(len).ok_or(MessageError::Truncated)?;
        items.push(field.get(pos..end).ok_or(MessageError::Truncated)?.to_vec());
        pos = end;
    }
    if pos != field.len() {
        return Err(MessageError::Invalid("trailing bytes in a list field"));
    }
    Ok(items)
}

fn round_field(f: &[u8]) -> Result<u32, MessageError> {
    let b: [u8; 8] = f
        .try_into()
        .map_err(|_| MessageError::Invalid("scalar field must be 8 bytes"))?;
    u32::try_from(u64::from_le_bytes(b)).map_err(|_| MessageError::Invalid("round out of range"))
}

/// Longest server time a message may report (s): enough for any real run, and small enough
/// that every consumer can turn it into a `Duration`.
pub const MAX_SERVER_SECONDS: f64 = 1e9;

/// A reported server time is finite and in [0, `MAX_SERVER_SECONDS`].
fn valid_seconds(v: f64) -> bool {
    (0.0..=MAX_SERVER_SECONDS).contains(&v)
}

fn seconds_field(f: &[u8]) -> Result<f64, MessageError> {
    let b: [u8; 8] = f
        .try_into()
        .map_err(|_| MessageError::Invalid("scalar field must be 8 bytes"))?;
    let v = f64::from_le_bytes(b);
    if !valid_seconds(v) {
        return Err(MessageError::Invalid(
            "server time must be a finite number of seconds in [0, 1e9]",
        ));
    }
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Parameters and evaluation keys (never the secret key) for one session.
    Setup {
        task: Task,
        params: Vec<u8>,
        eval_keys: Vec<u8>,
    },
    /// The server accepted the keys; reports what they occupy in its memory.
    SetupAck {
        key_memory_bytes: u64,
    },
    ClassifyRequest {
        inputs: Vec<Vec<u8>>,
    },
    ClassifyResponse {
        logits: Vec<u8>,
        server_seconds: f64,
    },
    /// A `ClassifyRequest` that also asks for the encrypted class-activation map (issue 19).
    ClassifyMapRequest {
        inputs: Vec<Vec<u8>>,
    },
    /// The logits and the class-activation map, each one ciphertext.
    ClassifyMapResponse {
        logits: Vec<u8>,
        map: Vec<u8>,
        server_seconds: f64,
    },
    Error {
        message: String,
    },
    /// Encrypted input tiles, halos included, two per ciphertext (`he::TILES_PER_CIPHERTEXT`).
    DenoiseRequest {
        tiles: Vec<Vec<u8>>,
    },
    /// Server → client: masked, shuffled pre-activations of ReLU round `round` (1-based).
    DenoiseMasked {
        round: u32,
        cts: Vec<Vec<u8>>,
        server_seconds: f64,
    },
    /// Client → server: ReLU of the masked values, freshly encrypted, in the order received.
    DenoiseActivations {
        round: u32,
        cts: Vec<Vec<u8>>,
    },
    /// The encrypted denoised tiles.
    DenoiseResult {
        tiles: Vec<Vec<u8>>,
        server_seconds: f64,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    #[error("not a PrivaCT protocol message (bad magic)")]
    BadMagic,
    #[error("unsupported protocol version {0}")]
    Version(u8),
    #[error("unknown message kind {0}")]
    Kind(u8),
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("message truncated")]
    Truncated,
    #[error("field count {0} is invalid for this message")]
    Fields(usize),
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

impl Message {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Message::Setup { .. } => "Setup",
            Message::SetupAck { .. } => "SetupAck",
            Message::ClassifyRequest { .. } => "ClassifyRequest",
            Message::ClassifyResponse { .. } => "ClassifyResponse",
            Message::Error { .. } => "Error",
            Message::DenoiseRequest { .. } => "DenoiseRequest",
            Message::DenoiseMasked { .. } => "DenoiseMasked",
            Message::DenoiseActivations { .. } => "DenoiseActivations",
            Message::DenoiseResult { .. } => "DenoiseResult",
            Message::ClassifyMapRequest { .. } => "ClassifyMapRequest",
            Message::ClassifyMapResponse { .. } => "ClassifyMapResponse",
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Message::Setup { .. } => 1,
            Message::SetupAck { .. } => 2,
            Message::ClassifyRequest { .. } => 3,
            Message::ClassifyResponse { .. } => 4,
            Message::Error { .. } => 5,
            Message::DenoiseRequest { .. } => 6,
            Message::DenoiseMasked { .. } => 7,
            Message::DenoiseActivations { .. } => 8,
            Message::DenoiseResult { .. } => 9,
            Message::ClassifyMapRequest { .. } => 10,
            Message::ClassifyMapResponse { .. } => 11,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        use Field::{Bytes, List};
        let kind = self.kind();
        match self {
            Message::Setup {
                task,
                params,
                eval_keys,
            } => envelope(
                kind,
                &[Bytes(&[*task as u8]), Bytes(params), Bytes(eval_keys)],
            ),
            Message::SetupAck { key_memory_bytes } => {
                envelope(kind, &[Bytes(&key_memory_bytes.to_le_bytes())])
            }
            Message::ClassifyRequest { inputs } | Message::ClassifyMapRequest { inputs } => {
                let fields: Vec<Field> = inputs.iter().map(|i| Bytes(i)).collect();
                envelope(kind, &fields)
            }
            Message::ClassifyResponse {
                logits,
                server_seconds,
            } => envelope(kind, &[Bytes(logits), Bytes(&server_seconds.to_le_bytes())]),
            Message::ClassifyMapResponse {
                logits,
                map,
                server_seconds,
            } => envelope(
                kind,
                &[
                    Bytes(logits),
                    Bytes(map),
                    Bytes(&server_seconds.to_le_bytes()),
                ],
            ),
            Message::Error { message } => envelope(kind, &[Bytes(message.as_bytes())]),
            Message::DenoiseRequest { tiles } => envelope(kind, &[List(tiles)]),
            Message::DenoiseMasked {
                round,
                cts,
                server_seconds,
            } => envelope(
                kind,
                &[
                    Bytes(&u64::from(*round).to_le_bytes()),
                    List(cts),
                    Bytes(&server_seconds.to_le_bytes()),
                ],
            ),
            Message::DenoiseActivations { round, cts } => {
                envelope(kind, &[Bytes(&u64::from(*round).to_le_bytes()), List(cts)])
            }
            Message::DenoiseResult {
                tiles,
                server_seconds,
            } => envelope(kind, &[List(tiles), Bytes(&server_seconds.to_le_bytes())]),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(MessageError::TooLarge(bytes.len()));
        }
        let header = bytes.get(..10).ok_or(MessageError::Truncated)?;
        if header[..4] != MAGIC {
            return Err(MessageError::BadMagic);
        }
        if header[4] != VERSION {
            return Err(MessageError::Version(header[4]));
        }
        let kind = header[5];
        let count = u32::from_le_bytes([header[6], header[7], header[8], header[9]]) as usize;
        if count > MAX_FIELDS {
            return Err(MessageError::Fields(count));
        }
        let mut fields: Vec<&[u8]> = Vec::with_capacity(count);
        let mut pos = 10;
        for _ in 0..count {
            let len_bytes = bytes.get(pos..pos + 8).ok_or(MessageError::Truncated)?;
            let len =
                u64::from_le_bytes(len_bytes.try_into().map_err(|_| MessageError::Truncated)?);
            let len = usize::try_from(len).map_err(|_| MessageError::Truncated)?;
            pos += 8;
            let end = pos.checked_add(len).ok_or(MessageError::Truncated)?;
            // Borrowed: only what the message keeps is copied, once.
            fields.push(bytes.get(pos..end).ok_or(MessageError::Truncated)?);
            pos = end;
        }
        if pos != bytes.len() {
            return Err(MessageError::Invalid("trailing bytes after the last field"));
        }
        let scalar = |f: &[u8]| -> Result<[u8; 8], MessageError> {
            f.try_into()
                .map_err(|_| MessageError::Invalid("scalar field must be 8 bytes"))
        };
        let expect = |n: usize| {
            if count == n {
                Ok(())
            } else {
                Err(MessageError::Fields(count))
            }
        };
        Ok(match kind {
            1 => {
                expect(3)?;
                let [task, params, eval_keys]: [&[u8]; 3] =
                    fields.try_into().map_err(|_| MessageError::Fields(count))?;
                let task = match task {
                    [t] => Task::from_u8(*t).ok_or(MessageError::Invalid("unknown task"))?,
                    _ => return Err(MessageError::Invalid("task field must be one byte")),
                };
                Message::Setup {
                    task,
                    params: params.to_vec(),
                    eval_keys: eval_keys.to_vec(),
                }
            }
            2 => {
                expect(1)?;
                Message::SetupAck {
                    key_memory_bytes: u64::from_le_bytes(scalar(fields[0])?),
                }
            }
            3 => Message::ClassifyRequest {
                inputs: fields.iter().map(|f| f.to_vec()).collect(),
            },
            4 => {
                expect(2)?;
                Message::ClassifyResponse {
                    logits: fields[0].to_vec(),
                    server_seconds: seconds_field(fields[1])?,
                }
            }
            5 => {
                expect(1)?;
                Message::Error {
                    message: String::from_utf8_lossy(fields[0]).into_owned(),
                }
            }
            6 => {
                expect(1)?;
                Message::DenoiseRequest {
                    tiles: unpack_list(fields[0])?,
                }
            }
            7 => {
                expect(3)?;
                Message::DenoiseMasked {
                    round: round_field(fields[0])?,
                    cts: unpack_list(fields[1])?,
                    server_seconds: seconds_field(fields[2])?,
                }
            }
            8 => {
                expect(2)?;
                Message::DenoiseActivations {
                    round: round_field(fields[0])?,
                    cts: unpack_list(fields[1])?,
                }
            }
            9 => {
                expect(2)?;
                Message::DenoiseResult {
                    tiles: unpack_list(fields[0])?,
                    server_seconds: seconds_field(fields[1])?,
                }
            }
            10 => Message::ClassifyMapRequest {
                inputs: fields.iter().map(|f| f.to_vec()).collect(),
            },
            11 => {
                expect(3)?;
                Message::ClassifyMapResponse {
                    logits: fields[0].to_vec(),
                    map: fields[1].to_vec(),
                    server_seconds: seconds_field(fields[2])?,
                }
            }
            k => return Err(MessageError::Kind(k)),
        })
    }
}

impl Message {
    /// The server's time carried by a `DenoiseMasked` or `DenoiseResult` message (its last
    /// field), read without decoding the ciphertexts; `None` for any other message. For
    /// progress reports only: `decode` still validates the whole message.
    pub fn peek_server_seconds(bytes: &[u8]) -> Option<f64> {
        let header = bytes.get(..10)?;
        if header[..4] != MAGIC || header[4] != VERSION || !matches!(header[5], 7 | 9) {
            return None;
        }
        let n = bytes.len();
        if n < 10 + 16 {
            return None;
        }
        let len = u64::from_le_bytes(bytes.get(n - 16..n - 8)?.try_into().ok()?);
        let v = f64::from_le_bytes(bytes.get(n - 8..)?.try_into().ok()?);
        (len == 8 && valid_seconds(v)).then_some(v)
    }
}

fn envelope(kind: u8, fields: &[Field]) -> Vec<u8> {
    let total: usize = 10 + fields.iter().map(|f| 8 + f.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
        f.write_to(&mut out);
    }
    debug_assert_eq!(out.len(), total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msgs = [
            Message::Setup {
                task: Task::ClassifyKidney,
                params: vec![1, 2, 3],
                eval_keys: vec![9; 100],
            },
            Message::SetupAck {
                key_memory_bytes: 12345,
            },
            Message::ClassifyRequest {
                inputs: vec![vec![1], vec![], vec![2, 3]],
            },
            Message::ClassifyResponse {
                logits: vec![7; 10],
                server_seconds: 1.25,
            },
            Message::ClassifyMapRequest {
                inputs: vec![vec![4], vec![5, 6]],
            },
            Message::ClassifyMapResponse {
                logits: vec![7; 10],
                map: vec![8; 12],
                server_seconds: 0.5,
            },
            Message::Error {
                message: "nope".into(),
            },
            Message::Setup {
                task: Task::DenoiseNonlinear,
                params: vec![4],
                eval_keys: vec![5; 7],
            },
            Message::DenoiseRequest {
                tiles: vec![vec![1, 2], vec![]],
            },
            Message::DenoiseMasked {
                round: 2,
                cts: vec![vec![3; 5]; 300],
                server_seconds: 0.5,
            },
            Message::DenoiseActivations {
                round: 2,
                cts: vec![vec![9]],
            },
            Message::DenoiseResult {
                tiles: vec![vec![8; 3]],
                server_seconds: 2.0,
            },
        ];
        for m in msgs {
            let bytes = m.encode();
            let seconds = match &m {
                Message::DenoiseMasked { server_seconds, .. }
                | Message::DenoiseResult { server_seconds, .. } => Some(*server_seconds),
                _ => None,
            };
            assert_eq!(Message::peek_server_seconds(&bytes), seconds);
            assert_eq!(Message::decode(&bytes).unwrap(), m);
        }
        for len in 0..30 {
            assert_eq!(Message::peek_server_seconds(&vec![7; len]), None);
        }
    }

    #[test]
    fn server_times_that_no_duration_can_hold_are_refused() {
        // A malicious server's +∞ crashed the denoising client (Duration::from_secs_f64);
        // found by the protocol_messages fuzzer (seed regression-server-seconds-out-of-range).
        for bad in [
            f64::INFINITY,
            f64::NAN,
            -1.0,
            1e300,
            MAX_SERVER_SECONDS * 2.0,
        ] {
            for m in [
                Message::ClassifyResponse {
                    logits: vec![1],
                    server_seconds: bad,
                },
                Message::DenoiseMasked {
                    round: 1,
                    cts: vec![vec![1]],
                    server_seconds: bad,
                },
                Message::DenoiseResult {
                    tiles: vec![vec![1]],
                    server_seconds: bad,
                },
            ] {
                let bytes = m.encode();
                assert!(
                    matches!(Message::decode(&bytes), Err(MessageError::Invalid(_))),
                    "{bad} accepted"
                );
                assert_eq!(Message::peek_server_seconds(&bytes), None);
            }
        }
    }

    /// The byte layout a list field has on the wire (written in place since session 16):
    /// envelope header, then each field as u64 length + bytes, a list as u32 count then
    /// (u64 length, bytes) per item.
    #[test]
    fn list_fields_keep_their_wire_layout() {
        let msg = Message::DenoiseActivations {
            round: 2,
            cts: vec![vec![1, 2], vec![3]],
        };
        let mut want = MAGIC.to_vec();
        want.extend([VERSION, 8]);
        want.extend(2u32.to_le_bytes());
        want.extend(8u64.to_le_bytes());
        want.extend(2u64.to_le_bytes());
        want.extend(23u64.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(2u64.to_le_bytes());
        want.extend([1, 2]);
        want.extend(1u64.to_le_bytes());
        want.push(3);
        assert_eq!(msg.encode(), want);
        assert_eq!(Message::decode(&want), Ok(msg));
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let good = Message::ClassifyResponse {
            logits: vec![7; 10],
            server_seconds: 1.0,
        }
        .encode();
        for len in 0..good.len() {
            assert!(Message::decode(&good[..len]).is_err(), "prefix {len}");
        }
        let mut bad = good.clone();
        bad[5] = 77;
        assert_eq!(Message::decode(&bad), Err(MessageError::Kind(77)));
        let mut bad = good.clone();
        bad[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Message::decode(&bad),
            Err(MessageError::Fields(u32::MAX as usize))
        );
        let mut bad = good;
        bad[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Message::decode(&bad).is_err());
    }
}
