//! `docker-push`: pushes the image of a docker-import or docker-tag to its registry.

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;

use crate::artifact::{ImageArtifact, IMPORT_ID, TAG_ID};
use crate::auth::{registry_of, saved_auth};
use crate::RegistryAuth;

/// Pushes the image to its registry: the artifact's ID and every tag docker-tag made.
/// Without `login`, the credentials `docker login` saved for the registry are used
/// (the `auths` of `~/.docker/config.json`; credential helpers are not run).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log in with `login_username` and `login_password` to push.
    #[serde(default)]
    pub login: bool,
    /// The registry to log in to (the image's own by default).
    #[serde(default)]
    pub login_server: Option<String>,
    /// The user name to log in with.
    #[serde(default)]
    pub login_username: Option<String>,
    /// The password to log in with (masked in all output).
    #[serde(default)]
    pub login_password: Option<String>,
    /// Log in to Amazon ECR: not implemented in kiln; an error that says how to log
    /// in with `login` instead.
    #[serde(default)]
    pub ecr_login: bool,
    /// AWS access key for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_access_key: Option<String>,
    /// AWS secret key for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_secret_key: Option<String>,
    /// AWS session token for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_token: Option<String>,
    /// AWS profile for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_profile: Option<String>,
    /// Use Amazon ECR's public registry for `ecr_login` (accepted; `ecr_login` is not
    /// implemented).
    #[serde(default)]
    pub aws_force_use_public_ecr: Option<bool>,
}

#[derive(Default)]
pub struct DockerPush {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<DockerPush>::default()
}

#[async_trait]
impl PostProcessor for DockerPush {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"docker-push\" post-processor")?;
        let warnings = crate::auth::check_login(config, c.login, c.login_username.as_deref(), c.ecr_login)?;
        self.config = c;
        Ok(warnings)
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        super::check_input(
            artifact.as_ref(),
            &[IMPORT_ID, TAG_ID],
            "Can only import from docker-import and docker-tag artifacts.",
        )?;
        let c = &self.config;
        ctx.ui.add_secrets(c.login_password.iter().filter(|p| !p.is_empty()).cloned());
        let engine = super::connect().await?;
        let tags = super::docker_tags(artifact.as_ref());
        let mut names = vec![artifact.id()];
        for t in &tags {
            if !names.contains(t) {
                names.push(t.clone());
            }
        }
        for name in &names {
            let auth = match c.login {
                true => Some(RegistryAuth {
                    server: c.login_server.clone().unwrap_or_else(|| registry_of(name)),
                    username: c.login_username.clone().unwrap_or_default(),
                    password: c.login_password.clone().unwrap_or_default(),
                }),
                false => saved_auth(&registry_of(name)),
            };
            ctx.ui.message(format!("Pushing: {name}"));
            let ui = ctx.ui.clone();
            let mut last = String::new();
            let mut progress = |line: &str| {
                if line != last {
                    ui.log(line);
                    last = line.to_string();
                }
            };
            engine.push(name, auth.as_ref(), &mut progress).await.map_err(|e| Error::new(e.to_string()))?;
        }
        let out = ImageArtifact { builder_id: IMPORT_ID, id: names[0].clone(), tags, data: Default::default(), engine };
        Ok(PostProcessed { artifact: Some(Arc::new(out)), keep: true, force_keep: false })
    }
}
