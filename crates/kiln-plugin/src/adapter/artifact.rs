//! Artifacts across the plugin boundary: one a plugin made as kiln's [`Artifact`] (kiln's
//! post-processors, the summary and the manifest read it), and kiln's artifact as the one a
//! post-processor plugin receives.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_core::component::{Artifact, GeneratedData};

use crate::artifact::ArtifactClient;
use crate::host::HostArtifact;
use crate::runtime::{block, on_plugin_runtime};

/// An artifact a plugin serves. What the summary and the manifest read is fetched once, when it
/// arrives; `state` and `destroy` ask the plugin.
pub struct PluginArtifact {
    client: ArtifactClient,
    builder_id: String,
    id: String,
    files: Vec<String>,
    description: String,
    generated: GeneratedData,
}

impl std::fmt::Debug for PluginArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginArtifact").field("builder_id", &self.builder_id).field("id", &self.id).finish()
    }
}

impl PluginArtifact {
    /// Reads the artifact's identity from the plugin; `generated` is the build's generated data
    /// (a builder's) or the input artifact's (a post-processor's).
    pub async fn fetch(client: ArtifactClient, generated: GeneratedData) -> crate::Result<PluginArtifact> {
        let c = client.clone();
        let (builder_id, id, files, description) = on_plugin_runtime(async move {
            Ok::<_, crate::Error>((c.builder_id().await?, c.id().await?, c.files().await?, c.string().await?))
        })
        .await??;
        Ok(PluginArtifact { client, builder_id, id, files, description, generated })
    }
}

#[async_trait]
impl Artifact for PluginArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn description(&self) -> String {
        self.description.clone()
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        let (c, name) = (self.client.clone(), name.to_string());
        match block(async move { c.state(&name).await }) {
            Ok(Ok(serde_json::Value::Null)) | Ok(Err(_)) | Err(_) => None,
            Ok(Ok(v)) => Some(v),
        }
    }
    fn generated_data(&self) -> GeneratedData {
        self.generated.clone()
    }
    async fn destroy(&self) -> kiln_core::Result<()> {
        let c = self.client.clone();
        on_plugin_runtime(async move { c.destroy().await })
            .await
            .and_then(|r| r)
            .map_err(|e| kiln_core::Error::new(format!("destroying the artifact: {e}")))
    }
}

/// kiln's artifact, served to a post-processor plugin.
pub struct KilnArtifact(pub Arc<dyn Artifact>);

#[async_trait]
impl HostArtifact for KilnArtifact {
    fn builder_id(&self) -> String {
        self.0.builder_id().to_string()
    }
    fn files(&self) -> Vec<String> {
        self.0.files()
    }
    fn id(&self) -> String {
        self.0.id()
    }
    fn string(&self) -> String {
        self.0.description()
    }
    fn state(&self, name: &str) -> serde_json::Value {
        match (name, self.0.state(name)) {
            (_, Some(v)) => v,
            // Packer's artifacts answer this one with the build's generated data.
            ("generated_data", None) => {
                serde_json::Value::Object(self.0.generated_data().into_iter().map(|(k, v)| (k, v.into())).collect())
            }
            (_, None) => serde_json::Value::Null,
        }
    }
    async fn destroy(&self) -> Result<(), String> {
        self.0.destroy().await.map_err(|e| e.message)
    }
}
