#!/bin/bash
# Regenerate tests/data/azure-expect.tsv from the current behaviour of
# netctl, for a developer who changed that behaviour on purpose. Review the
# result with "git diff tests/data/azure-expect.tsv" before committing it:
# every changed line is a changed outcome on a real-world manifest.
#
# Usage: tests/corpus-regen.sh NETCTL    (NETD_MANIFESTS as for corpus.sh)
set -u
export LC_ALL=C

if [ $# -ne 1 ]; then
	echo "usage: $0 NETCTL" >&2
	exit 2
fi
here=$(dirname "$0")
table=$here/data/azure-expect.tsv
dir=${NETD_MANIFESTS:-$here/../../shared/azure-sphere-manifests}
if [ ! -d "$dir" ]; then
	echo "corpus-regen: $dir not found: table left unchanged" >&2
	exit 1
fi

new=$(mktemp "$table.XXXXXX") || exit 1
trap 'rm -f "$new"' EXIT

cat >"$new" <<'EOF'
# Expected outcome of "netctl check" on every real-world Azure Sphere
# manifest in ../shared/azure-sphere-manifests (seen from the project root):
# the top-level *.json, history/*.json and history-unmerged-prs/*.json.
# Checked by tests/corpus.sh NETCTL ("make corpus"); every manifest must have
# exactly one line and every line a manifest.
#
# Format: one line per manifest, sorted by path (LC_ALL=C), three fields
# separated by one TAB:
#   RELATIVE_PATH  the manifest's path under that folder
#   STATUS         ok (loads, netctl exits 0) or refused (netctl exits 1)
#   EXPECTED       refused: all the error lines netctl prints for the file,
#                  in its order, joined with " | ", each without the leading
#                  "FILE: " ("FILE:" for JSON syntax errors, which keep their
#                  "LINE:COL: "); the warnings of a refused file are not
#                  recorded.
#                  ok: all its warning lines ("warning: PATH: ..."), joined
#                  and stripped the same way, or "-" when there is none.
# A TAB inside a message would be written as \t. Lines starting with # are
# comments.
#
# After changing behaviour on purpose, regenerate this file with
#   tests/corpus-regen.sh build/netctl
# and review "git diff" of it: each changed line is a changed outcome.
#
# The manifests are copies of app_manifest.json files from the public
# repository https://github.com/Azure/azure-sphere-samples (main and
# refs/pull/* history), MIT License, Copyright (c) Microsoft Corporation
# (see LICENSE and INDEX.md in that folder). Only their relative paths and
# netctl's diagnostics about them are recorded here.
EOF

if ! "$here/corpus.sh" --actual "$1" >>"$new"; then
	echo "corpus-regen: corpus.sh --actual failed (see above):" \
	    "table left unchanged" >&2
	exit 1
fi
chmod 0644 "$new"
mv -f "$new" "$table"
trap - EXIT
echo "corpus-regen: wrote $table:" \
    "$(grep -c $'\tok\t' "$table") ok," \
    "$(grep -c $'\trefused\t' "$table") refused"
