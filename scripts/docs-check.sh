#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make docs`: the kernel's own documentation build (Sphinx, pinned in a
# virtualenv in the cache) of Documentation/admin-guide with this repo's
# guide in it; fails on any warning or error about that file, or if its
# page was not produced. About 3 minutes on 2 cores; outside `make test`.
set -euo pipefail
. "$(dirname "$0")/env.sh"

DOC=Documentation/admin-guide/arm-smmu-v3-rs.rst
VENV=$CACHE/sphinx
if [ ! -x "$VENV/bin/sphinx-build" ]; then
	echo "docs: installing Sphinx into $VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q 'Sphinx==8.1.3' 'alabaster==1.0.0' 'pyyaml==6.0.2' ||
		die "pip install Sphinx failed: check access to PyPI"
fi
bash "$REPO/scripts/overlay.sh" >/dev/null
out=$CACHE/docs
rm -rf "$out/Documentation/output/admin-guide"
echo "docs: building admin-guide (the kernel's htmldocs, SPHINXDIRS=admin-guide)"
PATH=$VENV/bin:$PATH make -C "$WORKTREE" O="$out" SPHINXDIRS=admin-guide htmldocs \
	>"$out.log" 2>&1 || { tail -20 "$out.log"; die "the documentation build failed (log: $out.log)"; }
if grep -E "$DOC(:[0-9]+)?: *(WARNING|ERROR|CRITICAL)" "$out.log"; then
	die "$DOC: the documentation build reported the lines above"
fi
html=$out/Documentation/output/admin-guide/arm-smmu-v3-rs.html
[ -s "$html" ] || die "no $html: is the guide in admin-guide/index.rst (scripts/overlay/)?"
echo "docs: $DOC built without a warning: $html"
