//! The client's one error type: what failed (service and action), and why.

use std::fmt;
use std::time::Duration;

/// An error AWS (or a compatible endpoint) answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The service's display name: `EC2`, `STS`, `SSM`, `Secrets Manager`.
    pub service: &'static str,
    pub action: String,
    pub status: u16,
    /// AWS's error code, e.g. `InvalidAMIID.NotFound`, `ParameterNotFound`.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Everything the client can fail with.
#[derive(Debug)]
pub enum Error {
    /// The service answered with an error.
    Service(ServiceError),
    /// The request did not get an answer: connection refused or reset, DNS, TLS, or the
    /// per-request timeout.
    Http { service: &'static str, action: String, message: String, timed_out: bool },
    /// The answer could not be read (not the XML or JSON expected).
    Response { service: &'static str, action: String, message: String },
    /// No credentials could be found or obtained; says where it looked.
    Credentials(String),
    /// The configuration is wrong (region, endpoint, profile, shared files).
    Config(String),
    /// A waiter saw a state the resource cannot leave for the one waited for.
    WaitFailed { what: String, state: String, reason: Option<String> },
    /// A waiter gave up.
    WaitTimeout { what: String, after: Duration, last_state: String },
    /// The caller's cancellation fired.
    Cancelled,
}

impl Error {
    /// AWS's error code when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service(e) => Some(&e.code),
            _ => None,
        }
    }

    /// True for EC2's `*.NotFound` family and the JSON services' `*NotFound*` codes.
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| c.contains("NotFound"))
    }

    pub(crate) fn response(service: &'static str, action: &str, message: impl Into<String>) -> Error {
        Error::Response { service, action: action.to_string(), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Service(e) => {
                write!(f, "{} {}: {}: {} (HTTP {}", e.service, e.action, e.code, e.message, e.status)?;
                if let Some(id) = &e.request_id {
                    write!(f, ", request id {id}")?;
                }
                f.write_str(")")
            }
            Error::Http { service, action, message, .. } => write!(f, "{service} {action}: {message}"),
            Error::Response { service, action, message } => {
                write!(f, "{service} {action}: unexpected response: {message}")
            }
            Error::Credentials(m) => write!(f, "AWS credentials: {m}"),
            Error::Config(m) => write!(f, "AWS configuration: {m}"),
            Error::WaitFailed { what, state, reason } => {
                write!(f, "{what} reached state {state:?} instead")?;
                if let Some(r) = reason {
                    write!(f, ": {r}")?;
                }
                Ok(())
            }
            Error::WaitTimeout { what, after, last_state } => {
                write!(f, "gave up waiting for {what} after {}s (last state: {last_state})", after.as_secs())
            }
            Error::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
