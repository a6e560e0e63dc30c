#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make profile`: where dma_map_benchmark's map+unmap loop spends its
# instructions, per kernel function, for the Rust and the C driver
# (strict DMA domain, 1 thread; tools/testing/arm-smmu-v3-rs/insn_profile.py
# says how). Deterministic: a count of guest instructions, not a timing.
# About 15 s per driver. PROFILE_WINDOW (seconds of host time logged,
# default 2) and PROFILE_TOP (functions shown, default 60) tune it;
# PROFILE_DRIVERS (default "rs c") picks the drivers, PROFILE_ANNOTATE=REGEX
# disassembles the matching functions with per-instruction counts.
set -uo pipefail
. "$(dirname "$0")/env.sh"
[ -x "$BUILD/dma_map_benchmark" ] || die "no $BUILD/dma_map_benchmark: run make first"
[ -f "$KBUILD/vmlinux" ] || die "no $KBUILD/vmlinux: run make first"
for d in ${PROFILE_DRIVERS:-rs c}; do
	python3 "$REPO/tools/testing/arm-smmu-v3-rs/insn_profile.py" "$BUILD" "$KBUILD/vmlinux" "$d" \
		"${PROFILE_WINDOW:-2}" --append domain=DMA || exit 1
done
