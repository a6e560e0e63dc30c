#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where each vCPU of a running QEMU is, for a boot that timed out.

A guest whose every CPU spins with interrupts off prints nothing: no RCU
stall report, no lockup message. Its vCPUs' registers still say where it
is. Through QEMU's monitor this reads each vCPU's PC, link register and
PSTATE, walks its frame-pointer chain (arm64 kernels keep frame
pointers), and names every address from the kernel's System.map.

usage: qemu_cpus.py MONITOR_SOCKET [SYSTEM_MAP]
Prints one line per vCPU:
  cpuN EL1h irqs=off pc=func+0x1c < caller+0x40 < ...
"""
import bisect
import re
import socket
import sys
import time

FRAMES = 32


class Monitor:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(5)
        self.s.connect(path)
        self.read()

    def read(self):
        """Everything QEMU prints until its prompt."""
        out = b""
        end = time.time() + 10
        while not out.endswith(b"(qemu) ") and time.time() < end:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")

    def cmd(self, c):
        self.s.sendall((c + "\n").encode())
        return self.read()


def symbols(path):
    """Sorted (address, name) of the kernel's text symbols."""
    syms = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in "tTwW":
                    syms.append((int(parts[0], 16), parts[2]))
    except OSError:
        pass
    syms.sort()
    return syms


def name(syms, addrs, a):
    i = bisect.bisect_right(addrs, a) - 1
    if i < 0 or a - addrs[i] > 0x100000:
        return f"{a:#x}"
    return f"{syms[i][1]}+{a - addrs[i]:#x}"


def main():
    try:
        mon = Monitor(sys.argv[1])
    except OSError as e:
        sys.exit(f"no monitor at {sys.argv[1]}: {e}")
    syms = symbols(sys.argv[2]) if len(sys.argv) > 2 else []
    addrs = [a for a, _ in syms]
    cpus = re.findall(r"CPU #?(\d+)", mon.cmd("info cpus")) or ["0"]
    mon.cmd("stop")
    for cpu in cpus:
        mon.cmd(f"cpu {cpu}")
        regs = mon.cmd("info registers")
        reg = dict(re.findall(r"\b(PC|X29|X30|SP|PSTATE)\s*=\s*([0-9a-fA-F]+)", regs))
        if "PC" not in reg:
            print(f"cpu{cpu} no registers")
            continue
        el = re.search(r"PSTATE=\S+\s+\S+\s+(EL\S+)", regs)
        pstate = int(reg.get("PSTATE", "0"), 16)
        irqs = "off" if pstate & 0x80 else "on"
        chain = [int(reg["PC"], 16), int(reg.get("X30", "0"), 16)]
        fp = int(reg.get("X29", "0"), 16)
        for _ in range(FRAMES):
            if fp == 0 or fp & 7:
                break
            m = re.search(r":\s*0x([0-9a-f]+)\s+0x([0-9a-f]+)", mon.cmd(f"x /2gx {fp:#x}"))
            if not m:
                break
            fp, lr = int(m.group(1), 16), int(m.group(2), 16)
            if lr:
                chain.append(lr)
        # Return addresses may carry a pointer-authentication code.
        chain = [a | 0xffff000000000000 if a >> 55 & 1 else a for a in chain]
        where = " < ".join(name(syms, addrs, a) for a in chain)
        print(f"cpu{cpu} {el.group(1) if el else '?'} irqs={irqs} pc={where}")
    mon.cmd("cont")


if __name__ == "__main__":
    main()
