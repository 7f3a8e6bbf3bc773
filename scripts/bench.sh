#!/bin/sh
# make bench: avwarden against clamd and against libclamav in-process, in
# one run, on what a mail server sees:
#   - every message unique (clamd-client load-unique puts a new first header
#     line on each: real mail never repeats, and no cache may answer it);
#   - a database of realistic size (scripts/gen-bigdb.sh: 2M hashes and 50k
#     body signatures, shaped like the official one; built once, kept);
#   - CPU of the whole process tree per request (supervisor, relay, host,
#     every worker, forked or reaped during the run; clamd and its threads),
#     read from /proc, the client excluded.
# Targets, all loaded at once and measured in alternating runs:
#   avwarden        the defaults: one message per worker process
#   avwarden-reuse  max_jobs_per_worker = 0 (workers kept: less isolation)
#   clamd           Debian's clamd, MaxThreads = max_concurrency
#   in-process      libclamav called directly (tests/bench-inproc): no
#                   sandbox, no IPC, no socket; the floor for CPU per scan
# usage: scripts/bench.sh BUILD_DIR [SECONDS_PER_RUN] [NHASH NBODY]
#        (NHASH 0: the tests' small database instead)
set -eu
B=$(cd "${1:-build}" && pwd)
SECS=${2:-5}
NHASH=${3:-2000000}
NBODY=${4:-50000}
W=$B/bench
CLIENT=$B/tests/clamd-client
CTL=$B/avwardenctl
TESTFILES=/usr/share/clamav-testfiles
CONC=4   # avwarden max_concurrency = clamd MaxThreads
TICK=$(getconf CLK_TCK)
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (the scanners run as the avwarden account)"; exit 1; }
[ -x /usr/sbin/clamd ] || { echo "bench: /usr/sbin/clamd missing: apt-get install clamav-daemon (make deps does)"; exit 1; }
sh "$(dirname "$0")/add-user.sh" avwarden >/dev/null

rm -rf "$W/run" "$W/corpus"
mkdir -p "$W/run" "$W/corpus"
chmod 755 "$W" "$W/run" "$W/corpus"

echo "bench: corpus"
mail() {  # mail FILE BODY_CMD...
	out=$1
	shift
	{
		printf 'From: a@example.org\nTo: b@example.org\nSubject: bench\nMIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nHello.\n--B\n'
		printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
		"$@" | base64
		printf -- '--B--\n'
	} > "$out"
}
for i in $(seq 1 20); do
	{ printf 'From: a@example.org\nTo: b@example.org\nSubject: note %s\n\n' "$i"; head -c 3600 /dev/urandom | base64; } > "$W/corpus/small$i.eml"
