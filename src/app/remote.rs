//! Where the encrypted steps run (issue 17): the built-in server thread of this process (the
//! default, no setup), or a remote `privact serve` at an HTTPS URL trusted by the SHA-256
//! fingerprint of its certificate. The choice is a preference (`prefs::ServerPref`: URL and
//! fingerprint only); the connection state is runtime (`Connection`).

use super::prefs::ServerPref;
use crate::protocol::ProtocolError;
use crate::protocol::transport::http_client::{self, Endpoint};
use crate::protocol::transport::tls::{Trust, parse_fingerprint};

/// The server a job's sessions talk to. Sessions made for one target are dropped when the
/// target changes, so keys are never uploaded to a server the user did not choose.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ServerTarget {
    #[default]
    Builtin,
    Remote {
        url: String,
        fingerprint: String,
    },
}

impl ServerTarget {
    pub fn from_pref(p: &ServerPref) -> Self {
        if p.remote {
            ServerTarget::Remote {
                url: p.url.trim().to_string(),
                fingerprint: p.fingerprint.trim().to_string(),
            }
        } else {
            ServerTarget::Builtin
        }
    }

    /// The HTTPS endpoint of a remote target (`None` for the built-in worker), or one line
    /// saying what is wrong with the URL or the fingerprint.
    pub fn endpoint(&self) -> Result<Option<Endpoint>, ProtocolError> {
        match self {
            ServerTarget::Builtin => Ok(None),
            ServerTarget::Remote { url, fingerprint } => {
                if url.is_empty() {
                    return Err(ProtocolError::Network(
                        "no server URL: enter https://host:port".into(),
                    ));
                }
                let trust = if fingerprint.is_empty() {
                    None
                } else {
                    Some(Trust::Fingerprint(parse_fingerprint(fingerprint).map_err(
                        |e| ProtocolError::Network(format!("server fingerprint: {e}")),
                    )?))
                };
                Endpoint::new(url, trust).map(Some)
            }
        }
    }
}

/// What the app knows about the connection to the chosen server.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Connection {
    /// The built-in worker: always there.
    #[default]
    Builtin,
    /// A remote server not contacted yet (or its setting changed since).
    Unchecked,
    Checking,
    /// `/healthz` answered over the pinned TLS connection in this many seconds.
    Reachable(f64),
    /// A session's keys are on the server and the last request succeeded.
    InUse,
    /// The last check or request failed; the text says why.
    Failed(String),
}

/// Checks a target off the UI thread (`Worker::spawn_io`): the health round trip in seconds.
pub fn check(target: &ServerTarget) -> Result<f64, String> {
    match target.endpoint().map_err(|e| e.to_string())? {
        None => Ok(0.0),
        Some(ep) => http_client::health(&ep)
            .map(|d| d.as_secs_f64())
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_targets_need_https_and_a_well_formed_fingerprint() {
        let remote = |url: &str, fp: &str| ServerTarget::Remote {
            url: url.into(),
            fingerprint: fp.into(),
        };
        assert!(ServerTarget::Builtin.endpoint().unwrap().is_none());
        let fp = "ab".repeat(32);
        let ep = remote("https://10.0.0.5:8443/", &fp)
            .endpoint()
            .unwrap()
            .unwrap();
        assert_eq!(ep.base, "https://10.0.0.5:8443");
        for (url, fp, says) in [
            ("", fp.as_str(), "no server URL"),
            ("https://10.0.0.5:8443", "", "fingerprint"),
            ("https://10.0.0.5:8443", "abcd", "fingerprint"),
            ("http://10.0.0.5:8080", "", "loopback"),
        ] {
            let e = remote(url, fp).endpoint().unwrap_err().to_string();
            assert!(e.contains(says), "{url} {fp}: {e}");
        }
        // Plain HTTP is fine on loopback (demos), without a fingerprint.
        assert!(remote("http://127.0.0.1:8080", "").endpoint().is_ok());
    }

    #[test]
    fn an_unreachable_server_is_reported_not_hung() {
        // Port 9 on loopback: nothing listens, the connection is refused at once.
        let e = check(&ServerTarget::Remote {
            url: "http://127.0.0.1:9".into(),
            fingerprint: String::new(),
        })
        .unwrap_err();
        assert!(e.contains("127.0.0.1:9"), "{e}");
    }
}
