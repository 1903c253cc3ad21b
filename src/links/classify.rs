//! What a failed request means, read from its error's chain of causes.
//!
//! reqwest's own error says little ("error sending request"); the cause that tells a
//! refused connection from a reset one, or a bad certificate from a timeout, sits several
//! layers down (hyper, an `io::Error`, rustls). An `io::Error`'s `source()` skips the
//! error it wraps, so the walk below also looks inside with `get_ref()`.

use std::error::Error;
use std::io;

use super::LinkClass;

/// A name that could not be turned into an address a request may go to. Produced by the
/// checker's resolver, so it is also found inside reqwest's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ResolveError {
    /// [`LinkClass::Dns`] or [`LinkClass::Blocked`].
    pub class: LinkClass,
    pub detail: String,
}

/// A request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: LinkClass,
    /// What happened, in a few words.
    pub detail: String,
    /// The error's chain of causes, on one line (empty when there is no error value).
    pub causes: String,
    /// Worth retrying after a wait: a timeout, a reset or closed connection.
    pub transient: bool,
    /// May depend on the method (some servers hang or drop the connection on HEAD), so a
    /// HEAD failing this way is retried as a GET. Failures before the request was sent
    /// (name, address, refused connection, certificate) are not.
    pub method_specific: bool,
}

/// Classifies a reqwest error.
pub fn classify(e: &reqwest::Error) -> Failure {
    let mut failure = classify_chain(e).unwrap_or_else(|| {
        let class = if e.is_timeout() {
            LinkClass::Timeout
        } else {
            LinkClass::Connect
        };
        Failure {
            class,
            detail: String::new(),
            causes: String::new(),
            transient: class == LinkClass::Timeout,
            method_specific: class == LinkClass::Timeout,
        }
    });
    if e.is_connect() {
        // Nothing was sent yet: HEAD or GET makes no difference.
        failure.method_specific = false;
    }
    if failure.class == LinkClass::Timeout && failure.detail.is_empty() {
        failure.detail = if e.is_connect() {
            "no connection within the connect timeout".into()
        } else {
            "no answer within the timeout".into()
        };
    }
    if failure.class == LinkClass::Connect && failure.detail.is_empty() {
        failure.detail = "the request failed".into();
    }
    failure.causes = chain(e);
    failure
}

impl Failure {
    /// The detail with its causes, for the result's last words.
    pub fn full(&self) -> String {
        if self.causes.is_empty() {
            self.detail.clone()
        } else {
            format!("{} ({})", self.detail, self.causes)
        }
    }
}

/// The first cause in `err`'s chain that says what happened, if any.
pub fn classify_chain(err: &(dyn Error + 'static)) -> Option<Failure> {
    let mut found = None;
    walk(err, &mut |e| {
        if found.is_none() {
            found = cause(e);
        }
    });
    found
}

fn walk(err: &(dyn Error + 'static), visit: &mut dyn FnMut(&(dyn Error + 'static))) {
    visit(err);
    if let Some(io) = err.downcast_ref::<io::Error>() {
        if let Some(inner) = io.get_ref() {
            walk(inner, visit);
        }
    } else if let Some(next) = err.source() {
        walk(next, visit);
    }
}

fn failure(class: LinkClass, detail: &str, transient: bool, method_specific: bool) -> Failure {
    Failure {
        class,
        detail: detail.to_string(),
        causes: String::new(),
        transient,
        method_specific,
    }
}

fn cause(e: &(dyn Error + 'static)) -> Option<Failure> {
    if let Some(r) = e.downcast_ref::<ResolveError>() {
        return Some(failure(r.class, &r.detail, false, false));
    }
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(failure(LinkClass::Tls, &tls_detail(tls), false, false));
    }
    if let Some(h) = e.downcast_ref::<hyper::Error>() {
        if h.is_timeout() {
            return Some(failure(LinkClass::Timeout, "", true, true));
        }
        if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
            return Some(failure(
                LinkClass::Connect,
                "the connection was closed before an answer",
                true,
                true,
            ));
        }
    }
    if let Some(io) = e.downcast_ref::<io::Error>() {
        use io::ErrorKind as K;
        return match io.kind() {
            K::TimedOut => Some(failure(LinkClass::Timeout, "", true, true)),
            K::ConnectionRefused => Some(failure(
                LinkClass::Connect,
                "the connection was refused",
                false,
                false,
            )),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => Some(
                failure(LinkClass::Connect, "the connection was reset", true, true),
            ),
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => Some(failure(
                LinkClass::Connect,
                "the host cannot be reached",
                false,
                false,
            )),
            _ => None,
        };
    }
    None
}

fn tls_detail(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "the TLS certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the TLS certificate is not valid yet".into()
            }
            C::UnknownIssuer => {
                "the TLS certificate is not issued by a trusted authority (self-signed?)".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the TLS certificate is for another name".into()
            }
            C::Revoked => "the TLS certificate is revoked".into(),
            other => format!("the TLS certificate is not valid: {other:?}"),
        },
        other => format!("the TLS handshake failed: {other}"),
    }
}

/// An error and its causes on one line, each said once.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    walk(e, &mut |e| {
        let text = e.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that wraps another, as reqwest and hyper-util do.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Wrap(&'static str, #[source] Box<dyn Error + Send + Sync>);

    fn wrapped(inner: impl Error + Send + Sync + 'static) -> Wrap {
        Wrap(
            "error sending request",
            Box::new(Wrap("client error (Connect)", Box::new(inner))),
        )
    }

    #[test]
    fn certificate_errors_behind_an_io_error_are_tls() {
        let cert = |c| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(c),
            )
        };
        let f = classify_chain(&wrapped(cert(rustls::CertificateError::Expired))).unwrap();
        assert_eq!(f.class, LinkClass::Tls);
        assert!(f.detail.contains("expired"), "{}", f.detail);
        assert!(!f.transient && !f.method_specific);
        let f = classify_chain(&wrapped(cert(rustls::CertificateError::UnknownIssuer))).unwrap();
        assert!(f.detail.contains("self-signed"), "{}", f.detail);
        let f = classify_chain(&wrapped(rustls::Error::DecryptError)).unwrap();
        assert_eq!(f.class, LinkClass::Tls);
    }

    #[test]
    fn socket_errors_are_told_apart() {
        let of = |kind| classify_chain(&wrapped(io::Error::from(kind))).unwrap();
        let refused = of(io::ErrorKind::ConnectionRefused);
        assert_eq!(refused.class, LinkClass::Connect);
        assert!(!refused.transient);
        let reset = of(io::ErrorKind::ConnectionReset);
        assert_eq!(reset.class, LinkClass::Connect);
        assert!(reset.transient && reset.method_specific);
        let timeout = of(io::ErrorKind::TimedOut);
        assert_eq!(timeout.class, LinkClass::Timeout);
        assert!(timeout.transient);
        assert!(classify_chain(&wrapped(io::Error::other("something else"))).is_none());
    }

    #[test]
    fn resolver_refusals_keep_their_class() {
        let e = wrapped(ResolveError {
            class: LinkClass::Blocked,
            detail: "localhost resolves only to loopback addresses".into(),
        });
        let f = classify_chain(&e).unwrap();
        assert_eq!(f.class, LinkClass::Blocked);
        assert!(!f.transient);
        let text = chain(&e);
        assert_eq!(
            text,
            "error sending request: client error (Connect): localhost resolves only to loopback addresses"
        );
    }
}
