#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the test kernel (both SMMUv3 drivers, KUnit) and the driver as an
# external module, the guest tools, the server kernel (UEFI + ACPI, 64K
# pages, both drivers as modules) and the debug kernel (the test kernel
# with the kernel's checkers). Outputs: build/Image, build/Image.gz,
# build/arm_smmu_v3_rs.ko, build/server/Image, build/server/modules/,
# build/debug/Image.
# Incremental: the objects live in the cache.
#
# usage: build.sh [all|test|server|debug]: everything (the default); only
# the test kernel, the external module and the tools; only the server or
# the debug kernel, after a `build.sh test` (make test builds those two in
# the background while the test kernel's runs go on).
set -euo pipefail
. "$(dirname "$0")/env.sh"

part=${1:-all}
case "$part" in all | test | server | debug) ;; *) die "usage: build.sh [all|test|server|debug]" ;; esac
edu=$REPO/tools/testing/arm-smmu-v3-rs/edu

# The test kernel, the driver as an external module, the guest tools.
build_test() {
	KUNIT=("$WORKTREE/tools/testing/kunit/kunit.py")
	KOPTS=(--build_dir "$KBUILD" --kunitconfig "$REPO/tools/testing/arm-smmu-v3-rs/kunitconfig"
	       --qemu_config "$REPO/tools/testing/arm-smmu-v3-rs/qemu_smmuv3.py"
	       --make_options "LLVM=-19" --make_options "RUSTC=/usr/bin/rustc"
	       --make_options "BINDGEN=$BINDGEN" --make_options "RUSTDOC=/usr/bin/rustdoc")
	mkdir -p "$KBUILD" "$BUILD"
	echo "build: configuring $KBUILD"
	python3 "${KUNIT[@]}" config "${KOPTS[@]}" >"$BUILD/config.log" 2>&1 ||
		{ cat "$BUILD/config.log"; die "kernel configuration failed (log: $BUILD/config.log)"; }
	echo "build: building the kernel (about 5 minutes from scratch on 2 cores)"
	python3 "${KUNIT[@]}" build "${KOPTS[@]}" --jobs "$(nproc)" >"$BUILD/build.log" 2>&1 ||
		{ grep -E 'error|Error|warning: unused' "$BUILD/build.log" | head -50; die "kernel build failed (log: $BUILD/build.log)"; }
	cp "$KBUILD/arch/arm64/boot/Image" "$KBUILD/arch/arm64/boot/Image.gz" "$KBUILD/System.map" "$BUILD/"

	echo "build: building the external module"
	mkdir -p "$EXTMOD"
	make -s -C "$KBUILD" "${KMAKE_VARS[@]}" M="$REPO" MO="$EXTMOD" modules >"$BUILD/extmod.log" 2>&1 ||
		{ cat "$BUILD/extmod.log"; die "external module build failed"; }
	cp "$EXTMOD/drivers/iommu/arm/arm-smmu-v3-rs/arm_smmu_v3_rs.ko" "$BUILD/"

	# Test tools for the QEMU guests: the edu DMA fault module and the static
	# arm64 dma_map_benchmark of the kernel's tools/dma.
	echo "build: building the test tools"
	mkdir -p "$CACHE/edu"
	make -s -C "$KBUILD" "${KMAKE_VARS[@]}" M="$edu" MO="$CACHE/edu" modules >"$BUILD/edu.log" 2>&1 ||
		{ cat "$BUILD/edu.log"; die "edu test module build failed"; }
	cp "$CACHE/edu/smmu_edu_fault.ko" "$CACHE/edu/smmu_lu_edu.ko" "$BUILD/"
	aarch64-linux-gnu-gcc -static -O2 -D__EXPORTED_HEADERS__ -I"$WORKTREE/include/uapi" \
		-o "$BUILD/dma_map_benchmark" "$WORKTREE/tools/dma/dma_map_benchmark.c" ||
		die "building dma_map_benchmark failed: is gcc-aarch64-linux-gnu installed (scripts/setup.sh)?"
	for t in kexec/kexec_file fault/fail_nth_write; do
		aarch64-linux-gnu-gcc -static -O2 -Wall -o "$BUILD/${t#*/}" \
			"$REPO/tools/testing/arm-smmu-v3-rs/$t.c" || die "building ${t#*/} failed"
	done
	echo "build: $BUILD/Image, $BUILD/arm_smmu_v3_rs.ko, $BUILD/smmu_edu_fault.ko, $BUILD/smmu_lu_edu.ko, $BUILD/dma_map_benchmark, $BUILD/kexec_file, $BUILD/fail_nth_write"
}

build_server() {
	# The server kernel: UEFI + ACPI, 64K pages, both drivers as modules, and
	# the edu test module built for it.
	bash "$REPO/scripts/build-kernel.sh" server "$REPO/tools/testing/arm-smmu-v3-rs/server.config"
	mkdir -p "$CACHE/edu-server"
	make -s -C "$CACHE/kbuild-server" "${KMAKE_VARS[@]}" M="$edu" MO="$CACHE/edu-server" modules \
		>"$BUILD/server/edu.log" 2>&1 ||
		{ cat "$BUILD/server/edu.log"; die "edu test module build for the server kernel failed"; }
	cp "$CACHE/edu-server/smmu_edu_fault.ko" "$BUILD/server/"
}

build_debug() {
	# The debug kernel: the test kernel with lockdep, KASAN, kmemleak, DMA-API
	# debugging and fault injection; the edu module built for it.
	kconf=$REPO/tools/testing/arm-smmu-v3-rs
	bash "$REPO/scripts/build-kernel.sh" debug "$kconf/kunitconfig" "$kconf/debug.config"
	mkdir -p "$CACHE/edu-debug"
	make -s -C "$CACHE/kbuild-debug" "${KMAKE_VARS[@]}" M="$edu" MO="$CACHE/edu-debug" modules \
		>"$BUILD/debug/edu.log" 2>&1 ||
		{ cat "$BUILD/debug/edu.log"; die "edu test module build for the debug kernel failed"; }
	cp "$CACHE/edu-debug/smmu_edu_fault.ko" "$CACHE/edu-debug/smmu_lu_edu.ko" "$BUILD/debug/"
}

# The work tree may last have served another checkout: link this one's
# files first, whichever kernel is built.
bash "$REPO/scripts/overlay.sh"
# Not `A || f`: set -e does not apply inside a function called there.
case "$part" in
all) build_test; build_server; build_debug ;;
*) "build_$part" ;;
esac
