//! A whole protocol run inside one process: the server runs on its own thread behind a byte
//! channel, exactly as it would behind a socket. Used by the app's worker and the CLI.

use super::ProtocolError;
use super::client::{Classification, ClassifierClient};
use super::ledger::{Ledger, Side};
use super::messages::Message;
use super::server::Server;
use super::transport::{Transport, channel_pair};
use crate::model::classifier::he::ApproxParams;
use std::time::Instant;

/// Where a run is; reported before each step starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Keys,
    EncodeEncrypt,
    Send,
    Evaluate,
    Receive,
    Decrypt,
}

pub struct ClassificationRun {
    pub result: Classification,
    pub ledger: Ledger,
    /// Bytes the server holds for this session's evaluation keys.
    pub server_key_memory: u64,
}

/// Encrypts `image` (preprocessed 256×256), lets a server thread classify it, decrypts.
pub fn classify_in_process(
    image: &[f32],
    weights: ApproxParams,
    mut progress: impl FnMut(Stage),
) -> Result<ClassificationRun, ProtocolError> {
    let (mut client_end, mut server_end) = channel_pair();
    let server = std::thread::spawn(move || {
        let mut server = Server::new(weights);
        while let Ok(request) = server_end.recv() {
            if server_end.send(server.handle(&request)).is_err() {
                break;
            }
        }
    });
    let outcome = (|| {
        progress(Stage::Keys);
        let mut client = ClassifierClient::new("depth7-n14")?;
        let setup = client.setup_message();
        let t = Instant::now();
        client_end.send(setup)?;
        let ack = client_end.recv()?;
        let server_key_memory = match Message::decode(&ack)? {
            Message::SetupAck { key_memory_bytes } => key_memory_bytes,
            Message::Error { message } => return Err(ProtocolError::Refused(message)),
            other => {
                return Err(ProtocolError::Unexpected {
                    expected: "SetupAck",
                    found: other.kind_name(),
                });
            }
        };
        client
            .ledger
            .record("Server prepares model", Side::Server, t.elapsed(), 0);
        progress(Stage::EncodeEncrypt);
        let request = client.encrypt_image(image)?;
        progress(Stage::Send);
        let sent = request.len();
        let t = Instant::now();
        client_end.send(request)?;
        progress(Stage::Evaluate);
        let response = client_end.recv()?;
        let round_trip = t.elapsed();
        progress(Stage::Receive);
        client
            .ledger
            .record("Send", Side::Wire, std::time::Duration::ZERO, sent);
        client
            .ledger
            .record("Round trip", Side::Wire, round_trip, response.len());
        progress(Stage::Decrypt);
        let result = client.decrypt_response(&response)?;
        Ok(ClassificationRun {
            result,
            ledger: client.ledger,
            server_key_memory,
        })
    })();
    drop(client_end);
    let _ = server.join();
    outcome
}
