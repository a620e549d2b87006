#!/bin/bash
# The manifest checker over configs/examples/: what loads, what is refused
# and why, and the compiled policy of a good manifest.
set -u
NETCTL=${1:?usage: $0 NETCTL}
EX=configs/examples
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "netctl check $EX/*.json (exit 0 = all load, 1 = one is refused)"
"$NETCTL" check $EX/*.json
echo "exit status: $?"
step "netctl check --print $EX/sensor-api.json (the compiled policy, canonical)"
"$NETCTL" check --print $EX/sensor-api.json
step "netctl check --json $EX/broken.json (for scripts)"
"$NETCTL" check --json $EX/broken.json | head -20
echo "..."
exit 0
