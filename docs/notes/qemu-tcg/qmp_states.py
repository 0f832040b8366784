#!/usr/bin/env python3
"""What QMP tells a builder: query-status through a TCG boot and an ACPI power-down, send-key
into the guest's VGA console, and what -accel kvm does on this host (PVM backend).

usage: qmp_states.py IMAGE {powerdown|sendkey|kvm-disk|kvm-kernel} [--wait 60]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

APPEND = "root=LABEL=kiln-root ro console=tty0 console=ttyS0,115200n8 net.ifnames=0"


def vm_for(a, accel, kernel=False, extra=()):
    # Under KVM, QEMU's default CPU model (what Packer runs): -cpu max would mean the host's.
    ns = argparse.Namespace(image=a.image, accel=accel, cpu=a.cpu if accel == "tcg" else "", machine="pc", smp=2, mem=1024, kernel=kernel,
                            initrd="", append=APPEND + " earlyprintk=ttyS0", copy=False, qemu_arg=list(extra),
                            timeout=400, banner_wait=4.0, interval=1.0, pending=2)
    return probe.Vm(ns)


def status(vm):
    return vm.qmp.cmd("query-status")["return"]


def powerdown(a):
    # -no-shutdown: after the guest powers off QEMU stays, in status "shutdown", until `quit`.
    vm = vm_for(a, "tcg", extra=["-no-shutdown"])
    try:
        vm.start()
        print("query-status after start:", status(vm))
        banner, _ = vm.wait_banner(400)
        vm.wait_login(120)
        print(f"SSH banner after {banner}s; query-status: {status(vm)}")
        t = time.monotonic()
        print("system_powerdown:", vm.qmp.cmd("system_powerdown"))
        ev = vm.qmp.wait_event("SHUTDOWN", 120)
        t_ev = time.monotonic() - t
        st = status(vm)
        print(f"SHUTDOWN event after {t_ev:.2f}s: {ev}; query-status: {st}")
        print("quit:", vm.qmp.cmd("quit"))
        ex = vm.wait_exit(30)
        print(json.dumps({"test": "powerdown", "load": probe.load(), "shutdown_event_s": round(t_ev, 2),
                          "status_after": st, "qemu_exit_after_quit": ex is not None}))
    finally:
        vm.stop()


def sendkey(a):
    vm = vm_for(a, "tcg")
    try:
        vm.start()
        vm.wait_banner(400)
        vm.wait_login(120)
        # getty on tty1 (the VGA console) waits at "login:"; type "kiln" there through the PS/2 keyboard.
        word = "kiln"
        t = time.monotonic()
        for ch in word:
            r = vm.qmp.cmd("send-key", keys=[{"type": "qcode", "data": ch}], **{"hold-time": 50})
            assert "return" in r, r
        per_key = (time.monotonic() - t) / len(word)
        time.sleep(1.5)
        screen = vm.ssh("sudo cat /dev/vcs1").stdout
        last = [l.strip() for l in screen.replace("\x00", " ").split("  ") if "login" in l]
        ok = any(l.endswith("login: " + word) or l.endswith("login:" + word) or (word in l) for l in last)
        shot = os.path.join(vm.tmp, "screen.ppm")
        vm.qmp.cmd("screendump", filename=shot)
        print(json.dumps({"test": "send-key", "typed": word, "seconds_per_key_cmd": round(per_key, 3),
                          "seen_on_tty1": ok, "tty1_text": last[-1] if last else screen[-120:],
                          "screendump_bytes": os.path.getsize(shot) if os.path.exists(shot) else 0}))
    finally:
        vm.stop()


def kvm(a, kernel):
    vm = vm_for(a, "kvm", kernel=kernel)
    try:
        vm.start()
        print("query-kvm:", vm.qmp.cmd("query-kvm")["return"])
        seen = []
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < a.wait:
            st = status(vm)["status"]
            if st != last:
                seen.append((round(time.monotonic() - t0, 2), st))
                print(f"{time.monotonic() - t0:6.2f}s query-status: {st}", flush=True)
                last = st
            if st in ("internal-error", "guest-panicked", "shutdown"):
                break
            time.sleep(0.5)
        regs = vm.qmp.hmp("info registers")
        rip = [l for l in regs.splitlines() if l.startswith(("RIP", "EIP"))]
        print("registers:", rip[:1])
        print("events:", vm.qmp.events)
        serial = [l for _, l in vm.serial]
        print(f"serial lines: {len(serial)}; last: {serial[-3:]}")
        print(json.dumps({"test": "kvm-kernel" if kernel else "kvm-disk", "load": probe.load(), "states": seen,
                          "events": [(e[0], e[1]) for e in vm.qmp.events], "serial_lines": len(serial),
                          "rip": rip[:1]}))
    finally:
        vm.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("image")
    p.add_argument("test", choices=["powerdown", "sendkey", "kvm-disk", "kvm-kernel"])
    p.add_argument("--cpu", default="")
    p.add_argument("--wait", type=float, default=60)
    a = p.parse_args()
    if a.test == "powerdown":
        powerdown(a)
    elif a.test == "sendkey":
        sendkey(a)
    else:
        kvm(a, a.test == "kvm-kernel")


if __name__ == "__main__":
    main()
