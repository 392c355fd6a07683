#!/usr/bin/env bash
# Proves that each package-boundary rule in .golangci.yml fires. Each case
# in tools/testdata/lintrules/<case>/ is a tree of Go files that break one
# rule, laid over the repository as they stand, and a file `want` holding
# the pattern (extended regexp) of the report line the linter must print
# for it: the fixture's path, the rule's name. All cases go into one copy of
# the work tree, linted once with the boundary linters only; the paths keep
# the cases apart. A fixture that no longer compiles fails its case too (the
# report then names a type error, not the rule), so fixtures cannot rot into
# passing.
#
# Usage: tools/lint-rules.sh [golangci-lint command...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cases_dir=tools/testdata/lintrules

if [ $# -eq 0 ]; then
	set -- go tool -modfile=tools/go.mod golangci-lint
fi
# The linter runs inside the copy: a relative path to it (bin/golangci-lint)
# must keep pointing here.
case "$1" in
*/*) [ "${1#/}" != "$1" ] || { cmd="$root/$1"; shift; set -- "$cmd" "$@"; } ;;
esac

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
tar -C "$root" --exclude=./.git --exclude=./bin -cf - . | tar -C "$copy" -xf -

pkgs=()
for dir in "$cases_dir"/*/; do
	(cd "$dir" && find . -name '*.go' -print0 | tar --null -T - -cf -) | tar -C "$copy" -xf -
	while IFS= read -r pkg; do
		pkgs+=("$pkg")
	done < <(cd "$dir" && find . -name '*.go' -exec dirname {} \;)
done
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "lint-rules: no cases in $cases_dir" >&2
	exit 1
fi
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)

set +e
out=$(cd "$copy" && "$@" run --enable-only depguard,forbidigo "${pkgs[@]}" 2>&1)
rc=$?
set -e

cases=0
failed=0
for dir in "$cases_dir"/*/; do
	name=$(basename "$dir")
	cases=$((cases + 1))
	if [ "$rc" -ne 0 ] && grep -qE -- "$(cat "$dir/want")" <<<"$out"; then
		echo "lint-rules: $name: refused as expected"
	else
		echo "lint-rules: $name: no report line matches $dir/want"
		failed=$((failed + 1))
	fi
done
if [ "$failed" -ne 0 ]; then
	echo "lint-rules: the linter said (exit $rc):"
	echo "$out" | sed 's/^/    /'
fi
echo "lint-rules: $((cases - failed)) of $cases rules refused their fixture"
[ "$failed" -eq 0 ]
