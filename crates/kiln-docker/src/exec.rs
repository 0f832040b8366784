//! Running commands in a container: stdin piped in, stdout and stderr kept apart,
//! the exit code returned.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stream::CHUNK;

impl Engine {
    /// Runs `cmd` (argv, no shell) in a running container as `user` (the container's
    /// user when None) and returns its exit code.
    ///
    /// `stdin`, when given, is copied to the command's standard input, which is then
    /// closed; without it the command's stdin is empty. Output is copied as it comes,
    /// stdout and stderr each to its own writer (no TTY, so they stay apart).
    pub async fn exec<R, O, E>(
        &self,
        container: &str,
        cmd: &[String],
        user: Option<&str>,
        stdin: Option<R>,
        stdout: &mut O,
        stderr: &mut E,
    ) -> Result<i64>
    where
        R: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
        E: AsyncWrite + Unpin + Send,
    {
        let action = || format!("running {:?} in container {container}", cmd.join(" "));
        let options = CreateExecOptions::<String> {
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            cmd: Some(cmd.to_vec()),
            user: user.map(str::to_string),
            ..CreateExecOptions::default()
        };
        let exec_id = self.api.create_exec(container, options).await.map_err(|e| Error::engine(action(), e))?.id;
        let started = self
            .api
            .start_exec(&exec_id, Some(StartExecOptions { detach: false, tty: false, output_capacity: Some(CHUNK) }))
            .await
            .map_err(|e| Error::engine(action(), e))?;
        let StartExecResults::Attached { mut output, mut input } = started else {
            return Err(Error::Protocol(format!("{}: the engine detached the exec", action())));
        };

        // Feed stdin while draining output: a command may need its input read before
        // it writes more than a pipe buffer of output.
        let feed = async {
            if let Some(mut reader) = stdin {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = reader
                        .read(&mut buf)
                        .await
                        .map_err(|e| Error::io(format!("{}: reading stdin", action()), e))?;
                    if n == 0 {
                        break;
                    }
                    // A command that exits without reading all its input closes the
                    // stream; that is its business, not an error.
                    if input.write_all(&buf[..n]).await.is_err() {
                        return Ok(());
                    }
                }
            }
            // Half-close: the command sees end of input, output keeps flowing.
            let _ = input.shutdown().await;
            Ok::<(), Error>(())
        };
        let drain = async {
            while let Some(frame) = output.next().await {
                let frame = match frame {
                    Ok(f) => f,
                    // A command that exits with input still unread makes podman close
                    // the connection with a reset; what it wrote was read before.
                    // Whether it really ended is up to the exit-code check below.
                    Err(bollard::errors::Error::IOError { err })
                        if err.kind() == std::io::ErrorKind::ConnectionReset =>
                    {
                        break
                    }
                    Err(e) => return Err(Error::engine(action(), e)),
                };
                let (writer, bytes): (&mut (dyn AsyncWrite + Unpin + Send), _) = match frame {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => (&mut *stdout, message),
                    LogOutput::StdErr { message } => (&mut *stderr, message),
                    LogOutput::StdIn { .. } => continue,
                };
                writer
                    .write_all(&bytes)
                    .await
                    .map_err(|e| Error::io(format!("{}: writing its output", action()), e))?;
            }
            stdout.flush().await.ok();
            stderr.flush().await.ok();
            Ok::<(), Error>(())
        };
        tokio::pin!(feed);
        tokio::pin!(drain);
        let mut fed = false;
        loop {
            tokio::select! {
                r = &mut feed, if !fed => { r?; fed = true; }
                r = &mut drain => { r?; break; }
            }
        }
        self.exit_code(&exec_id, &action()).await
    }

    /// The exit code of a finished exec. The output stream can end a moment before the
    /// engine records the exit (podman), so this waits for `Running` to turn false.
    async fn exit_code(&self, exec_id: &str, action: &str) -> Result<i64> {
        let mut delay = Duration::from_millis(5);
        for _ in 0..200 {
            let info = self.api.inspect_exec(exec_id).await.map_err(|e| Error::engine(action, e))?;
            if info.running != Some(true) {
                if let Some(code) = info.exit_code {
                    return Ok(code);
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
        Err(Error::Protocol(format!("{action}: the output ended but the engine still reports the command as running")))
    }
}
