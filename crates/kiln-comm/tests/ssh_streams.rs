//! The ssh communicator's stream-level operations against a real OpenSSH sshd on 127.0.0.1:
//! stdin piped in while output streams out, stdout and stderr kept apart byte for byte, exit
//! statuses, uploads from any reader with their mode, downloads into any writer.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use kiln_core::{Communicator, ExecIo, UploadMeta};
use kiln_testing::sshd::sshd_or_skip;
use support::ssh_config;
use tokio::io::{AsyncRead, ReadBuf};

fn quiet(_: &str) {}

/// A reader that makes `len` bytes up as it goes (no file, no buffer of the whole).
struct Generated {
    left: usize,
    next: u8,
}

impl AsyncRead for Generated {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = self.left.min(buf.remaining()).min(7919);
        for _ in 0..n {
            let b = self.next;
            buf.put_slice(&[b]);
            self.next = self.next.wrapping_mul(31).wrapping_add(7);
        }
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

fn generated_bytes(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut next = 1u8;
    for _ in 0..len {
        v.push(next);
        next = next.wrapping_mul(31).wrapping_add(7);
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_piped_and_output_comes_back_raw() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();

    // 1 MiB through cat: more than the SSH windows, so input and output must flow at once.
    let size = 1 << 20;
    let mut input = Generated { left: size, next: 1 };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let io = ExecIo::new(&mut out, &mut err).with_stdin(&mut input);
    let code = tokio::time::timeout(Duration::from_secs(60), comm.exec("cat; echo done >&2", io)).await.unwrap();
    assert_eq!(code.unwrap(), Some(0));
    assert_eq!(out.len(), size);
    assert!(out == generated_bytes(size), "the bytes came back changed");
    assert_eq!(err, b"done\n", "stderr holds only what the command wrote there (no marker)");

    // Bytes as they are: no line splitting, no trailing newline added; the exit status.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let io = ExecIo::new(&mut out, &mut err);
    let code = comm.exec("printf 'a\\r\\nb'; printf 'e1\\ne2' >&2; exit 42", io).await.unwrap();
    assert_eq!(code, Some(42));
    assert_eq!(out, b"a\r\nb");
    assert_eq!(err, b"e1\ne2");

    // Without stdin, a command reading it sees its end at once.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let io = ExecIo::new(&mut out, &mut err);
    let code = tokio::time::timeout(Duration::from_secs(20), comm.exec("wc -c", io)).await.unwrap().unwrap();
    assert_eq!((code, String::from_utf8_lossy(&out).trim()), (Some(0), "0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_from_a_reader_keep_the_mode_over_sftp_and_scp() {
    let Some(sshd) = sshd_or_skip() else { return };
    for method in ["sftp", "scp"] {
        let mut c = ssh_config(&sshd);
        c.ssh_file_transfer_method = Some(method.into());
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
        let target = sshd.dir.join(format!("generated-{method}.bin"));
        let size = 300_000;
        let mut src = Generated { left: size, next: 1 };
        let meta = UploadMeta { mode: Some(0o750), ..UploadMeta::default() };
        comm.upload(&target.to_string_lossy(), &mut src, meta).await.unwrap();
        assert!(std::fs::read(&target).unwrap() == generated_bytes(size), "{method}: content");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750, "{method}: mode");

        let mut back = Vec::new();
        comm.download(&target.to_string_lossy(), &mut back).await.unwrap();
        assert!(back == generated_bytes(size), "{method}: download");
        let missing = sshd.dir.join("no-such-file");
        assert!(comm.download(&missing.to_string_lossy(), &mut Vec::new()).await.is_err(), "{method}");
    }
}

/// The machine's own SFTP server through SSH's subsystem request (what ansible's proxy relays
/// SFTP to): it speaks the protocol from its first byte (no login shell, no marker), ends when
/// its input does; a subsystem sshd does not have is `Unavailable`, with nothing read.
#[tokio::test(flavor = "multi_thread")]
async fn the_machines_sftp_subsystem_answers_and_an_unknown_one_is_unavailable() {
    use kiln_core::Subsystem;
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();

    // SSH_FXP_INIT, version 3 (length 5, type 1, version); the input stays open until the
    // reply came, as a client's does (the server ends at its input's end).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut to_server, mut input) = tokio::io::duplex(1024);
    let (mut output, mut from_server) = tokio::io::duplex(1 << 16);
    let mut err = Vec::new();
    let io = ExecIo::new(&mut output, &mut err).with_stdin(&mut input);
    let client = async {
        to_server.write_all(&[0, 0, 0, 5, 1, 0, 0, 0, 3]).await.unwrap();
        let len = from_server.read_u32().await.unwrap() as usize;
        let mut reply = vec![0; len];
        from_server.read_exact(&mut reply).await.unwrap();
        drop(to_server);
        reply
    };
    let (ran, reply) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(comm.subsystem("sftp", io), client) })
            .await
            .unwrap();
    assert_eq!(ran.unwrap(), Subsystem::Ended(Some(0)));
    // SSH_FXP_VERSION (type 2) with version 3, then the server's extensions.
    assert_eq!(&reply[..5], &[2, 0, 0, 0, 3], "{reply:?}");
    assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));

    let mut input: &[u8] = b"untouched";
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let io = ExecIo::new(&mut out, &mut err).with_stdin(&mut input);
    let ran = comm.subsystem("kiln-no-such-subsystem", io).await.unwrap();
    assert_eq!(ran, Subsystem::Unavailable);
    assert_eq!(input, b"untouched", "nothing was read from the input");
    // The connection is still good for commands.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(comm.exec("echo ok", ExecIo::new(&mut out, &mut err)).await.unwrap(), Some(0));
    assert_eq!(out, b"ok\n");
}

/// `remove_file` is `rm -f`: the file goes, a missing one is no error, a folder is one. Over
/// SFTP it starts no command: with `ForceCommand internal-sftp` (every command becomes an SFTP
/// server that runs nothing) the file still goes. With scp there is no SFTP session, and
/// `rm -f` runs as a command.
#[tokio::test(flavor = "multi_thread")]
async fn remove_file_is_rm_f_and_over_sftp_runs_no_command() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    for method in ["scp", "sftp"] {
        if method == "sftp" {
            let config = sshd.dir.join("sshd_config");
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str("ForceCommand internal-sftp\n");
            std::fs::write(&config, text).unwrap();
            sshd.restart().unwrap();
        }
        let mut c = ssh_config(&sshd);
        c.ssh_file_transfer_method = Some(method.into());
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
        let file = sshd.dir.join(format!("remove-{method}.txt"));
        std::fs::write(&file, "x").unwrap();
        let path = file.to_string_lossy().into_owned();
        comm.remove_file(&path).await.unwrap();
        assert!(!file.exists(), "{method}: the file stayed");
        comm.remove_file(&path).await.unwrap_or_else(|e| panic!("{method}: a missing file: {e}"));
        let folder = sshd.dir.join(format!("folder-{method}"));
        std::fs::create_dir_all(&folder).unwrap();
        let e = comm.remove_file(&folder.to_string_lossy()).await.unwrap_err();
        assert!(folder.exists(), "{method}: {e}");
    }
}
