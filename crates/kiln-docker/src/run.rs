//! The build container's create request, from Packer's docker builder options.
//!
//! Packer starts the container with `docker run` + the builder's own flags + the
//! user's `run_command` (default `-d -i -t --entrypoint=/bin/sh -- {{.Image}}`). kiln
//! speaks the Engine API instead, so `run_command` is read here as `docker run`
//! arguments and mapped to the create request's fields. Flags kiln does not map are
//! errors that name the flag, never silently dropped.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerCreateBody, DeviceMapping, HostConfig, ResourcesUlimits};

use crate::error::{Error, Result};

/// Packer's default `run_command`, with `{{.Image}}` already rendered.
pub fn default_run_command(image: &str) -> Vec<String> {
    ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", image].iter().map(|s| s.to_string()).collect()
}

/// Everything that shapes the build container, as the docker builder's options give it.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// `run_command` with its template already rendered: `docker run` arguments,
    /// flags first, then the image, then the command.
    pub run_command: Vec<String>,
    /// Host path → container path bind mounts (`volumes`, plus the builder's
    /// `container_dir` mount).
    pub volumes: BTreeMap<String, String>,
    /// `privileged`.
    pub privileged: bool,
    /// `cap_add`.
    pub cap_add: Vec<String>,
    /// `cap_drop`.
    pub cap_drop: Vec<String>,
    /// `tmpfs`: `PATH[:OPTIONS]` entries.
    pub tmpfs: Vec<String>,
    /// `device`: `HOST[:CONTAINER[:PERMISSIONS]]` entries.
    pub devices: Vec<String>,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// `runtime`, the container's OCI runtime (`runc`, `runsc` …); `--runtime` in `run_command`
    /// wins.
    pub runtime: Option<String>,
    /// Labels kiln adds to the container (to find it again after a crash).
    pub labels: BTreeMap<String, String>,
}

/// A create request ready for the engine.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// `--name`, when `run_command` gives one.
    pub name: Option<String>,
    /// `--platform` or the builder's `platform`.
    pub platform: Option<String>,
    /// The request body.
    pub body: ContainerCreateBody,
}

impl RunSpec {
    /// A spec with Packer's default `run_command` for `image`.
    pub fn for_image(image: &str) -> RunSpec {
        RunSpec { run_command: default_run_command(image), ..RunSpec::default() }
    }

