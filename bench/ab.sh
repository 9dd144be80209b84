#!/usr/bin/env bash
# ab.sh: two kvd builds side by side (A/B/A/B), to measure a change to kvd
# itself. run.sh compares kvd with Redis; this compares kvd with kvd.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/ab.sh --a REV|BIN --b REV|BIN [options]

  --a X, --b X      the two kvds: a commit (built through git archive), an
                    executable path, or "." for the working tree
  --pairs N         A/B repetitions per test (default 3)
  --pinned          servers under `taskset -c 0`, redis-benchmark under `taskset -c 1`
  --durability X    --appendfsync of both kvds: everysec (default), always, no
  --preload N       SETs (-P 16 over the 1M keyspace) into each fresh data
                    directory before the tests (default 300000)
  --test "ARGS"     a redis-benchmark test instead of the defaults, repeatable,
                    e.g. --test "-t get -c 50 -n 150000"; -d 100 -r 1000000 are added
  --out FILE        Markdown result file (default bench/results/<date>_<time>-ab.md)
  -h, --help        this help

Each kvd gets a fresh data directory with the same preload; then every test
runs on A, then B, PAIRS times. It reports ops/s, p50/p99 and each server's
CPU per request (utime+stime over the run / requests), and per test the
median of the per-pair ratios B/A. CPU per request is the steadier figure
on a shared machine: ops/s of one binary moves 25-40% between runs.
EOF
}

CMDLINE="$(quote_cmd "bench/ab.sh" "$@")"
A="" B="" PAIRS=3 PINNED=off DURABILITY=everysec PRELOAD=300000 OUT=""
TESTS=()
while (($#)); do
	case "$1" in
	--a) A=${2:?}; shift ;;
	--b) B=${2:?}; shift ;;
	--pairs) PAIRS=${2:?}; shift ;;
	--pinned) PINNED=on ;;
	--durability) DURABILITY=${2:?}; shift ;;
	--preload) PRELOAD=${2:?}; shift ;;
	--test) TESTS+=("${2:?}"); shift ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option $1" ;;
	esac
	shift
done
[[ -n "$A" && -n "$B" ]] || { usage >&2; die "--a and --b are required"; }
positive_int --pairs "$PAIRS"
positive_int --preload "$PRELOAD"
case "$DURABILITY" in everysec | always | no) ;; *) die "--durability must be everysec, always or no" ;; esac
need redis-benchmark redis-cli python3 go
if ((${#TESTS[@]} == 0)); then
	TESTS=(
		"-t get -c 50 -n 150000"
		"-t get -c 50 -P 16 -n 400000"
		"-t get -c 1 -n 20000"
		"-t set -c 50 -n 150000"
		"-t set -c 50 -P 16 -n 400000"
		"-t incr -c 50 -n 150000"
		"-t incr -c 50 -P 16 -n 400000"
	)
fi

bench_setup
set_pinning "$PINNED"
result_file ab

# build SIDE X: the kvd binary for one side into $WORK/kvd-SIDE; sets DESC_SIDE.
build() {
	local side=$1 x=$2
	KVD_PREBUILT="" KVD_REV=""
	if [[ "$x" == . ]]; then
		:
	elif [[ -x "$x" && -f "$x" ]]; then
		KVD_PREBUILT=$x
	else
		KVD_REV=$x
	fi
	build_kvd "$WORK/kvd-$side"
	printf -v "DESC_$side" '%s' "$KVD_COMMIT"
}
build A "$A"
build B "$B"

declare -A PORT PID
for side in A B; do
	read -r port <<<"$(free_ports 1)"
	mkdir -p "$WORK/data-$side"
	mapfile -t cmd < <(kvd_cmd "$WORK/kvd-$side" "$port" "$WORK/data-$side" "$DURABILITY")
	start_server "kvd $side" "$WORK/kvd-$side.log" -- "${KENV[@]}" "${cmd[@]}"
	PORT[$side]=$port PID[$side]=$STARTED_PID
	wait_ready "$STARTED_PID" "$port" "$WORK/kvd-$side.log" || die "kvd $side did not start"
done
for side in A B; do
	log "preloading kvd $side: $PRELOAD SETs"
	"${PIN_CLIENT[@]}" redis-benchmark -p "${PORT[$side]}" -t set -n "$PRELOAD" -r 1000000 -d 100 -P 16 -q >/dev/null
done
sleep 2 # let the preload's memtable flushes start before the first test

LOAD_START=$(loadavg)
RAW=$WORK/raw.tsv # test, pair, side, ops, p50, p99, cpu us/req
for test in "${TESTS[@]}"; do
	read -r -a targs <<<"$test"
	requests=$(awk '{for (i = 1; i < NF; i++) if ($i == "-n") print $(i + 1)}' <<<"$test")
	[[ -n "$requests" ]] || die "--test \"$test\" needs -n"
	for ((pair = 1; pair <= PAIRS; pair++)); do
		for side in A B; do
			check_alive "kvd $side" "${PID[$side]}" "$WORK/kvd-$side.log"
			t0=$(cpu_ticks "${PID[$side]}")
			csv=$("${PIN_CLIENT[@]}" redis-benchmark -p "${PORT[$side]}" -d 100 -r 1000000 --csv "${targs[@]}" 2>/dev/null)
			t1=$(cpu_ticks "${PID[$side]}")
			read -r ops p50 p99 < <(awk -F, 'NR == 2 {gsub(/"/, "", $0); split($0, f, ","); print f[2], f[5], f[7]}' <<<"$csv")
			cpu=$(awk -v a="$t0" -v b="$t1" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
				'BEGIN {if (a == "NA" || b == "NA") print "NA"; else printf "%.2f", (b - a) / hz * 1e6 / n}')
			printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$test" "$pair" "$side" "$ops" "$p50" "$p99" "$cpu" >>"$RAW"
			log "$test pair $pair $side: $ops ops/s p50 $p50 p99 $p99 ms, CPU $cpu us/req"
		done
	done
done
LOAD_END=$(loadavg)

{
	echo "# kvd A/B: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	result_preamble
	echo "- A: $DESC_A"
	echo "- B: $DESC_B"
	echo "- durability: $DURABILITY; preload: $PRELOAD SETs (-P 16, 1M keyspace) per fresh directory"
	echo
	echo "## Runs"
	echo
	echo "| test | pair | side | ops/s | p50 ms | p99 ms | CPU us/req |"
	echo "|---|---:|---|---:|---:|---:|---:|"
	awk -F'\t' '{printf "| `%s` | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$RAW"
	echo
	echo "## B/A, median of the per-pair ratios"
	echo
	echo "| test | CPU per request | ops/s | p99 |"
	echo "|---|---:|---:|---:|"
	python3 - "$RAW" <<'PYEOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(dict)
order = []
for line in open(sys.argv[1]):
    test, pair, side, ops, p50, p99, cpu = line.rstrip("\n").split("\t")
    if test not in order:
        order.append(test)
    runs[(test, pair)][side] = (ops, p99, cpu)
def median_ratio(test, i):
    ratios = []
    for (t, _), sides in runs.items():
        if t != test or len(sides) != 2:
            continue
        try:
            a, b = float(sides["A"][i]), float(sides["B"][i])
        except ValueError:
            continue
        if a > 0:
            ratios.append(b / a)
    return f"{statistics.median(ratios):.2f}" if ratios else "NA"
for test in order:
    print(f"| `{test}` | {median_ratio(test, 2)} | {median_ratio(test, 0)} | {median_ratio(test, 1)} |")
PYEOF
} >"$OUT"
cat "$OUT"
log "results written to $OUT"
