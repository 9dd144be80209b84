#!/usr/bin/env bash
# kvd vs redis-server: EVALSHA of a small GET + SET script at 50 clients,
# A/B/A/B, with the CPU time each server spends per request. Measures issue 5's
# target: kvd reaches at least half of Redis's ops/s in the same run.
# See bench/README.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/evalsha.sh [options]

  --pairs N        A/B repetitions, kvd then Redis (default 5)
  -n, --requests N redis-benchmark -n of each run (default 100000)
  --pinned         servers under `taskset -c 0`, redis-benchmark under `taskset -c 1`
  --out FILE       Markdown result file (default bench/results/<date>_<time>-evalsha[-pinned].md)
  --rev REV        build kvd from a commit (git archive) instead of the working tree
  --kvd-bin PATH   use this kvd binary instead of building the working tree
  -h, --help       this help

Both servers run with everysec durability (kvd --appendfsync everysec; Redis
--appendonly yes --appendfsync everysec). REDIS_EXTRA_ARGS adds flags to redis-server;
KVD_ENV adds NAME=VALUE words to kvd's environment (e.g. KVD_ENV=GOMAXPROCS=8).
EOF
}

CMDLINE="$(quote_cmd "bench/evalsha.sh" "$@")"
PAIRS=5
REQUESTS=100000
PINNED=off
OUT=""
CLIENTS=50
KEYSPACE=100000
DUR=everysec
TARGET=0.5 # issue 5: at least half of Redis's ops/s
SCRIPT="local v = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); return v"

while (($#)); do
	case "$1" in
	--pairs) PAIRS=${2:?}; shift ;;
	-n | --requests) REQUESTS=${2:?}; shift ;;
	--pinned) PINNED=on ;;
	--kvd-bin) KVD_PREBUILT=${2:?}; shift ;;
	--rev) KVD_REV=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
positive_int --pairs "$PAIRS"
positive_int --requests "$REQUESTS"

need go redis-server redis-benchmark redis-cli python3 getconf sha1sum
set_pinning "$PINNED"
bench_setup

result_file evalsha
CLK_TCK=$(getconf CLK_TCK)

build_kvd "$WORK/kvd"

KVD_BIN=$WORK/kvd KDIR=$WORK/kvd-data RDIR=$WORK/redis-data
start_pair "$DUR" "$DUR" "$DUR"

# Load the script into both servers; both must give the SHA1 of its text.
SHA=$(printf '%s' "$SCRIPT" | sha1sum | cut -d' ' -f1)
for side in kvd redis; do
	if [[ $side == kvd ]]; then port=$KPORT; else port=$RPORT; fi
	got=$(redis-cli -h 127.0.0.1 -p "$port" SCRIPT LOAD "$SCRIPT" 2>&1) || true
	[[ "$got" == "$SHA" ]] || die "SCRIPT LOAD on $side gave '$got', expected $SHA"
	# Sanity check: the second call must return the value the first one set.
	redis-cli -h 127.0.0.1 -p "$port" EVALSHA "$SHA" 1 evalsha:check val >/dev/null 2>&1 || true
	got=$(redis-cli -h 127.0.0.1 -p "$port" EVALSHA "$SHA" 1 evalsha:check val 2>&1) || true
	[[ "$got" == val ]] || die "EVALSHA on $side returned '$got', expected 'val'"
	redis-cli -h 127.0.0.1 -p "$port" DEL evalsha:check >/dev/null
done
log "script loaded into both servers, sha $SHA"

