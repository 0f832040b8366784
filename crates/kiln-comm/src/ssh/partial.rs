//! A file an upload is writing on the machine: removed when the upload fails (the error says
//! so) or is cancelled (a task removes it; `Communicator::stop_cancelled` reports it), so a
//! half-written file never stays behind looking like a complete one.

use std::sync::Arc;

use kiln_core::Error;
use russh_sftp::client::SftpSession;
use tokio::sync::Mutex;

use super::command::{Pending, Stopped};
use super::Conn;
use crate::shell_quote as quote;

/// How long removing a partial file may take (the machine may be going away).
const REMOVE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) struct Partial {
    path: String,
    sftp: Option<Arc<SftpSession>>,
    conn: Arc<Mutex<Conn>>,
    pending: Pending,
    armed: bool,
}

impl Partial {
    pub fn new(path: &str, sftp: Option<Arc<SftpSession>>, conn: Arc<Mutex<Conn>>, pending: Pending) -> Partial {
        Partial { path: path.to_string(), sftp, conn, pending, armed: true }
    }

    /// The upload completed: the file stays.
    pub fn done(&mut self) {
        self.armed = false;
    }

    /// The upload failed with `e`: removes the partial file and says so in the error.
    pub async fn remove_now(mut self, e: Error) -> Error {
        self.armed = false;
        let path = self.path.clone();
        match remove(self.sftp.take(), Arc::clone(&self.conn), &path).await {
            Ok(()) => Error::new(format!("{e}; the partial file {path} was removed from the machine")),
            Err(why) => Error::new(format!("{e}; the partial file {path} may remain on the machine ({why})")),
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Cancelled mid-upload (the future was dropped): remove it in the background.
        let (sftp, conn, path) = (self.sftp.take(), Arc::clone(&self.conn), self.path.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let task = rt.spawn(async move {
            let removed = remove(sftp, conn, &path).await;
            Stopped::PartialUpload { path, removed }
        });
        if let Ok(mut p) = self.pending.lock() {
            p.push(task);
        }
    }
}

/// Removes `path` over SFTP as `rm -f` would: a file that is not there is no error.
pub(super) async fn sftp_remove(sftp: &SftpSession, path: &str) -> Result<(), String> {
    match sftp.remove_file(path).await {
        Ok(()) => Ok(()),
        // Never created (or already gone): nothing to remove.
        Err(russh_sftp::client::error::Error::Status(s))
            if s.status_code == russh_sftp::protocol::StatusCode::NoSuchFile =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Removes `path` over SFTP when the upload used it, else with `rm -f` on a fresh channel.
async fn remove(sftp: Option<Arc<SftpSession>>, conn: Arc<Mutex<Conn>>, path: &str) -> Result<(), String> {
    let work = async {
        if let Some(sftp) = sftp {
            return sftp_remove(&sftp, path).await;
        }
        let ch = conn.lock().await.0.channel_open_session().await.map_err(|e| e.to_string())?;
        ch.exec(true, format!("rm -f {}", quote(path))).await.map_err(|e| e.to_string())?;
        let mut ch = ch;
        let mut status = None;
        while let Some(msg) = ch.wait().await {
            if let russh::ChannelMsg::ExitStatus { exit_status } = msg {
                status = Some(exit_status);
            }
        }
        match status {
            Some(0) => Ok(()),
            other => Err(format!("rm -f exited with {other:?}")),
        }
    };
    tokio::time::timeout(REMOVE_WAIT, work).await.unwrap_or_else(|_| Err("no answer in 10s".into()))
}
