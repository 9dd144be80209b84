# shellcheck shell=bash
# Helpers shared by the bench scripts (run.sh, mixed.sh, evalsha.sh, large.sh). Source it; do not run it.
#
# It keeps its state in a few globals:
#   WORK         temp directory holding binaries, data dirs and logs
#   SERVER_PIDS  PIDs of every server started here (killed by bench_cleanup)
#   PIN_SERVER / PIN_CLIENT  command prefixes (taskset in --pinned mode)
#   KENV / REDIS_EXTRA  kvd's `env` prefix and redis-server's extra flags,
#                from KVD_ENV and REDIS_EXTRA_ARGS (bench_env)
#   WORDS        shell_words's result

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
SERVER_PIDS=()
PIN_SERVER=()
PIN_CLIENT=()
WORK=""
KVD_COMMIT=""
KVD_PREBUILT=""
KVD_REV=""
KENV=()
REDIS_EXTRA=()
WORDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# positive_int OPTION VALUE: dies unless VALUE is a positive integer.
positive_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer"; }

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "'$c' is not installed"
	done
}

# bench_setup reads the servers' environment variables (bench_env), creates
# WORK and installs the cleanup trap.
bench_setup() {
	bench_env
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvd-bench.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# bench_cleanup stops every server this script started (by PID) and removes WORK.
bench_cleanup() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		stop_pid "$pid"
	done
	SERVER_PIDS=()
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		rm -rf "$WORK"
	fi
}

# set_pinning on|off: servers on CPU 0, load generator on CPU 1.
set_pinning() {
	if [[ "$1" == on ]]; then
		need taskset
		(($(nproc) >= 2)) || die "--pinned needs at least 2 CPUs"
		PIN_SERVER=(taskset -c 0)
		# shellcheck disable=SC2034 # used by the scripts that source this file
		PIN_CLIENT=(taskset -c 1)
	fi
}

# build_kvd DEST builds ./cmd/kvd from the working tree, or from the commit
# given with --rev (KVD_REV), or copies the binary given with --kvd-bin
# (KVD_PREBUILT). Other people may be
# editing the tree (or racing on the build cache), so one failure is retried.
build_kvd() {
	local dest=$1
	if [[ -n "${KVD_PREBUILT:-}" ]]; then
		[[ -x "$KVD_PREBUILT" ]] || die "--kvd-bin $KVD_PREBUILT is not an executable"
		cp "$KVD_PREBUILT" "$dest"
		KVD_COMMIT="prebuilt binary $KVD_PREBUILT ($("$dest" --version 2>/dev/null || echo 'unknown version'))"
		log "using $KVD_COMMIT"
		return
	fi
	if [[ -n "${KVD_REV:-}" ]]; then
		local src=$WORK/src sha
		sha=$(git -C "$REPO_DIR" rev-parse --verify --short "$KVD_REV^{commit}") || die "unknown revision '$KVD_REV'"
		log "building kvd from commit $sha (git archive, the working tree is not used)"
		mkdir -p "$src"
		git -C "$REPO_DIR" archive "$sha" | tar -x -C "$src"
		(cd "$src" && go build -o "$dest" ./cmd/kvd) || die "cannot build kvd at $sha"
		KVD_COMMIT="$sha (--rev $KVD_REV, built from git archive; uncommitted changes not included)"
		return
	fi
	log "building kvd from $REPO_DIR"
	# Recorded now: other people may commit while the benchmark runs.
	KVD_COMMIT=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
		KVD_COMMIT+=" (working tree had uncommitted changes; the binary was built from the tree as it was)"
	fi
	if ! (cd "$REPO_DIR" && go build -o "$dest" ./cmd/kvd); then
		log "build failed, retrying once in 5s"
		sleep 5
		(cd "$REPO_DIR" && go build -o "$dest" ./cmd/kvd) || die "cannot build kvd"
	fi
}

