//! Fuzzes the protocol envelope and the server's request handler: arbitrary bytes must give a
//! decoded message or an error reply, never a panic. Run: see SECURITY.md ("Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;
use privact::model::classifier::he::ApproxParams;
use privact::protocol::Message;
use privact::protocol::server::Server;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        assert_eq!(Message::decode(&m.encode()).ok(), Some(m));
    }
    let mut server = Server::new(vec![ApproxParams::synthetic(1)]);
    let reply = server.handle(data);
    assert!(Message::decode(&reply).is_ok(), "the server always answers with a valid message");
});