    /// Maps the builder's options and `run_command` to a create request. The builder's
    /// flags come first, as Packer puts them before `run_command` on the command line.
    pub fn to_request(&self) -> Result<CreateRequest> {
        let mut req = CreateRequest::default();
        let host = req.body.host_config.get_or_insert_with(HostConfig::default);
        if self.privileged {
            host.privileged = Some(true);
        }
        push_all(&mut host.cap_add, &self.cap_add);
        push_all(&mut host.cap_drop, &self.cap_drop);
        for t in &self.tmpfs {
            add_tmpfs(host, t)?;
        }
        for d in &self.devices {
            add_device(host, d)?;
        }
        for (host_path, container_path) in &self.volumes {
            host.binds.get_or_insert_with(Vec::new).push(format!("{host_path}:{container_path}"));
        }
        req.platform = self.platform.clone();
        host.runtime = self.runtime.clone().filter(|r| !r.is_empty());
        if !self.labels.is_empty() {
            req.body.labels = Some(self.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        apply_run_command(&mut req, &self.run_command)?;
        Ok(req)
    }
}

fn push_all(list: &mut Option<Vec<String>>, items: &[String]) {
    if !items.is_empty() {
        list.get_or_insert_with(Vec::new).extend(items.iter().cloned());
    }
}

/// Whether a flag takes a value.
#[derive(Clone, Copy, PartialEq)]
enum Arity {
    Bool,
    Value,
}

/// `docker run` flags kiln maps: (long name, short letter, arity).
const FLAGS: &[(&str, Option<char>, Arity)] = &[
    ("detach", Some('d'), Arity::Bool),
    ("interactive", Some('i'), Arity::Bool),
    ("tty", Some('t'), Arity::Bool),
    ("privileged", None, Arity::Bool),
    ("init", None, Arity::Bool),
    ("read-only", None, Arity::Bool),
    ("rm", None, Arity::Bool),
    ("entrypoint", None, Arity::Value),
    ("env", Some('e'), Arity::Value),
    ("user", Some('u'), Arity::Value),
    ("workdir", Some('w'), Arity::Value),
    ("volume", Some('v'), Arity::Value),
    ("name", None, Arity::Value),
    ("hostname", Some('h'), Arity::Value),
    ("label", Some('l'), Arity::Value),
    ("cap-add", None, Arity::Value),
    ("cap-drop", None, Arity::Value),
    ("tmpfs", None, Arity::Value),
    ("device", None, Arity::Value),
    ("platform", None, Arity::Value),
    ("network", None, Arity::Value),
    ("net", None, Arity::Value),
    ("add-host", None, Arity::Value),
    ("dns", None, Arity::Value),
    ("security-opt", None, Arity::Value),
    ("ulimit", None, Arity::Value),
    ("memory", Some('m'), Arity::Value),
    ("shm-size", None, Arity::Value),
    ("runtime", None, Arity::Value),
    ("expose", None, Arity::Value),
    ("stop-signal", None, Arity::Value),
];

fn supported_flags() -> String {
    FLAGS
        .iter()
        .map(|(long, short, _)| match short {
            Some(c) => format!("-{c}/--{long}"),
            None => format!("--{long}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_flag(flag: &str) -> Error {
    Error::Invalid(format!(
        "run_command: the docker run flag {flag:?} is not supported by kiln's docker builder \
         (it talks to the Engine API, not the docker CLI); supported flags: {}",
        supported_flags()
    ))
}

/// Reads `run_command` as `docker run` does: flags until the first non-flag argument
/// (or `--`), which is the image; everything after it is the command.
fn apply_run_command(req: &mut CreateRequest, args: &[String]) -> Result<()> {
    let mut i = 0;
    let mut image = None;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            image = args.get(i).cloned();
            i += 1;
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (long_name, _, arity) = FLAGS.iter().find(|(l, _, _)| *l == name).ok_or_else(|| unknown_flag(arg))?;
            let value = match (arity, inline) {
                (Arity::Bool, v) => v.unwrap_or_else(|| "true".into()),
                (Arity::Value, Some(v)) => v,
                (Arity::Value, None) => take_value(args, &mut i, arg)?,
            };
            apply_flag(req, long_name, &value)?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            // A cluster of short flags (`-dit`), the last of which may take a value
            // (`-eFOO=1`, `-e FOO=1`, `-e=FOO=1`).
            let shorts: Vec<char> = arg[1..].chars().collect();
            let mut k = 0;
            while k < shorts.len() {
                let c = shorts[k];
                let (long_name, _, arity) =
                    FLAGS.iter().find(|(_, s, _)| *s == Some(c)).ok_or_else(|| unknown_flag(&format!("-{c}")))?;
                if *arity == Arity::Bool {
                    apply_flag(req, long_name, "true")?;
                    k += 1;
                    continue;
                }
                let rest: String = shorts[k + 1..].iter().collect();
                let value = if rest.is_empty() {
                    take_value(args, &mut i, arg)?
                } else {
                    rest.strip_prefix('=').unwrap_or(&rest).to_string()
                };
                apply_flag(req, long_name, &value)?;
                break;
            }
        } else {
            image = Some(arg.clone());
            break;
        }
    }
    let image = image.filter(|s| !s.is_empty()).ok_or_else(|| {
        Error::Invalid(
            "run_command: no image given; the default is [\"-d\", \"-i\", \"-t\", \"--entrypoint=/bin/sh\", \"--\", \"{{.Image}}\"]"
                .into(),
        )
    })?;
    req.body.image = Some(image);
    if i < args.len() {
        req.body.cmd = Some(args[i..].to_vec());
    }
    Ok(())
}

fn take_value(args: &[String], i: &mut usize, flag: &str) -> Result<String> {
    let v =
        args.get(*i).cloned().ok_or_else(|| Error::Invalid(format!("run_command: the flag {flag:?} needs a value")))?;
    *i += 1;
    Ok(v)
}

fn parse_bool(flag: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::Invalid(format!("run_command: --{flag}={v:?} is not a boolean"))),
    }
}

fn apply_flag(req: &mut CreateRequest, flag: &str, v: &str) -> Result<()> {
    let body = &mut req.body;
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    let list = |l: &mut Option<Vec<String>>| l.get_or_insert_with(Vec::new).push(v.to_string());
    match flag {
        // kiln always starts the container detached and talks to it through exec.
        "detach" => {
            parse_bool(flag, v)?;
        }
        "interactive" => body.open_stdin = Some(parse_bool(flag, v)?),
        "tty" => body.tty = Some(parse_bool(flag, v)?),
        "privileged" => host.privileged = Some(parse_bool(flag, v)?),
        "init" => host.init = Some(parse_bool(flag, v)?),
        "read-only" => host.readonly_rootfs = Some(parse_bool(flag, v)?),
        "rm" => host.auto_remove = Some(parse_bool(flag, v)?),
        "entrypoint" => body.entrypoint = Some(if v.is_empty() { Vec::new() } else { vec![v.to_string()] }),
        "env" => {
            // `-e NAME` passes the variable from kiln's own environment, as the CLI does.
            let entry = if v.contains('=') {
                v.to_string()
            } else {
                match std::env::var(v) {
                    Ok(val) => format!("{v}={val}"),
                    Err(_) => return Ok(()),
                }
            };
            body.env.get_or_insert_with(Vec::new).push(entry);
        }
        "user" => body.user = Some(v.to_string()),
        "workdir" => body.working_dir = Some(v.to_string()),
        "volume" => {
            if v.contains(':') {
                list(&mut host.binds);
            } else {
                body.volumes.get_or_insert_with(Vec::new).push(v.to_string());
            }
        }
        "name" => req.name = Some(v.to_string()),
        "hostname" => body.hostname = Some(v.to_string()),
        "label" => {
            let (k, val) = v.split_once('=').unwrap_or((v, ""));
            body.labels.get_or_insert_with(HashMap::new).insert(k.to_string(), val.to_string());
        }
        "cap-add" => list(&mut host.cap_add),
        "cap-drop" => list(&mut host.cap_drop),
        "tmpfs" => add_tmpfs(host, v)?,
        "device" => add_device(host, v)?,
        "platform" => req.platform = Some(v.to_string()),
        "network" | "net" => host.network_mode = Some(v.to_string()),
        "add-host" => list(&mut host.extra_hosts),
        "dns" => list(&mut host.dns),
        "security-opt" => list(&mut host.security_opt),
        "ulimit" => {
            let ulimit = parse_ulimit(v)?;
            host.ulimits.get_or_insert_with(Vec::new).push(ulimit);
        }
        "memory" => host.memory = Some(parse_size(flag, v)?),
        "shm-size" => host.shm_size = Some(parse_size(flag, v)?),
        "runtime" => host.runtime = Some(v.to_string()),
        "expose" => {
            let port = if v.contains('/') { v.to_string() } else { format!("{v}/tcp") };
            body.exposed_ports.get_or_insert_with(Vec::new).push(port);
        }
        "stop-signal" => body.stop_signal = Some(v.to_string()),
        other => return Err(unknown_flag(&format!("--{other}"))),
    }
    Ok(())
}

fn add_tmpfs(host: &mut HostConfig, spec: &str) -> Result<()> {
    let (path, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !path.starts_with('/') {
        return Err(Error::Invalid(format!(
            "tmpfs {spec:?}: the mount point must be an absolute path (PATH[:OPTIONS])"
        )));
    }
    host.tmpfs.get_or_insert_with(HashMap::new).insert(path.to_string(), opts.to_string());
    Ok(())
}

fn add_device(host: &mut HostConfig, spec: &str) -> Result<()> {
    let mut parts = spec.splitn(3, ':');
    let on_host = parts.next().unwrap_or("");
    if on_host.is_empty() {
        return Err(Error::Invalid(format!("device {spec:?}: expected HOST[:CONTAINER[:PERMISSIONS]]")));
    }
    let in_container = parts.next().filter(|s| !s.is_empty()).unwrap_or(on_host);
    let perms = parts.next().filter(|s| !s.is_empty()).unwrap_or("rwm");
    host.devices.get_or_insert_with(Vec::new).push(DeviceMapping {
        path_on_host: Some(on_host.to_string()),
        path_in_container: Some(in_container.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    });
    Ok(())
}

fn parse_ulimit(v: &str) -> Result<ResourcesUlimits> {
    let bad = || Error::Invalid(format!("run_command: --ulimit {v:?}: expected NAME=SOFT[:HARD]"));
    let (name, limits) = v.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft.parse().map_err(|_| bad())?),
        hard: Some(hard.parse().map_err(|_| bad())?),
    })
}

