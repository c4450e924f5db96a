#!/usr/bin/env bash
# Throughput of GET /items/1 on apex's full default stack with its default
# no-op tracer ("apex"), on the same stack with a recording tracer
# ("tracing": every span sampled, batched and dropped), and on bare echo
# ("bare"), side by side in one run, driven by wrk over loopback: a
# warm-up of each, then apex, tracing, bare alternated ROUNDS times.
# Every row records the 1-minute load average when its round started, the
# server process's CPU time per request during the round and its heap
# allocations (objects and bytes) per request (all three stacks live in one
# process; only the one under load is busy; the allocations include
# net/http's own, the same for every stack). Every summary line names the
# CPU model and the load average.
#
#	bash examples/bench/httpstack.sh                  # the measurement
#	bash examples/bench/httpstack.sh profile          # CPU profile of apex under load
#	bash examples/bench/httpstack.sh profile tracing  # the same with the recording tracer
#	bash examples/bench/httpstack.sh profile bare     # the same of bare echo
#
# Knobs (environment): DURATION (10s), THREADS (2), CONNS (64), ROUNDS (2),
# WARMUP (3s), OUT (a new temporary directory; raw wrk output is kept there),
# APEX_SET (space-separated KEY=VALUE config overrides for both apex
# stacks, e.g. APEX_SET="http.timeout.enabled=false" to see what one
# middleware costs). Needs wrk (apt-get install -y wrk). Every server and
# every request stays on 127.0.0.1, and the servers stop by themselves
# after 30 minutes at most.
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
[[ $stack == apex || $stack == tracing || $stack == bare ]] || { echo "stack must be apex, tracing or bare" >&2; exit 2; }
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

go build -o "$OUT/httpstack" ./cmd/httpstack

if [[ $mode == profile ]]; then
	args=(-only "$stack" -pprof 127.0.0.1:0 -for 30m)
	want=3 # the profiled stack, stats and pprof
else
	args=(-for 30m)
	want=4 # three stacks and stats
fi
for kv in ${APEX_SET:-}; do args+=(-set "$kv"); done
"$OUT/httpstack" "${args[@]}" >"$OUT/addrs" 2>"$OUT/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
	[[ $(wc -l <"$OUT/addrs") -ge $want ]] && break
	kill -0 $server 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
	sleep 0.05
done
[[ $(wc -l <"$OUT/addrs") -ge $want ]] || { echo "server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
url() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/addrs"; }

rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
requests() { awk '/requests in/ { print $1 }' "$1"; }
field() { # LABEL FILE: the value after LABEL in wrk --latency output
	awk -v k="$1" '$1 == k { print $2; exit }' "$2"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
ticks() { # user + system CPU time of the server process, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$server/stat"
}
allocs() { # cumulative heap allocations of the server process: OBJECTS BYTES
	curl -sS "$(url stats)"
}
hz=$(getconf CLK_TCK)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

echo "machine: $(nproc) cores, $cpu_model, $(go version | awk '{print $3}'), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
echo "load average at start: $load_start"
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
	echo "$stack alone under load: $(rps "$OUT/wrk-profile-$stack.txt") requests/s (15s, profiled for 10s of it; $cpu_model, load average at end $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "CPU profile: $prof"
	go tool pprof -top -nodecount=40 "$OUT/httpstack" "$prof" 2>/dev/null | head -50
	echo
	echo "cumulative:"
	go tool pprof -top -cum -nodecount=60 "$OUT/httpstack" "$prof" 2>/dev/null | head -70
	exit 0
fi

stacks=(apex tracing bare)
for s in "${stacks[@]}"; do
	wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$(url $s)/items/1" >/dev/null
done

printf '\n| run | stack | load1 | requests/s | server CPU µs/request | allocs/request | B/request | avg latency | p99 latency | non-2xx |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
declare -A sum=() cpu=() nalloc=() rs=()
for s in "${stacks[@]}"; do sum[$s]=0 cpu[$s]=0 nalloc[$s]=0; done
n=0
for r in $(seq 1 "$ROUNDS"); do
	for s in "${stacks[@]}"; do
		n=$((n + 1))
		f="$OUT/wrk-$r-$s.txt"
		l=$(load1)
		read -r o0 b0 < <(allocs)
		t0=$(ticks)
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$(url $s)/items/1" >"$f"
		t1=$(ticks)
		read -r o1 b1 < <(allocs)
		reqs=$(requests "$f")
		us=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
		ao=$(awk -v a="$((o1 - o0))" -v n="$reqs" 'BEGIN { printf "%.1f", a / n }')
		ab=$(awk -v a="$((b1 - b0))" -v n="$reqs" 'BEGIN { printf "%.0f", a / n }')
		bad=$(awk '/Non-2xx/ { print $NF }' "$f")
		printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$s" "$l" "$(rps "$f")" "$us" "$ao" "$ab" "$(field Latency "$f")" "$(field 99% "$f")" "${bad:-0}"
		sum[$s]=$(awk -v a="${sum[$s]}" -v b="$(rps "$f")" 'BEGIN { printf "%.2f", a + b }')
		cpu[$s]=$(awk -v a="${cpu[$s]}" -v b="$us" 'BEGIN { printf "%.2f", a + b }')
		nalloc[$s]=$(awk -v a="${nalloc[$s]}" -v b="$ao" 'BEGIN { printf "%.2f", a + b }')
		rs[$r,$s]=$(rps "$f")
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at end: $load_end"
echo
echo "apex/bare per round (target >= 80% in each):"
for r in $(seq 1 "$ROUNDS"); do
	awk -v r="$r" -v a="${rs[$r,apex]}" -v t="${rs[$r,tracing]}" -v b="${rs[$r,bare]}" 'BEGIN {
		printf "  round %d: apex/bare %.1f%% (%s), apex with tracing/bare %.1f%%\n", r, 100 * a / b, (a / b >= 0.80 ? "PASS" : "FAIL"), 100 * t / b }'
done
awk -v a="${sum[apex]}" -v t="${sum[tracing]}" -v b="${sum[bare]}" -v n="$ROUNDS" \
	-v ca="${cpu[apex]}" -v ct="${cpu[tracing]}" -v cb="${cpu[bare]}" \
	-v oa="${nalloc[apex]}" -v ot="${nalloc[tracing]}" -v ob="${nalloc[bare]}" \
	-v where="$cpu_model, $(nproc) cores; load average $load_start at start, $load_end at end" 'BEGIN {
	printf "\nall figures below: %s\n", where
	printf "mean requests/s: apex %.0f, apex with tracing %.0f, bare echo %.0f\n", a / n, t / n, b / n
	printf "apex/bare = %.1f%% of the means (target >= 80%% in each round: see above)\n", 100 * a / b
	printf "apex with tracing/bare = %.1f%% (target >= 60%%: %s)\n", 100 * t / b, (t / b >= 0.60 ? "PASS" : "FAIL")
	printf "mean server CPU per request: apex %.1f µs, with tracing %.1f µs, bare %.1f µs; apex adds %.1f µs; the span costs %.1f µs (target <= 8: %s)\n",
		ca / n, ct / n, cb / n, (ca - cb) / n, (ct - ca) / n, ((ct - ca) / n <= 8 ? "PASS" : "FAIL")
	printf "mean allocations per request (net/http included): apex %.1f, with tracing %.1f, bare %.1f\n", oa / n, ot / n, ob / n
	printf "by server CPU per request (less sensitive to load from other processes): apex/bare = %.1f%%, apex with tracing/bare = %.1f%%\n",
		100 * cb / ca, 100 * cb / ct
}'
