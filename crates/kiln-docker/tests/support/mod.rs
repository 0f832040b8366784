//! Real peers for the engine tests: podman's Docker-compatible service, a Debian base
//! image, a distribution registry. Each is started on 127.0.0.1 or a private socket
//! and stopped by PID when dropped.
//!
//! (This moves to the dev-only kiln-testing crate once it exists.)

#![allow(dead_code)]

pub mod base_image;
pub mod build;
pub mod podman;
pub mod registry;

#[allow(unused_imports)]
pub use base_image::BASE_IMAGE;
#[allow(unused_imports)]
pub use podman::Podman;
#[allow(unused_imports)]
pub use registry::Registry;

pub use kiln_testing::cache_dir;

/// Whether a missing tool fails the test instead of skipping it (CI sets it).
pub fn tools_required() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Says why a test cannot run: a skip message, or a panic under KILN_REQUIRE_TOOLS=1.
pub fn skip(test: &str, why: &str) {
    if tools_required() {
        panic!("{test}: {why} (KILN_REQUIRE_TOOLS=1, so this is a failure)");
    }
    eprintln!("skipped {test}: {why}");
}

pub use kiln_testing::base_image::which;

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it at once).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Removes an image when dropped, so a failing test leaves none behind.
pub struct ImageGuard {
    engine: kiln_docker::Engine,
    image: String,
}

impl ImageGuard {
    pub fn new(engine: &kiln_docker::Engine, image: &str) -> ImageGuard {
        ImageGuard { engine: engine.clone(), image: image.to_string() }
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let (engine, image) = (self.engine.clone(), self.image.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                let _ = rt.block_on(engine.remove_image(&image, true));
            }
        })
        .join();
    }
}

/// Sends SIGTERM to `child`, waits up to `grace`, then SIGKILL.
pub fn stop_child(child: &mut std::process::Child, grace: std::time::Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
