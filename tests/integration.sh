#!/bin/sh
# tests/integration.sh: end-to-end tests against the real daemon, the real
# (or fault-injecting) scanner and the generated signature database.
# usage: tests/integration.sh BUILD_DIR
# Needs root (the scanners switch to their own account) and a kernel with user
# namespaces, seccomp and Landlock; says so and fails when they are missing.
set -u
SUITE=integration
. "$(dirname "$0")/lib.sh"

###########################################################################
echo "# real scanner"
write_conf main "$B/avwarden-scanner" 'max_message_size = "2M"' 'command_read_timeout = 1'
start main || exit 1
D=$T/main

check "PING (z form)" "PONG|" "$($CLIENT $SOCK ping | vis)"
check "PING (n form)" "PONG" "$(printf 'nPING\n' | $CLIENT $SOCK raw)"
check "PING (legacy form)" "PONG" "$(printf 'PING\n' | $CLIENT $SOCK raw)"
case "$($CLIENT $SOCK version | vis)" in
"ClamAV "[0-9]*.[0-9]*"|") ok "VERSION reply";;
*) bad "VERSION reply" "$($CLIENT $SOCK version | vis)";;
esac
check "EICAR over INSTREAM" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
check "clean mail" "stream: OK|" "$($CLIENT $SOCK instream "$T/clean.eml" | vis)"
check "50 KB mail" "stream: OK|" "$($CLIENT $SOCK instream "$T/big.eml" | vis)"
check "EICAR in 1-byte chunks" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/eicar.com" 1 | vis)"
check "empty stream" "stream: OK|" "$(printf 'zINSTREAM\0\0\0\0\0' | $CLIENT $SOCK raw | vis)"
check "nINSTREAM replies with newline" "stream: OK" \
	"$(printf 'nINSTREAM\n\0\0\0\5hello\0\0\0\0' | $CLIENT $SOCK raw)"
check "unknown command" "UNKNOWN COMMAND|" "$(printf 'zFROBNICATE\0' | $CLIENT $SOCK raw | vis)"
check "legacy INSTREAM is refused like clamd" "UNKNOWN COMMAND" "$(printf 'INSTREAM\n' | $CLIENT $SOCK raw)"
check "n command without terminator in 4104 bytes: closed, no reply" "" \
	"$({ printf n; head -c 5000 /dev/zero | tr '\0' 'A'; } | $CLIENT $SOCK raw | vis)"
check "legacy command without terminator: taken as it is, like clamd" "UNKNOWN COMMAND" \
	"$(head -c 5000 /dev/zero | tr '\0' 'A' | $CLIENT $SOCK raw | vis)"
check "truncated stream: closed, no reply" "" \
	"$(printf 'zINSTREAM\0\0\0\1\0abc' | $CLIENT $SOCK raw | vis)"
head -c 2200000 /dev/zero > "$T/toolarge"
check "INSTREAM past max_message_size" "INSTREAM size limit exceeded. ERROR|" \
	"$($CLIENT $SOCK instream "$T/toolarge" 65536 | vis)"
# An idle client is told off after command_read_timeout (1 s here).
check "idle client: COMMAND READ TIMED OUT" "COMMAND READ TIMED OUT" \
	"$( (printf 'zPI'; sleep 2) | $CLIENT $SOCK raw | vis)"
check "still serving after malformed input" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/eicar.com" | vis)"

# Same verdict as libclamav in-process, for every Debian test file.
if [ ! -d "$TESTFILES" ]; then
	bad "clamav-testfiles installed" "$TESTFILES missing: apt-get install clamav-testfiles"
