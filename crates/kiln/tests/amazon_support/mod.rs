//! What the `kiln build` tests of amazon-ebs share: moto with the seed templates' source AMIs,
//! a stand-in instance (sshd in a podman container on 127.0.0.1) that accepts a key imported
//! into moto, the test copy of a template that points at both, and moto's inventory.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use kiln_amazon::client::{AwsConfig, ConfigLoader, Credentials, Ec2Client, Env, Service};
use kiln_amazon::inventory::Inventory;
use kiln_testing::moto::{Moto, ACCESS_KEY, SECRET_KEY};
use kiln_testing::standin::{standin_or_skip, StandIn};
use kiln_testing::TempDir;

/// The key pair the stand-in accepts, imported into moto under this name.
pub const KEY_NAME: &str = "kiln-standin";

fn ami(id: &str, owner: &str, name: &str, date: &str, root: &str) -> String {
    format!(
        r#"{{"ami_id":"{id}","owner_id":"{owner}","name":"{name}","creation_date":"{date}T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"{root}","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"{name}","image_location":"amazon/{name}","sriov":"simple"}}"#
    )
}

/// The images the seed templates start from (moto serves the list in every region): their
/// fixed `source_ami`s, and Canonical's dated builds for their filters, so that
/// `most_recent` has a choice (with a newer impostor of another owner).
pub fn seed_amis() -> String {
    let canonical = "099720109477";
    let list = [
        ami(
            "ami-0022f774911c1d690",
            "137112412989",
            "amzn2-ami-kernel-5.10-hvm-2.0.20220606.1-x86_64-gp2",
            "2022-06-09",
            "/dev/xvda",
        ),
        ami(
            "ami-0ebc281c20e89ba4b",
            "137112412989",
            "amzn2-ami-hvm-2.0.20200617.0-x86_64-gp2",
            "2020-06-22",
            "/dev/xvda",
        ),
        ami(
            "ami-09d56f8956ab235b3",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20220609",
            "2022-06-09",
            "/dev/sda1",
        ),
        ami("ami-af4333cf", "679593333241", "CentOS Linux 7 x86_64 HVM EBS 1602-b7ee8a69", "2016-03-01", "/dev/sda1"),
        ami(
            "ami-0b10c000000000a1",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-bionic-18.04-amd64-server-20220901",
            "2022-09-01",
            "/dev/sda1",
        ),
        ami(
            "ami-0b10c000000000b2",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-bionic-18.04-amd64-server-20230112",
            "2023-01-12",
            "/dev/sda1",
        ),
        ami(
            "ami-0f0ca000000000a1",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20221101",
            "2022-11-01",
            "/dev/sda1",
        ),
        ami(
            "ami-0f0ca000000000b2",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209",
            "2023-02-09",
            "/dev/sda1",
        ),
        ami(
            "ami-0f0ca00000000bad",
            "666666666666",
            "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20240101",
            "2024-01-01",
            "/dev/sda1",
        ),
        ami(
            "ami-0ae1a000000000a1",
            canonical,
            "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-20210429",
            "2021-04-29",
            "/dev/sda1",
        ),
    ];
    format!("[\n{}\n]", list.join(",\n"))
}

/// The newest image a filter of each Ubuntu release chooses.
pub const NEWEST_BIONIC: &str = "ami-0b10c000000000b2";
pub const NEWEST_FOCAL: &str = "ami-0f0ca000000000b2";

/// moto, a stand-in, a key both know, and a folder for the template.
pub struct World {
    pub moto: Moto,
    pub standin: StandIn,
    pub dir: TempDir,
    /// The private key file (the stand-in's users accept its public half).
    pub key: String,
    pub rt: tokio::runtime::Runtime,
}

