#!/usr/bin/env bash
# kvd vs redis-server: resident memory after loading N keys of 100 bytes
# (issue 3's target: kvd's RSS <= Redis's for the same data). Each pair
# starts both servers empty, loads kvd then Redis (Redis then kvd on even
# pairs) through redis-cli --pipe, and samples each server's RSS when its
# load ends and 15 and 30 s later. See bench/README.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/rss.sh [options]

  --keys N         keys of 100 bytes to load (default 1000000)
  --pairs N        repetitions, each with fresh servers (default 2)
  --durability X   everysec (default), always or no, as in run.sh
  --out FILE       Markdown result file (default bench/results/<date>_<time>-rss.md)
  --rev REV        build kvd from a commit (git archive) instead of the working tree
  --kvd-bin PATH   use this kvd binary instead of building the working tree
  -h, --help       this help
EOF
}

CMDLINE="$(quote_cmd "bench/rss.sh" "$@")"
KEYS=1000000
PAIRS=2
DUR=everysec
PINNED=off
OUT=""
while (($#)); do
	case "$1" in
	--keys) KEYS=${2:?}; shift ;;
	--pairs) PAIRS=${2:?}; shift ;;
	--durability) DUR=${2:?}; shift ;;
	--kvd-bin) KVD_PREBUILT=${2:?}; shift ;;
	--rev) KVD_REV=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
positive_int --keys "$KEYS"
positive_int --pairs "$PAIRS"
case "$DUR" in everysec | always | no) ;; *) die "--durability must be everysec, always or no" ;; esac

need go redis-server redis-cli python3
bench_setup
result_file rss
LOAD_START=$(loadavg)
build_kvd "$WORK/kvd"
set_commands "$KEYS" >"$WORK/load.resp"

SAMPLES=$WORK/samples.tsv # pair server seconds-after-load anon_kb file_kb
: >"$SAMPLES"

# load_and_sample SIDE PORT PID PAIR: load the keys, check DBSIZE, and
# sample RSS at the end of the load and 15 and 30 s later.
load_and_sample() {
	local side=$1 port=$2 pid=$3 pair=$4 at n
	redis-cli -h 127.0.0.1 -p "$port" --pipe <"$WORK/load.resp" >"$WORK/load-$side.txt"
	grep -q "errors: 0" "$WORK/load-$side.txt" || die "$side: the load had errors: $(tail -n 1 "$WORK/load-$side.txt")"
	n=$(redis-cli -h 127.0.0.1 -p "$port" DBSIZE)
	[[ "$n" == "$KEYS" ]] || die "$side holds $n keys after loading $KEYS"
	for at in 0 15 30; do
		((at == 0)) || sleep 15
		printf '%s\t%s\t%s\t%s\n' "$pair" "$side" "$at" "$(rss_split_kb "$pid" | tr ' ' '\t')" >>"$SAMPLES"
	done
	log "$side: $(tail -n 1 "$SAMPLES")"
}

for ((pair = 1; pair <= PAIRS; pair++)); do
	KVD_BIN=$WORK/kvd KDIR=$WORK/kvd-$pair RDIR=$WORK/redis-$pair
	start_pair "$DUR" "$DUR" "$pair"
	if ((pair % 2)); then order=(kvd redis); else order=(redis kvd); fi
	for side in "${order[@]}"; do
		if [[ $side == kvd ]]; then
			load_and_sample kvd "$KPORT" "$KPID" "$pair"
		else
			load_and_sample redis "$RPORT" "$RPID" "$pair"
		fi
	done
	for pid in "$KPID" "$RPID"; do
		stop_pid "$pid"
		forget_pid "$pid"
	done
	rm -rf "$KDIR" "$RDIR"
done
LOAD_END=$(loadavg)

summary() {
	python3 - "$1" "$SAMPLES" <<'EOF'
import statistics, sys
fmt, path = sys.argv[1:3]
rss = {}  # (side, at) -> [(anon, file)] in MB, one per pair
for line in open(path):
    pair, side, at, anon, file = line.split()
    rss.setdefault((side, int(at)), []).append((int(anon) / 1024, int(file) / 1024))
head = ["seconds after the load", "kvd anon + file = RSS", "redis anon + file = RSS", "kvd/redis RSS", "kvd/redis anon"]
rows = []
for at in (0, 15, 30):
    med = {}
    for side in ("kvd", "redis"):
        s = rss[(side, at)]
        med[side] = (statistics.median(a for a, _ in s), statistics.median(f for _, f in s))
    cell = lambda m: f"{m[0]:.0f} + {m[1]:.0f} = {m[0] + m[1]:.0f} MB"
    k, r = med["kvd"], med["redis"]
    rows.append([str(at), cell(k), cell(r), f"{(k[0] + k[1]) / (r[0] + r[1]):.2f}x", f"{k[0] / r[0]:.2f}x"])
if fmt == "md":
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for r in rows:
        print("| " + " | ".join(r) + " |")
else:
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
EOF
}

echo
echo "== RSS after loading $KEYS keys of 100 bytes, durability $DUR, medians of $PAIRS pairs"
summary text
{
	echo "# kvd vs Redis: RSS after loading $KEYS keys of 100 bytes, $(date '+%Y-%m-%d %H:%M %Z')"
	echo
	result_preamble
	echo
	echo "## Settings"
	echo
	echo "- load: $KEYS \`SET key:<12 digits> <100 bytes>\` through \`redis-cli --pipe\`, into each server in turn (kvd first on odd pairs)"
	echo "- RSS from /proc/PID/status: RssAnon (heap, memtables, caches) + RssFile (for kvd, badger's memory-mapped tables: page cache the kernel drops under memory pressure)"
	echo "- kvd: \`$(quote_cmd kvd "${KCMD[@]:1}")\`"
	echo "- redis: \`$(quote_cmd "${RCMD[@]}")\`"
	echo
	echo "## Results (MB, medians of $PAIRS pairs)"
	echo
	summary md
	echo
	echo "## Raw samples (pair, server, seconds after its load, anon kB, file kB)"
	echo
	echo '```'
	cat "$SAMPLES"
	echo '```'
} >"$OUT"
echo
echo "results written to ${OUT#"$REPO_DIR"/}"
