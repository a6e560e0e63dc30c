# SPDX-License-Identifier: GPL-2.0
# Common paths for the project's scripts. Sourced, never run.
# shellcheck shell=bash
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CACHE=${ARM_SMMU_V3_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arm-smmu-v3-rs}
# shellcheck source=kernel-version.mk
. "$REPO/scripts/kernel-version.mk"
BINDGEN_ROOT=$CACHE/bindgen
BINDGEN=$BINDGEN_ROOT/bin/bindgen
PRISTINE=$CACHE/pristine
WORKTREE=$CACHE/linux
BUILD=${BUILD:-$REPO/build}
KBUILD=$CACHE/kbuild
EXTMOD=$CACHE/extmod
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
KMAKE_VARS=(ARCH=arm64 LLVM=-19 RUSTC=/usr/bin/rustc "BINDGEN=$BINDGEN"
            RUSTFMT=/usr/bin/rustfmt RUSTDOC=/usr/bin/rustdoc CLIPPY_DRIVER=/usr/bin/clippy-driver)
die() { echo "error: $*" >&2; exit 1; }
# The stock-distribution build (scripts/distro-setup.sh, scripts/distro.sh)
DISTRO=$CACHE/distro
DISTRO_PREFIX=$DISTRO/prefix
DISTRO_DEB=$DISTRO/debian
DISTRO_KBUILD=$DISTRO/kbuild
DISTRO_BIN=$DISTRO/bin
BINDGEN_BIN=$DISTRO/prefix/usr/bin/bindgen
DISTRO_KMAKE_VARS=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc-$DISTRO_GCC
		   HOSTCC=gcc "RUSTC=$DISTRO_PREFIX/usr/bin/rustc" "HOSTRUSTC=$DISTRO_PREFIX/usr/bin/rustc"
		   "BINDGEN=$DISTRO_PREFIX/usr/bin/bindgen" "RUST_LIB_SRC=$DISTRO_PREFIX/usr/lib/rustlib/src/rust/library"
		   "KERNELRELEASE=$DISTRO_ABI")
# distro_env: the environment the distribution's toolchain runs in.
distro_env() { export PATH="$DISTRO_BIN:$PATH" LIBCLANG_PATH="$DISTRO_PREFIX/usr/lib/llvm-19/lib"; }
