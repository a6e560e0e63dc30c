# SPDX-License-Identifier: GPL-2.0
#
# Entry points. Everything heavy (pristine kernel, bindgen, kernel objects)
# lives in ~/.cache/arm-smmu-v3-rs (override: ARM_SMMU_V3_RS_CACHE).
#
# When the kernel's Kbuild reads this directory for an external-module
# build (make M=...), it uses Kbuild instead of this file.

DRIVER ?= rs
MACHINE ?= dt

.PHONY: all build setup distro-setup distro docs qemu test test-harness kunit host-test qemu-test bench profile check fuzz patches patches-check clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/build.sh

# Debian's arm64 kernel (kernel-version.mk: DISTRO_*), its toolchain in a
# private prefix, and the Rust metadata its headers package lacks; the
# groundwork of the out-of-tree build for a stock distribution kernel.
distro-setup: setup
	@bash scripts/distro-setup.sh

# The driver as an out-of-tree module for that stock kernel, with no kernel
# rebuild: build/distro/arm_smmu_v3_rs.ko (and build/distro/modules/, the
# tree the distro-* QEMU runs load).
distro: setup
	@bash scripts/distro.sh

# Boot QEMU with two disks behind the SMMU; DRIVER=rs (default) or c,
# MACHINE=dt (default) or server (UEFI + ACPI, 64K pages, modules).
qemu: build
	@bash scripts/qemu-demo.sh $(DRIVER) $(MACHINE)

test:
	@bash scripts/test.sh

# The harness's self-test: each layer shown a deliberate breakage goes red.
test-harness: setup
	@bash scripts/test-harness.sh

host-test:
	@bash scripts/host-test.sh

# The hardware model's decoders on arbitrary input (FUZZ_CASES, default 10M),
# with overflow checks; outside `make test`.
FUZZ_CASES ?= 10000000
fuzz:
	cd tools/testing/arm-smmu-v3-rs/host && FUZZ_CASES=$(FUZZ_CASES) \
		cargo test --release --test fuzz -- --ignored --nocapture

kunit: build
	@bash scripts/kunit.sh

# QEMU_ONLY=REGEX limits the runs (e.g. QEMU_ONLY='rs-dma|c-dma').
qemu-test: build distro
	@bash scripts/qemu-test.sh

# dma_map_benchmark, Rust vs C, alternating boots (BENCH_ROUNDS, BENCH_SECS).
bench: build
	@bash scripts/bench.sh

# Instructions per map+unmap loop, per kernel function, Rust and C.
profile: build
	@bash scripts/profile.sh

check: build
	@bash scripts/check.sh

patches: setup
	@bash scripts/patches.sh

# Every patch of `make patches` applied in turn to a copy of the pristine
# kernel and built (the kernel crate and the driver); outside `make test`.
# Needs the main build's .config (make build).
patches-check: setup
	@bash scripts/patches-check.sh

# The kernel's documentation build of Documentation/admin-guide with the
# driver's guide; fails on a warning about it (about 3 minutes).
docs: setup
	@bash scripts/docs-check.sh

clean:
	rm -rf build tools/testing/arm-smmu-v3-rs/host/target