done
for i in $(seq 1 10); do mail "$W/corpus/attach$i.eml" head -c 36000 /dev/urandom; done
for f in clam.zip clam.7z clam.tar.gz; do mail "$W/corpus/infected-$f.eml" cat "$TESTFILES/$f"; done
FILES=$(ls "$W"/corpus/*.eml)
echo "bench: $(ls "$W/corpus" | wc -l) mails (20 x 5 KB text, 10 x 50 KB with a binary attachment, 3 with an infected archive), each sent with a unique header"

DB=$W/db-$NHASH-$NBODY
if [ "$NHASH" = 0 ]; then
	DB=$B/db   # the tests' own database: a few signatures
elif [ ! -f "$DB/bench.hdb" ]; then
	echo "bench: generating the database ($NHASH hashes, $NBODY body signatures; kept in $DB)"
	rm -rf "$DB"
	sh "$(dirname "$0")/gen-bigdb.sh" "$DB" "$NHASH" "$NBODY" >/dev/null
	cp "$B/db/"* "$DB/"   # the project's signatures: the infected corpus
	chmod 755 "$DB"
	chmod 644 "$DB"/*
fi

# ------------------------------------------------------- perf's cgroups
# A perf_event cgroup per target: cgroup v1's perf_event hierarchy (mounted
# here if the machine has none), or cgroup v2's unified one.
PERF=$(command -v perf || true) CG="" PERF_WHY=""
if [ -z "$PERF" ]; then
	PERF_WHY="perf is not installed (apt-get install linux-perf)"
else
	CG=$(awk '$3 == "cgroup" && $4 ~ /(^|,)perf_event(,|$)/ { print $2; exit }' /proc/mounts)
	if [ -z "$CG" ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CG=/sys/fs/cgroup
	elif [ -z "$CG" ] && mkdir -p /sys/fs/cgroup/perf_event 2>/dev/null &&
		mount -t cgroup -o perf_event perf_event /sys/fs/cgroup/perf_event 2>/dev/null; then
		CG=/sys/fs/cgroup/perf_event
	fi
	[ -n "$CG" ] || PERF_WHY="no perf_event cgroup hierarchy, and none could be mounted"
fi
if [ -n "$CG" ]; then
	for t in avwarden reuse clamd inproc; do
		[ -d "$CG/avwbench-$t" ] || mkdir "$CG/avwbench-$t" 2>/dev/null || { CG="" PERF_WHY="cannot create cgroups under $CG"; break; }
	done
fi
# Whatever ends the run, no target is left running and no cgroup behind.
PID_avwarden="" PID_reuse="" PID_clamd=""
cleanup() {
	for p in $PID_avwarden $PID_reuse $PID_clamd; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "$CG" ] || for t in avwarden reuse clamd inproc; do rmdir "$CG/avwbench-$t" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# in_cgroup TARGET CMD...: exec CMD inside TARGET's cgroup (or as it is);
# called in a subshell (& or $(...)), so a target's pid is its own.
in_cgroup() {
	t=$1
	shift
	if [ -n "$CG" ]; then
		exec sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' in_cgroup "$CG/avwbench-$t" "$@"
	else
		exec "$@"
	fi
}
# perf_start TARGET FILE / perf_stop: count TARGET's cgroup meanwhile.
perf_start() {
	PF=""
	[ -n "$CG" ] || return 0
	"$PERF" stat -x, -a -e raw_syscalls:sys_enter,context-switches -G "avwbench-$1,avwbench-$1" -o "$2" \
		2>"$2.err" &
	PF=$!
}
perf_stop() {
	[ -n "$PF" ] || return 0
	kill -INT "$PF" 2>/dev/null || true
	wait "$PF" 2>/dev/null || true   # perf ends by the SIGINT it was sent
}

# ---------------------------------------------------------------- targets
now_ms() { echo $(($(date +%s%N) / 1000000)); }

start_avwarden() {  # NAME [CONFIG LINES...]
	name=$1
	shift
	{
		printf 'listen = "unix:%s/%s.sock"\ncontrol_socket = "%s/%s-ctl.sock"\n' "$W/run" "$name" "$W/run" "$name"
		printf 'database = "%s"\nscanner_path = "%s/avwarden-scanner"\nuser = "avwarden"\n' "$DB" "$B"
		printf 'scanner_log = "%s/%s.log"\nmax_concurrency = %s\n' "$W/run" "$name" "$CONC"
		for l in "$@"; do echo "$l"; done
	} > "$W/run/$name.conf"
	mkfifo "$W/run/$name.ready"
	t0=$(now_ms)
	in_cgroup "$name" "$B/avwarden" -c "$W/run/$name.conf" --ready-fd 3 3>"$W/run/$name.ready" 2>"$W/run/$name.stderr" &
	eval "PID_$name=$!"
	head -c1 "$W/run/$name.ready" >/dev/null
	# Ready is the first worker; wait for the whole pool and its spares.
	until [ "$("$CTL" -s "$W/run/$name-ctl.sock" stats | sed -n 's|^ *workers busy/idle: *0/\([0-9]*\)$|\1|p')" -ge $CONC ] 2>/dev/null; do
		kill -0 "$(eval echo \$PID_$name)" 2>/dev/null || { echo "bench: avwarden ($name) died loading (see $W/run/$name.log)"; exit 1; }
		sleep 0.05
	done
	eval "LOAD_$name=$(($(now_ms) - t0))"
}

start_clamd() {
	cat > "$W/run/clamd.conf" <<CONF
LocalSocket $W/run/clamd.sock
DatabaseDirectory $DB
Foreground yes
LogFile $W/run/clamd.log
MaxThreads $CONC
StreamMaxLength 100M
TemporaryDirectory /tmp
CONF
	t0=$(now_ms)
	in_cgroup clamd /usr/sbin/clamd --config-file="$W/run/clamd.conf" >/dev/null 2>&1 &
	PID_clamd=$!
	until [ "$($CLIENT unix:$W/run/clamd.sock ping 2>/dev/null | tr -d '\0')" = PONG ]; do
		kill -0 $PID_clamd 2>/dev/null || { echo "bench: clamd died loading $DB (see $W/run/clamd.log)"; exit 1; }
		sleep 0.05
	done
	LOAD_clamd=$(($(now_ms) - t0))
}

tree() {  # PID: it and every descendant
	echo "$1"
	for c in $(pgrep -P "$1" || true); do tree "$c"; done
}
# CPU ticks of a process tree, the dead included: a reaped process's time
# is in its reaper's cutime/cstime, and every reaper here is in the tree.
tree_ticks() {
	t=0
	for p in $(tree "$1"); do
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
		t=$((t + ${v:-0}))
	done
	echo $t
}
tree_pss() {  # PID: PSS of the tree in kB
	t=0
	for p in $(tree "$1"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
		t=$((t + ${v:-0}))
	done
	echo $t
}
# avwarden's engine lives in a memfd (scanner/engmap.c) that PSS counts
# only where a process has it mapped in: count it whole, once, instead.
engine_pss() {  # PID: PSS in kB of the tree's mappings of the engine memfd
	t=0
	for p in $(tree "$1"); do
		v=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { e = /memfd:avwarden-engine/ } e && /^Pss:/ { s += $2 } END { print s + 0 }' \
			"/proc/$p/smaps" 2>/dev/null || true)
		t=$((t + ${v:-0}))
	done
	echo $t
}
avwarden_mem() {  # NAME: tree PSS, the engine memfd counted whole
	eval "pid=\$PID_$1"
	mb=$(sed -n 's/.* host_ready .*engine_mb=\([0-9]*\).*/\1/p' "$W/run/$1.log" | tail -1)
	echo $(($(tree_pss $pid) - $(engine_pss $pid) + ${mb:-0} * 1024))
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# The regression guard that is no timing: syscalls and context switches per
# request of a target's whole tree, every process it forks or reaps during
# the run included (each target runs in a perf_event cgroup of its own).
perf_per_req() {  # FILE REQUESTS -> "sys_per_req cs_per_req"
	[ -f "$1" ] || { echo "- -"; return 0; }
	awk -F, -v n="$2" '$3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "context-switches" { c = $1 }
		END { if (n > 0 && s ~ /^[0-9]+$/) printf "%.1f %.1f", s / n, c / n; else print "- -" }' "$1"
}

echo "bench: loading the targets"
start_avwarden avwarden
start_avwarden reuse 'max_jobs_per_worker = 0'
start_clamd
SIGS=$("$CTL" -s "$W/run/avwarden-ctl.sock" version | sed -n 's/^ *signatures: *//p')
echo "bench: avwarden $LOAD_avwarden ms, avwarden-reuse $LOAD_reuse ms, clamd $LOAD_clamd ms to serve $SIGS signatures"
# Memory once loaded, before the runs: the whole tree of each.
PSS_avwarden=$(avwarden_mem avwarden)
PSS_reuse=$(avwarden_mem reuse)
PSS_clamd=$(tree_pss $PID_clamd)

echo "bench: $SECS s per run, 1 and $CONC clients, two rounds, the targets alternating"
: > "$W/run/raw"
run() {  # TARGET CLIENTS ROUND
	case $1 in
	clamd) sock=$W/run/clamd.sock; pid=$PID_clamd ;;
	*) sock=$W/run/$1.sock; eval "pid=\$PID_$1" ;;
	esac
	c0=$(tree_ticks $pid)
	perf_start "$1" "$W/run/perf.$1.$2.$3"
	out=$($CLIENT "unix:$sock" load-unique "$SECS" "$2" $FILES) || { echo "bench: $1: wrong or failed replies: $out"; exit 1; }
	perf_stop
	c1=$(tree_ticks $pid)
	req=$(field "$out" requests)
	cpu=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$req" 'BEGIN { printf "%.0f", d * 1e6 / t / n }')
	set -- "$@" $(perf_per_req "$W/run/perf.$1.$2.$3" "$req")
	echo "$1 $2 $3 $out cpu_us=$cpu sys_req=$4 cs_req=$5" >> "$W/run/raw"
}
for c in 1 $CONC; do
	for r in 1 2; do
		for t in avwarden reuse clamd; do run $t $c $r; done
	done
