#!/bin/bash
# netctl check: exit codes, messages on stderr, summary on stdout, --json,
# --print round trip. Usage: tests/netctl_check.sh path/to/netctl
set -u
NETCTL=${1:?usage: $0 NETCTL}
EX=configs/examples
tmp=$(mktemp -d /tmp/netctl-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run NAME WANT_RC CMD...: runs CMD, keeps stdout/stderr in $tmp/out, err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else
		ko "$name: exit $rc, want $want"; sed 's/^/  | /' "$tmp/err"
	fi
}
has() {	# has NAME FILE TEXT: FILE contains the exact line TEXT
	if grep -qxF -- "$3" "$1"; then ok; else
		ko "$2: no line '$3' in:"; sed 's/^/  | /' "$1"
	fi
}

run "good files" 0 "$NETCTL" check $EX/sensor-api.json $EX/telemetry-tls.json
has "$tmp/out" "good summary" "$EX/sensor-api.json: ok"
has "$tmp/out" "good summary 2" "$EX/telemetry-tls.json: ok"
[ -s "$tmp/err" ] && ko "good files wrote to stderr" || ok

run "broken file" 1 "$NETCTL" check $EX/sensor-api.json $EX/broken.json
has "$tmp/out" "broken summary" "$EX/broken.json: refused: 5 errors"
has "$tmp/err" "url" "$EX/broken.json: Capabilities.AllowedConnections[0]: \"https://api.example.com/v1\": a URL, not a host: write only the host name ('api.example.com')"
has "$tmp/err" "space" "$EX/broken.json: Capabilities.AllowedConnections[1]: \"exa mple.com\": label contains white space"
has "$tmp/err" "cidr" "$EX/broken.json: Capabilities.AllowedConnections[2]: \"10.1.2.3/8\": host bits are set after /8: did you mean 10.0.0.0/8?"
has "$tmp/err" "placeholder" "$EX/broken.json: Capabilities.AllowedConnections[3]: \"<your hub>\": placeholder: replace it with the real host name or address"
has "$tmp/err" "port" "$EX/broken.json: Capabilities.AllowedTcpServerPorts[0]: 70000: port is out of range 1-65535"

run "missing file" 1 "$NETCTL" check "$tmp/nope.json"
has "$tmp/err" "missing" "$tmp/nope.json: cannot read: No such file or directory"

run "no args" 2 "$NETCTL" check
has "$tmp/err" "no args msg" "netctl check: no manifest given"
run "bad option" 2 "$NETCTL" check --bogus $EX/sensor-api.json
run "unknown command" 2 "$NETCTL" frobnicate
has "$tmp/err" "unknown msg" "netctl: unknown command 'frobnicate'"
run "no command" 2 "$NETCTL"
run "version" 0 "$NETCTL" --version
grep -q '^netctl [0-9]' "$tmp/out" && ok || ko "version output"

# --print: canonical form, and print -> load -> print is identical.
run "print" 0 "$NETCTL" check --print $EX/sensor-api.json
cp "$tmp/out" "$tmp/p1.json"
has "$tmp/p1.json" "print sorted" '      "*.cdn.example.com",'
run "reprint" 0 "$NETCTL" check --print "$tmp/p1.json"
cmp -s "$tmp/p1.json" "$tmp/out" && ok || ko "print round trip differs"

# --json: one document, ok flags, errors with path/value/reason.
run "json" 1 "$NETCTL" check --json $EX/sensor-api.json $EX/broken.json
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False
a, b = d["files"]
assert a["ok"] is True and a["errors"] == [] and "policy" not in a
assert b["ok"] is False and len(b["errors"]) == 5
e = b["errors"][2]
assert e["path"] == "Capabilities.AllowedConnections[2]", e
assert e["value"] == "10.1.2.3/8", e
assert e["reason"].startswith("host bits are set"), e
assert b["errors"][4]["value"] == 70000
PY
run "json print" 0 "$NETCTL" check --json --print $EX/telemetry-tls.json
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json policy"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["files"][0]["policy"]
assert p["Capabilities"]["DeviceAuthentication"] == "8d34f65c-532e-4dcf-a1d6-3e811c1e5c68"
assert p["Capabilities"]["AllowedConnections"] == ["telemetry.example.net"]
PY
printf '{"SchemaVersion": 1,,}' >"$tmp/bad.json"
run "json syntax" 1 "$NETCTL" check --json "$tmp/bad.json"
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json syntax location"
import json, sys
e = json.load(open(sys.argv[1]))["files"][0]["errors"][0]
assert e["line"] == 1 and e["column"] > 0 and e["reason"].startswith("invalid JSON"), e
PY

echo "netctl_check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
