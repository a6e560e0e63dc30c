# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# How `make test` adds up its layers. Sourced by scripts/test.sh and by the
# harness self-test (scripts/test-harness.sh), never run.
#
# Each layer is a command that prints PASS/FAIL lines and, last, its own
# "NAME: N passed, M failed". The layer's failures count, and so does a
# layer that exits non-zero while claiming no failure, or prints no counts.

passed=${passed:-0} failed=${failed:-0}

# layer NAME COMMAND...: runs one layer, shows its output, adds its counts.
layer() {
	local name=$1 out line rc p f
	shift
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed\$" "$out" | tail -1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL $name/counts the layer printed no '$name: N passed, M failed' (exit $rc)"
		failed=$((failed + 1))
		return
	fi
	read -r _ p _ f _ <<<"$line"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name/exit the layer exited $rc but counted no failure"
		failed=$((failed + 1))
	fi
}

# one_check NAME CHECK COMMAND...: a layer of one check, CHECK: PASS with
# COMMAND's last line, or FAIL with its output; then NAME's counts.
one_check() {
	local name=$1 check=$2 o
	shift 2
	if o=$("$@" 2>&1); then
		echo "PASS $check $(tail -1 <<<"$o")"
		echo "$name: 1 passed, 0 failed"
	else
		echo "FAIL $check"
		sed 's/^/    /' <<<"$o"
		echo "$name: 0 passed, 1 failed"
		return 1
	fi
}

# Layers that run in the background while others go on (make test: the
# server and debug kernels and the distribution module build while the
# test kernel's QEMU runs leave a CPU idle). Each job's output goes to
# $BG_JOBS/JOB.log and, once it ended, its exit status to
# $BG_JOBS/JOB.status, which qemu-test.sh waits for (bg_ready).

# bg_run JOB COMMAND...: runs COMMAND (in the foreground of the caller,
# itself in the background) for job JOB.
bg_run() {
	local job=$1
	shift
	"$@" >"$BG_JOBS/$job.log" 2>&1
	echo $? >"$BG_JOBS/$job.status.tmp"
	mv "$BG_JOBS/$job.status.tmp" "$BG_JOBS/$job.status"
}

# bg_ready JOB: waits for job JOB if make test runs it in the background
# (BG_JOBS set; $BG_JOBS/pid is the process running the jobs), but not
# once that process is gone; whether the job succeeded. True without
# BG_JOBS.
bg_ready() {
	[ -n "${BG_JOBS:-}" ] || return 0
	local status=$BG_JOBS/$1.status t0=$SECONDS
	if [ ! -e "$status" ]; then
		echo "waiting for the background job $1 ($BG_JOBS/$1.log)"
		while [ ! -e "$status" ] && kill -0 "$(cat "$BG_JOBS/pid")" 2>/dev/null; do sleep 2; done
		echo "waited $((SECONDS - t0)) s for $1"
	fi
	[ "$(cat "$status" 2>/dev/null)" = 0 ]
}

# bg_layer NAME JOB: counts job JOB's output, once the jobs are done, as
# layer NAME (a job that never ended prints no counts: a FAIL).
bg_layer() {
	layer "$1" bash -c 'cat "$1"; exit "$(cat "$2")"' _ "$BG_JOBS/$2.log" "$BG_JOBS/$2.status"
}