BENCH_ARGS=(--csv -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" evalsha "$SHA" 1 key:__rand_int__ val)

RAW=$WORK/raw.tsv # iter side rps p50 p99 cpu_ticks requests
: >"$RAW"
log "pairs=$PAIRS requests=$REQUESTS clients=$CLIENTS keyspace=$KEYSPACE pinned=$PINNED"
LOAD_START=$(loadavg)
T0=$(date +%s)
for ((iter = 1; iter <= PAIRS; iter++)); do
	# A then B, back to back, so slow drift of the machine hits both.
	for side in kvd redis; do
		if [[ $side == kvd ]]; then port=$KPORT pid=$KPID; else port=$RPORT pid=$RPID; fi
		c0=$(cpu_ticks "$pid")
		if ! out=$(timeout 600 "${PIN_CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p "$port" \
			"${BENCH_ARGS[@]}" 2>"$WORK/bench.err"); then
			tail -n 5 "$WORK/bench.err" >&2 || true
			die "redis-benchmark against $side failed"
		fi
		c1=$(cpu_ticks "$pid")
		[[ $c0 != NA && $c1 != NA ]] || die "cannot read /proc/$pid/stat"
		# CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
		#      "p95_latency_ms","p99_latency_ms","max_latency_ms"
		read -r rps p50 p99 <<<"$(printf '%s\n' "$out" | awk -F'","' '/^"evalsha/ {print $2, $5, $7; exit}')"
		[[ "${rps:-}" =~ ^[0-9.]+$ && "${p99:-}" =~ ^[0-9.]+$ ]] ||
			die "cannot parse redis-benchmark output against $side: $out"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$iter" "$side" "$rps" "$p50" "$p99" "$((c1 - c0))" "$REQUESTS" >>"$RAW"
		log "pair $iter/$PAIRS $side: $rps ops/s p50 $p50 ms p99 $p99 ms, $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') us CPU/request"
	done
	check_alive kvd "$KPID" "$WORK/kvd-$DUR.log"
	check_alive redis-server "$RPID" "$WORK/redis-$DUR.log"
done
ELAPSED=$(($(date +%s) - T0))
LOAD_END=$(loadavg)

# summary text|md: one row per pair, then medians; the ratio of the median row
# is the median of the per-pair kvd/redis ratios, not the ratio of medians.
summary() {
	python3 - "$1" "$RAW" "$CLK_TCK" "$TARGET" <<'EOF'
import statistics, sys
fmt, path, hz, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
runs = {}
for line in open(path):
    it, side, rps, p50, p99, ticks, n = line.split("\t")
    runs.setdefault(int(it), {})[side] = dict(
        rps=float(rps), p50=float(p50), p99=float(p99), cpu=int(ticks) / hz * 1e6 / int(n))
pairs = [i for i in sorted(runs) if "kvd" in runs[i] and "redis" in runs[i]]
ratio = {i: runs[i]["kvd"]["rps"] / runs[i]["redis"]["rps"] for i in pairs}
med = statistics.median
head = ["pair", "kvd ops/s", "redis ops/s", "kvd/redis", "kvd p50", "kvd p99",
        "redis p50", "redis p99", "kvd CPU us/req", "redis CPU us/req"]
def row(label, k, r, q):
    return [label, f"{k['rps']:,.0f}", f"{r['rps']:,.0f}", f"{q:.2f}",
            f"{k['p50']:.3f}", f"{k['p99']:.3f}", f"{r['p50']:.3f}", f"{r['p99']:.3f}",
            f"{k['cpu']:.1f}", f"{r['cpu']:.1f}"]
rows = [row(str(i), runs[i]["kvd"], runs[i]["redis"], ratio[i]) for i in pairs]
m = {s: {f: med([runs[i][s][f] for i in pairs]) for f in ("rps", "p50", "p99", "cpu")}
     for s in ("kvd", "redis")}
rows.append(row("median", m["kvd"], m["redis"], med(ratio.values())))
mr = med(ratio.values())
notes = [
    f"kvd/redis ops/s: {mr:.2f}x (median of {len(pairs)} pairs"
    + (f", range {min(ratio.values()):.2f}-{max(ratio.values()):.2f})" if len(pairs) > 1 else ")"),
    f"CPU per request: kvd {m['kvd']['cpu']:.1f} us, redis {m['redis']['cpu']:.1f} us"
    + (f" (kvd/redis {m['kvd']['cpu'] / m['redis']['cpu']:.2f}x)" if m['redis']['cpu'] > 0 else ""),
    f"issue 5 target, kvd >= {target:g}x Redis ops/s: {'met' if mr >= target else 'NOT met'} (median ratio {mr:.2f})",
]
if fmt == "md":
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for r in rows:
        if r[0] == "median":
            r = [f"**{c}**" for c in r]
        print("| " + " | ".join(r) + " |")
    print()
    for n in notes:
        print(f"- {n}")
else:
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
    for n in notes:
        print(n)
EOF
}

echo
echo "== EVALSHA (GET + SET script), $CLIENTS clients, -n $REQUESTS, $PAIRS pairs, durability $DUR, pinned $PINNED"
echo "   latency in ms; CPU = utime+stime of the server process per request"
summary text

{
	echo "# kvd vs Redis: EVALSHA of a GET + SET script, $MODE_NAME run, $(date '+%Y-%m-%d %H:%M %Z')"
	echo
	result_preamble
	echo
	echo "## Settings"
	echo
	echo "- script (sha $SHA), loaded with SCRIPT LOAD into both servers:"
	echo
	echo '  ```lua'
	echo "  $SCRIPT"
	echo '  ```'
	echo
	echo "- redis-benchmark: \`$(quote_cmd "${PIN_CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p PORT "${BENCH_ARGS[@]}")\`"
	echo "- $PAIRS A/B pairs (kvd then Redis, back to back); both servers started once, empty, and kept across pairs"
	echo "- CPU us/req: utime+stime of the server process (all threads, fields 14 and 15 of /proc/PID/stat) over one redis-benchmark run, divided by -n; one clock tick ($CLK_TCK/s) is $(awk -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN {printf "%.2f", 1e6 / hz / n}') us/req at this -n"
	echo "- wall time of the measured runs: ${ELAPSED}s"
	echo "- kvd: \`$(quote_cmd "${PIN_SERVER[@]}" kvd "${KCMD[@]:1}")\`"
	echo "- redis: \`$(quote_cmd "${PIN_SERVER[@]}" "${RCMD[@]}")\`"
	echo
	echo "## Results"
	echo
	echo "ops/s and latency (ms) from redis-benchmark. The median row holds the median of each"
	echo "column; its kvd/redis is the median of the per-pair ratios."
	echo
	summary md
} >"$OUT"
echo
echo "results written to ${OUT#"$REPO_DIR"/} (${ELAPSED}s measured)"
