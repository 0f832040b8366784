//! The qemu builder's parts against a real QEMU (TCG): QMP, key events, starting, watching and
//! stopping VMs, and one boot of the base image (scripts/base-image) that types a boot command
//! into its console and checks what arrived.
//!
//! Needs qemu-system-x86_64 (and the base image for the boot test); without them the tests say
//! so and pass, unless KILN_REQUIRE_TOOLS=1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiln_builders::qemu::accel::{self, Failure, HostFacts};
use kiln_builders::qemu::args::{self, Inputs, Net};
use kiln_builders::qemu::bootcommand;
use kiln_builders::qemu::config::{Accelerator, Config};
use kiln_builders::qemu::disk::{DiskPlan, QemuImg};
use kiln_builders::qemu::keys::{char_key, Key, SPECIALS};
use kiln_builders::qemu::qmp::{KeyEvent, QmpError, RunState};
use kiln_builders::qemu::tpm::Swtpm;
use kiln_builders::qemu::vm::{self, Exit, GuestEnd, Vm, VmSpec};

const QEMU: &str = "qemu-system-x86_64";

fn require() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").as_deref() == Ok("1")
}

fn skip(why: &str) {
    assert!(!require(), "KILN_REQUIRE_TOOLS=1 but {why}");
    eprintln!("skipping: {why}");
}

fn have_qemu() -> bool {
    let ok = std::process::Command::new(QEMU).arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        skip("qemu-system-x86_64 is not installed");
    }
    ok
}

/// The base image of this checkout's scripts/base-image (its recipe's cache entry: an image of
/// another recipe may log in differently), built there when missing and running as root.
fn base_image() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/base-image");
    let out = std::process::Command::new(script).stderr(std::process::Stdio::inherit()).output();
    let path = out.ok().filter(|o| o.status.success()).and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines().last().map(|l| PathBuf::from(l.trim())).filter(|p| p.is_file())
    });
    if path.is_none() {
        skip("no base image: run scripts/base-image (as root) first");
    }
    path
}

/// A VM without disks: `-machine none` (no guest code at all) or an empty `pc`.
fn tiny_vm(dir: &Path, name: &str, machine: &[&str]) -> Vm {
    let sock = dir.join(format!("{name}.sock"));
    let mut a: Vec<String> = machine.iter().map(|s| s.to_string()).collect();
    a.extend(["-nodefaults", "-display", "none", "-qmp"].map(String::from));
    a.push(format!("unix:{},server=on,wait=off", sock.display()));
    Vm::start(VmSpec { program: QEMU.into(), args: a, qmp_socket: sock, on_stderr: None }).unwrap()
}

#[tokio::test]
async fn qmp_commands_events_and_errors() {
    if !have_qemu() {
        return;
    }
    let t = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let vm = tiny_vm(dir.path(), "a", &["-machine", "none,accel=tcg"]);
    assert!(vm.pid > 0);
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    assert!(qmp.version.starts_with(char::is_numeric), "{}", qmp.version);
    let st = qmp.query_status().await.unwrap();
    assert_eq!((st.running, st.state), (true, RunState::Running));
    assert!(qmp.human_monitor_command("info version").await.unwrap().contains(&qmp.version));
    match qmp.execute("no-such-command", None).await {
        Err(QmpError::Command { class, .. }) => assert_eq!(class, "CommandNotFound"),
        other => panic!("{other:?}"),
    }
    let mut events = qmp.subscribe();
    qmp.execute("stop", None).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(ev.name, "STOP");
    assert_eq!(qmp.query_status().await.unwrap().state, RunState::Paused);
    qmp.execute("cont", None).await.unwrap();
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap().name, "RESUME");
    assert_eq!(qmp.events_so_far().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["STOP", "RESUME"]);
    // No VNC server: setting its password fails with QEMU's reason.
    assert!(matches!(qmp.set_vnc_password("x").await, Err(QmpError::Command { .. })));
    qmp.quit().await.unwrap();
    assert_eq!(vm.wait_timeout(Duration::from_secs(10)).await, Some(Exit::Clean));
    qmp.closed().await;
    assert_eq!(qmp.execute("query-status", None).await.unwrap_err(), QmpError::Closed);
    eprintln!("qmp test took {:?}", t.elapsed());
}

