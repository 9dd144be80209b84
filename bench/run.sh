#!/usr/bin/env bash
# kvd vs redis-server with redis-benchmark, A/B/A/B, per durability pair.
# See bench/README.md. Usage: bench/run.sh [--quick] [--pinned] [--all-pairs] ...
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/run.sh [options]

  --quick          smoke run (< 3 min): -n 20000, 1 pair, everysec pair only, no prefill
  --full           full run (default): -n 200000, 3 pairs, all three durability pairs, prefill
  --all-pairs      with --quick: run all three durability pairs
  --durability L   comma list of pairs to run: everysec,always,no
  --tests L        comma list of tests to run (default: all of set,get,incr,mset,
                   lpush,lpop,hset,zadd,sadd that kvd supports)
  --pinned         servers under `taskset -c 0`, redis-benchmark under `taskset -c 1`
  --pairs N        A/B repetitions (default 3, quick 1)
  -n, --requests N base request count (default 200000, quick 20000)
  --uniform-n      use -n for every shape (default: -P 16 shape x4, 1-client shape /4)
  --keyspace N     redis-benchmark -r (default 1000000)
  --prefill        SET every key of the keyspace before measuring (default in full mode)
  --no-prefill     do not prefill (default in quick mode; GETs then mostly miss)
  --out FILE       Markdown result file (default bench/results/<date>_<time>-<mode>.md)
  --rev REV        build kvd from a commit (git archive) instead of the working tree
  --kvd-bin PATH   use this kvd binary instead of building the working tree
  -h, --help       this help

Environment: REDIS_EXTRA_ARGS adds flags to every redis-server; KVD_ENV adds
NAME=VALUE words to every kvd's environment (e.g. KVD_ENV=GOMAXPROCS=8).
EOF
}

CMDLINE="$(quote_cmd "bench/run.sh" "$@")"
MODE=full
PINNED=off
ALL_PAIRS=0
DURABILITY=""
ONLY_TESTS=""
PAIRS=""
REQUESTS=""
UNIFORM_N=0
KEYSPACE=1000000
PREFILL=""
OUT=""
VALUE_SIZE=100
CLIENTS=50
PIPELINE=16

while (($#)); do
	case "$1" in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--pinned) PINNED=on ;;
	--kvd-bin) KVD_PREBUILT=${2:?}; shift ;;
	--rev) KVD_REV=${2:?}; shift ;;
	--all-pairs) ALL_PAIRS=1 ;;
	--durability) DURABILITY=${2:?}; shift ;;
	--tests) ONLY_TESTS=${2:?}; shift ;;
	--pairs) PAIRS=${2:?}; shift ;;
	-n | --requests) REQUESTS=${2:?}; shift ;;
	--uniform-n) UNIFORM_N=1 ;;
	--keyspace) KEYSPACE=${2:?}; shift ;;
	--prefill) PREFILL=1 ;;
	--no-prefill) PREFILL=0 ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done

if [[ "$MODE" == quick ]]; then
	: "${PAIRS:=1}" "${REQUESTS:=20000}" "${PREFILL:=0}"
	if [[ -z "$DURABILITY" ]]; then
		if ((ALL_PAIRS)); then DURABILITY=everysec,always,no; else DURABILITY=everysec; fi
	fi
else
	: "${PAIRS:=3}" "${REQUESTS:=200000}" "${PREFILL:=1}" "${DURABILITY:=everysec,always,no}"
fi
positive_int --pairs "$PAIRS"
positive_int --requests "$REQUESTS"
positive_int --keyspace "$KEYSPACE"
IFS=, read -r -a DURS <<<"$DURABILITY"
for d in "${DURS[@]}"; do
	[[ "$d" =~ ^(everysec|always|no)$ ]] || die "unknown durability '$d' (everysec, always, no)"
done

need go redis-server redis-benchmark redis-cli python3 getconf
set_pinning "$PINNED"
bench_setup

result_file "$MODE"