else
	n=0 diff=0
	for f in "$TESTFILES"/* "$T/eicar.com" "$T/clean.eml" "$T/big.eml"; do
		want=$("$B/tests/inproc-scan" "$B/db" "$f" | sed "s|^$f: ||")
		got=$($CLIENT $SOCK instream "$f" | tr -d '\0')
		n=$((n + 1))
		if [ "$want" != "$got" ]; then
			diff=$((diff + 1))
			echo "     $f: in-process [$want] avwarden [$got]"
		fi
	done
	check "verdicts equal to in-process libclamav ($n files)" 0 "$diff"
	found=$(for f in "$TESTFILES"/*; do $CLIENT $SOCK instream "$f"; echo; done | grep -c 'ClamAV-Test-File.UNOFFICIAL FOUND')
	check "every clamav-testfiles variant found by unpacking" "$(ls "$TESTFILES" | wc -l)" "$found"
fi

# ClamAV's own client.
cat > "$D/clamd.conf" <<CONF
LocalSocket $D/clamd.sock
CONF
out=$(clamdscan --no-summary --config-file="$D/clamd.conf" --stream "$T/eicar.com" 2>&1)
rc=$?
check "clamdscan --stream EICAR" "$T/eicar.com: Eicar-Test-Signature.UNOFFICIAL FOUND/1" "$out/$rc"
out=$(clamdscan --no-summary --config-file="$D/clamd.conf" --stream "$T/clean.eml" 2>&1)
rc=$?
check "clamdscan --stream clean" "$T/clean.eml: OK/0" "$out/$rc"

# Every scanner process: unprivileged, no capabilities, no_new_privs, own
# network namespace; workers under seccomp filter mode.
sup_net=$(readlink /proc/$DAEMON_PID/ns/net)
relay_pid=$(pgrep -P "$DAEMON_PID" -f avwarden-scanner | head -1)
host_pid=$(scanner_host)
workers=$(pgrep -P "$host_pid")
# max_concurrency 2, and as many spares (spare_workers unset).
[ -n "$host_pid" ] && [ "$(echo "$workers" | wc -w)" -eq 4 ] && ok "host and 2 + 2 spare workers running" ||
	bad "host and 2 + 2 spare workers running" "host=$host_pid workers=$workers"
# The host in a pid namespace of its own, as its init; the process the
# supervisor spawned is a relay that holds nothing.
sup_pidns=$(readlink /proc/$DAEMON_PID/ns/pid)
[ "$(readlink /proc/$host_pid/ns/pid)" != "$sup_pidns" ] && ok "host has its own pid namespace" ||
	bad "host has its own pid namespace" "same as the supervisor's: $sup_pidns"
check "host is pid 1 there" 1 "$(awk '/^NSpid:/ {print $NF}' /proc/$host_pid/status)"
ns_ok=0
for p in $workers; do
	[ "$(readlink /proc/$p/ns/pid)" = "$(readlink /proc/$host_pid/ns/pid)" ] &&
		[ "$(awk '/^NSpid:/ {print $NF}' /proc/$p/status)" -gt 1 ] && ns_ok=$((ns_ok + 1))
done
check "workers in the host's pid namespace" "$(echo "$workers" | wc -w)" "$ns_ok"
check "relay: under a seccomp filter" 2 "$(awk '/^Seccomp:/ {print $2}' /proc/$relay_pid/status)"
check "relay: holds one descriptor (its pipe end)" 1 "$(ls /proc/$relay_pid/fd | wc -l)"
for p in $relay_pid $host_pid $workers; do
	st=/proc/$p/status
	role=worker
	[ "$p" = "$host_pid" ] && role=host
	[ "$p" = "$relay_pid" ] && role=relay
	uid=$(awk '/^Uid:/ {print $3}' "$st")
	check "$role $p runs as avwarden (euid)" "$SCAN_UID" "$uid"
	check "$role $p CapEff" 0000000000000000 "$(awk '/^CapEff:/ {print $2}' "$st")"
	check "$role $p NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$st")"
	[ "$(readlink /proc/$p/ns/net)" != "$sup_net" ] && ok "$role $p own network namespace" ||
		bad "$role $p own network namespace" "same as supervisor: $sup_net"
	check "$role $p core limit" 0 "$(awk '/^Max core file size/ {print $5}' /proc/$p/limits)"
done
for p in $workers; do
	check "worker $p Seccomp" 2 "$(awk '/^Seccomp:/ {print $2}' /proc/$p/status)"
	as=$(awk '/^Max address space/ {print $4}' /proc/$p/limits)
	[ "$as" != unlimited ] && [ "$as" -gt 0 ] && ok "worker $p RLIMIT_AS set ($as bytes)" ||
		bad "worker $p RLIMIT_AS set" "$as"
done
# The host's private temp dir: a tmpfs of scanner_tmp_size, in its own mount namespace.
tmpfs=$(awk '$5 == "/tmp" && / - tmpfs / {print $NF}' /proc/$host_pid/mountinfo)
case "$tmpfs" in *size=262144k*) ok "host /tmp is a private 256M tmpfs";;
*) bad "host /tmp is a private 256M tmpfs" "mount options: $tmpfs";; esac
[ "$(readlink /proc/$host_pid/ns/mnt)" != "$(readlink /proc/$DAEMON_PID/ns/mnt)" ] &&
	ok "host has its own mount namespace" || bad "host has its own mount namespace"
check "host under its own seccomp filter (Seccomp: 2)" 2 "$(awk '/^Seccomp:/ {print $2}' /proc/$host_pid/status)"
check "host: one filter" 1 "$(awk '/^Seccomp_filters:/ {print $2}' /proc/$host_pid/status)"
for p in $workers; do
	check "worker $p: its filter on the host's" 2 "$(awk '/^Seccomp_filters:/ {print $2}' /proc/$p/status)"
done

grep -q ' info scan id=.* verdict=INFECTED virus=Eicar-Test-Signature.UNOFFICIAL' "$D/scanner.log" &&
	ok "scanner_log has the scan line" || bad "scanner_log has the scan line"
check "avwardenctl ping" pong "$($CTL -s "$D/control.sock" ping)"

if stop; then ok "SIGTERM: exit 0"; else bad "SIGTERM: exit 0" "exit $rc"; fi
[ ! -e "$D/clamd.sock" ] && ok "socket removed at exit" || bad "socket removed at exit"

# clamd's SHUTDOWN command: no reply, the daemon drains and exits 0.
start main || exit 1
check "SHUTDOWN: no reply" "" "$(printf 'zSHUTDOWN\0' | $CLIENT $SOCK raw | vis)"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
check "SHUTDOWN: exit 0" 0 "$rc"
grep -q 'info shutdown reason="SHUTDOWN command from a client"' "$D/scanner.log" &&
	ok "SHUTDOWN logged" || bad "SHUTDOWN logged"
# QUIT, clamd's old name for SHUTDOWN that client libraries still send,
# unterminated as they send it.
start main || exit 1
check "QUIT: no reply" "" "$(printf 'QUIT' | $CLIENT $SOCK raw | vis)"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
check "QUIT: exit 0" 0 "$rc"

###########################################################################
echo "# wrapper script as scanner_path"
write_conf wrap "$ROOT/etc/avwarden-scanner-wrapper.sh"
sed -i "s|^database.*|database = \"$B/db\"|" "$T/wrap/avwarden.conf"
# The wrapper finds the scanner next to it or in ../build; point it at ours.
cp "$ROOT/etc/avwarden-scanner-wrapper.sh" "$B/avwarden-scanner-wrapper.sh"
sed -i "s|^scanner_path.*|scanner_path = \"$B/avwarden-scanner-wrapper.sh\"|" "$T/wrap/avwarden.conf"
start wrap || exit 1
check "EICAR through the wrapper" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
host_pid=$(pgrep -P "$DAEMON_PID" | head -1)
check "wrapper exec'd the scanner (same pid)" "avwarden-scanne" "$(cat /proc/$host_pid/comm)"
stop || bad "wrapper daemon stopped cleanly"

###########################################################################
echo "# hostile scanner (fault injection)"
write_conf faulty "$B/tests/avwarden-scanner-faulty" 'timeout = 2' 'max_extract_time = 1'
start faulty || exit 1
D=$T/faulty
fault() { printf 'AVWARDEN-FAULT:%s' "$1" > "$T/fault"; $CLIENT $SOCK instream "$T/fault" | vis; }
check "violation: socket()" "stream: sandbox violation: syscall socket ERROR|" "$(fault syscall=socket)"
check "violation: execve()" "stream: sandbox violation: syscall execve ERROR|" "$(fault syscall=execve)"
check "violation: ptrace()" "stream: sandbox violation: syscall ptrace ERROR|" "$(fault syscall=ptrace)"
check "violation: kill(1)" "stream: sandbox violation: syscall kill ERROR|" "$(fault syscall=kill1)"
check "open(/etc/passwd) denied by Landlock, scan goes on" "stream: OK|" "$(fault syscall=open)"
grep -q 'warn sandbox_violation worker=[0-9]* pid=[0-9]* syscall=socket' "$D/scanner.log" &&
	ok "violation logged with the syscall name" || bad "violation logged with the syscall name"
check "crash" "stream: scanner crashed: SIGSEGV ERROR|" "$(fault crash)"
check "exit" "stream: scanner exited with status 3 ERROR|" "$(fault exit)"
check "garbage result" "stream: malformed result from scanner: status 77 out of range ERROR|" "$(fault garbage)"
check "hang: timed out" "stream: scan timed out after 2 s ERROR|" "$(fault hang)"
check "served correctly after every fault" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/eicar.com" | vis)"

# SIGTERM drains: a scan in flight is answered, then exit 0.
printf 'AVWARDEN-FAULT:slow' > "$T/slow"
$CLIENT $SOCK instream "$T/slow" > "$T/slow.reply" &
cpid=$!
i=0
until $CTL -s "$D/control.sock" stats | grep -q 'workers busy/idle: *1/'; do
	i=$((i + 1))
	[ $i -gt 500 ] && break
done
kill -TERM "$DAEMON_PID"
wait "$cpid"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
check "SIGTERM drains the scan in flight" "stream: OK|" "$(vis < "$T/slow.reply")"
check "exit 0 after draining" 0 "$rc"

###########################################################################
echo "# configuration errors"
printf 'listen = "unix:/tmp/x.sock"\nmax_concurrency = 0\n' > "$T/bad.conf"
out=$("$B/avwarden" -c "$T/bad.conf" --check-config 2>&1)
rc=$?
check "bad value names file, line and key" "avwarden: $T/bad.conf:2: max_concurrency = 0: must be between 1 and 256/1" "$out/$rc"
printf 'lisen = "unix:/tmp/x.sock"\n' > "$T/bad2.conf"
out=$("$B/avwarden" -c "$T/bad2.conf" 2>&1)
rc=$?
case "$out" in *"bad2.conf:1:"*lisen*) ok "unknown key names file, line and key";;
*) bad "unknown key names file, line and key" "$out";; esac
check "unknown key: non-zero exit" 1 "$rc"
check "--check-config on a good file" "$T/main/avwarden.conf: OK" "$("$B/avwarden" -c "$T/main/avwarden.conf" --check-config 2>&1)"
# The shipped example parses, and is valid once pointed at this machine.
sed -e "s|^scanner_path = .*|scanner_path = \"$B/avwarden-scanner\"|" -e "s|^database = .*|database = \"$B/db\"|" \
	"$ROOT/etc/avwarden.conf.example" > "$T/example.conf"
# Its sockets go in /run/avwarden, which systemd creates at start: noted.
out=$("$B/avwarden" -c "$T/example.conf" --check-config 2>&1)
rc=$?
case "$out" in
*"example.conf:"[0-9]*": note: listen: cannot create socket /run/avwarden/clamd.sock: its directory /run/avwarden does not exist (create it: install -d"*"$T/example.conf: OK")
	[ -d /run/avwarden ] || { check "etc/avwarden.conf.example: missing socket directory noted, not failed" 0 "$rc"; };;
*) [ -d /run/avwarden ] || bad "etc/avwarden.conf.example: missing socket directory noted" "$out";;
esac
sed -i "s|/run/avwarden/|$T/run/|g" "$T/example.conf"
mkdir -p "$T/run"
check "etc/avwarden.conf.example is valid" "$T/example.conf: OK" "$("$B/avwarden" -c "$T/example.conf" --check-config 2>&1)"
# A start without the directory fails naming it, not "permission denied".
write_conf nodir "$B/avwarden-scanner" "listen = \"unix:$T/no/such/dir/clamd.sock\""
out=$("$B/avwarden" -c "$T/nodir/avwarden.conf" 2>&1 </dev/null)
case "$out" in *"cannot create socket $T/no/such/dir/clamd.sock: its directory $T/no/such/dir does not exist"*)
	ok "unix socket in a missing directory: the start names the directory";;
*) bad "unix socket in a missing directory: the start names the directory" "$out";; esac

###########################################################################
echo "# scanner that cannot start"
write_conf nostart /nonexistent/avwarden-scanner
mkfifo "$T/nostart/ready"
"$B/avwarden" -c "$T/nostart/avwarden.conf" 2>"$T/nostart/stderr" &
DAEMON_PID=$!
i=0
until [ -S "$T/nostart/clamd.sock" ] && grep -q host_failed "$T/nostart/scanner.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 2000 ] && break
	sleep 0.01  # polling a file the daemon writes, bounded; not a timing assumption
done
out=$($CLIENT unix:$T/nostart/clamd.sock instream "$T/eicar.com" | vis)
case "$out" in "stream: no scanner available: cannot execute scanner_path /nonexistent/avwarden-scanner"*" ERROR|")
	ok "no scanner: immediate tempfail ERROR";;
*) bad "no scanner: immediate tempfail ERROR" "$out";; esac
grep -q 'host_failed reason="cannot execute scanner_path /nonexistent/avwarden-scanner: no such file or directory" retry_in=' \
	"$T/nostart/scanner.log" && ok "start failure logged with cause and fix" || bad "start failure logged with cause and fix"
stop || true

finish
