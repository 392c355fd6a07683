#!/usr/bin/env bash
# The issue-10 yardstick with pgbench: naive check-then-act, the reference
# design (bench.plain) and the engine (app.article_submit /
# app.article_request_changes), interleaved, each client on its own
# article. Usage: run.sh URL CLIENTS SECONDS ROUNDS, where URL is the
# database set up with setup.sql, as refbench_app (the password or trust
# is yours to arrange). Prints transactions/s per round.
set -euo pipefail
if [ $# -ne 4 ]; then
	echo "usage: $0 URL CLIENTS SECONDS ROUNDS" >&2
	exit 2
fi
url=$1 clients=$2 seconds=$3 rounds=$4
dir=$(dirname "$0")
for _ in $(seq "$rounds"); do
	line="clients=$clients"
	for s in naive plain engine; do
		tps=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -f "$dir/$s.pgb" "$url" |
			awk '/^tps/ {printf "%.0f", $3}')
		line="$line $s=$tps"
	done
	echo "$line"
done
