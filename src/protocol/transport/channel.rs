//! The in-memory duplex byte channel. Its far end is either a server thread in this process
//! or the HTTP client's forwarding thread (`http_client`), so a session does not know which.

use super::Transport;
use crate::protocol::ProtocolError;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the far end went away, when it can say (a network error of the HTTP forwarder).
pub type FailureSlot = Arc<Mutex<Option<String>>>;

/// One end of an in-memory duplex byte channel.
pub struct ChannelTransport {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    sent: u64,
    received: u64,
    failure: Option<FailureSlot>,
}

/// Starts a byte server on its own thread named `name`: `make` builds the handler there,
/// and every message that arrives gets the handler's reply, until the returned client end is
/// dropped. What the app's worker and the CLI use as their in-process server.
pub fn serve_in_thread<H>(
    name: &str,
    make: impl FnOnce() -> H + Send + 'static,
) -> Result<(ChannelTransport, std::thread::JoinHandle<()>), ProtocolError>
where
    H: FnMut(&[u8]) -> Vec<u8>,
{
    let (client_end, mut server_end) = channel_pair();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut handle = make();
            while let Ok(request) = server_end.recv() {
                if server_end.send(handle(&request)).is_err() {
                    break;
                }
            }
        })
        .map_err(|_| ProtocolError::Closed)?;
    Ok((client_end, thread))
}

/// Two connected ends (client side, server side).
pub fn channel_pair() -> (ChannelTransport, ChannelTransport) {
    let (a_tx, b_rx) = crossbeam_channel::unbounded();
    let (b_tx, a_rx) = crossbeam_channel::unbounded();
    let end = |tx, rx| ChannelTransport {
        tx,
        rx,
        sent: 0,
        received: 0,
        failure: None,
    };
    (end(a_tx, a_rx), end(b_tx, b_rx))
}

impl ChannelTransport {
    /// This end reports the far end's recorded failure instead of a bare "closed".
    pub fn with_failure_slot(mut self, slot: FailureSlot) -> Self {
        self.failure = Some(slot);
        self
    }

    fn closed(&self) -> ProtocolError {
        let reason = self
            .failure
            .as_ref()
            .and_then(|s| s.lock().ok().and_then(|g| g.clone()));
        match reason {
            Some(r) => ProtocolError::Network(r),
            None => ProtocolError::Closed,
        }
    }

    /// Waits at most `timeout` for a message: `Ok(None)` if none arrived yet (so a caller can
    /// check for cancellation while the other end computes).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, ProtocolError> {
        match self.rx.recv_timeout(timeout) {
            Ok(bytes) => {
                self.received += bytes.len() as u64;
                Ok(Some(bytes))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.closed()),
        }
    }
}

impl Transport for ChannelTransport {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), ProtocolError> {
        self.sent += bytes.len() as u64;
        self.tx.send(bytes).map_err(|_| self.closed())
    }
    fn recv(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let bytes = self.rx.recv().map_err(|_| self.closed())?;
        self.received += bytes.len() as u64;
        Ok(bytes)
    }
    fn bytes_sent(&self) -> u64 {
        self.sent
    }
    fn bytes_received(&self) -> u64 {
        self.received
    }
}