# Shapes: label and redis-benchmark flags. Requests per shape: see shape_requests.
SHAPES=(c50 "c50-P$PIPELINE" c1)
shape_flags() {
	case "$1" in
	c50) echo "-c $CLIENTS" ;;
	c50-P*) echo "-c $CLIENTS -P $PIPELINE" ;;
	c1) echo "-c 1" ;;
	esac
}
# The pipelined shape is ~10x faster and the 1-client shape ~5-10x slower than
# the plain one; scaling -n keeps every run roughly the same length (and the
# whole full run under an hour). --uniform-n turns this off.
shape_requests() {
	if ((UNIFORM_N)); then echo "$REQUESTS"; return; fi
	case "$1" in
	c50) echo "$REQUESTS" ;;
	c50-P*) echo $((REQUESTS * 4)) ;;
	c1) echo $((REQUESTS / 4 > 1000 ? REQUESTS / 4 : 1000)) ;;
	esac
}

BASE_TESTS=(set get incr mset)
OPTIONAL_TESTS=(lpush lpop hset zadd sadd)
if [[ -n "$ONLY_TESTS" ]]; then
	# Keep the table's order; refuse names redis-benchmark -t would ignore.
	IFS=, read -r -a wanted <<<"${ONLY_TESTS,,}"
	for w in "${wanted[@]}"; do
		[[ " ${BASE_TESTS[*]} ${OPTIONAL_TESTS[*]} " == *" $w "* ]] ||
			die "unknown test '$w' (${BASE_TESTS[*]} ${OPTIONAL_TESTS[*]})"
	done
	keep_wanted() {
		local t w
		for t in "$@"; do
			for w in "${wanted[@]}"; do
				if [[ $t == "$w" ]]; then echo "$t"; break; fi
			done
		done
	}
	mapfile -t BASE_TESTS < <(keep_wanted "${BASE_TESTS[@]}")
	mapfile -t OPTIONAL_TESTS < <(keep_wanted "${OPTIONAL_TESTS[@]}")
fi
RAW=$WORK/raw.tsv     # durability iter test shape server rps p50 p99 requests cpu_us_per_req
RSS=$WORK/rss.tsv     # durability server peak_rss_kb disk_kb
NOTES=$WORK/notes.txt # free text, one line per note
SERVERS=$WORK/servers.txt
: >"$RAW"
: >"$RSS"
: >"$NOTES"
: >"$SERVERS"

KVD_BIN=$WORK/kvd
build_kvd "$KVD_BIN"
CLK_TCK=$(getconf CLK_TCK)

# supported PORT CMD: does the server know CMD? (COMMAND INFO gives nil if not)
supported() {
	local out
	out=$(redis-cli -h 127.0.0.1 -p "$1" COMMAND INFO "$2" 2>/dev/null | head -n 1)
	[[ "${out,,}" == "$2" ]]
}

# prefill PORT: SET key:<12 digits> for the whole keyspace (redis-benchmark's
# key names), so GET hits and SET overwrites as on a warm server.
prefill() {
	python3 - "$KEYSPACE" "$VALUE_SIZE" <<'EOF' | redis-cli -h 127.0.0.1 -p "$1" --pipe >"$WORK/prefill.log" 2>&1
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
val = b"x" * size
buf = []
for i in range(n):
    k = b"key:%012d" % i
    buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, val))
    if len(buf) == 10000:
        out.write(b"".join(buf))
        buf = []
out.write(b"".join(buf))
EOF
	grep -q 'errors: 0' "$WORK/prefill.log" || {
		cat "$WORK/prefill.log" >&2
		die "prefill of port $1 failed"
	}
}

# bench_one PORT PID TEST SHAPE: run redis-benchmark once against the server
# PID listening on PORT; prints "rps p50 p99 requests cpu_us_per_req". The
# CPU is the server's, read just before and just after the run, so it
# includes the server's background work during the run.
bench_one() {
	local port=$1 pid=$2 test=$3 shape=$4 n out err c0 c1
	n=$(shape_requests "$shape")
	err=$WORK/bench.err
	c0=$(cpu_ticks "$pid")
	# shellcheck disable=SC2046
	if out=$(timeout 1200 "${PIN_CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" \
		-n "$n" -d "$VALUE_SIZE" -r "$KEYSPACE" $(shape_flags "$shape") --csv 2>"$err"); then
		c1=$(cpu_ticks "$pid")
		# CSV header: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
		#             "p95_latency_ms","p99_latency_ms","max_latency_ms"
		printf '%s\n' "$out" | python3 -c '
import csv, sys
n, c0, c1, hz = sys.argv[1:]
rows = list(csv.reader(sys.stdin))
h = rows[0]
r = rows[1]
cpu = "NA"
if c0.isdigit() and c1.isdigit():
    cpu = "%.2f" % ((int(c1) - int(c0)) / int(hz) * 1e6 / int(n))
print(r[h.index("rps")], r[h.index("p50_latency_ms")], r[h.index("p99_latency_ms")], n, cpu)
' "$n" "$c0" "$c1" "$CLK_TCK" && return 0
	fi
	log "warning: redis-benchmark -t $test ($shape) on port $port failed: $(tail -n 3 "$err" | tr '\n' ' ')"
	echo "NA NA NA $n NA"
}

