//! Byte transports. A session exchanges `Vec<u8>` messages with its server over a
//! [`ChannelTransport`]; the far end is a server thread in this process (`channel`) or the
//! HTTP client (`http_client`) that forwards each message to `privact serve` (`http_server`)
//! over TLS. Both ends count what they move.

pub mod channel;
pub mod http_client;
pub mod http_server;
pub mod tls;

pub use channel::{ChannelTransport, channel_pair, serve_in_thread};

pub trait Transport {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), super::ProtocolError>;
    fn recv(&mut self) -> Result<Vec<u8>, super::ProtocolError>;
    fn bytes_sent(&self) -> u64;
    fn bytes_received(&self) -> u64;
}
