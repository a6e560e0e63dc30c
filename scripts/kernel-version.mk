# SPDX-License-Identifier: GPL-2.0
# The one place that pins the kernel we build against (Make and shell syntax).
# KERNEL_SEEN is the package version this project was last built and tested
# with; scripts/setup.sh says so when the archive serves another one.
KERNEL_PKG=linux-source-7.3
KERNEL_SUITE=trixie-backports
KERNEL_VERSION=7.3
KERNEL_SEEN=7.3.4-1~bpo13+1
