#!/usr/bin/env bash
# kvd vs redis-server under the usage mix of bench/mixed (sessions, rate
# limits, locks), A/B/A/B. See bench/README.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: bench/mixed.sh [options]

  --pairs N         A/B repetitions (default 2)
  --duration D      measured time of each run, Go duration (default 20s)
  --clients N       concurrent clients (default 50)
  --users N         distinct users (default 100000)
  --durability X    kvd --appendfsync and the matching Redis persistence:
                    everysec (default), always, no
  --pinned          servers under `taskset -c 0`, load generator under `taskset -c 1`
  --out FILE        Markdown result file (default bench/results/<date>_<time>-mixed.md)
  --rev REV         build kvd from a commit (git archive) instead of the working tree
  --kvd-bin PATH    use this kvd binary instead of building the working tree
  -h, --help        this help

Extra flags for bench/mixed can follow `--`, e.g. `-- -release get-del`.
Environment: KVD_ENV adds NAME=VALUE words to kvd's environment only, e.g.
KVD_ENV=GOMAXPROCS=8 (exporting GOMAXPROCS instead would also change the load
generator).
EOF
}

CMDLINE="$(quote_cmd "bench/mixed.sh" "$@")"
PAIRS=2
DURATION=20s
CLIENTS=50
USERS=100000
DUR=everysec
PINNED=off
OUT=""
EXTRA=()
while (($#)); do
	case "$1" in
	--pairs) PAIRS=${2:?}; shift ;;
	--duration) DURATION=${2:?}; shift ;;
	--clients) CLIENTS=${2:?}; shift ;;
	--users) USERS=${2:?}; shift ;;
	--durability) DUR=${2:?}; shift ;;
	--pinned) PINNED=on ;;
	--kvd-bin) KVD_PREBUILT=${2:?}; shift ;;
	--rev) KVD_REV=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; EXTRA=("$@"); break ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
positive_int --pairs "$PAIRS"
[[ "$DUR" =~ ^(everysec|always|no)$ ]] || die "--durability must be everysec, always or no"

need go redis-server redis-cli python3
set_pinning "$PINNED"
bench_setup

result_file mixed

build_kvd "$WORK/kvd"
log "building bench/mixed"
(cd "$REPO_DIR" && go build -o "$WORK/mixed" ./bench/mixed) || die "cannot build bench/mixed"

KVD_BIN=$WORK/kvd KDIR=$WORK/kvd-data RDIR=$WORK/redis-data
start_pair "$DUR" "$DUR" "$DUR"

LOAD_START=$(loadavg)
RESULTS=$WORK/results.txt
: >"$RESULTS"
RUNLOG=$WORK/runs.txt
: >"$RUNLOG"
for ((iter = 1; iter <= PAIRS; iter++)); do
	for side in kvd redis; do
		if [[ $side == kvd ]]; then port=$KPORT; pid=$KPID; else port=$RPORT; pid=$RPID; fi
		log "pair $iter: $side"
		out=$WORK/run-$iter-$side.txt
		if ! "${PIN_CLIENT[@]}" "$WORK/mixed" -addr "127.0.0.1:$port" -clients "$CLIENTS" \
			-duration "$DURATION" -users "$USERS" -label "$side" -seed "$iter" "${EXTRA[@]}" >"$out" 2>&1; then
			cat "$out" >&2
			die "bench/mixed failed against $side"
		fi
		{
			echo "== pair $iter, $side"
			grep -v '^RESULT' "$out"
			echo
		} | tee -a "$RUNLOG"
		grep '^RESULT' "$out" | sed "s/^RESULT /RESULT iter=$iter /" >>"$RESULTS"
		kill -0 "$pid" 2>/dev/null || die "$side died during the run"
	done
done
LOAD_END=$(loadavg)
KRSS=$(peak_rss_kb "$KPID")
RRSS=$(peak_rss_kb "$RPID")

# summary TEXT|MD: medians over pairs; ratio = median of per-pair kvd/redis ops/s.
summary() {
	python3 - "$1" "$RESULTS" "$KRSS" "$RRSS" <<'EOF'
import statistics, sys
fmt, path, krss, rrss = sys.argv[1:5]
runs = {}
for line in open(path):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    runs.setdefault(kv["label"], {})[kv["iter"]] = kv
med = lambda xs: statistics.median(xs) if xs else float("nan")
ratios = [float(runs["kvd"][i]["ops_per_sec"]) / float(runs["redis"][i]["ops_per_sec"])
          for i in runs.get("kvd", {}) if i in runs.get("redis", {})]
head = ["server", "ops/s", "cmds/s", "p50 ms", "p99 ms", "p999 ms", "errors", "lock release", "peak RSS"]
rows = []
for side, rss in (("kvd", krss), ("redis", rrss)):
    rs = list(runs.get(side, {}).values())
    g = lambda k: med([float(r[k]) for r in rs])
    rows.append([side, f"{g('ops_per_sec'):,.0f}", f"{g('cmds_per_sec'):,.0f}", f"{g('p50_ms'):.3f}",
                 f"{g('p99_ms'):.3f}", f"{g('p999_ms'):.3f}", str(sum(int(r["errors"]) for r in rs)),
                 ",".join(sorted({r["release"] for r in rs})),
                 f"{int(rss) / 1024:.0f} MB" if rss.isdigit() else "n/a"])
ratio = f"kvd/redis ops/s: {med(ratios):.2f}x (median of {len(ratios)} pairs" + (
    f", range {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ")")
if fmt == "md":
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * 6 + "---|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print(f"- {ratio}")
else:
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w[i]) if i in (0, 7) else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
    print(ratio)
EOF
}

echo "== summary (medians over $PAIRS pairs, $DURATION each, $CLIENTS clients, durability $DUR)"
summary text
{
	echo "# kvd vs Redis: bench/mixed usage mix, $(date '+%Y-%m-%d %H:%M %Z')"
	echo
	result_preamble
	echo
	echo "## Settings"
	echo
	echo "- mix: 70% sessions (GET / SET 1 KB EX 3600, half/half), 20% rate limits (INCR + EXPIRE NX pipeline), 10% locks (SET NX PX + DELIFEQ or GET+DEL)"
	echo "- $PAIRS A/B pairs (kvd then Redis), $DURATION each, $CLIENTS clients, $USERS users, sessions prefilled before each run"
	echo "- kvd: \`$(quote_cmd "${PIN_SERVER[@]}" kvd "${KCMD[@]:1}")\`"
	echo "- redis: \`$(quote_cmd "${PIN_SERVER[@]}" "${RCMD[@]}")\`"
	echo
	echo "## Summary"
	echo
	summary md
	echo
	echo "## Runs"
	echo
	echo '```'
	cat "$RUNLOG"
	echo '```'
} >"$OUT"
echo "results written to ${OUT#"$REPO_DIR"/}"
