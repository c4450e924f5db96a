#!/usr/bin/env bash
# Throughput of GET /items/1 on apex's full default stack (A) and on bare
# echo (B), side by side in one run, driven by wrk over loopback:
# a warm-up of each, then A,B alternated ROUNDS times.
#
#	bash examples/bench/httpstack.sh                # the measurement
#	bash examples/bench/httpstack.sh profile        # CPU profile of apex under load
#	bash examples/bench/httpstack.sh profile bare   # the same of bare echo
#
# Knobs (environment): DURATION (10s), THREADS (2), CONNS (64), ROUNDS (2),
# WARMUP (3s), OUT (a new temporary directory; raw wrk output is kept there),
# APEX_SET (space-separated KEY=VALUE config overrides for the apex app,
# e.g. APEX_SET="http.tracing.enabled=false" to see what tracing costs).
# Needs wrk (apt-get install -y wrk). Every server and every request stays
# on 127.0.0.1, and the servers stop by themselves after 30 minutes at most.
set -euo pipefail
cd "$(dirname "$0")"

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-3s}
OUT=${OUT:-$(mktemp -d /tmp/httpstack.XXXXXX)}
mode=${1:-measure}
stack=${2:-apex}
[[ $stack == apex || $stack == bare ]] || { echo "stack must be apex or bare" >&2; exit 2; }
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

go build -o "$OUT/httpstack" ./cmd/httpstack

if [[ $mode == profile ]]; then
	args=(-only "$stack" -pprof 127.0.0.1:0 -for 30m)
else
	args=(-for 30m)
fi
for kv in ${APEX_SET:-}; do args+=(-set "$kv"); done
"$OUT/httpstack" "${args[@]}" >"$OUT/addrs" 2>"$OUT/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

want=2 # apex and bare, or the profiled stack and pprof
for _ in $(seq 1 200); do
	[[ $(wc -l <"$OUT/addrs") -ge $want ]] && break
	kill -0 $server 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
	sleep 0.05
done
url() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/addrs"; }
apex=$(url apex)
bare=$(url bare)
[[ -n $apex || -n $bare ]] || { echo "server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }

rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
field() { # LABEL FILE: the value after LABEL in wrk --latency output
	awk -v k="$1" '$1 == k { print $2; exit }' "$2"
}

echo "machine: $(nproc) cores, $(go version | awk '{print $3}'), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
[[ -n ${APEX_SET:-} ]] && echo "apex config overrides: $APEX_SET"
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency, warm-up $WARMUP each; raw output in $OUT"

if [[ $mode == profile ]]; then
	pprof=$(url pprof)
	target=$(url "$stack")
	prof="$OUT/$stack.cpu.pprof"
	wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$target/items/1" >/dev/null
	wrk -t"$THREADS" -c"$CONNS" -d15s "$target/items/1" >"$OUT/wrk-profile-$stack.txt" &
	load=$!
	sleep 2
	curl -sS -o "$prof" "${pprof}profile?seconds=10"
	wait $load
	echo "$stack alone under load: $(rps "$OUT/wrk-profile-$stack.txt") requests/s (15s, profiled for 10s of it)"
	echo "CPU profile: $prof"
	go tool pprof -top -nodecount=40 "$OUT/httpstack" "$prof" 2>/dev/null | head -50
	echo
	echo "cumulative:"
	go tool pprof -top -cum -nodecount=60 "$OUT/httpstack" "$prof" 2>/dev/null | head -70
	exit 0
fi

for s in apex bare; do
	wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$(url $s)/items/1" >/dev/null
done

printf '\n| run | stack | requests/s | avg latency | p99 latency | non-2xx |\n|---|---|---:|---:|---:|---:|\n'
declare -A sum=([apex]=0 [bare]=0)
n=0
for r in $(seq 1 "$ROUNDS"); do
	for s in apex bare; do
		n=$((n + 1))
		f="$OUT/wrk-$r-$s.txt"
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$(url $s)/items/1" >"$f"
		bad=$(awk '/Non-2xx/ { print $NF }' "$f")
		printf '| %d | %s | %s | %s | %s | %s |\n' "$n" "$s" "$(rps "$f")" "$(field Latency "$f")" "$(field 99% "$f")" "${bad:-0}"
		sum[$s]=$(awk -v a="${sum[$s]}" -v b="$(rps "$f")" 'BEGIN { printf "%.2f", a + b }')
	done
done
awk -v a="${sum[apex]}" -v b="${sum[bare]}" -v n="$ROUNDS" 'BEGIN {
	printf "\nmean requests/s: apex %.0f, bare echo %.0f; apex/bare = %.1f%% (target >= 70%%: %s)\n",
		a / n, b / n, 100 * a / b, (a / b >= 0.70 ? "PASS" : "FAIL")
}'
