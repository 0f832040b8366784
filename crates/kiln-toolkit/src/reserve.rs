//! Reservations of things parallel builds must not share: TCP ports (QEMU's forwarded SSH
//! port, VNC, the HTTP server), VNC displays and output paths. Builds in one process and in
//! separate kiln processes see each other's reservations: each is an exclusive `flock` on a
//! lock file in one directory of the machine, held until the [`Reservation`] is dropped
//! (kept in the build's [`crate::CommonState::reservations`] for its whole life). A port is
//! also tested with a bind, so ports other programs listen on are skipped.
//!
//! The directory is `KILN_LOCK_DIR` when set, else `kiln-locks` in the system's temporary
//! directory (sticky and writable by all, so builds of different users see each other). The
//! lock files stay; only the locks come and go (deleting a lock file would race with a
//! process opening it).

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use kiln_core::{Error, Result};
use sha2::{Digest, Sha256};

/// Something held for a build: a port, a VNC display or a path. Dropping it releases it.
#[derive(Debug)]
pub struct Reservation {
    /// What is held, for messages (`port 2345`, `output directory out/`).
    pub what: String,
    /// The port, for port and display reservations.
    pub port: Option<u16>,
    // The open file carries the lock; closing it releases it.
    _lock: File,
}

impl Reservation {
    /// The VNC display number of a reserved VNC port (port - 5900).
    pub fn vnc_display(&self) -> Option<u16> {
        self.port.and_then(|p| p.checked_sub(5900))
    }
}

/// Where the lock files live.
pub fn lock_dir() -> PathBuf {
    match std::env::var_os("KILN_LOCK_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir().join("kiln-locks"),
    }
}

/// The exclusive lock on `name` in [`lock_dir`], or `None` when another holder has it.
fn try_lock(name: &str) -> Result<Option<File>> {
    let dir = lock_dir();
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::new(format!("creating the lock directory {}: {e}", dir.display())))?;
        // Shared by every user's builds: writable by all, files removable only by their owner.
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
    }
    let path = dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(&path)
        .or_else(|_| File::open(&path))
        .map_err(|e| Error::new(format!("opening the lock file {}: {e}", path.display())))?;
    // SAFETY: flock on a file descriptor this function owns.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(Some(file));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(Error::new(format!("locking {}: {e}", path.display())))
    }
}

/// A random start in `0..n`, so parallel builds spread over a range (as Packer picks at random).
fn random_below(n: u32) -> u32 {
    let x = u32::from_le_bytes(kiln_config::random::bytes::<4>());
    if n == 0 {
        0
    } else {
        x % n
    }
}

/// Reserves a free TCP port on `host` in `min..max` (Packer's ranges: `max` itself is not used,
/// unless `min == max`), and returns it with a listener bound to it.
pub fn reserve_port_bound(host: &str, min: u16, max: u16, what: &str) -> Result<(Reservation, TcpListener)> {
    if max < min {
        return Err(Error::new(format!(
            "the {what} port range {min}-{max} is empty: the minimum is above the maximum"
        )));
    }
    let count = u32::from(max - min).max(1);
    let start = random_below(count);
    for i in 0..count {
        let port = min + ((start + i) % count) as u16;
        let Some(lock) = try_lock(&format!("port-{port}"))? else { continue };
        // Locked by us; the bind tells whether something else (not kiln) listens there.
        if let Ok(listener) = TcpListener::bind((host, port)) {
            return Ok((Reservation { what: format!("{what} port {port}"), port: Some(port), _lock: lock }, listener));
        }
    }
    Err(Error::new(format!(
        "no free port for the {what} between {min} and {max} on {host}: every one is in use or reserved by another build; widen the range"
    )))
}

/// Reserves a free TCP port on `host` in `min..max` for a program started later (QEMU's
/// forwarded SSH port): free now, and no other kiln build takes it while the reservation lives.
pub fn reserve_port(host: &str, min: u16, max: u16, what: &str) -> Result<Reservation> {
    reserve_port_bound(host, min, max, what).map(|(r, _listener)| r)
}

/// Reserves a VNC port in `min..max` (Packer's `vnc_port_min`/`vnc_port_max`, 5900 and up);
/// [`Reservation::vnc_display`] is its display number.
pub fn reserve_vnc(host: &str, min: u16, max: u16) -> Result<Reservation> {
    if min < 5900 {
        return Err(Error::new(format!("vnc_port_min {min} is below 5900, where VNC display 0 is")));
    }
    reserve_port(host, min, max, "VNC")
}

/// Reserves a path (an output directory or file) for one build: an error naming `what` when
/// another build of this machine holds it.
pub fn reserve_path(path: &Path, what: &str) -> Result<Reservation> {
    let abs = crate::media::options::lexical_absolute(path);
    let digest = Sha256::digest(abs.as_os_str().as_encoded_bytes());
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    match try_lock(&format!("path-{name}"))? {
        Some(lock) => Ok(Reservation { what: format!("{what} {}", path.display()), port: None, _lock: lock }),
        None => Err(Error::new(format!(
            "{what} {} is in use by another build running now; give each build its own {what}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_in_one_process_are_never_shared() {
        let (min, max) = (47100, 47104);
        let held: Vec<Reservation> = (0..4).map(|_| reserve_port("127.0.0.1", min, max, "test").unwrap()).collect();
        let mut ports: Vec<u16> = held.iter().map(|r| r.port.unwrap()).collect();
        ports.sort_unstable();
        assert_eq!(ports, [47100, 47101, 47102, 47103]);
        let e = reserve_port("127.0.0.1", min, max, "test").unwrap_err();
        assert!(e.message.contains("no free port for the test between 47100 and 47104"), "{e}");
        drop(held);
        assert!(reserve_port("127.0.0.1", min, max, "test").is_ok());
    }

    #[test]
    fn a_port_someone_listens_on_is_skipped() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = busy.local_addr().unwrap().port();
        assert!(reserve_port("127.0.0.1", p, p, "test").is_err());
        drop(busy);
        assert_eq!(reserve_port("127.0.0.1", p, p, "test").unwrap().port, Some(p));
        assert!(reserve_port("127.0.0.1", 10, 5, "test").unwrap_err().message.contains("is empty"));
    }

    #[test]
    fn paths_and_displays() {
        let r = reserve_path(Path::new("out-x/../out-reserve-test"), "output directory").unwrap();
        let e = reserve_path(&std::env::current_dir().unwrap().join("out-reserve-test"), "output directory");
        assert!(e.unwrap_err().message.contains("in use by another build"));
        drop(r);
        reserve_path(Path::new("out-reserve-test"), "output directory").unwrap();
        let v = reserve_vnc("127.0.0.1", 47190, 47191).unwrap();
        assert_eq!(v.vnc_display(), Some(47190 - 5900));
        assert!(reserve_vnc("127.0.0.1", 5000, 5001).is_err());
    }
}