done
REPL=$("$CTL" -s "$W/run/avwarden-ctl.sock" stats | sed -n 's/^ *worker replacement ms: *//p')
OVER=$("$CTL" -s "$W/run/avwarden-ctl.sock" stats | sed -n 's/^ *overhead us\/message: *\(p50 [0-9.]* p99 [0-9.]*\).*/\1/p')
for t in avwarden reuse; do eval "kill -TERM \$PID_$t"; done
kill -TERM $PID_clamd
wait 2>/dev/null || true

echo "bench: in-process libclamav, 1 and $CONC threads"
for c in 1 $CONC; do
	perf_start inproc "$W/run/perf.inproc.$c"
	out=$(in_cgroup inproc "$B/tests/bench-inproc" "$DB" "$SECS" "$c" $FILES)
	perf_stop
	pr=$(perf_per_req "$W/run/perf.inproc.$c" "$(field "$out" scans)")
	echo "inproc $c 1 $(echo "$out" | sed 's/scans=/requests=/') sys_req=${pr% *} cs_req=${pr#* }" >> "$W/run/raw"
	[ "$c" = 1 ] && PSS_inproc=$(field "$out" pss_kb) && LOAD_inproc=$(field "$out" load_ms)
done

# ------------------------------------------------------------------ report
# Of the two rounds, the faster; its CPU per request goes with it.
best() {  # TARGET CLIENTS -> "rps p50 p99 cpu sys cs"
	grep "^$1 $2 " "$W/run/raw" | while read -r _ _ _ rest; do
		echo "$(field "$rest" rps) $(field "$rest" p50_ms) $(field "$rest" p99_ms) $(field "$rest" cpu_us)" \
			"$(field "$rest" sys_req) $(field "$rest" cs_req)"
	done | sort -n -r | head -1
}
label() { case $1 in reuse) echo avwarden-reuse;; inproc) echo in-process;; *) echo "$1";; esac; }
echo
printf '%-15s %7s %9s %8s %8s %12s %9s %9s\n' target clients req/s p50_ms p99_ms cpu_us/req sys/req ctxsw/req
for c in 1 $CONC; do
	for t in avwarden reuse clamd inproc; do
		set -- $(best $t $c)
		printf '%-15s %7s %9s %8s %8s %12s %9s %9s\n' "$(label $t)" $c "$1" "$2" "$3" "$4" "${5:--}" "${6:--}"
		eval "RPS_${t}_$c=$1 CPU_${t}_$c=$4"
	done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "ratios (avwarden with its defaults, one message per process, against each):"
