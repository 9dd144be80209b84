#!/usr/bin/env bash
# kvd with a dataset larger than its memory: load N keys of 100 bytes with
# badger's caches capped, then random GETs over all of them. Reports RSS,
# disk size and GET throughput and latency. See bench/README.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/large.sh [options]

  --keys N             keys to load (default 20000000)
  --block-cache SIZE   kvd --block-cache-size (default 0: none)
  --index-cache SIZE   kvd --index-cache-size (default 64mb)
  --gets N             random GETs measured (default 300000)
  --durability X       kvd --appendfsync (default everysec)
  --memory-limit SIZE  run kvd in a memory cgroup of its own with this limit (e.g. 1g), so
                       that the dataset is larger than its memory for real; needs root and
                       cgroup v1's memory hierarchy or cgroup v2 with the memory controller
  --out FILE           Markdown result file (default bench/results/<date>_<time>-large.md)
  --kvd-bin PATH       use this kvd binary instead of building the working tree
  -h, --help           this help
EOF
}

CMDLINE="$(quote_cmd "bench/large.sh" "$@")"
KEYS=20000000
BLOCK=0
INDEX=64mb
GETS=300000
DUR=everysec
MEMORY_LIMIT=""
OUT=""
while (($#)); do
	case "$1" in
	--keys) KEYS=${2:?}; shift ;;
	--block-cache) BLOCK=${2:?}; shift ;;
	--index-cache) INDEX=${2:?}; shift ;;
	--gets) GETS=${2:?}; shift ;;
	--durability) DUR=${2:?}; shift ;;
	--memory-limit) MEMORY_LIMIT=${2:?}; shift ;;
	--kvd-bin) KVD_PREBUILT=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
positive_int --keys "$KEYS"

need go redis-cli redis-benchmark python3
bench_setup

# size_bytes SIZE: 512m, 1g, 1073741824 -> bytes.
size_bytes() {
	local n=${1%[kKmMgG]} unit=${1##*[0-9]} shift
	[[ "$n" =~ ^[1-9][0-9]{0,11}$ ]] || die "--memory-limit: '$1' is not a size (e.g. 512m, 1g)"
	case "${unit,,}" in
	"") shift=0 ;;
	k) shift=10 ;;
	m) shift=20 ;;
	g) shift=30 ;;
	*) die "--memory-limit: '$1' is not a size (e.g. 512m, 1g)" ;;
	esac
	(((n << shift) >> shift == n)) || die "--memory-limit: '$1' is too large"
	echo $((n << shift))
}

# make_memory_cgroup BYTES: creates a memory cgroup with that limit and sets
# CGROUP_DIR (cgroup v1's memory hierarchy, or v2 with the memory controller
# enabled for children of the root) and CGROUP_PEAK (its peak usage file).
CGROUP_DIR=""
make_memory_cgroup() {
	local v1=/sys/fs/cgroup/memory v2=/sys/fs/cgroup/unified name=kvd-bench-$$
	[[ -f /sys/fs/cgroup/cgroup.controllers ]] && v2=/sys/fs/cgroup
	# The cgroup goes after the servers in it have stopped.
	trap 'bench_cleanup; [[ -z "$CGROUP_DIR" ]] || rmdir "$CGROUP_DIR" 2>/dev/null' EXIT
	if [[ -w $v1 && -f $v1/memory.limit_in_bytes ]]; then
		CGROUP_DIR=$v1/$name
		if ! mkdir "$CGROUP_DIR" || ! echo "$1" >"$CGROUP_DIR/memory.limit_in_bytes"; then
			die "cannot create a memory cgroup in $v1"
		fi
		CGROUP_PEAK=$CGROUP_DIR/memory.max_usage_in_bytes
	elif [[ -w $v2 ]] && grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null; then
		CGROUP_DIR=$v2/$name
		if ! mkdir "$CGROUP_DIR" || ! echo "$1" >"$CGROUP_DIR/memory.max"; then
			die "cannot create a memory cgroup in $v2"
		fi
		CGROUP_PEAK=$CGROUP_DIR/memory.peak
	else
		die "--memory-limit needs root and a cgroup file system with the memory controller (cgroup v1's memory hierarchy, or cgroup v2 with memory in cgroup.subtree_control)"
	fi
}
IN_CGROUP=()
if [[ -n "$MEMORY_LIMIT" ]]; then
	# An assignment of its own, so that set -e stops on a bad size.
	LIMIT_BYTES=$(size_bytes "$MEMORY_LIMIT")
	make_memory_cgroup "$LIMIT_BYTES"
	# shellcheck disable=SC2016 # expanded by the inner shell
	IN_CGROUP=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP_DIR")
fi
: "${OUT:=$BENCH_DIR/results/$(date +%Y-%m-%d_%H%M)-large.md}"
mkdir -p "$(dirname "$OUT")"
build_kvd "$WORK/kvd"

read -r PORT <<<"$(free_ports 1)"
DATA=$WORK/kvd-data
mkdir -p "$DATA"
KCMD=("$WORK/kvd" --bind 127.0.0.1 --port "$PORT" --dir "$DATA" --appendfsync "$DUR"
	--block-cache-size "$BLOCK" --index-cache-size "$INDEX" --loglevel warning)
