//! What went wrong on the wire, in words: [`TransportErrorKind`], and the classification of
//! a backend's error chain into one, shared by both transports so that both clients say
//! the same thing for the same failure.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// The cause of an [`Error::Transport`](crate::Error::Transport).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name could not be resolved.
    Dns,
    /// The server refused the connection (nothing listens on that port).
    ConnectionRefused,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// The connection could not be opened for another reason (network unreachable, ...).
    Connect,
    /// The server took longer to answer than the response timeout (or, during a wait,
    /// than the time left before the wait's deadline).
    Timeout,
    /// The TLS handshake failed; `reason` says why in a few words.
    Tls {
        /// `certificate not trusted`, `certificate expired`, ...
        reason: String,
    },
    /// The connection was closed or reset before the answer was complete.
    ConnectionClosed,
    /// The body ended before the length its `Content-Length` announced, or went past it.
    Truncated {
        /// Bytes received.
        received: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// The answer was larger than the SDK reads into memory.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A download link redirected more times than the SDK follows (10).
    TooManyRedirects,
    /// Something else failed; the error's `source()` has the backend's details.
    Other,
}

impl TransportErrorKind {
    /// Whether the same request may succeed if sent again (see
    /// [`Error::is_retryable`](crate::Error::is_retryable)): connection
    /// failures and timeouts, not TLS failures, bodies over the limit or not matching their
    /// announced length, nor failures nobody could name.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportErrorKind::Dns
            | TransportErrorKind::ConnectionRefused
            | TransportErrorKind::ConnectTimeout
            | TransportErrorKind::Connect
            | TransportErrorKind::Timeout
            | TransportErrorKind::ConnectionClosed => true,
            TransportErrorKind::Tls { .. }
            | TransportErrorKind::Truncated { .. }
            | TransportErrorKind::BodyTooLarge { .. }
            | TransportErrorKind::TooManyRedirects
            | TransportErrorKind::Other => false,
        }
    }
}

/// The statuses a retry can heal: the answer half of the one table of what is retryable
/// (the transport half is [`TransportErrorKind::is_retryable`]), which the retry policy,
/// the wait's poll retries and [`Error::is_retryable`](crate::Error::is_retryable) all ask.
///
/// | failure | retryable |
/// |---|---|
/// | no connection: DNS, refused, connect timeout, unreachable | yes |
/// | no answer in time; connection closed before the answer was whole | yes |
/// | TLS failure; an answer over the size limit or not its announced length; too many redirects; anything unnamed | no |
/// | HTTP 425, 429, 500, 502, 503, 504 | yes |
/// | any other status (408 from `output` means the run timed out: final) | no |
/// | input, decode, file system, configuration, a run's own end | no |
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 425 | 429 | 500 | 502 | 503 | 504)
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportErrorKind::Dns => f.write_str("could not resolve the host name"),
            TransportErrorKind::ConnectionRefused => f.write_str("connection refused"),
            TransportErrorKind::ConnectTimeout => f.write_str("timed out connecting"),
            TransportErrorKind::Connect => f.write_str("could not connect"),
            TransportErrorKind::Timeout => f.write_str("timed out waiting for the response"),
            TransportErrorKind::Tls { reason } => write!(f, "TLS: {reason}"),
            TransportErrorKind::ConnectionClosed => {
                f.write_str("connection closed before the answer was complete")
            }
            TransportErrorKind::Truncated { received, expected } if received < expected => {
                write!(
                    f,
                    "connection closed after {} of {} bytes",
                    thousands(*received),
                    thousands(*expected)
                )
            }
            TransportErrorKind::Truncated { received, expected } => write!(
                f,
                "received {} bytes where {} were announced",
                thousands(*received),
                thousands(*expected)
            ),
            TransportErrorKind::BodyTooLarge { limit } => {
                write!(f, "answer larger than {} bytes", thousands(*limit))
            }
            TransportErrorKind::TooManyRedirects => f.write_str("too many redirects"),
            TransportErrorKind::Other => f.write_str("connection error"),
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Finds the cause of a backend error by walking its `source()` chain: I/O error kinds,
/// rustls errors, and resolver messages. `None` when nothing in the chain is recognised.
pub(crate) fn classify_chain(error: &(dyn StdError + 'static)) -> Option<TransportErrorKind> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(TransportErrorKind::Tls {
                reason: tls_reason(tls),
            });
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            // An io::Error may wrap the real cause (rustls errors travel inside one).
            if let Some(inner) = io.get_ref()
                && let Some(kind) = classify_chain(inner)
            {
                return Some(kind);
            }
            if let Some(kind) = io_kind(io.kind()) {
                return Some(kind);
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some(TransportErrorKind::Dns);
        }
        next = e.source();
    }
    None
}

fn io_kind(kind: io::ErrorKind) -> Option<TransportErrorKind> {
    use io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => TransportErrorKind::ConnectionRefused,
        K::TimedOut | K::WouldBlock => TransportErrorKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            TransportErrorKind::ConnectionClosed
        }
        K::NetworkUnreachable | K::HostUnreachable | K::AddrNotAvailable => {
            TransportErrorKind::Connect
        }
        _ => return None,
    })
}

fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "certificate not trusted".into(),
            C::Expired | C::ExpiredContext { .. } => "certificate expired".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate not valid for this host name".into()
            }
            C::Revoked => "certificate revoked".into(),
            C::BadSignature => "certificate has a bad signature".into(),
            _ => "certificate rejected".into(),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        _ => "handshake failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_like_numbers() {
        let k = TransportErrorKind::Truncated {
            received: 1234,
            expected: 5000,
        };
        assert_eq!(
            k.to_string(),
            "connection closed after 1,234 of 5,000 bytes"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn causes_are_found_down_the_chain() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            classify_chain(&refused),
            Some(TransportErrorKind::ConnectionRefused)
        );
        let tls = io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            classify_chain(&tls),
            Some(TransportErrorKind::Tls {
                reason: "certificate not trusted".into()
            })
        );
    }
}
