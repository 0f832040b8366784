//! The base image (kiln_testing::base_image's Debian tarball), imported through the API.

use kiln_docker::Engine;
use kiln_testing::base_image::tarball;

/// The name the base image is imported under.
pub const BASE_IMAGE: &str = "kiln-test/debian:bookworm";

static IMPORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes sure the engine has [`BASE_IMAGE`], importing the cached tarball if not.
pub async fn ensure(engine: &Engine) -> Result<(), String> {
    let _once = IMPORT.lock().await;
    if engine.image_exists(BASE_IMAGE).await.map_err(|e| e.to_string())? {
        return Ok(());
    }
    let tarball = tokio::task::spawn_blocking(tarball).await.map_err(|e| e.to_string())??;
    engine
        .import(&tarball, Some(BASE_IMAGE), &["CMD [\"/bin/bash\"]".to_string()], Some("kiln test base image"), None)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
