//! Reservations between separate processes: a child kiln-toolkit process (this test binary run
//! again) holds a port and an output path; this process cannot take them until it exits.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use kiln_toolkit::reserve::{reserve_path, reserve_port};

const RANGE: (u16, u16) = (47300, 47301);

/// Run by the parent test in a child process only: holds its reservations until stdin closes.
#[test]
fn child_holds_reservations() {
    let Ok(dir) = std::env::var("KILN_RESERVE_CHILD") else { return };
    let port = reserve_port("127.0.0.1", RANGE.0, RANGE.1, "test").unwrap();
    let path = reserve_path(Path::new(&dir), "output directory").unwrap();
    println!("HELD {}", port.port.unwrap());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop((port, path));
}

#[test]
fn another_process_cannot_take_what_one_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("output-shared");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holds_reservations", "--nocapture", "--test-threads=1"])
        .env("KILN_RESERVE_CHILD", &out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held = loop {
        let l = lines.next().expect("the child ended before holding anything").unwrap();
        // The test harness may print "test … ... " before it on the same line.
        if let Some(p) = l.split("HELD ").nth(1) {
            break p.trim().parse::<u16>().unwrap();
        }
    };
    assert_eq!(held, RANGE.0, "a one-port range");
    let e = reserve_port("127.0.0.1", RANGE.0, RANGE.1, "test").unwrap_err();
    assert!(e.message.contains("reserved by another build"), "{e}");
    let e = reserve_path(&out, "output directory").unwrap_err();
    assert!(e.message.contains("in use by another build"), "{e}");
    // The child is not listening on the port: only the lock keeps this process off it.
    assert!(std::net::TcpListener::bind(("127.0.0.1", held)).is_ok());

    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(reserve_port("127.0.0.1", RANGE.0, RANGE.1, "test").unwrap().port, Some(held));
    reserve_path(&out, "output directory").unwrap();
}