printf '  %-34s %10s %10s\n' "" "1 client" "$CONC clients"
for t in clamd reuse inproc; do
	eval "a1=\$RPS_avwarden_1 b1=\$RPS_${t}_1 a4=\$RPS_avwarden_$CONC b4=\$RPS_${t}_$CONC"
	printf '  %-34s %10s %10s\n' "throughput / $(label $t)" "$(ratio $a1 $b1)" "$(ratio $a4 $b4)"
	eval "a1=\$CPU_avwarden_1 b1=\$CPU_${t}_1 a4=\$CPU_avwarden_$CONC b4=\$CPU_${t}_$CONC"
	printf '  %-34s %10s %10s\n' "CPU per request / $(label $t)" "$(ratio $a1 $b1)" "$(ratio $a4 $b4)"
done
echo
printf '%-40s %10s %12s\n' "memory once loaded ($SIGS signatures)" "load ms" "PSS kB"
echo "  (PSS of every process of the tree; avwarden's engine memfd counted whole, once)"
printf '%-40s %10s %12s\n' "avwarden (supervisor, host, $CONC+$CONC workers)" "$LOAD_avwarden" "$PSS_avwarden"
printf '%-40s %10s %12s\n' "avwarden-reuse" "$LOAD_reuse" "$PSS_reuse"
printf '%-40s %10s %12s\n' "clamd" "$LOAD_clamd" "$PSS_clamd"
printf '%-40s %10s %12s\n' "in-process engine" "$LOAD_inproc" "$PSS_inproc"
echo "  avwarden / clamd memory: $(ratio $PSS_avwarden $PSS_clamd)   avwarden / in-process: $(ratio $PSS_avwarden $PSS_inproc)"
echo
echo "avwarden worker replacement (exit to a ready spare), ms: $REPL"
echo "avwarden overhead per message (dispatch to answer, outside libclamav), us: $OVER"
if [ -n "$CG" ]; then
	echo "sys/req, ctxsw/req: syscalls and context switches per request of the target's whole process tree, its"
	echo "  cgroup counted by perf stat; not timings: a regression guard for the work done per message"
else
	echo "sys/req, ctxsw/req: not counted: $PERF_WHY"
fi
echo "raw runs: $W/run/raw"
