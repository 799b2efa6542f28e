#!/usr/bin/env bash
# loadgen-vs-c.sh: is archbench's load generator the bottleneck? Against one
# C reference server (../shared/yardstick/refecho.c), run the C reference
# client and `archbench load` alternately (closed loop, raw framing, 16-byte
# messages, one message in flight per connection) at 16 and 128 connections,
# and print each round's ratio archbench/C and the median. The target is a
# median of at least 0.9 at both connection counts.
#
# Both clients are CPU-bound on one core each against a single-threaded
# server, so anything else running on the machine skews single rounds by
# ±30%; the median over alternating rounds is the figure to quote, taken on
# an otherwise idle machine.
#
# Usage: scripts/loadgen-vs-c.sh [ROUNDS [SECONDS]]   (defaults 7 and 3)
# Environment: PORT (default 19001), CONNS (default "16 128"), CC (default cc).
set -euo pipefail

rounds=${1:-7}
secs=${2:-3}
port=${PORT:-19001}
conns_list=${CONNS:-"16 128"}
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/../shared/yardstick/refecho.c"
[ -f "$src" ] || { echo "loadgen-vs-c: $src not found (the yardstick sits beside the repo at ../shared)" >&2; exit 2; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"${CC:-cc}" -O2 -o "$tmp/refecho" "$src"
(cd "$root" && go build -o "$tmp/archbench" ./cmd/archbench)

"$tmp/refecho" server "$port" &
server_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
c_rps() { "$tmp/refecho" client "$port" "$1" 16 "$secs" | sed -n 's/.* rps=\([0-9.]*\).*/\1/p'; }
go_rps() {
	"$tmp/archbench" load --addr "127.0.0.1:$port" --conns "$1" --size 16 --duration "${secs}s" 2>/dev/null |
		awk '/^Requests\/sec:/ {printf "%.0f\n", $2}'
}

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "loadgen-vs-c: warning: load average $load before starting: other processes are running, rounds will be noisy" >&2
fi
echo "loadgen-vs-c: $rounds rounds of ${secs}s, 16-byte messages, closed loop, depth 1; $(nproc) CPUs"
printf '%-6s %-6s %12s %12s %7s\n' conns round c_rps go_rps ratio
for conns in $conns_list; do
	ratios=() cs=() gs=()
	for r in $(seq "$rounds"); do
		# Alternate which client goes first, so drift does not favour one.
		if [ $((r % 2)) -eq 1 ]; then c=$(c_rps "$conns"); g=$(go_rps "$conns"); else g=$(go_rps "$conns"); c=$(c_rps "$conns"); fi
		ratio=$(awk -v g="$g" -v c="$c" 'BEGIN { printf "%.3f", (c > 0 ? g / c : 0) }')
		ratios+=("$ratio") cs+=("$c") gs+=("$g")
		printf '%-6s %-6s %12.0f %12.0f %7s\n' "$conns" "$r" "$c" "$g" "$ratio"
	done
	echo "conns=$conns median msg/s: C $(median "${cs[@]}"), archbench $(median "${gs[@]}"); median ratio archbench/C = $(median "${ratios[@]}")"
done