start_server "kvd" "$WORK/kvd.log" -- "${IN_CGROUP[@]}" "${KENV[@]}" "${KCMD[@]}"
KPID=$STARTED_PID
wait_ready "$KPID" "$PORT" "$WORK/kvd.log" || die "kvd did not start"

rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
# RSS split (rss_split_kb): anonymous vs file-backed pages.
rss_split() { read -r a f <<<"$(rss_split_kb "$1")"; printf '%d MB anon + %d MB file-backed' $((a / 1024)) $((f / 1024)); }

# Keys are named as redis-benchmark names them, so that the GETs below hit.
log "loading $KEYS keys of 100 bytes through redis-cli --pipe"
LOAD_START=$(date +%s.%N)
set_commands "$KEYS" | redis-cli -p "$PORT" --pipe >"$WORK/load.txt"
LOAD_END=$(date +%s.%N)
tail -n 2 "$WORK/load.txt" >&2
grep -q "errors: 0" "$WORK/load.txt" || die "the load had errors: $(tail -n 1 "$WORK/load.txt")"
LOAD_SECS=$(python3 -c "print(f'{$LOAD_END - $LOAD_START:.0f}')")
PEAK_LOAD_KB=$(peak_rss_kb "$KPID")
sleep 5 # let flushes settle
RSS_AFTER_LOAD_KB=$(rss_kb "$KPID")
SPLIT_AFTER_LOAD=$(rss_split "$KPID")
DISK_KB=$(dir_kb "$DATA")
DBSIZE=$(redis-cli -p "$PORT" DBSIZE)

log "random GETs: redis-benchmark -c 50 -n $GETS -r $KEYS -t get"
redis-benchmark -p "$PORT" -c 50 -n "$GETS" -r "$KEYS" -t get --csv >"$WORK/get.csv" 2>/dev/null
redis-benchmark -p "$PORT" -c 1 -n $((GETS / 10)) -r "$KEYS" -t get --csv >"$WORK/get1.csv" 2>/dev/null
HITS=$(for i in $(seq 1 200); do redis-cli -p "$PORT" GET "key:$(printf %012d $((RANDOM * 32768 % KEYS)))"; done | grep -c '^v')
RSS_AFTER_GETS_KB=$(rss_kb "$KPID")
SPLIT_AFTER_GETS=$(rss_split "$KPID")
PEAK_KB=$(peak_rss_kb "$KPID")

csv_field() { # FILE COLUMN (1-based), the data line
	awk -F'","' -v c="$2" 'NR==2{gsub(/"/,"",$c); print $c}' "$1"
}
{
	echo "# kvd with a dataset larger than its caches, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Command: \`$CMDLINE\`"
	echo
	machine_header
	echo
	echo "## Settings"
	echo
	echo "- kvd: \`${KCMD[*]/#$WORK\//}\`"
	kvd_env_line
	if [[ -n "$MEMORY_LIMIT" ]]; then
		echo "- memory: kvd alone in a memory cgroup limited to $MEMORY_LIMIT ($CGROUP_DIR); its memory is RSS plus the page cache of its files"
	else
		echo "- memory: no limit of its own; the machine's page cache holds what it can"
	fi
	echo "- load: $KEYS \`SET key:<12 digits> <100 bytes>\` through \`redis-cli --pipe\` (pipelined)"
	echo "- GETs: \`redis-benchmark -c 50 -n $GETS -r $KEYS -t get\` and \`-c 1 -n $((GETS / 10))\`"
	echo
	echo "## Results"
	echo
	echo "| measure | value |"
	echo "|---|---:|"
	echo "| keys (DBSIZE) | $DBSIZE |"
	echo "| load time | ${LOAD_SECS} s ($(python3 -c "print(f'{$KEYS / max(1, $LOAD_SECS):,.0f}')") keys/s) |"
	echo "| peak RSS during the load | $((PEAK_LOAD_KB / 1024)) MB |"
	echo "| RSS after the load | $((RSS_AFTER_LOAD_KB / 1024)) MB ($SPLIT_AFTER_LOAD) |"
	echo "| disk (data directory) | $((DISK_KB / 1024)) MB |"
	echo "| GET c50 ops/s | $(csv_field "$WORK/get.csv" 2) |"
	echo "| GET c50 p50 / p99 ms | $(csv_field "$WORK/get.csv" 5) / $(csv_field "$WORK/get.csv" 7) |"
	echo "| GET c1 ops/s | $(csv_field "$WORK/get1.csv" 2) |"
	echo "| GET c1 p50 / p99 ms | $(csv_field "$WORK/get1.csv" 5) / $(csv_field "$WORK/get1.csv" 7) |"
	echo "| hits in 200 random GETs | $HITS |"
	echo "| RSS after the GETs / peak | $((RSS_AFTER_GETS_KB / 1024)) MB ($SPLIT_AFTER_GETS) / $((PEAK_KB / 1024)) MB |"
	if [[ -n "$MEMORY_LIMIT" && -r "$CGROUP_PEAK" ]]; then
		echo "| cgroup memory peak (RSS + page cache) | $(($(cat "$CGROUP_PEAK") >> 20)) MB |"
	fi
} >"$OUT"
cat "$OUT"
log "results written to $OUT"
