//! `manifest`: records each build's artifact in a JSON file (Packer's format), appending to
//! the runs already recorded there.

use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Options of `manifest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The manifest file (default `packer-manifest.json`). `{{.BuildName}}` and
    /// `{{.BuilderType}}` are replaced.
    #[serde(default)]
    pub output: Option<String>,
    /// Record file names without their folders.
    #[serde(default)]
    pub strip_path: bool,
    /// Leave out `build_time`.
    #[serde(default)]
    pub strip_time: bool,
    /// Extra key/value pairs stored with the build.
    #[serde(default)]
    pub custom_data: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Default)]
pub struct Manifest {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<Manifest>::default()
}

/// Builds of one run write the same file; they take turns.
static WRITE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The entry Packer writes for one build.
pub fn entry(config: &Config, info: &BuildInfo, artifact: &dyn Artifact, now: u64) -> Value {
    let files: Vec<Value> = artifact
        .files()
        .iter()
        .map(|f| {
            let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            let name = if config.strip_path {
                Path::new(f).file_name().map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                f.clone()
            };
            json!({"name": name, "size": size})
        })
        .collect();
    let mut m = Map::new();
    m.insert("name".into(), json!(info.name));
    m.insert("builder_type".into(), json!(info.builder_type));
    if !config.strip_time {
        m.insert("build_time".into(), json!(now));
    }
    m.insert("files".into(), if files.is_empty() { Value::Null } else { Value::Array(files) });
    m.insert("artifact_id".into(), json!(artifact.id()));
    m.insert("packer_run_uuid".into(), json!(info.run_uuid));
    m.insert("custom_data".into(), config.custom_data.as_ref().map_or(Value::Null, |c| json!(c)));
    Value::Object(m)
}

/// Appends `entry` to the manifest at `path` (created when missing). Builds of this run take
/// turns through `WRITE_LOCK`, other kiln processes through a lock on the manifest's folder;
/// the new manifest replaces the old one whole (renamed into place), so no entry is lost and
/// no reader sees half a file.
pub fn append(path: &Path, entry: Value, run_uuid: &str) -> Result<()> {
    let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let _lock = kiln_core::output::FolderLock::acquire(path)?;
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_json::from_str::<Value>(&text).map_err(|e| {
            Error::new(format!("the manifest {} is not valid JSON ({e}); move it away", path.display()))
        })?,
        Ok(_) => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(Error::new(format!("reading manifest {}: {e}", path.display()))),
    };
    let Some(obj) = doc.as_object_mut() else {
        return Err(Error::new(format!("the manifest {} is not a JSON object; move it away", path.display())));
    };
    let builds = obj.entry("builds").or_insert_with(|| json!([]));
    match builds.as_array_mut() {
        Some(b) => b.push(entry),
        None => *builds = json!([entry]),
    }
    obj.insert("last_run_uuid".into(), json!(run_uuid));
    let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::new(e.to_string()))?;
    let mut out = kiln_core::output::OutputFile::create(path, true, &[] as &[&Path])?;
    std::io::Write::write_all(out.file(), text.as_bytes())
        .map_err(|e| Error::new(format!("writing manifest {}: {e}", path.display())))?;
    out.commit(0o644)
}

#[async_trait]
impl PostProcessor for Manifest {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        self.config = kiln_config::decode::decode_component(config, "the \"manifest\" post-processor")?;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let output = self.config.output.as_deref().unwrap_or("packer-manifest.json");
        let output = kiln_core::late::render(output, &crate::template_data(&ctx.info))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let e = entry(&self.config, &ctx.info, artifact.as_ref(), now);
        let uuid = ctx.info.run_uuid.clone();
        let path = std::path::PathBuf::from(output);
        tokio::task::spawn_blocking(move || append(&path, e, &uuid)).await.map_err(|e| Error::new(e.to_string()))??;
        Ok(PostProcessed { artifact: Some(artifact), keep: true, force_keep: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::BasicArtifact;

    #[test]
    fn appends_runs_in_packers_format() {
        let d = kiln_testing::TempDir::new("manifest");
        let dir = &d.0;
        let f = dir.join("out.txt");
        std::fs::write(&f, "hello").unwrap();
        let a =
            BasicArtifact { id: "File".into(), files: vec![f.to_string_lossy().into_owned()], ..Default::default() };
        let info =
            BuildInfo { name: "f".into(), builder_type: "file".into(), run_uuid: "u1".into(), ..Default::default() };
        let mut c = Config { strip_path: true, ..Default::default() };
        c.custom_data = Some([("a".to_string(), "b".to_string())].into());
        let path = dir.join("m.json");
        append(&path, entry(&c, &info, &a, 1795258814), "u1").unwrap();
        let info2 = BuildInfo { run_uuid: "u2".into(), ..info.clone() };
        let c2 = Config { strip_time: true, ..Default::default() };
        append(&path, entry(&c2, &info2, &BasicArtifact::default(), 5), "u2").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = r#"{
  "builds": [
    {
      "name": "f",
      "builder_type": "file",
      "build_time": 1795258814,
      "files": [
        {
          "name": "out.txt",
          "size": 5
        }
      ],
      "artifact_id": "File",
      "packer_run_uuid": "u1",
      "custom_data": {
        "a": "b"
      }
    },
    {
      "name": "f",
      "builder_type": "file",
      "files": null,
      "artifact_id": "",
      "packer_run_uuid": "u2",
      "custom_data": null
    }
  ],
  "last_run_uuid": "u2"
}"#;
        assert_eq!(text, expected);
    }
}
