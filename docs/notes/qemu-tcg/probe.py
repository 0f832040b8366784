#!/usr/bin/env python3
"""Boot kiln's base image in QEMU and time what the qemu builder will wait for.

Measures, from the moment qemu-system-x86_64 is spawned:
  banner   the forwarded SSH port answers with "SSH-2.0-" (slirp accepts a TCP connection on
           the host side even while the guest has no listener, so only the banner counts)
  login    `ssh kiln@127.0.0.1 true` with the password succeeds
then optionally: guest systemd-analyze, uploads, and a shutdown (ssh or QMP system_powerdown)
until QEMU exits. Each run prints one JSON line (and the human lines before it).

Only the standard library and OpenSSH's client are used; the password reaches ssh through
SSH_ASKPASS. Every QEMU this starts listens on 127.0.0.1 only and is killed by its PID.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Qmp:
    """Minimal QMP client: one command at a time, events collected with their times."""

    def __init__(self, path, t0, timeout=30):
        self.t0 = t0
        self.events = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb", buffering=0)
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise EOFError("QMP closed")
        msg = json.loads(line)
        if "event" in msg:
            self.events.append((round(time.monotonic() - self.t0, 3), msg["event"], msg.get("data")))
        return msg

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.file.write(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg or "error" in msg:
                return msg

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line}).get("return", "")

    def wait_event(self, name, timeout):
        self.sock.settimeout(timeout)
        try:
            while not any(e[1] == name for e in self.events):
                self._read()
        except (socket.timeout, EOFError):
            pass
        finally:
            self.sock.settimeout(None)
        return next((e for e in self.events if e[1] == name), None)


class Vm:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="kiln-tcg-probe-")
        self.port = free_port()
        self.qmp_path = os.path.join(self.tmp, "qmp.sock")
        self.serial_path = os.path.join(self.tmp, "serial.sock")
        self.serial = []  # (t, line)
        self.proc = None
        self.qmp = None
        disk = os.path.join(self.tmp, "disk.qcow2")
        if a.copy:
            shutil.copyfile(a.image, disk)  # what Packer 1.6.6 does with disk_image
        else:
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                            "-b", os.path.abspath(a.image), disk], check=True)
        self.disk = disk

    def argv(self):
        a = self.a
        accel = "tcg,thread=multi" if a.accel == "tcg" else a.accel
        argv = ["qemu-system-x86_64", "-machine", a.machine, "-accel", accel,
                "-smp", str(a.smp), "-m", str(a.mem), "-display", "none",
                "-no-user-config", "-nodefaults", "-vga", "std",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-chardev", f"socket,id=ser0,path={self.serial_path},server=on,wait=off",
                "-serial", "chardev:ser0",
                "-drive", f"file={self.disk},if=virtio,cache=writeback,discard=ignore,format=qcow2",
                "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:22",
                "-device", "virtio-net-pci,netdev=net0"]
        if a.cpu:
            argv += ["-cpu", a.cpu]
        if a.kernel:
            d = os.path.dirname(os.path.abspath(a.image))
            argv += ["-kernel", os.path.join(d, "vmlinuz"), "-initrd", a.initrd or os.path.join(d, "initrd.img"),
                     "-append", a.append]
        for x in a.qemu_arg:
            argv += x.split(" ", 1) if x.startswith("-") and " " in x else [x]
        return argv

    def start(self):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.qmp = Qmp(self.qmp_path, self.t0)
        threading.Thread(target=self._serial, daemon=True).start()

    def t(self):
        return round(time.monotonic() - self.t0, 3)

    def _serial(self):
        s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                s.connect(self.serial_path)
                break
            except OSError:
                time.sleep(0.05)
        buf = b""
        while True:
            try:
                data = s.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.serial.append((self.t(), line.decode(errors="replace").rstrip("\r")))

    def wait_banner(self, timeout):
        """Poll the forwarded port until the guest's sshd sends its banner.

        Slirp accepts on the host side at once, whatever the guest does: a refused connection is
        closed right away (guest up, sshd not yet), an unreachable guest leaves it hanging while
        slirp re-sends its SYN. Each connection that reaches sshd costs the emulated CPU a fork
        and a re-exec, so: at most `pending` connections, a new one every `interval`, each given
        `banner_wait` seconds to bring the banner.
        """
        import selectors
        sel = selectors.DefaultSelector()
        pending = {}  # socket -> (opened at, bytes so far)
        attempts = 0
        next_open = 0.0
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return None, attempts
                now = time.monotonic()
                for c, (opened, _) in list(pending.items()):
                    if now - opened > self.a.banner_wait:
                        sel.unregister(c)
                        c.close()
                        del pending[c]
                if now >= next_open and len(pending) < self.a.pending:
                    attempts += 1
                    c = socket.socket()
                    c.setblocking(False)
                    c.connect_ex(("127.0.0.1", self.port))
                    sel.register(c, selectors.EVENT_READ)
                    pending[c] = (now, b"")
                    next_open = now + self.a.interval
                for key, _ in sel.select(timeout=0.05):
                    c = key.fileobj
                    try:
                        data = c.recv(64)
                    except OSError:
                        data = b""
                    if not data:  # refused: the guest is up, its sshd not yet
                        sel.unregister(c)
                        c.close()
                        del pending[c]
                        continue
                    got = pending[c][1] + data
                    if got.startswith(b"SSH-2.0-"):
                        return self.t(), attempts
                    pending[c] = (pending[c][0], got)
            return None, attempts
        finally:
            for c in pending:
                c.close()
            sel.close()

    def ssh_argv(self, *cmd, ciphers=None):
        opts = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=password",
                "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=10"]
        if ciphers:
            opts += ["-c", ciphers]
        return opts

    def env(self):
        askpass = os.path.join(self.tmp, "askpass")
        if not os.path.exists(askpass):
            with open(askpass, "w") as f:
                f.write("#!/bin/sh\necho kiln\n")
            os.chmod(askpass, 0o700)
        env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return env

    def ssh(self, command, timeout=120, ciphers=None, check=True):
        argv = ["ssh", *self.ssh_argv(ciphers=ciphers), "-p", str(self.port), "kiln@127.0.0.1", command]
        r = subprocess.run(argv, env=self.env(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"ssh {command!r}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def cpu_seconds(self):
        """User + system CPU time QEMU has used: a boot's cost, far less load-dependent than wall time."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)

    def wait_login(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ssh("true", timeout=30, check=False).returncode == 0:
                    return self.t()
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)
        return None

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
            return self.t()
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # this probe's own QEMU, by its PID
            self.proc.wait()
        if getattr(self.a, "keep_disk", ""):
            shutil.move(self.disk, self.a.keep_disk)
        shutil.rmtree(self.tmp, ignore_errors=True)


