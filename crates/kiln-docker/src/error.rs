//! One error type for everything the engine layer does.

use std::fmt;

/// What went wrong talking to the Docker Engine API (or podman's compatible service).
///
/// Every variant says which operation failed; the engine's own message is kept as it came.
#[derive(Debug)]
pub enum Error {
    /// `DOCKER_HOST` (or the host given) cannot be used.
    Host(String),
    /// The engine could not be reached or answered with an error.
    Engine {
        /// What kiln was doing, e.g. "committing container 3f2a…".
        action: String,
        /// The client's error, with the engine's message and HTTP status.
        source: bollard::errors::Error,
    },
    /// A local file or stream could not be read or written.
    Io {
        /// What kiln was doing.
        action: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An argument is not valid: a `run_command` flag, a change, a path.
    Invalid(String),
    /// The engine answered, but not what the operation needs (no image ID, a bad archive).
    Protocol(String),
}

impl Error {
    pub(crate) fn engine(action: impl Into<String>, source: bollard::errors::Error) -> Self {
        Error::Engine { action: action.into(), source }
    }

    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { action: action.into(), source }
    }

    /// The HTTP status the engine answered with, when it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Engine { source: bollard::errors::Error::DockerResponseServerError { status_code, .. }, .. } => {
                Some(*status_code)
            }
            _ => None,
        }
    }

    /// True when the engine said the object (container, image, exec, path) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Host(msg) | Error::Invalid(msg) | Error::Protocol(msg) => f.write_str(msg),
            Error::Engine { action, source } => match source {
                bollard::errors::Error::DockerResponseServerError { status_code, message } => {
                    write!(f, "{action}: the engine answered {status_code}: {message}")
                }
                bollard::errors::Error::RequestTimeoutError => {
                    write!(f, "{action}: the engine did not answer in time")
                }
                other => write!(f, "{action}: {other}"),
            },
            Error::Io { action, source } => write!(f, "{action}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Engine { source, .. } => Some(source),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