impl World {
    /// `None` (after a notice) when moto, podman or ssh-keygen is missing.
    pub fn start(tag: &str, regions: &[&str]) -> Option<World> {
        let moto = Moto::start(&seed_amis())?;
        let dir = TempDir::new(tag);
        let key = dir.path("standin_key");
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "kiln-standin", "-f", &key])
            .stdin(Stdio::null())
            .output();
        match keygen {
            Ok(o) if o.status.success() => {}
            _ => {
                kiln_testing::skip("ssh-keygen did not run (apt-get install openssh-client)");
                return None;
            }
        }
        let public = std::fs::read_to_string(format!("{key}.pub")).expect("public key");
        let standin = standin_or_skip(&public)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let w = World { moto, standin, dir, key, rt };
        for r in regions {
            w.rt.block_on(w.ec2(r).import_key_pair(KEY_NAME, public.trim())).expect("ImportKeyPair");
        }
        Some(w)
    }

    /// A client of moto in `region`, with the example keys.
    pub fn ec2(&self, region: &str) -> Ec2Client {
        Ec2Client::new(&moto_config(&self.moto, region))
    }

    /// The entries in the cleanup journal of the builds [`World::kiln`] ran.
    pub fn journal_entries(&self) -> Vec<String> {
        let dir = self.dir.0.join("cache").join("journal");
        let files =
            std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_else(|_| Vec::new());
        files
            .iter()
            .flat_map(|f| std::fs::read_to_string(f).unwrap_or_default().lines().map(String::from).collect::<Vec<_>>())
            .collect()
    }

    /// What moto holds in `regions`.
    pub fn inventory(&self, regions: &[&str]) -> Inventory {
        let ec2 = self.ec2(regions[0]);
        self.rt.block_on(Inventory::take(&ec2, regions)).expect("inventory")
    }

    /// What the test copy of a builder gets: moto's endpoint, the stand-in's address and port,
    /// and the imported key pair with its private key.
    pub fn builder_overrides(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("custom_endpoint_ec2", self.moto.url.clone().into()),
            ("ssh_host", "127.0.0.1".into()),
            ("ssh_port", self.standin.port.into()),
            ("ssh_keypair_name", KEY_NAME.into()),
            ("ssh_private_key_file", self.key.clone().into()),
        ]
    }

    /// The test copy of a JSON template: every amazon-ebs builder gets [`World::builder_overrides`].
    pub fn json_copy(&self, src: &str) -> String {
        let mut t: serde_json::Value = serde_json::from_str(src).expect("a valid seed template");
        for b in t["builders"].as_array_mut().expect("builders") {
            if b["type"] == "amazon-ebs" {
                for (k, v) in self.builder_overrides() {
                    b[k] = v;
                }
            }
        }
        serde_json::to_string_pretty(&t).expect("json")
    }

    /// The test copy of an HCL2 template: the overrides go at the top of each
    /// `source "amazon-ebs"` block.
    pub fn hcl_copy(&self, src: &str) -> String {
        let mut out = String::new();
        for line in src.lines() {
            out.push_str(line);
            out.push('\n');
            if line.trim_start().starts_with("source \"amazon-ebs\"") {
                for (k, v) in self.builder_overrides() {
                    out.push_str(&format!("  {k} = {v}\n"));
                }
            }
        }
        out
    }

    /// The environment `kiln build` runs with: the example keys under every name the seeds
    /// read them from, STS at moto, no instance metadata, a HOME without AWS files.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (names, value) in [
            (&["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "aws_access_key"][..], ACCESS_KEY),
            (&["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "aws_secret_key"][..], SECRET_KEY),
        ] {
            for n in names {
                env.push((n.to_string(), value.to_string()));
            }
        }
        env.push(("AWS_ENDPOINT_URL".into(), self.moto.url.clone()));
        env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        env.push(("HOME".into(), self.dir.path("home")));
        env
    }

    /// A `kiln` command in the template's folder with [`World::env`], its cache (and so its
    /// cleanup journal) in the world's folder.
    pub fn kiln(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.args(args).current_dir(&self.dir.0).env_remove("AWS_PROFILE").env_remove("AWS_REGION");
        c.env("PACKER_CACHE_DIR", self.dir.path("cache"));
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c
    }
}

/// Every service at `moto`, in `region`, with the example keys and no other environment.
pub fn moto_config(moto: &Moto, region: &str) -> AwsConfig {
    let mut l = ConfigLoader::new()
        .env(Env::from_vars::<&str, &str>([]))
        .region(region)
        .credentials(Credentials::new(ACCESS_KEY, SECRET_KEY, None));
    for s in Service::ALL {
        l = l.endpoint(s, &moto.url);
    }
    l.load().expect("config")
}

/// Copies the seed folder's `files` next to the test copy.
pub fn copy_files(seeds: &Path, dir: &Path, files: &[&str]) {
    for f in files {
        copy_tree(&seeds.join(f), &dir.join(f));
    }
}

/// Copies a file, or a folder with everything in it.
fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
        for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display())) {
            let name = e.expect("a folder entry").file_name();
            copy_tree(&from.join(&name), &to.join(&name));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
}