def guest_facts(vm):
    """Where the boot time went, from the guest's own clocks (seconds since the kernel started)."""
    script = ("cat /proc/uptime; systemd-analyze | head -1; "
              "systemctl show -p ActiveEnterTimestampMonotonic --value ssh.service; "
              "journalctl -b -o short-monotonic --no-pager -u systemd-networkd | grep -m1 DHCPv4 || true; "
              "dmesg 2>/dev/null | grep -m1 'Run /init' || true")
    before = vm.t()
    out = vm.ssh(f"sudo sh -c \"{script}\"").stdout.splitlines()
    after = vm.t()
    up = float(out[0].split()[0])
    # SSH's own round trip is roughly symmetric: the uptime was read near the middle.
    f = {"prekernel_s": round((before + after) / 2 - up, 2)}
    import re
    m = re.search(r"in ([\d.]+)s \(kernel\) \+ ([\d.]+)s \(userspace\)", out[1])
    if m:
        f["kernel_s"], f["userspace_s"] = float(m.group(1)), float(m.group(2))
    if out[2].strip().isdigit():
        f["ssh_active_s"] = round(int(out[2]) / 1e6, 2)
    for line in out[3:]:
        m = re.match(r"\[\s*([\d.]+)\]", line)
        if m and "DHCPv4" in line:
            f["dhcp_s"] = float(m.group(1))
        elif m and "Run /init" in line:
            f["init_s"] = float(m.group(1))
    if "ssh_active_s" in f:
        # When sshd was ready on the host's clock, and how long the banner poll took to notice.
        f["sshd_ready_host_s"] = round(f["prekernel_s"] + f["ssh_active_s"], 2)
        f["banner_lag_s"] = round(vm.banner_s - f["sshd_ready_host_s"], 2) if vm.banner_s else None
    return f


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image")
    p.add_argument("--accel", default="tcg")
    p.add_argument("--cpu", default="", help="-cpu model (default: QEMU's)")
    p.add_argument("--machine", default="pc")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--mem", type=int, default=1024)
    p.add_argument("--kernel", action="store_true", help="direct kernel boot with vmlinuz/initrd.img beside the image")
    p.add_argument("--initrd", default="")
    p.add_argument("--append", default="root=LABEL=kiln-root ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 quiet")
    p.add_argument("--copy", action="store_true", help="copy the image (as Packer does) instead of an overlay")
    p.add_argument("--qemu-arg", action="append", default=[], help="extra QEMU argument(s)")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--analyze", action="store_true", help="print the guest's systemd-analyze")
    p.add_argument("--guest", action="append", default=[], help="run this command in the guest and print it")
    p.add_argument("--shutdown", choices=["ssh", "qmp", "kill"], default="ssh")
    p.add_argument("--serial", action="store_true", help="print the time-stamped serial console")
    p.add_argument("--label", default="")
    p.add_argument("--keep-disk", default="", help="keep the VM's disk (overlay or copy) at this path")
    p.add_argument("--login-repeat", type=int, default=0, help="time this many more `ssh true` logins")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between new banner connections")
    p.add_argument("--pending", type=int, default=2, help="banner connections open at once")
    p.add_argument("--banner-wait", type=float, default=4.0,
                   help="how long one connection waits for the banner (sshd under TCG can take seconds)")
    a = p.parse_args()

    res = {"label": a.label, "load_start": load(), "accel": a.accel, "cpu": a.cpu or "default",
           "boot": "kernel" if a.kernel else "disk", "smp": a.smp, "mem": a.mem}
    vm = Vm(a)
    try:
        vm.start()
        print("qemu:", " ".join(vm.argv()), flush=True)
        res["banner_s"], res["banner_attempts"] = vm.wait_banner(a.timeout)
        vm.banner_s = res["banner_s"]
        res["qemu_cpu_at_banner_s"] = vm.cpu_seconds()
        res["status_at_banner"] = vm.qmp.cmd("query-status")["return"]["status"]
        if res["banner_s"] is None:
            res["status"] = vm.qmp.cmd("query-status")["return"]
            return res
        res["login_s"] = vm.wait_login(60)
        res["qemu_cpu_at_login_s"] = vm.cpu_seconds()
        if res["login_s"] is not None:
            res.update(guest_facts(vm))
        if a.analyze:
            for c in ["systemd-analyze", "systemd-analyze blame --no-pager | head -15",
                      "systemd-analyze critical-chain --no-pager ssh.service"]:
                print(f"--- guest: {c}\n" + vm.ssh(c).stdout, flush=True)
        for i in range(a.login_repeat):
            t = time.monotonic()
            vm.ssh("true")
            res.setdefault("login_repeat_s", []).append(round(time.monotonic() - t, 2))
        for c in a.guest:
            t = time.monotonic()
            r = vm.ssh(c, timeout=900, check=False)
            print(f"--- guest ({time.monotonic() - t:.1f}s, exit {r.returncode}): {c}\n{r.stdout}{r.stderr}", flush=True)
        res["load_before_shutdown"] = load()
        if a.shutdown == "ssh":
            t = vm.t()
            vm.ssh("sudo shutdown -P now", check=False)
            ex = vm.wait_exit(120)
            res["shutdown_s"] = round(ex - t, 3) if ex else None
        elif a.shutdown == "qmp":
            t = vm.t()
            vm.qmp.cmd("system_powerdown")
            ev = vm.qmp.wait_event("SHUTDOWN", 120)
            ex = vm.wait_exit(30)
            res["powerdown_event_s"] = round(ev[0] - t, 3) if ev else None
            res["shutdown_s"] = round(ex - t, 3) if ex else None
        res["qmp_events"] = [(e[0], e[1]) for e in vm.qmp.events]
        return res
    finally:
        if a.serial:
            for t, line in vm.serial:
                print(f"[{t:7.2f}] {line}")
        res["load_end"] = load()
        vm.stop()
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
