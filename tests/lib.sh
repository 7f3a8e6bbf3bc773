# tests/lib.sh: shared by the shell test suites (sourced, not run).
# Provides: B (build dir), ROOT, CLIENT, CTL, T (temp dir, removed at exit),
# ok/bad/check, vis, write_conf NAME SCANNER [LINES...], start NAME, stop,
# wait_for, free_port, listening PORT, now_ms, and the sample files
# $T/eicar.com, $T/clean.eml, $T/big.eml.
set -u
B=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIENT=$B/tests/clamd-client
CTL=$B/avwardenctl
TESTFILES=/usr/share/clamav-testfiles
PASS=0
FAIL=0
T=$(mktemp -d /tmp/avwarden-it.XXXXXX)
chmod 755 "$T"
DAEMON_PID=""

cleanup() {
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	# A failure is read in CI's output alone: the daemons' warnings go with it.
	if [ "$FAIL" -gt 0 ]; then
		for _l in "$T"/*/scanner.log; do
			[ -f "$_l" ] || continue
			echo "# warnings and errors in $_l (last 40):"
			grep -E ' (warn|err|crit)[a-z]* ' "$_l" | tail -40 | sed 's/^/#   /'
		done
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '     %s\n' "$2"; }
# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2] got [$3]"; fi
}
# Replies end in '\0' for z-commands; show it as '|' to compare in shell.
vis() { tr '\0' '|'; }

if [ "$(id -u)" -ne 0 ]; then
	echo "integration: needs root (scanners run as their own account, avwarden); run: sudo make check"
	exit 1
fi
# The scanners' own account, as make install creates it.
sh "$ROOT/scripts/add-user.sh" avwarden || exit 1
SCAN_UID=$(id -u avwarden)

# write_conf NAME SCANNER [extra lines...]
write_conf() {
	name=$1 scanner=$2
	shift 2
	d=$T/$name
	mkdir -p "$d"
	chmod 755 "$d"
	# A key may be set once: an extra line replaces the default's.
	{
		for l in "listen = { \"unix:$d/clamd.sock\" }" "control_socket = \"$d/control.sock\"" \
			"database = \"$B/db\"" "scanner_path = \"$scanner\"" "scanner_log = \"$d/scanner.log\"" \
			'user = "avwarden"' 'max_concurrency = 2' 'timeout = 10' 'max_extract_time = 5'; do
			k=${l%% =*}
			for e in "$@"; do
				case $e in "$k "* | "$k="*) l=""; break;; esac
			done
			[ -n "$l" ] && echo "$l"
		done
		for l in "$@"; do echo "$l"; done
	} > "$d/avwarden.conf"
}

# scanner_host [DAEMON]: the scanner host proper, pid 1 of its own pid
# namespace, under the relay the supervisor spawned (privileges/pidns.c);
# its children are the workers.
scanner_host() {
	_r=$(pgrep -P "${1:-$DAEMON_PID}" | head -1)
	[ -n "$_r" ] && pgrep -P "$_r" | head -1
}

# start NAME: runs the daemon, waits for its ready newline (no sleeping).
start() {
	d=$T/$1
	rm -f "$d/ready"
	mkfifo "$d/ready"
	# AVW_WRAP runs the supervisor under a tool (make valgrind).
	${AVW_WRAP:-} "$B/avwarden" -c "$d/avwarden.conf" --ready-fd 3 3>"$d/ready" 2>"$d/stderr" &
	DAEMON_PID=$!
	got=$(timeout 120 head -c1 "$d/ready" | od -An -c | tr -d ' ')
	if [ "$got" != '\n' ]; then
		echo "integration: daemon $1 did not become ready; its stderr:"
		cat "$d/stderr"
		return 1
	fi
	SOCK=unix:$d/clamd.sock
	return 0
}

# stop: SIGTERM, expect exit 0.
stop() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=""
	return $rc
}

printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$T/eicar.com"
cat > "$T/clean.eml" <<'MAIL'
From: alice@example.org
To: bob@example.org
Subject: lunch

See you at noon.
MAIL
# A 50 KB mail with a base64 "attachment" of pseudo-random bytes.
{
	printf 'From: a@example.org\nTo: b@example.org\nSubject: report\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nAttached.\n'
	printf -- '--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
	head -c 36000 /dev/urandom | base64
	printf -- '--XX--\n'
} > "$T/big.eml"

# wait_for DESCRIPTION COMMAND...: polls a condition every 10 ms, at most
# WAIT_STEPS times (default 2000: ~20 s), instead of sleeping a guess.
wait_for() {
	what=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		if [ $i -gt "${WAIT_STEPS:-2000}" ]; then
			echo "     gave up waiting for: $what"
			return 1
		fi
		sleep 0.01
	done
}

# pool_settled DIR: every worker slot of the daemon in DIR holds a ready,
# idle worker (none spawning, busy or dying), so its descriptors are the
# steady set: one pidfd, one data memfd and one link per slot.
pool_settled() {
	$CTL -s "$1/control.sock" workers 2>/dev/null |
		awk 'NR > 1 { n++; if ($4 != "idle") bad++ } END { exit !(n > 0 && bad == 0) }'
}

# stat_json NAME KEY: one field of `avwardenctl --json stats` of daemon NAME.
stat_json() {
	$CTL -s "$T/$1/control.sock" --json stats | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# redis_start PORT: Debian's redis-server on 127.0.0.1:PORT, no persistence,
# in the background (REDIS_PID); 0 once it answers PING.
REDIS_PID=""
redis_start() {
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$T" \
		> "$T/redis.out" 2>&1 &
	REDIS_PID=$!
	wait_for "redis answers" sh -c "[ \"\$(redis-cli -p $1 ping 2>/dev/null)\" = PONG ]"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now (perl).
free_port() {
	perl -MIO::Socket::INET -e \
		'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die; print $s->sockport'
}
# listening PORT: true once something accepts connections on 127.0.0.1:PORT.
listening() {
	perl -MIO::Socket::INET -e \
		'exit(IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]", Timeout => 1) ? 0 : 1)' "$1"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_clamd DB [clamd.conf lines...]: Debian's clamd on DB, as a reference,
# with its socket at $T/clamd/clamd.sock; stopped at exit. 0 once it answers.
CLAMD_PID=""
start_clamd() {
	db=$1
	shift
	mkdir -p "$T/clamd"
	{
		echo "LocalSocket $T/clamd/clamd.sock"
		echo "Foreground yes"
		echo "DatabaseDirectory $db"
		echo "User root"
		echo "LogFile $T/clamd/clamd.log"
		for l in "$@"; do echo "$l"; done
	} > "$T/clamd/clamd.conf"
	clamd -c "$T/clamd/clamd.conf" > "$T/clamd/out" 2>&1 &
	CLAMD_PID=$!
	trap 'kill -9 $CLAMD_PID 2>/dev/null; cleanup' EXIT
	WAIT_STEPS=6000 wait_for "clamd socket" test -S "$T/clamd/clamd.sock" || { cat "$T/clamd/out"; return 1; }
}

# finish: the summary line CI reads, and the exit status.
finish() {
	echo
	echo "$SUITE: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