log "mode=$MODE_NAME pairs=$PAIRS requests=$REQUESTS keyspace=$KEYSPACE prefill=$PREFILL durability=${DURS[*]}"
LOAD_START=$(loadavg)
T0=$(date +%s)

stop_pair() {
	stop_pid "$KPID"
	forget_pid "$KPID"
	stop_pid "$RPID"
	forget_pid "$RPID"
}

# dbsize PORT: key count, waiting up to 60 s while a server is still loading.
dbsize() {
	local n i
	for ((i = 0; i < 600; i++)); do
		n=$(redis-cli -h 127.0.0.1 -p "$1" DBSIZE 2>/dev/null || true)
		if [[ "$n" =~ ^[0-9]+$ ]]; then echo "$n"; return; fi
		sleep 0.1
	done
	echo 0
}

for dur in "${DURS[@]}"; do
	KDIR=$WORK/kvd-$dur
	RDIR=$WORK/redis-$dur
	mkdir -p "$KDIR" "$RDIR"

	if ((PREFILL)); then
		# Prefill in a separate server process over the same data dirs, then
		# restart: the measured processes start warm from disk, as after a
		# deploy, and VmHWM covers only the measured workload. With `always`
		# the prefill runs with fsync off (one fsync per pipelined SET would
		# take many minutes); the data ends up the same.
		kfs=$dur rdur=$dur
		if [[ $dur == always ]]; then kfs=no rdur=aof-no; fi
		start_pair "$kfs" "$rdur" "$dur-prefill"
		for side in kvd redis; do
			port=$KPORT
			[[ $side == redis ]] && port=$RPORT
			ts=$(date +%s)
			prefill "$port"
			log "prefilled $side ($dur) with $KEYSPACE keys in $(($(date +%s) - ts))s"
		done
		# Redis without AOF or save points keeps nothing on shutdown: write an RDB.
		if [[ $dur == no ]]; then
			redis-cli -h 127.0.0.1 -p "$RPORT" SAVE >/dev/null || die "redis SAVE failed"
		fi
		stop_pair
	fi

	start_pair "$dur" "$dur" "$dur"
	if ((PREFILL)); then
		for side in kvd redis; do
			port=$KPORT
			[[ $side == redis ]] && port=$RPORT
			n=$(dbsize "$port")
			((n >= KEYSPACE)) || die "$side ($dur) has $n keys after the prefill restart, expected $KEYSPACE"
		done
	fi
	{
		printf '%s\tkvd\t%s\n' "$dur" "$(quote_cmd "${PIN_SERVER[@]}" kvd "${KCMD[@]:1}")"
		printf '%s\tredis\t%s\n' "$dur" "$(quote_cmd "${PIN_SERVER[@]}" "${RCMD[@]}")"
	} >>"$SERVERS"

	TESTS=("${BASE_TESTS[@]}")
	missing=()
	for t in "${OPTIONAL_TESTS[@]}"; do
		if supported "$KPORT" "$t"; then TESTS+=("$t"); else missing+=("${t^^}"); fi
	done
	if ((${#missing[@]})); then
		echo "$dur pair: kvd lacks ${missing[*]} (COMMAND INFO gives nil), so those tests were skipped" |
			tee -a "$NOTES" >&2
	fi

	total=$((PAIRS * ${#SHAPES[@]} * ${#TESTS[@]} * 2))
	k=0
	for ((iter = 1; iter <= PAIRS; iter++)); do
		for shape in "${SHAPES[@]}"; do
			for t in "${TESTS[@]}"; do
				# A then B, back to back, so slow drift of the machine hits both.
				for side in kvd redis; do
					k=$((k + 1))
					if [[ $side == kvd ]]; then port=$KPORT pid=$KPID; else port=$RPORT pid=$RPID; fi
					read -r rps p50 p99 n cpu <<<"$(bench_one "$port" "$pid" "$t" "$shape")"
					printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
						"$dur" "$iter" "${t^^}" "$shape" "$side" "$rps" "$p50" "$p99" "$n" "$cpu" >>"$RAW"
					log "[$dur $k/$total] pair $iter $shape ${t^^} $side: $rps ops/s p50 $p50 ms p99 $p99 ms, CPU $cpu us/req"
				done
				check_alive kvd "$KPID" "$WORK/kvd-$dur.log"
				check_alive redis-server "$RPID" "$WORK/redis-$dur.log"
			done
		done
	done

	# VmHWM is the peak since the process started, so reading it last suffices.
	printf '%s\tkvd\t%s\t%s\n' "$dur" "$(peak_rss_kb "$KPID")" "$(dir_kb "$KDIR")" >>"$RSS"
	printf '%s\tredis\t%s\t%s\n' "$dur" "$(peak_rss_kb "$RPID")" "$(dir_kb "$RDIR")" >>"$RSS"
	stop_pair
done

ELAPSED=$(($(date +%s) - T0))
LOAD_END=$(loadavg)

# One clock tick in µs/req for each shape's -n: the resolution of the CPU column.
TICKS="" sep=""
for s in "${SHAPES[@]}"; do
	TICKS+="$sep$(awk -v hz="$CLK_TCK" -v n="$(shape_requests "$s")" 'BEGIN {printf "%.3g", 1e6 / hz / n}') µs/req in $s"
	sep=", "
done

# Text table to stdout.
echo
python3 "$BENCH_DIR/table.py" --format text "$RAW" "$RSS"
if [[ -s "$NOTES" ]]; then
	echo
	sed 's/^/note: /' "$NOTES"
fi

# Markdown result file.
{
	echo "# kvd vs Redis: redis-benchmark, $MODE_NAME run, $(date '+%Y-%m-%d %H:%M %Z')"
	echo
	result_preamble
	echo
	echo "## Settings"
	echo
	echo "- A/B pairs per cell: $PAIRS (kvd then Redis, back to back, for each test and shape)"
	echo "- redis-benchmark: \`-d $VALUE_SIZE -r $KEYSPACE --csv\`; shapes and requests (-n):"
	for s in "${SHAPES[@]}"; do
		echo "  - $s: \`$(shape_flags "$s") -n $(shape_requests "$s")\`"
	done
	echo "- tests: $(printf '%s\n' "${BASE_TESTS[@]}" "${OPTIONAL_TESTS[@]}" | paste -sd, -) (the optional ones only where kvd has the command)"
	echo "- prefill: $( ((PREFILL)) && echo "yes, all $KEYSPACE keys (key:<12 digits>, $VALUE_SIZE-byte values) written through redis-cli --pipe by a separate server process (fsync off for the always pair), then both servers restarted on that data" || echo "no (GET mostly misses, SET mostly inserts)")"
	echo "- wall time: ${ELAPSED}s"
	echo "- servers:"
	while IFS=$'\t' read -r d side cmd; do
		echo "  - $d, $side: \`$cmd\`"
	done <"$SERVERS"
	echo
	echo "## Results"
	echo
	echo "ops/s, latency, CPU and the ratios are medians over the A/B pairs; each ratio is the"
	echo "median of the per-pair kvd/redis ratios. Latency in ms from redis-benchmark. CPU"
	echo "(µs/req) is the server process's utime+stime (all threads, /proc/PID/stat) over one"
	echo "redis-benchmark run divided by its requests, so it includes the server's background"
	echo "work during the run (for kvd, badger's flushes and compactions), but not the CPU of a"
	echo "Redis fork child (BGSAVE, AOF rewrite). It is counted at $CLK_TCK Hz tick resolution:"
	echo "one tick is $TICKS."
	echo
	python3 "$BENCH_DIR/table.py" --format md "$RAW" "$RSS"
	if [[ -s "$NOTES" ]]; then
		echo
		echo "## Notes"
		echo
		sed 's/^/- /' "$NOTES"
	fi
	echo
	echo "## Raw runs"
	echo
	echo "<details><summary>every redis-benchmark run</summary>"
	echo
	python3 "$BENCH_DIR/table.py" --format raw-md "$RAW" "$RSS"
	echo
	echo "</details>"
} >"$OUT"
echo
echo "results written to ${OUT#"$REPO_DIR"/} (${ELAPSED}s)"
