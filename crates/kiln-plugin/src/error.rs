//! One error type for everything that can go wrong with a plugin, worded for the person running
//! the build: which binary, what happened, and the last lines it logged when that helps.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The binary could not be started at all.
    Start,
    /// The plugin did not print a valid handshake line.
    Handshake,
    /// The plugin did not answer in time.
    Timeout,
    /// The plugin process exited or closed its connection.
    Exited,
    /// The plugin sent something kiln does not understand.
    Protocol,
    /// The plugin answered with an error of its own (its text is the message).
    Remote,
    /// The caller cancelled the operation.
    Cancelled,
}

/// A plugin failure.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    plugin: Option<String>,
    log_tail: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), plugin: None, log_tail: Vec::new() }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn remote(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Remote, message)
    }

    pub(crate) fn exited(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Exited, message)
    }

    /// Names the plugin binary (once: the innermost name wins).
    pub(crate) fn with_plugin(mut self, plugin: &str) -> Self {
        if self.plugin.is_none() {
            self.plugin = Some(plugin.to_string());
        }
        self
    }

    pub(crate) fn with_log_tail(mut self, lines: Vec<String>) -> Self {
        if self.log_tail.is_empty() {
            self.log_tail = lines;
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message alone, without the plugin's name or log lines (for a `Remote` error this is
    /// exactly what the plugin said).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The plugin's last log lines captured when the error happened.
    pub fn log_tail(&self) -> &[String] {
        &self.log_tail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.plugin {
            Some(p) => write!(f, "plugin {p}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if !self.log_tail.is_empty() {
            write!(f, "\nlast lines of its log:")?;
            for line in &self.log_tail {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
