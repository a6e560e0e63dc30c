# SPDX-License-Identifier: GPL-2.0
# The one place that pins the kernel we build against (Make and shell syntax).
KERNEL_PKG=linux-source-7.3
KERNEL_SUITE=trixie-backports
KERNEL_VERSION=7.3
