# SPDX-License-Identifier: GPL-2.0
# A private apt configuration for downloads from suites this machine does
# not use (trixie, trixie-backports), so the system's sources never gain
# them. Sourced by setup.sh and distro-setup.sh after they define fail().
# shellcheck shell=bash

# The Debian mirror this machine's own apt sources use (the suite without
# -security/-updates), so no mirror host is ever written in the repo.
MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null |
	awk '$2 !~ /-(security|updates|backports)$/ {print $1; exit}')
MIRROR=${MIRROR%/}
[ -n "$MIRROR" ] || fail "no Debian mirror in this machine's apt sources" "add the bookworm suite to /etc/apt/sources.list.d/ and run apt-get update"

APTDL=$CACHE/apt

# apt_private NAME "SUITES" "ARCHS": fills the array APT_OPTS with options
# that make apt-get see only those suites, with an empty dpkg status (so an
# install --download-only fetches a package's whole dependency closure),
# then runs apt-get update.
apt_private() {
	local name=$1 suites=$2 archs=$3 a
	mkdir -p "$APTDL/etc-$name" "$APTDL/lists-$name/partial" "$APTDL/cache-$name/archives/partial"
	: >"$APTDL/status-$name"
	cat >"$APTDL/etc-$name/$name.sources" <<EOS
Types: deb
URIs: $MIRROR
Suites: $suites
Components: main
Architectures: $archs
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$APTDL/etc-$name"
		  -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
		  -o "Dir::State::Lists=$APTDL/lists-$name" -o "Dir::Cache=$APTDL/cache-$name"
		  -o "Dir::State::status=$APTDL/status-$name" -o "APT::Install-Recommends=0"
		  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
		  -o "APT::Architecture=$(dpkg --print-architecture)")
	for a in $archs; do APT_OPTS+=(-o "APT::Architectures::=$a"); done
	apt-get "${APT_OPTS[@]}" update -qq
}

# apt_dl SUITE ARCH PACKAGE...: downloads the packages (not their
# dependencies) into the current directory.
apt_dl() {
	local suite=$1 arch=$2; shift 2
	apt_private "$suite" "$suite" "$arch" || return 1
	apt-get "${APT_OPTS[@]}" download "$@"
}