/// Every key of the boot command language reaches QEMU's keyboard without an error, as
/// `input-send-event` and as `send-key`. (That the guest sees the right characters is the boot
/// test's job.)
#[tokio::test]
async fn qemu_accepts_every_key_event() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A pc machine with no disk: SeaBIOS finds nothing to boot and waits, while the PS/2
    // keyboard takes events (QEMU refuses input events for a paused VM).
    let vm = tiny_vm(dir.path(), "a", &["-machine", "pc,accel=tcg"]);
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    let mut keys: Vec<Key> = SPECIALS.iter().map(|(_, s)| Key::Special(*s)).collect();
    keys.extend((' '..='~').map(Key::Char));
    for k in &keys {
        qmp.input_send_event(&k.press()).await.unwrap_or_else(|e| panic!("{k:?}: {e}"));
    }
    for c in ' '..='~' {
        let (q, shift) = char_key(c).unwrap();
        let combo: Vec<&str> = if shift { vec!["shift", q] } else { vec![q] };
        qmp.send_key(&combo, Some(Duration::from_millis(1))).await.unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
    let e = qmp.input_send_event(&[KeyEvent { qcode: "no_such_key", down: true }]).await.unwrap_err();
    assert!(matches!(e, QmpError::Command { .. }), "{e:?}");
    // The whole parsed command goes through type_steps too.
    let parsed = bootcommand::parse(&["<esc><leftCtrlOn>c<leftCtrlOff>Hello, World! ~|<f12><enter>"]).unwrap();
    bootcommand::type_steps(&qmp, &bootcommand::steps(&parsed.actions, Duration::ZERO)).await.unwrap();
    assert_eq!(vm.stop(Some(&qmp), Duration::from_millis(200)).await, Exit::Clean);
}

#[tokio::test]
async fn a_vnc_password_is_set_over_qmp() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A VNC server on a unix socket: no TCP port to reserve.
    let vnc = format!("unix:{},password=on", dir.path().join("vnc.sock").display());
    let vm = tiny_vm(dir.path(), "a", &["-machine", "none", "-vnc", &vnc]);
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    let pw = vm::vnc_password().unwrap();
    assert_eq!(pw.len(), 8);
    assert_ne!(pw, vm::vnc_password().unwrap());
    qmp.set_vnc_password(&pw).await.unwrap();
    assert!(qmp.human_monitor_command("info vnc").await.unwrap().contains("vnc.sock"));
}

#[tokio::test]
async fn a_start_failure_reports_qemus_error() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vm = tiny_vm(dir.path(), "a", &["-machine", "none", "-no-such-flag"]);
    let e = vm.connect_qmp(Duration::from_secs(10)).await.err().unwrap();
    assert!(e.message.starts_with("QEMU did not start: QEMU exited with status 1"), "{e}");
    assert!(e.message.contains("-no-such-flag"), "{e}");
}

