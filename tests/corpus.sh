#!/bin/bash
# Real-world corpus: runs every Azure Sphere manifest in
# ../shared/azure-sphere-manifests (top level, history/, history-unmerged-prs/)
# through "netctl check" and compares the outcome with the table
# tests/data/azure-expect.tsv (format described in its header), so that any
# change of behaviour on real-world input shows.
#
# Usage: tests/corpus.sh NETCTL
#        tests/corpus.sh --actual NETCTL   (print the table lines of the
#                                          current behaviour; used by
#                                          tests/corpus-regen.sh)
# Environment: NETD_MANIFESTS overrides the manifests folder.
#
# Exit 0 when every manifest matches (or the folder is absent: SKIPPED),
# 1 on any failure, 2 on usage error.
set -u
export LC_ALL=C

actual_only=0
if [ "${1-}" = "--actual" ]; then
	actual_only=1
	shift
fi
if [ $# -ne 1 ]; then
	echo "usage: $0 [--actual] NETCTL" >&2
	exit 2
fi
netctl=$1
if [ ! -x "$netctl" ]; then
	echo "corpus: $netctl: not an executable (run make first)" >&2
	exit 2
fi

here=$(dirname "$0")
table=$here/data/azure-expect.tsv
if [ -n "${NETD_MANIFESTS-}" ]; then
	dir=$NETD_MANIFESTS
	if [ ! -d "$dir" ]; then
		# Asked for explicitly: a wrong path is an error, not a skip.
		echo "corpus: NETD_MANIFESTS=$dir: no such directory" >&2
		echo "corpus: 0 passed, 1 failed"
		exit 1
	fi
else
	dir=$here/../../shared/azure-sphere-manifests
	if [ ! -d "$dir" ]; then
		echo "corpus: SKIPPED: ../shared/azure-sphere-manifests not found"
		exit 0
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netd-corpus.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

run_timeout=()
if command -v timeout >/dev/null 2>&1; then
	run_timeout=(timeout 30)
fi

# The manifests, as paths relative to $dir, sorted.
manifests() {
	local f

	(
		cd "$dir" || exit 1
		shopt -s nullglob
		for f in *.json history/*.json history-unmerged-prs/*.json; do
			[ -f "$f" ] && printf '%s\n' "$f"
		done
	) | sort
}

# derive REL: runs netctl check on $dir/REL and sets
#   a_status	ok, refused, or ? when the summary line is unreadable
#   a_msgs	for refused: the error lines, for ok: the warning lines, each
#		without its "FILE: " prefix, joined with " | "; "-" if none
#   problems	array of inconsistencies in netctl's output (exit code
#		against the summary, counts, stray lines)
derive() {
	local rel=$1 f=$dir/$1 rc line rest sum ne nw
	local -a errs=() warns=() outl=()

	a_status="?" a_msgs="-" problems=()
	${run_timeout[@]+"${run_timeout[@]}"} "$netctl" check "$f" \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?

	while IFS= read -r line || [ -n "$line" ]; do
		if [ "${line#"$f:"}" = "$line" ]; then
			problems+=("stray stderr line: $line")
			continue
		fi
		rest=${line#"$f:"}
		rest=${rest# }		# "FILE:LINE:COL: ..." keeps "LINE:COL: ..."
		rest=${rest//$'\t'/\\t}
		case $rest in
		"warning: "*)	warns+=("$rest") ;;
		*)		errs+=("$rest") ;;
		esac
	done <"$tmp/err"

	while IFS= read -r line || [ -n "$line" ]; do
		outl+=("$line")
	done <"$tmp/out"
	sum=""
	if [ "${#outl[@]}" -ne 1 ]; then
		problems+=("stdout has ${#outl[@]} lines, want 1 summary line")
	elif [ "${outl[0]#"$f: "}" = "${outl[0]}" ]; then
		problems+=("summary line does not name the file: ${outl[0]}")
	else
		sum=${outl[0]#"$f: "}
	fi
	ne="" nw=0
	if [[ $sum =~ ^ok(,\ ([0-9]+)\ warnings?)?$ ]]; then
		a_status=ok ne=0 nw=${BASH_REMATCH[2]:-0}
	elif [[ $sum =~ ^refused:\ ([0-9]+)\ errors?(,\ ([0-9]+)\ warnings?)?$ ]]
	then
		a_status=refused ne=${BASH_REMATCH[1]} nw=${BASH_REMATCH[3]:-0}
	elif [ -n "$sum" ]; then
		problems+=("unreadable summary line: ${outl[0]}")
	fi

	case $a_status:$rc in
	ok:0 | refused:1) ;;
	ok:* | refused:*)
		problems+=("netctl exited $rc, want $([ "$a_status" = ok ] &&
		    echo 0 || echo 1) for $a_status") ;;
	*)	problems+=("netctl exited $rc") ;;
	esac
	if [ -n "$ne" ]; then
		[ "$ne" -eq "${#errs[@]}" ] || problems+=("summary says $ne" \
		    "errors, stderr has ${#errs[@]}")
		[ "$nw" -eq "${#warns[@]}" ] || problems+=("summary says $nw" \
		    "warnings, stderr has ${#warns[@]}")
	fi

	local -a keep=()
	if [ "$a_status" = refused ]; then
		keep=(${errs[@]+"${errs[@]}"})
	else
		keep=(${warns[@]+"${warns[@]}"})
	fi
	if [ "${#keep[@]}" -gt 0 ]; then
		a_msgs=${keep[0]}
		for line in "${keep[@]:1}"; do
			a_msgs+=" | $line"
		done
	fi
}

manifests >"$tmp/list" || exit 2

if [ "$actual_only" -eq 1 ]; then
	bad=0
	while IFS= read -r rel; do
		derive "$rel"
		if [ "${#problems[@]}" -gt 0 ]; then
			for p in "${problems[@]}"; do
				echo "corpus: $rel: $p" >&2
			done
			bad=1
		fi
		printf '%s\t%s\t%s\n' "$rel" "$a_status" "$a_msgs"
	done <"$tmp/list"
	exit "$bad"
fi

if [ ! -f "$table" ]; then
	echo "corpus: $table: no such file (tests/corpus-regen.sh makes it)" >&2
	echo "corpus: 0 passed, 1 failed"
	exit 1
fi

pass=0 fail=0
declare -A want_status=() want_msgs=() seen=()

lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in
	"" | "#"*) continue ;;
	esac
	IFS=$'\t' read -r rel st msgs extra <<<"$line"
	if [ -z "${msgs-}" ] || [ -n "${extra-}" ] ||
	    { [ "$st" != ok ] && [ "$st" != refused ]; }; then
		echo "corpus: FAIL $table:$lineno: malformed line" \
		    "(want PATH<TAB>ok|refused<TAB>EXPECTED): $line"
		fail=$((fail + 1))
		continue
	fi
	if [ -n "${want_status[$rel]+x}" ]; then
		echo "corpus: FAIL $table:$lineno: $rel: listed twice"
		fail=$((fail + 1))
		continue
	fi
	want_status[$rel]=$st
	want_msgs[$rel]=$msgs
done <"$table"

while IFS= read -r rel; do
	seen[$rel]=1
	derive "$rel"
	failed=0
	if [ -z "${want_status[$rel]+x}" ]; then
		echo "corpus: FAIL $rel: no line in the table; actual" \
		    "[$a_status] $a_msgs"
		failed=1
	elif [ "${want_status[$rel]}" != "$a_status" ] ||
	    [ "${want_msgs[$rel]}" != "$a_msgs" ]; then
		echo "corpus: FAIL $rel: expected [${want_status[$rel]}]" \
		    "${want_msgs[$rel]} --- actual [$a_status] $a_msgs"
		failed=1
	fi
	for p in ${problems[@]+"${problems[@]}"}; do
		echo "corpus: FAIL $rel: $p"
		failed=1
	done
	if [ "$failed" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done <"$tmp/list"

while IFS= read -r rel; do
	if [ -n "$rel" ] && [ -z "${seen[$rel]+x}" ]; then
		echo "corpus: FAIL $rel: in the table, but no such manifest in $dir"
		fail=$((fail + 1))
	fi
done < <(printf '%s\n' "${!want_status[@]}" | sort)

echo "corpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