/// Sizes as the docker CLI reads them: a number with an optional b/k/m/g suffix (powers of 1024).
fn parse_size(flag: &str, v: &str) -> Result<i64> {
    let lower = v.trim().to_ascii_lowercase();
    let lower = lower
        .strip_suffix('b')
        .filter(|s| !s.is_empty() && s.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&lower)
        .to_string();
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('b') => (&lower[..lower.len() - 1], 1),
        _ => (&lower[..], 1),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::Invalid(format!("run_command: --{flag} {v:?} is not a size (e.g. 512m, 2g)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn packer_default_run_command() {
        let req = RunSpec::for_image("debian:bookworm").to_request().unwrap();
        let b = &req.body;
        assert_eq!(b.image.as_deref(), Some("debian:bookworm"));
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!((b.tty, b.open_stdin), (Some(true), Some(true)));
        assert_eq!(b.cmd, None);
        assert_eq!(req.name, None);
    }

    #[test]
    fn builder_options_and_flags_merge() {
        let mut spec = RunSpec {
            run_command: args(&[
                "-dit",
                "-e",
                "A=1",
                "-eB=2",
                "--env=C=3",
                "-v",
                "/cache:/var/cache/apt",
                "--cap-add",
                "SYS_ADMIN",
                "--ulimit=nofile=1024:2048",
                "-m",
                "512m",
                "--name",
                "kiln-x",
                "-u",
                "0:0",
                "-w",
                "/src",
                "img:1",
                "bash",
                "-c",
                "sleep 1d",
            ]),
            privileged: true,
            cap_add: args(&["NET_ADMIN"]),
            cap_drop: args(&["MKNOD"]),
            tmpfs: args(&["/run:rw,size=64m"]),
            devices: args(&["/dev/fuse"]),
            platform: Some("linux/amd64".into()),
            runtime: Some("runsc".into()),
            ..RunSpec::default()
        };
        spec.volumes.insert("/tmp/packer-123".into(), "/packer-files".into());
        let req = spec.to_request().unwrap();
        let b = &req.body;
        let h = b.host_config.as_ref().unwrap();
        assert_eq!(b.image.as_deref(), Some("img:1"));
        assert_eq!(b.cmd, Some(args(&["bash", "-c", "sleep 1d"])));
        assert_eq!(b.env, Some(args(&["A=1", "B=2", "C=3"])));
        assert_eq!(b.user.as_deref(), Some("0:0"));
        assert_eq!(b.working_dir.as_deref(), Some("/src"));
        assert_eq!(h.privileged, Some(true));
        assert_eq!(h.cap_add, Some(args(&["NET_ADMIN", "SYS_ADMIN"])));
        assert_eq!(h.cap_drop, Some(args(&["MKNOD"])));
        assert_eq!(h.binds, Some(args(&["/tmp/packer-123:/packer-files", "/cache:/var/cache/apt"])));
        assert_eq!(h.tmpfs.as_ref().unwrap().get("/run").map(String::as_str), Some("rw,size=64m"));
        let dev = &h.devices.as_ref().unwrap()[0];
        assert_eq!(dev.path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(dev.cgroup_permissions.as_deref(), Some("rwm"));
        let ul = &h.ulimits.as_ref().unwrap()[0];
        assert_eq!((ul.soft, ul.hard), (Some(1024), Some(2048)));
        assert_eq!(h.memory, Some(512 << 20));
        assert_eq!(req.name.as_deref(), Some("kiln-x"));
        assert_eq!(req.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(h.runtime.as_deref(), Some("runsc"));
        // run_command's own --runtime wins.
        spec.run_command.insert(0, "--runtime=crun".into());
        let req = spec.to_request().unwrap();
        assert_eq!(req.body.host_config.unwrap().runtime.as_deref(), Some("crun"));
    }

    #[test]
    fn unknown_flags_and_missing_image_are_errors() {
        for (bad, expect) in [
            (&["-d", "--mount", "type=bind", "img"][..], "\"--mount\""),
            (&["-dx", "img"][..], "\"-x\""),
            (&["-d", "-i"][..], "no image"),
            (&["-e"][..], "needs a value"),
            (&["--tty=maybe", "img"][..], "not a boolean"),
            (&["-m", "lots", "img"][..], "not a size"),
        ] {
            let spec = RunSpec { run_command: args(bad), ..RunSpec::default() };
            let err = spec.to_request().unwrap_err().to_string();
            assert!(err.contains(expect), "{bad:?}: {err}");
        }
    }

    #[test]
    fn flags_after_the_image_belong_to_the_command() {
        let spec = RunSpec { run_command: args(&["-d", "img", "-d", "--weird"]), ..RunSpec::default() };
        let req = spec.to_request().unwrap();
        assert_eq!(req.body.cmd, Some(args(&["-d", "--weird"])));
    }
}
