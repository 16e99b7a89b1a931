//! Byte transports. The in-process pair stands in for a network socket: both ends only ever
//! exchange `Vec<u8>`, and both count what they move.

use super::ProtocolError;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

pub trait Transport {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), ProtocolError>;
    fn recv(&mut self) -> Result<Vec<u8>, ProtocolError>;
    fn bytes_sent(&self) -> u64;
    fn bytes_received(&self) -> u64;
}

/// One end of an in-memory duplex byte channel.
pub struct ChannelTransport {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    sent: u64,
    received: u64,
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
    };
    (end(a_tx, a_rx), end(b_tx, b_rx))
}

impl ChannelTransport {
    /// Waits at most `timeout` for a message: `Ok(None)` if none arrived yet (so a caller can
    /// check for cancellation while the other end computes).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, ProtocolError> {
        match self.rx.recv_timeout(timeout) {
            Ok(bytes) => {
                self.received += bytes.len() as u64;
                Ok(Some(bytes))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ProtocolError::Closed),
        }
    }
}

impl Transport for ChannelTransport {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), ProtocolError> {
        self.sent += bytes.len() as u64;
        self.tx.send(bytes).map_err(|_| ProtocolError::Closed)
    }
    fn recv(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let bytes = self.rx.recv().map_err(|_| ProtocolError::Closed)?;
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