# free_ports N prints N distinct free loopback TCP ports.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# wait_ready PID PORT LOG: wait until the server answers PING (30 s max).
wait_ready() {
	local pid=$1 port=$2 logf=$3 i
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "server (pid $pid, port $port) exited during startup; last log lines:"
			tail -n 20 "$logf" >&2 || true
			return 1
		fi
		if [[ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" == PONG ]]; then
			return 0
		fi
		sleep 0.1
	done
	log "server (pid $pid, port $port) did not answer PING within 30s"
	return 1
}

# stop_pid PID: SIGTERM, wait up to 20 s (kvd drains for up to 10 s), then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for 20s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# forget_pid PID removes PID from SERVER_PIDS after it was stopped.
forget_pid() {
	local p keep=()
	for p in "${SERVER_PIDS[@]}"; do
		[[ "$p" == "$1" ]] || keep+=("$p")
	done
	SERVER_PIDS=("${keep[@]}")
}

# start_server NAME LOG -- CMD...: start CMD (with PIN_SERVER) in the background.
# Sets STARTED_PID. The caller waits with wait_ready.
start_server() {
	local name=$1 logf=$2
	shift 3
	log "starting $name: $(quote_cmd "${PIN_SERVER[@]}" "$@")"
	"${PIN_SERVER[@]}" "$@" >"$logf" 2>&1 &
	STARTED_PID=$!
	SERVER_PIDS+=("$STARTED_PID")
}

# kvd_cmd BIN PORT DIR FSYNC: prints the kvd command line (one word per line).
kvd_cmd() {
	printf '%s\n' "$1" --bind 127.0.0.1 --port "$2" --dir "$3" --appendfsync "$4" --loglevel warning
}

# shell_words NAME: sets WORDS to the value of the variable NAME split like
# a shell line (so "--save ''" gives two words, the second empty); dies if
# the value cannot be split (an unclosed quote), rather than drop it.
shell_words() {
	local value=${!1:-}
	WORDS=()
	[[ -n "$value" ]] || return 0
	python3 -c 'import shlex, sys; shlex.split(sys.argv[1])' "$value" 2>/dev/null ||
		die "$1: cannot split '$value' like a shell line"
	mapfile -d '' -t WORDS < <(python3 -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "$value")
}

# bench_env reads the environment variables that change how the servers
# start, once, so that a bad one stops a script before it builds anything:
#   KVD_ENV           NAME=VALUE words (e.g. KVD_ENV='GOMAXPROCS=8') set in
#                     kvd's environment only: KENV, the prefix of every kvd
#                     command (`env` and the words; empty without them).
#                     Exported instead, GOMAXPROCS would also change
#                     bench/mixed's load generator.
#   REDIS_EXTRA_ARGS  flags added to every redis-server: REDIS_EXTRA.
bench_env() {
	local w
	shell_words KVD_ENV
	for w in "${WORDS[@]}"; do
		[[ "$w" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "KVD_ENV: '$w' is not NAME=VALUE"
	done
	KENV=()
	((${#WORDS[@]} == 0)) || KENV=(env "${WORDS[@]}")
	shell_words REDIS_EXTRA_ARGS
	REDIS_EXTRA=("${WORDS[@]}")
}

# redis_cmd PORT DIR DURABILITY: redis-server flags matching kvd's --appendfsync.
#   everysec -> --appendonly yes --appendfsync everysec
#   always   -> --appendonly yes --appendfsync always
#   no       -> --save '' --appendonly no
# Then the flags of REDIS_EXTRA_ARGS (bench_env).
redis_cmd() {
	local port=$1 dir=$2 dur=$3
	printf '%s\n' redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
		--daemonize no --loglevel warning
	case "$dur" in
	everysec | always) printf '%s\n' --appendonly yes --appendfsync "$dur" ;;
	no) printf '%s\n' --save '' --appendonly no ;;
	aof-no) printf '%s\n' --appendonly yes --appendfsync no ;; # prefill stand-in for always
	*) die "unknown durability '$dur'" ;;
	esac
	((${#REDIS_EXTRA[@]} == 0)) || printf '%s\n' "${REDIS_EXTRA[@]}"
}

# peak_rss_kb PID: VmHWM (peak resident set) of a live process, in kB.
peak_rss_kb() {
	awk '/^VmHWM:/ {print $2; found=1} END {if (!found) print "NA"}' "/proc/$1/status" 2>/dev/null || echo NA
}

# cpu_ticks PID: utime + stime of the whole process (all threads), in clock
# ticks: fields 14 and 15 of /proc/PID/stat. They are counted after the ") "
# that ends the command name, which could contain spaces. NA if unreadable.
cpu_ticks() {
	local stat f
	{ stat=$(<"/proc/$1/stat"); } 2>/dev/null || { echo NA; return; }
	read -r -a f <<<"${stat##*) }"
	if [[ "${f[11]:-}" =~ ^[0-9]+$ && "${f[12]:-}" =~ ^[0-9]+$ ]]; then
		echo $((f[11] + f[12]))
	else
		echo NA
	fi
}

# dir_kb DIR: disk usage of a data directory, in kB.
dir_kb() { du -sk "$1" 2>/dev/null | awk '{print $1}'; }

# rss_split_kb PID: "ANON FILE" resident kB of a live process. Anonymous
# memory is what the server holds (heap, memtables, caches); file-backed
# pages are badger's memory-mapped tables in the page cache, which the
# kernel drops under memory pressure.
rss_split_kb() {
	awk '/^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{print a+0, f+0}' "/proc/$1/status" 2>/dev/null || echo "0 0"
}

# set_commands N: RESP for SET key:<12 digits> <100 bytes> over keys 0..N-1,
# named as redis-benchmark names them (__rand_int__ is 12 digits), for
# redis-cli --pipe.
set_commands() {
	python3 - "$1" <<'PYEOF'
import sys
n = int(sys.argv[1])
value = b"v" * 100
out = sys.stdout.buffer
chunk = []
for i in range(n):
    k = b"key:%012d" % i
    chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$100\r\n%s\r\n" % (k, value))
    if len(chunk) == 10000:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
PYEOF
}

# quote_cmd ARGS...: the arguments as one shell-quoted line.
quote_cmd() {
	local out="" a
	for a in "$@"; do
		out+="$(printf '%q' "$a") "
	done
	printf '%s' "${out% }"
}

# machine_header: Markdown bullet list describing the machine and versions.
machine_header() {
	printf -- '- nproc: %s\n' "$(nproc)"
	printf -- '- CPU: %s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	printf -- '- memory: %s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	printf -- '- kernel: %s\n' "$(uname -sr)"
	printf -- '- data dir filesystem: %s\n' "$(df -PT "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
	printf -- '- %s\n' "$(go version)"
	printf -- '- %s\n' "$(redis-server --version)"
	printf -- '- %s\n' "$(redis-benchmark --version 2>/dev/null || echo 'redis-benchmark (unknown version)')"
	printf -- '- kvd commit at build time: %s\n' "${KVD_COMMIT:-unknown}"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# check_alive NAME PID LOG: die, showing the end of LOG, if PID is gone.
check_alive() {
	kill -0 "$2" 2>/dev/null && return 0
	log "$1 (pid $2) died; last log lines:"
	tail -n 30 "$3" >&2 || true
	die "$1 died during the benchmark"
}

# start_pair KVD_FSYNC REDIS_DURABILITY TAG: start kvd ($KVD_BIN) and
# redis-server on fresh ports over $KDIR and $RDIR, logging to
# $WORK/kvd-TAG.log and $WORK/redis-TAG.log. Sets KPORT RPORT KPID RPID
# KCMD RCMD.
start_pair() {
	read -r KPORT RPORT <<<"$(free_ports 2)"
	mkdir -p "$KDIR" "$RDIR"
	mapfile -t KCMD < <(kvd_cmd "$KVD_BIN" "$KPORT" "$KDIR" "$1")
	mapfile -t RCMD < <(redis_cmd "$RPORT" "$RDIR" "$2")
	start_server "kvd ($3)" "$WORK/kvd-$3.log" -- "${KENV[@]}" "${KCMD[@]}"
	KPID=$STARTED_PID
	start_server "redis ($3)" "$WORK/redis-$3.log" -- "${RCMD[@]}"
	RPID=$STARTED_PID
	wait_ready "$KPID" "$KPORT" "$WORK/kvd-$3.log" || die "kvd did not start"
	wait_ready "$RPID" "$RPORT" "$WORK/redis-$3.log" || die "redis-server did not start"
}

# result_preamble: the command line, machine and load lines every result
# file starts with (CMDLINE, LOAD_START, LOAD_END, PINNED).
# result_file NAME sets MODE_NAME (NAME, with -pinned when PINNED is on)
# and, unless --out gave one, OUT: bench/results/<date>_<time>-MODE_NAME.md.
# It creates OUT's directory.
result_file() {
	MODE_NAME=$1
	[[ "$PINNED" == on ]] && MODE_NAME+=-pinned
	: "${OUT:=$BENCH_DIR/results/$(date +%Y-%m-%d_%H%M)-$MODE_NAME.md}"
	mkdir -p "$(dirname "$OUT")"
}

result_preamble() {
	echo "Command: \`$CMDLINE\`"
	echo
	echo "## Machine"
	echo
	machine_header
	echo "- load average at start: $LOAD_START; at end: $LOAD_END"
	echo "- pinned: $PINNED$([[ $PINNED == on ]] && echo ' (servers: taskset -c 0, redis-benchmark: taskset -c 1)')"
	kvd_env_line
}

# kvd_env_line: the result files' line for KVD_ENV (after bench_env), if any.
kvd_env_line() {
	((${#KENV[@]} == 0)) || echo "- kvd's environment adds (KVD_ENV): \`$KVD_ENV\`"
}
