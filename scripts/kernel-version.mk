# SPDX-License-Identifier: GPL-2.0
# The one place that pins the kernel we build against (Make and shell syntax).
# KERNEL_SEEN is the package version this project was last built and tested
# with; scripts/setup.sh says so when the archive serves another one.
KERNEL_PKG=linux-source-7.3
KERNEL_SUITE=trixie-backports
KERNEL_VERSION=7.3
KERNEL_SEEN=7.3.4-1~bpo13+1
# The stock distribution kernel `make distro` builds for (Debian's arm64
# flavour, same source as KERNEL_PKG) and the toolchain it was built with,
# read from its CONFIG_*_VERSION_TEXT. See scripts/distro-setup.sh.
DISTRO_ABI=7.3.4+deb13-arm64
DISTRO_PKGVER=7.3.4-1~bpo13+1
DISTRO_SUITES="trixie trixie-backports"
DISTRO_RUSTC=1.85.1
DISTRO_BINDGEN=0.71.1
DISTRO_GCC=14
