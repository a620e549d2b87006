#!/bin/bash
# Runs the demo end to end and checks what it printed: each app passed
# where its manifest (or a grant) allows, was blocked elsewhere, and the
# refusals show in netctl events. Usage: tests/demo_check.sh BUILD_DIR
set -u
B=${1:?usage: $0 BUILD_DIR}
if [ "$(id -u)" != 0 ]; then
	echo "demo_check: SKIPPED (needs root)"
	exit 0
fi
out=$(mktemp /tmp/netd-demo-check.XXXXXX)
trap 'rm -f "$out"' EXIT
pass=0 fail=0
tests/demo.sh "$B" >"$out" 2>&1
rc=$?
want() {	# want TEXT: a line of the demo's output contains TEXT
	if grep -qF -- "$1" "$out"; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: no line with: $1"
	fi
}
[ $rc -eq 0 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: demo exit $rc"; }
want "configs/examples/broken.json: refused: 5 errors"
want "configs/examples/sensor-api.json: ok"
want "app sensor-api runs as uid"
want "http://192.0.2.10/           PASSED  (hello from 192.0.2.10)"
want "http://198.51.100.20/        BLOCKED ([Errno 111] Connection refused)"
want "app telemetry-tls runs as uid"
want "telemetry-tls: 198.51.100.20 granted for 30s"
want "http://198.51.100.20/        PASSED  (hello from 198.51.100.20)"
want "app root runs as uid 0"
# sensor-api passed once (192.0.2.10); telemetry-tls once (after the grant),
# root once: three PASSED; the other four fetches were blocked.
[ "$(grep -c 'PASSED' "$out")" = 3 ] && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: $(grep -c PASSED "$out") PASSED lines, want 3"; }
[ "$(grep -c 'BLOCKED' "$out")" = 4 ] && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: $(grep -c BLOCKED "$out") BLOCKED lines, want 4"; }
grep -E '^[0-9:]+ +deny +[0-9]+ +sensor-api +tcp +198\.51\.100\.20 port 80' \
    "$out" >/dev/null && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: no deny event for sensor-api"; }
ip netns list | grep -q netd-demo- && { fail=$((fail + 1)); echo "FAIL: namespaces left"; } ||
    pass=$((pass + 1))
[ $fail -eq 0 ] || sed 's/^/  | /' "$out"
echo "demo_check: $pass passed, $fail failed"
[ $fail -eq 0 ]