#[tokio::test]
async fn stopping_escalates_and_dropping_kills() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // -machine none has no ACPI: the power button does nothing, so stop() moves on to quit.
    let vm = tiny_vm(dir.path(), "a", &["-machine", "none"]);
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    let t = Instant::now();
    assert_eq!(vm.stop(Some(&qmp), Duration::from_millis(300)).await, Exit::Clean);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Without QMP: SIGKILL.
    let vm = tiny_vm(dir.path(), "b", &["-machine", "none"]);
    let _ = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    assert!(matches!(vm.stop(None, Duration::ZERO).await, Exit::Signalled { signal: 9, .. }));
    // Dropped: gone.
    let vm = tiny_vm(dir.path(), "c", &["-machine", "none"]);
    let pid = vm.pid as i32;
    let _q = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    drop(vm);
    let t = Instant::now();
    while alive(pid) {
        assert!(t.elapsed() < Duration::from_secs(5), "QEMU {pid} survived its handle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Both watchers notice at once when QEMU goes away underneath them.
#[tokio::test]
async fn the_watchers_see_qemu_go() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vm = tiny_vm(dir.path(), "a", &["-machine", "none"]);
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    // A healthy VM passes the start window.
    accel::watch_start(&qmp, Duration::from_millis(300), Duration::from_millis(100)).await.unwrap();
    let t = Instant::now();
    let (end, start, ()) = tokio::join!(
        vm::watch(&vm, &qmp),
        accel::watch_start(&qmp, Duration::from_secs(30), Duration::from_secs(10)),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            vm.signal(9);
        }
    );
    assert!(matches!(end, GuestEnd::Exited(Exit::Signalled { signal: 9, .. })), "{end:?}");
    assert!(matches!(start, Err(Failure::Exited { .. })), "{start:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(end.to_error().message, "QEMU was killed by signal 9");
}

/// Later Packers' machine options on a real QEMU: the CPU topology and model, the graphics card
/// and a TPM 2.0 from swtpm reach the machine as configured, and swtpm ends with the VM.
#[tokio::test]
async fn cpu_topology_model_vga_and_a_tpm_reach_qemu() {
    if !have_qemu() {
        return;
    }
    let Some(swtpm) = kiln_builders::qemu::tpm::find_swtpm() else {
        skip("swtpm is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        r#"{"cpus": 3, "sockets": 1, "cores": 2, "threads": 2, "cpu_model": "max", "vga": "virtio", "vtpm": true, "headless": true}"#,
    );
    let mut tpm = Swtpm::start(&swtpm, &dir.path().join("tpm"), c.use_tpm1).unwrap();
    tpm.ready().await.unwrap();
    let sock = dir.path().join("qmp.sock");
    let template = BTreeMap::new();
    let inputs = Inputs { tpm_socket: Some(&tpm.socket), ..vm_inputs(&c, &sock, &template) };
    let a = args::command_line(&inputs).unwrap();
    let vm = Vm::start(VmSpec { program: QEMU.into(), args: a.clone(), qmp_socket: sock, on_stderr: None }).unwrap();
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}: {}\n{a:?}", vm.stderr()));
    // Three CPUs of a 1×2×2 topology (the fourth could be plugged in), of the model asked for.
    let cpus = qmp.execute("query-cpus-fast", None).await.unwrap();
    let props: Vec<(u64, u64, u64)> = cpus
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let p = &c["props"];
            (p["socket-id"].as_u64().unwrap(), p["core-id"].as_u64().unwrap(), p["thread-id"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(props, [(0, 0, 0), (0, 0, 1), (0, 1, 0)]);
    let path = cpus[0]["qom-path"].as_str().unwrap();
    let ty = qmp.execute("qom-get", Some(serde_json::json!({"path": path, "property": "type"}))).await.unwrap();
    assert_eq!(ty, "max-x86_64-cpu");
    let hotpluggable = qmp.execute("query-hotpluggable-cpus", None).await.unwrap();
    assert_eq!(hotpluggable.as_array().unwrap().len(), 4, "{hotpluggable}");
    // The virtio graphics card (PCI 1af4:1050).
    let pci = qmp.execute("query-pci", None).await.unwrap();
    let ids: Vec<(u64, u64)> = pci[0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"]["vendor"].as_u64().unwrap(), d["id"]["device"].as_u64().unwrap()))
        .collect();
    assert!(ids.contains(&(0x1af4, 0x1050)), "{ids:x?}");
    // The TPM: a TIS device on the emulator backend.
    let tpms = qmp.execute("query-tpm", None).await.unwrap();
    assert_eq!(tpms[0]["model"], "tpm-tis", "{tpms}");
    assert_eq!(tpms[0]["options"]["type"], "emulator", "{tpms}");
    // swtpm ends by itself once QEMU is gone, even killed without a word to it (as when kiln
    // itself is killed and QEMU with it): --terminate.
    vm.signal(9);
    assert!(matches!(vm.wait().await, Exit::Signalled { signal: 9, .. }));
    let t = Instant::now();
    while tpm.running() && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!tpm.running(), "swtpm still runs {:?} after QEMU ended", t.elapsed());
}

fn alive(pid: i32) -> bool {
    // Not a zombie: the reaper task may not have run yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn config(json: &str) -> Config {
    let n = kiln_template::testing::json_node("t.json", json).unwrap();
    kiln_config::decode::decode_component(&n, "the \"qemu\" builder").unwrap()
}

/// A VM's inputs with nothing made: no disks, media, VNC or TPM, no forwarded port, TCG.
fn vm_inputs<'a>(c: &'a Config, control_qmp: &'a Path, template: &'a BTreeMap<String, String>) -> Inputs<'a> {
    Inputs {
        config: c,
        vm_name: "vm",
        accelerator: Accelerator::Tcg,
        disks: &[],
        boot_from_cd: false,
        cdroms: &[],
        floppy: None,
        net: Net::User { forward: None },
        vnc_port: None,
        user_qmp: None,
        control_qmp,
        console: None,
        efi_vars: None,
        tpm_socket: None,
        template,
    }
}

/// Starts the base image the way the builder will: a disk plan (an overlay on the image), the
/// command line from the configuration, the VM, its QMP socket. The serial console goes to
/// `OUTPUT/serial.log`.
async fn boot_base_image(out: &Path, image: &Path, accel: Accelerator, json: &str) -> (Vm, DiskPlan) {
    let c = config(json);
    let img = QemuImg::default();
    let fmt = img.info(image).await.unwrap().format;
    let plan = DiskPlan::new(&c, out, "vm", Some((image, &fmt))).unwrap();
    plan.create(&img, &|m| eprintln!("{m}")).await.unwrap();
    let disks = plan.disks();
    let sock = out.join("qmp.sock");
    let template: BTreeMap<String, String> = [("OutputDir".to_string(), out.display().to_string())].into();
    let inputs = Inputs { accelerator: accel, disks: &disks, ..vm_inputs(&c, &sock, &template) };
    let a = args::command_line(&inputs).unwrap();
    eprintln!("{QEMU} {}", a.join(" "));
    let vm = Vm::start(VmSpec { program: c.qemu_binary().into(), args: a, qmp_socket: sock, on_stderr: None }).unwrap();
    (vm, plan)
}

async fn wait_for_serial(path: &Path, needle: &str, timeout: Duration) -> Result<(), String> {
    let t = Instant::now();
    loop {
        let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if text.contains(needle) {
            return Ok(());
        }
        if t.elapsed() > timeout {
            return Err(format!(
                "{needle:?} did not appear on the serial console within {timeout:?}; it has:\n{}",
                tail(&text)
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(2000)..]
}

/// One boot of the base image under TCG: log in on the VGA console by typing, run
/// `sudo tee /dev/ttyS0`, type a line with every printable ASCII character, end it with
/// Ctrl-D: the line must come out on the serial console exactly. Then the ACPI power button
/// shuts the guest down cleanly and the disk is written out.
#[tokio::test]
async fn typing_a_boot_command_into_the_guest() {
    if !have_qemu() {
        return;
    }
    let Some(image) = base_image() else { return };
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let json = r#"{"disk_image": true, "skip_resize_disk": true, "headless": true, "cpus": 2, "memory": 512,
        "qemuargs": [["-serial", "file:{{ .OutputDir }}/serial.log"]]}"#;
    let (vm, plan) = boot_base_image(dir.path(), &image, Accelerator::Tcg, json).await;
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    accel::watch_start(&qmp, Duration::from_secs(2), Duration::from_millis(500)).await.unwrap();
    let serial = dir.path().join("serial.log");
    wait_for_serial(&serial, "login:", Duration::from_secs(240)).await.unwrap();
    let t_login = t0.elapsed();
    // Both gettys start together; give tty1's a moment.
    let line = "The quick brown fox: 0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ END";
    let command = [
        "<wait2>kiln<enter><wait5>kiln-base<enter><wait5>",
        "sudo tee /dev/ttyS0<enter><wait3>",
        // `<` is typed as text when it starts no expression, as in Packer.
        line,
        "<enter><leftCtrlOn>d<leftCtrlOff><wait>exit<enter>",
    ];
    let parsed = bootcommand::parse(&command).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    // Packer's default pause. With 20 ms, keys were lost while the loaded host stalled the guest:
    // QEMU's PS/2 keyboard queue holds only a few keys and drops the rest (over VNC as over QMP).
    let steps = bootcommand::steps(&parsed.actions, bootcommand::DEFAULT_KEY_INTERVAL);
    let watcher = async { vm::watch(&vm, &qmp).await };
    tokio::select! {
        r = bootcommand::type_steps(&qmp, &steps) => r.unwrap(),
        end = watcher => panic!("the guest ended while typing: {end:?}"),
    }
    let t_typed = t0.elapsed();
    wait_for_serial(&serial, line, Duration::from_secs(60)).await.unwrap();
    let exit = vm.stop(Some(&qmp), Duration::from_secs(120)).await;
    assert_eq!(exit, Exit::Clean, "{}", vm.stderr());
    // The power button, then the guest's own power-off.
    let events = qmp.events_so_far();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"POWERDOWN"), "{names:?}");
    let shutdown = events.iter().find(|e| e.name == "SHUTDOWN").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(
        (&shutdown.data["guest"], &shutdown.data["reason"]),
        (&serde_json::json!(true), &serde_json::json!("guest-shutdown"))
    );
    let t_stop = t0.elapsed();
    plan.finish(&QemuImg::default(), &|m| eprintln!("{m}"), None).await.unwrap();
    assert!(plan.output.is_file() && !plan.working.exists());
    eprintln!(
        "boot test: login prompt {t_login:?}, typed {t_typed:?}, powered off {t_stop:?}, disk written {:?}",
        t0.elapsed()
    );
}

/// `accelerator = "kvm"` on a host whose /dev/kvm is PVM: the guest stops with an internal
/// error in its boot loader, and the watcher says so (and names the fix) within 60 s.
#[tokio::test]
async fn kvm_on_a_pvm_host_fails_fast_with_the_fix() {
    if !have_qemu() {
        return;
    }
    let facts = HostFacts::probe();
    if !(facts.kvm_usable && facts.kvm_pvm) {
        // Only this kind of host shows the failure; elsewhere kvm works or is absent.
        eprintln!("skipping: /dev/kvm here is not a usable PVM backend ({facts:?})");
        return;
    }
    let Some(image) = base_image() else { return };
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (vm, _plan) = boot_base_image(
        dir.path(),
        &image,
        Accelerator::Kvm,
        r#"{"disk_image": true, "skip_resize_disk": true, "headless": true}"#,
    )
    .await;
    let qmp = vm.connect_qmp(Duration::from_secs(10)).await.unwrap();
    let failure = accel::watch_start(&qmp, Duration::from_secs(60), Duration::from_secs(1)).await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(failure, Failure::Stopped { state: RunState::InternalError, .. }), "{failure:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    let e = failure.to_error(Accelerator::Kvm);
    assert!(e.message.contains("accelerator = \"tcg\""), "{e}");
    // The guest-end watcher sees the same.
    assert_eq!(vm::watch(&vm, &qmp).await, GuestEnd::Stopped(RunState::InternalError));
    eprintln!("kvm failure detected after {took:?}: {e}");
    vm.stop(Some(&qmp), Duration::from_millis(100)).await;
    // Detection would have chosen TCG here.
    assert_eq!(accel::detect(&facts).accelerator, Accelerator::Tcg);
}
