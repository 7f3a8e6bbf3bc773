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
	"$B/avwarden" -c "$W/run/$name.conf" --ready-fd 3 3>"$W/run/$name.ready" 2>"$W/run/$name.stderr" &
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
	/usr/sbin/clamd --config-file="$W/run/clamd.conf" >/dev/null 2>&1 &
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
	out=$($CLIENT "unix:$sock" load-unique "$SECS" "$2" $FILES) || { echo "bench: $1: wrong or failed replies: $out"; exit 1; }
	c1=$(tree_ticks $pid)
	req=$(field "$out" requests)
	cpu=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$req" 'BEGIN { printf "%.0f", d * 1e6 / t / n }')
	echo "$1 $2 $3 $out cpu_us=$cpu" >> "$W/run/raw"
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
	out=$("$B/tests/bench-inproc" "$DB" "$SECS" "$c" $FILES)
	echo "inproc $c 1 $(echo "$out" | sed 's/scans=/requests=/')" >> "$W/run/raw"
	[ "$c" = 1 ] && PSS_inproc=$(field "$out" pss_kb) && LOAD_inproc=$(field "$out" load_ms)
done

# ------------------------------------------------------------------ report
# Of the two rounds, the faster; its CPU per request goes with it.
best() {  # TARGET CLIENTS -> "rps p50 p99 cpu"
	grep "^$1 $2 " "$W/run/raw" | while read -r _ _ _ rest; do
		echo "$(field "$rest" rps) $(field "$rest" p50_ms) $(field "$rest" p99_ms) $(field "$rest" cpu_us)"
	done | sort -n -r | head -1
}
label() { case $1 in reuse) echo avwarden-reuse;; inproc) echo in-process;; *) echo "$1";; esac; }
echo
printf '%-15s %7s %9s %8s %8s %12s\n' target clients req/s p50_ms p99_ms cpu_us/req
for c in 1 $CONC; do
	for t in avwarden reuse clamd inproc; do
		set -- $(best $t $c)
		printf '%-15s %7s %9s %8s %8s %12s\n' "$(label $t)" $c "$1" "$2" "$3" "$4"
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
echo "raw runs: $W/run/raw"
