#!/usr/bin/env python3
"""Upload channels into a TCG guest: SSH (per cipher, scp/sftp/cat) against virtio-blk, an ext4
or ISO image, virtiofs, 9p and HTTP over slirp. Boots one VM with every device attached, then
measures each channel with the same file. Prints human lines and one JSON line per figure.

usage: channels.py IMAGE [--cpu max] [--mib 100] [--ciphers a,b] [--skip ssh,blk,...]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"]


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("image")
    p.add_argument("--cpu", default="")
    p.add_argument("--mib", type=int, default=100)
    p.add_argument("--ciphers", default=",".join(CIPHERS))
    p.add_argument("--skip", default="")
    p.add_argument("--label", default="")
    a = p.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    size = a.mib * 1048576
    tmp = tempfile.mkdtemp(prefix="kiln-tcg-channels-")
    share = os.path.join(tmp, "share")
    os.mkdir(share)
    src = os.path.join(share, "up.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(size))
    digest = hashlib.sha256(open(src, "rb").read()).hexdigest()
    procs = []
    results = []

    def out(kind, seconds, **extra):
        r = {"label": a.label, "channel": kind, "seconds": round(seconds, 2) if seconds else None,
             "mb_s": round(size / 1e6 / seconds, 2) if seconds else None, "load": probe.load(),
             "cpu": a.cpu or "default", **extra}
        results.append(r)
        print(json.dumps(r), flush=True)

    # Images the guest reads from, made on the host (their making is timed too).
    t = time.monotonic()
    ext4 = os.path.join(tmp, "up.ext4")
    run(["truncate", "-s", str(size + 16 * 1048576), ext4])
    run(["mkfs.ext4", "-q", "-F", "-d", share, ext4])
    ext4_make = time.monotonic() - t
    t = time.monotonic()
    iso = os.path.join(tmp, "up.iso")
    run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", iso, share])
    iso_make = time.monotonic() - t
    print(f"host: ext4 image {ext4_make:.2f}s, iso {iso_make:.2f}s", flush=True)

    vfs_sock = os.path.join(tmp, "vfs.sock")
    vfsd = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={vfs_sock}", "-o", f"source={share}",
                             "-o", "cache=auto"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(vfsd)
    for _ in range(100):
        if os.path.exists(vfs_sock):
            break
        time.sleep(0.05)

    qemu_args = [
        "-drive", f"file={src},if=virtio,format=raw,readonly=on",        # vdb: the file itself
        "-drive", f"file={ext4},if=virtio,format=raw,readonly=on",       # vdc: ext4 holding it
        "-drive", f"file={iso},if=virtio,format=raw,readonly=on",        # vdd: ISO holding it
        "-object", "memory-backend-memfd,id=mem,size=1024M,share=on", "-numa", "node,memdev=mem",
        "-chardev", f"socket,id=vfs,path={vfs_sock}",
        "-device", "vhost-user-fs-pci,chardev=vfs,tag=kilnfs",
        "-virtfs", f"local,path={share},mount_tag=kiln9p,security_model=none,readonly=on",
    ]
    ns = argparse.Namespace(image=a.image, accel="tcg", cpu=a.cpu, machine="pc", smp=2, mem=1024, kernel=False,
                            initrd="", append="", copy=False, qemu_arg=qemu_args, timeout=400, banner_wait=4.0, pending=2,
                            interval=1.0)
    vm = probe.Vm(ns)
    try:
        vm.start()
        banner, _ = vm.wait_banner(400)
        if banner is None:
            raise SystemExit("no SSH banner")
        vm.wait_login(120)
        print(f"guest up: banner {banner}s", flush=True)

        def guest(cmd, timeout=900):
            """Run cmd as root; return its own elapsed seconds (measured in the guest) and output."""
            r = vm.ssh(f"sudo sh -c 's=$(date +%s.%N); {cmd}; rc=$?; e=$(date +%s.%N); echo ELAPSED $s $e; exit $rc'",
                       timeout=timeout, check=False)
            el = [l for l in r.stdout.splitlines() if l.startswith("ELAPSED")]
            secs = float(el[-1].split()[2]) - float(el[-1].split()[1]) if el else None
            return r.returncode, secs, r.stdout + r.stderr

        def check(path):
            rc, _, o = guest(f"sha256sum {path} | cut -c1-64; rm -f {path}")
            got = o.split()[0] if o.split() else ""
            return got == digest

        if "ssh" not in skip:
            for c in a.ciphers.split(","):
                ctl = os.path.join(tmp, "ctl")
                base = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                        "-o", "PubkeyAuthentication=no", "-o", f"ControlPath={ctl}", "-c", c]
                # One master connection per cipher: the transfers below time data, not logins.
                subprocess.run(["ssh", *base, "-M", "-f", "-N", "-p", str(vm.port), "kiln@127.0.0.1"],
                               env=vm.env(), check=True, stdin=subprocess.DEVNULL)
                try:
                    t = time.monotonic()
                    subprocess.run(["ssh", *base, "-p", str(vm.port), "kiln@127.0.0.1", "cat > /dev/null"],
                                   env=vm.env(), check=True, stdin=open(src, "rb"))
                    out("ssh cat>/dev/null", time.monotonic() - t, cipher=c)
                    t = time.monotonic()
                    subprocess.run(["scp", *base, "-q", "-P", str(vm.port), src, "kiln@127.0.0.1:/tmp/up.bin"],
                                   env=vm.env(), check=True, stdin=subprocess.DEVNULL)
                    out("scp (sftp protocol) to /tmp", time.monotonic() - t, cipher=c, ok=check("/tmp/up.bin"))
                    if c == CIPHERS[0] or c.startswith("chacha"):
                        t = time.monotonic()
                        subprocess.run(["scp", "-O", *base, "-q", "-P", str(vm.port), src, "kiln@127.0.0.1:/tmp/up.bin"],
                                       env=vm.env(), check=True, stdin=subprocess.DEVNULL)
                        out("scp -O (legacy scp) to /tmp", time.monotonic() - t, cipher=c, ok=check("/tmp/up.bin"))
                finally:
                    subprocess.run(["ssh", *base, "-O", "exit", "-p", str(vm.port), "kiln@127.0.0.1"],
                                   env=vm.env(), capture_output=True)

        if "blk" not in skip:
            rc, s, o = guest(f"dd if=/dev/vdb of=/dev/null bs=1M count={a.mib} status=none")
            out("virtio-blk raw -> /dev/null (dd)", s, rc=rc)
            guest("echo 3 > /proc/sys/vm/drop_caches")
            rc, s, o = guest(f"dd if=/dev/vdb of=/tmp/up.bin bs=1M count={a.mib} status=none && sync")
            out("virtio-blk raw -> /tmp (dd + sync)", s, rc=rc, ok=check("/tmp/up.bin"))
            rc, s, o = guest("mkdir -p /mnt/e && mount -o ro /dev/vdc /mnt/e && cp /mnt/e/up.bin /tmp/up.bin && sync")
            out("virtio-blk ext4 -> /tmp (mount + cp + sync)", s, rc=rc, ok=check("/tmp/up.bin"), host_make_s=round(ext4_make, 2))
            rc, s, o = guest("mkdir -p /mnt/i && mount -o ro -t iso9660 /dev/vdd /mnt/i && cp /mnt/i/up.bin /tmp/up.bin && sync")
            out("virtio-blk iso9660 -> /tmp (mount + cp + sync)", s, rc=rc, ok=check("/tmp/up.bin"), host_make_s=round(iso_make, 2),
                err=o.strip()[-200:] if rc else "")

        if "virtiofs" not in skip:
            rc, s, o = guest("mkdir -p /mnt/v && mount -t virtiofs kilnfs /mnt/v && cp /mnt/v/up.bin /tmp/up.bin && sync")
            out("virtiofs -> /tmp (mount + cp + sync)", s, rc=rc, ok=check("/tmp/up.bin") if rc == 0 else False,
                err=o.strip()[-200:] if rc else "")

        if "9p" not in skip:
            rc, s, o = guest("modprobe 9pnet_virtio && mkdir -p /mnt/9 && mount -t 9p -o trans=virtio,version=9p2000.L kiln9p /mnt/9 && cp /mnt/9/up.bin /tmp/up.bin && sync")
            out("virtio-9p -> /tmp", s if rc == 0 else None, rc=rc, err=o.strip()[-200:] if rc else "")

        if "http" not in skip:
            port = probe.free_port()
            httpd = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=share,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(httpd)
            time.sleep(1)
            rc, s, o = guest(f"/usr/lib/apt/apt-helper download-file http://10.0.2.2:{port}/up.bin /tmp/up.bin >/dev/null && sync")
            out("HTTP over slirp (apt-helper) -> /tmp", s, rc=rc, ok=check("/tmp/up.bin"), err=o.strip()[-200:] if rc else "")

        if "tcp" not in skip:
            # Plain TCP through slirp, no crypto and no HTTP: what the network path itself moves.
            import socket
            import threading
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(4)
            port = srv.getsockname()[1]

            def serve():
                for _ in range(2):
                    conn, _ = srv.accept()
                    with conn, open(src, "rb") as f:
                        conn.sendfile(f)

            threading.Thread(target=serve, daemon=True).start()
            rc, s, o = guest(f"bash -c \"cat < /dev/tcp/10.0.2.2/{port} > /dev/null\"")
            out("raw TCP over slirp -> /dev/null", s, rc=rc)
            rc, s, o = guest(f"bash -c \"cat < /dev/tcp/10.0.2.2/{port} > /tmp/up.bin\" && sync")
            out("raw TCP over slirp -> /tmp", s, rc=rc, ok=check("/tmp/up.bin"))
            srv.close()

        if "hotplug" not in skip:
            t0 = time.monotonic()
            r1 = vm.qmp.cmd("blockdev-add", **{"node-name": "hp0", "driver": "raw", "read-only": True,
                                               "file": {"driver": "file", "filename": src, "read-only": True}})
            r2 = vm.qmp.cmd("device_add", driver="virtio-blk-pci", drive="hp0", id="hpdev0")
            qmp_s = time.monotonic() - t0
            # Wait for the guest to see it (its serial is not needed: the disk's size shows up in sysfs).
            rc, s, o = guest("for i in $(seq 300); do [ -b /dev/vde ] && break; sleep 0.1; done; "
                             f"dd if=/dev/vde of=/tmp/up.bin bs=1M count={a.mib} status=none && sync")
            total = time.monotonic() - t0
            out("hot-plugged virtio-blk (QMP blockdev-add + device_add) -> /tmp", s, rc=rc, ok=check("/tmp/up.bin"),
                qmp_s=round(qmp_s, 3), total_with_ssh_s=round(total, 2), qmp=[str(r1)[:80], str(r2)[:80]])
            t0 = time.monotonic()
            r3 = vm.qmp.cmd("device_del", id="hpdev0")
            ev = vm.qmp.wait_event("DEVICE_DELETED", 60)
            r4 = vm.qmp.cmd("blockdev-del", **{"node-name": "hp0"})
            print(f"unplug: device_del {r3} DEVICE_DELETED after {time.monotonic() - t0:.2f}s, blockdev-del {r4}", flush=True)
    finally:
        vm.stop()
        for pr in procs:
            if pr.poll() is None:
                pr.kill()  # our own virtiofsd / http.server, by PID
                pr.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
