//! The artifacts of the docker builder and post-processors, with Packer's builder IDs
//! (what lets `docker-tag`, `docker-push` and `docker-save` accept them).

use std::collections::BTreeMap;
use std::fmt;

use kiln_core::{Artifact, Error, GeneratedData, Result};

use crate::Engine;

/// The docker builder's ID: the artifact of `export_path` (and `discard`).
pub const BUILDER_ID: &str = "packer.docker";
/// An image in the engine: a committed container (Packer gives commits this ID too),
/// `docker-import`'s and `docker-push`'s output.
pub const IMPORT_ID: &str = "packer.post-processor.docker-import";
/// `docker-tag`'s output.
pub const TAG_ID: &str = "packer.post-processor.docker-tag";
/// `docker-save`'s ID.
pub const SAVE_ID: &str = "packer.post-processor.docker-save";
/// The artifice post-processor's ID (docker-import takes its files).
pub const ARTIFICE_ID: &str = "packer.post-processor.artifice";

/// An image in the engine, named by ID or reference.
pub struct ImageArtifact {
    pub builder_id: &'static str,
    /// The image ID (`sha256:…`) or a `repo:tag` reference.
    pub id: String,
    /// `docker-tag`'s references, for `docker-push` (`docker_tags`).
    pub tags: Vec<String>,
    /// The build's generated data (`generated_data`).
    pub data: GeneratedData,
    /// The engine the image is in, to remove it.
    pub engine: Engine,
}

impl fmt::Debug for ImageArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageArtifact")
            .field("builder_id", &self.builder_id)
            .field("id", &self.id)
            .field("tags", &self.tags)
            .finish()
    }
}

#[kiln_core::async_trait]
impl Artifact for ImageArtifact {
    fn builder_id(&self) -> &str {
        self.builder_id
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn description(&self) -> String {
        if self.tags.is_empty() {
            format!("Imported Docker image: {}", self.id)
        } else {
            format!("Imported Docker image: {} with tags {}", self.id, self.tags.join(" "))
        }
    }
    fn generated_data(&self) -> kiln_core::GeneratedData {
        self.data.clone()
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "docker_tags" => Some(serde_json::Value::from(self.tags.clone())),
            "generated_data" => Some(data_json(&self.data)),
            _ => None,
        }
    }
    /// Removes the image (`docker rmi`: not forced, so an image another tag or
    /// container still uses stays, with an error saying so).
    async fn destroy(&self) -> Result<()> {
        self.engine.remove_image(&self.id, false).await.map_err(|e| Error::new(e.to_string()))
    }
}

/// The generated data as the artifact state Packer calls `generated_data`.
pub(crate) fn data_json(data: &GeneratedData) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> =
        data.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect();
    serde_json::Value::Object(map)
}

/// A state map with `generated_data`.
pub(crate) fn state_with_data(data: &GeneratedData) -> BTreeMap<String, serde_json::Value> {
    [("generated_data".to_string(), data_json(data))].into()
}
