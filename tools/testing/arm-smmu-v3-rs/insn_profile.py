#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Instruction profile of dma_map_benchmark's map+unmap loop.

Boots the bench scenario under QEMU with `-icount shift=0,sleep=off`; once
the benchmark runs, turns on, through QEMU's monitor, one instruction per
translation block and the `exec` log for the kernel's addresses, for
WINDOW seconds. Every log line is then one guest instruction executed.
Prints, per kernel function, the instructions it executed per unmap
(the calls of `__iommu_dma_unmap` in the window) and its calls per unmap.

With PROFILE_ANNOTATE=REGEX, the functions whose (mangled or demangled)
name matches are also disassembled, with the count of each instruction
executed.

usage: insn_profile.py BUILD VMLINUX DRIVER WINDOW [qemu-run.sh args...]
"""
import bisect
import collections
import os
import re
import socket
import subprocess
import sys
import time


def main():
    build, vmlinux, driver, window = sys.argv[1:5]
    extra = sys.argv[5:]
    name = f"profile-{driver}"
    sock = f"{build}/{name}.sock"
    log = f"{build}/{name}.exec"
    serial = f"{build}/qemu-{name}.log"
    for f in (sock, log, serial):
        if os.path.exists(f):
            os.unlink(f)
    run = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qemu-run.sh")
    q = lambda *a: [x for v in a for x in ("--qemu", v)]
    cmd = (["bash", run, "--driver", driver, "--name", name, "--smp", "2", "--timeout", "600"]
           + q("-icount", "shift=0,sleep=off", "-monitor", f"unix:{sock},server=on,wait=off",
               "-D", log, "-dfilter", "0xffff800080000000..0xffff800090000000", "-device", "edu")
           + ["--file", f"{build}/dma_map_benchmark", "--append", "bench_secs=60",
              "--append", "bench_threads=1"] + extra + ["bench"])
    qemu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start = time.time()
    while True:
        if os.path.exists(serial) and "bench.domain" in open(serial, errors="replace").read():
            break
        if qemu.poll() is not None or time.time() - start > 300:
            sys.exit(f"profile: the benchmark did not start (log: {serial})")
        time.sleep(0.2)
    time.sleep(2)  # into the loop
    mon = socket.socket(socket.AF_UNIX)
    mon.connect(sock)

    def hmp(c):
        mon.sendall((c + "\n").encode())
        time.sleep(0.3)

    hmp("one-insn-per-tb on")
    hmp("log exec,nochain")
    time.sleep(float(window))
    hmp("log none")
    hmp("quit")  # the rest of the benchmark is not needed
    qemu.communicate()

    syms = []
    nm = subprocess.run(["nm", "-n", vmlinux], capture_output=True, text=True, check=True)
    for line in nm.stdout.splitlines():
        p = line.split()
        if len(p) >= 3 and p[1] in "tTwW":
            syms.append((int(p[0], 16), p[2]))
    syms.sort()
    addrs = [a for a, _ in syms]
    pcs = collections.Counter()
    pc_re = re.compile(r"/([0-9a-f]{16})/")
    with open(log, errors="replace") as f:
        for line in f:
            m = pc_re.search(line)
            if m:
                pcs[int(m.group(1), 16)] += 1
    os.unlink(log)
    insns, calls = collections.Counter(), collections.Counter()
    for pc, k in pcs.items():
        i = bisect.bisect_right(addrs, pc) - 1
        if i < 0:
            continue
        insns[syms[i][1]] += k
        if syms[i][0] == pc:
            calls[syms[i][1]] += k
    n = calls.get("__iommu_dma_unmap", 0)
    if n == 0:
        sys.exit("profile: no unmap in the window")
    top = insns.most_common(int(os.environ.get("PROFILE_TOP", "60")))
    names = [s for s, _ in top]
    try:  # Rust's v0 symbols demangled, if LLVM's tool is there
        out = subprocess.run(["llvm-cxxfilt-19"], input="\n".join(names),
                             capture_output=True, text=True).stdout.splitlines()
        names = out if len(out) == len(names) else names
    except FileNotFoundError:
        pass
    total = sum(insns.values())
    print(f"profile {driver}: {n} unmaps, {total / n:.0f} kernel instructions per map+unmap loop")
    print(f"{'insns/unmap':>12} {'calls/unmap':>12}  function")
    for (sym, k), pretty in zip(top, names):
        print(f"{k / n:12.1f} {calls.get(sym, 0) / n:12.2f}  {pretty[:110]}")
    pattern = os.environ.get("PROFILE_ANNOTATE")
    if pattern:
        annotate(vmlinux, pcs, syms, addrs, dict(zip((s for s, _ in top), names)),
                 re.compile(pattern), n)


def annotate(vmlinux, pcs, syms, addrs, pretty, pattern, n):
    """The matching functions' disassembly, with each executed
    instruction's count per unmap (the kernel has no line tables)."""
    for sym, name in pretty.items():
        if not (pattern.search(sym) or pattern.search(name)):
            continue
        out = subprocess.run(["llvm-objdump-19", "-d", "--no-show-raw-insn",
                              f"--disassemble-symbols={sym}", vmlinux],
                             capture_output=True, text=True, check=True).stdout
        print(f"\n{name[:110]}, executed instructions:")
        for line in out.splitlines():
            m = re.match(r"\s*([0-9a-f]{16}):\s*(.*)", line)
            if m and pcs.get(int(m.group(1), 16)):
                insn = re.sub(r"<_R[^>]*>", "", m.group(2)).strip()
                print(f"{pcs[int(m.group(1), 16)] / n:8.2f}  {m.group(1)[-5:]}  {insn}")


if __name__ == "__main__":
    main()