/// stdout and stderr of a finished command, in one string.
pub fn all_output(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The AMI ids of `region` a build's output lists ("us-east-1: ami-…").
pub fn amis_in_output(out: &str, region: &str) -> Vec<String> {
    let prefix = format!("{region}: ami-");
    out.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix).map(|id| format!("ami-{}", id.trim())))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A forwarding proxy in front of moto that holds the answer to one EC2 action until the test
/// lets it go, so a signal can reach `kiln build` while that call is in flight.
pub struct HoldingProxy {
    pub url: String,
    held: std::sync::mpsc::Receiver<()>,
    release: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl HoldingProxy {
    /// Forwards everything to moto on `upstream`; the answer to the first request with
    /// `Action=<action>` is held until [`HoldingProxy::release`] (the request itself reaches
    /// moto at once, so what it makes exists while kiln waits).
    pub fn start(upstream: u16, action: &str) -> HoldingProxy {
        use std::sync::{Arc, Condvar, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let (tx, held) = std::sync::mpsc::channel();
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let needle = format!("Action={action}&");
        let once = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let rel = release.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (tx, rel, needle, once) = (tx.clone(), rel.clone(), needle.clone(), once.clone());
                std::thread::spawn(move || serve(conn, upstream, &needle, &once, &tx, &rel));
            }
        });
        HoldingProxy { url, held, release }
    }

    /// Waits until the action's answer is being held.
    pub fn wait_held(&self, limit: std::time::Duration) -> bool {
        self.held.recv_timeout(limit).is_ok()
    }

    /// Lets the held request (and any later one) through.
    pub fn release(&self) {
        let (m, c) = &*self.release;
        *m.lock().expect("lock") = true;
        c.notify_all();
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.release();
    }
}

type Release = std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;

/// One request: forwarded to moto at once (so what it makes exists), its answer held back when
/// it is the action to hold.
fn serve(
    mut conn: std::net::TcpStream,
    upstream: u16,
    needle: &str,
    once: &std::sync::atomic::AtomicBool,
    held: &std::sync::mpsc::Sender<()>,
    release: &Release,
) {
    use std::io::{Read, Write};
    let Some((head, body)) = read_request(&mut conn) else { return };
    let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else { return };
    let head =
        head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect::<Vec<_>>().join("\r\n");
    let _ = up.write_all(format!("{}\r\nConnection: close\r\n\r\n", head.trim_end()).as_bytes());
    let _ = up.write_all(&body);
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    if String::from_utf8_lossy(&body).contains(needle) && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
        let _ = held.send(());
        let (m, c) = &**release;
        let mut go = m.lock().expect("lock");
        while !*go {
            go = c.wait(go).expect("wait");
        }
    }
    // moto closes after answering (Connection: close); so does this connection.
    let _ = conn.write_all(&answer);
}

/// A request's head (without the blank line) and body (by Content-Length).
fn read_request(conn: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((head, body))
}
