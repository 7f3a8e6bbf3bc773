#!/bin/sh
# tests/survival.sh: the supervisor never falls. Regressions for every way a
# client or a scanner host once crashed or stalled it, each driven against
# the real daemon: repeated MULTISCANs of one directory (a job answered
# during its own submission), a CONTSCAN of 40,000 cached files (recursion),
# the scanner host dying while a worker slot is still being spawned.
# usage: tests/survival.sh BUILD_DIR   (root; kernel as integration.sh)
set -u
SUITE=survival
. "$(dirname "$0")/lib.sh"
FAULTY=$B/tests/avwarden-scanner-faulty

alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
q() { printf "$2" | $CLIENT "$1" raw; }

###########################################################################
echo "# the same directory, path-scanned again and again"
write_conf multi "$B/avwarden-scanner"
start multi || exit 1
D=$T/multi
M=$T/mdir
mkdir -p "$M"
cp "$TESTFILES/clam.zip" "$M/"
printf 'hello\n' > "$M/a.txt"
chmod -R a+rX "$M"
want="$M/clam.zip: ClamAV-Test-File.UNOFFICIAL FOUND"
# The 2nd and 3rd are answered from the verdict cache, while being submitted.
for i in 1 2 3; do
	check "MULTISCAN #$i: one line, the virus" "$want" "$(q $SOCK "nMULTISCAN $M\n")"
done
check "CONTSCAN after them" "$want" "$(q $SOCK "nCONTSCAN $M\n")"
check "MULTISCAN after CONTSCAN" "$want" "$(q $SOCK "nMULTISCAN $M\n")"
check "SCAN after them" "$want" "$(q $SOCK "nSCAN $M\n")"
check "z form, in a session" "1: $want|2: $want|" \
	"$(printf "zIDSESSION\0zMULTISCAN $M\0zCONTSCAN $M\0zEND\0" | $CLIENT $SOCK raw | vis)"
alive && ok "supervisor alive" || bad "supervisor alive"

# Every verdict cached: each file is answered during its own submission.
# Iterated, not recursed: the stack does not grow with the file count.
N=$T/n40k
mkdir -p "$N"
python3 -c "
import sys
for i in range(40000):
    open('$N/f%05d.txt' % i, 'w').write('same bytes\n')
open('$N/z.com', 'w').write(open('$T/eicar.com').read())
"
chmod -R a+rX "$N"
check "CONTSCAN of 40,001 files (cold)" "$N/z.com: Eicar-Test-Signature.UNOFFICIAL FOUND" "$(q $SOCK "nCONTSCAN $N\n")"
check "CONTSCAN of 40,001 files (all cached)" "$N/z.com: Eicar-Test-Signature.UNOFFICIAL FOUND" "$(q $SOCK "nCONTSCAN $N\n")"
check "MULTISCAN of 40,001 files (all cached)" "$N/z.com: Eicar-Test-Signature.UNOFFICIAL FOUND" "$(q $SOCK "nMULTISCAN $N\n")"
rm -rf "$N"
alive && ok "supervisor alive after 120,003 file scans" || bad "supervisor alive"
stop || bad "stopped cleanly"

###########################################################################
echo "# a path scan whose read never returns (hung NFS, stuck FUSE) stalls nothing else"
write_conf hung "$B/avwarden-scanner"
start hung || exit 1
D=$T/hung
M=$T/hungfs
mkdir -p "$M"
"$B/tests/hangfs" "$M" 2>"$T/hangfs.err" &
FUSE_PID=$!
wait_for "FUSE mount" sh -c "grep -q ' $M fuse' /proc/mounts" || bad "hangfs mounted" "$(cat "$T/hangfs.err")"
printf "nSCAN $M/hang\n" | $CLIENT $SOCK raw > "$T/hung.out" &
HUNG=$!
# A thread of the supervisor's pool waits in the kernel for the file's page.
blocked() { cat /proc/$DAEMON_PID/task/*/wchan 2>/dev/null | grep -qE 'fuse|folio_wait|wait_on_page'; }
wait_for "the supervisor's read blocked in the kernel" blocked && ok "the read is blocked in a pool thread" ||
	bad "the read blocked" "$(cat /proc/$DAEMON_PID/task/*/wchan | tr '\0' ' ')"
t0=$(date +%s%N)
r=$($CLIENT $SOCK ping | vis)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "PING while a read hangs" "PONG|" "$r"
[ $ms -lt 1000 ] && ok "answered in $ms ms" || bad "PING at once" "$ms ms"
check "INSTREAM while a read hangs" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
check "a second hung scan does not block either" "PONG|" "$( (printf "nSCAN $M/hang\n" | $CLIENT $SOCK raw >/dev/null &); $CLIENT $SOCK ping | vis)"
kill -0 $HUNG 2>/dev/null && ok "the hung scan is still waiting" || bad "the hung scan still waiting"
# The file system dies: the read fails, the scan is answered with the error.
kill -9 $FUSE_PID
fusermount3 -u -z "$M" 2>/dev/null
wait $HUNG
case "$(cat "$T/hung.out")" in
"$M/hang: File path check failure: "*" ERROR") ok "the hung scan answered with the read's error";;
*) bad "hung scan answered" "$(cat "$T/hung.out")";;
esac
stop || bad "stopped cleanly"

###########################################################################
echo "# a reply of any size, streamed; a client that never reads it holds nothing"
write_conf big "$B/avwarden-scanner" 'write_timeout = 2' 'timeout = 10'
start big || exit 1
D=$T/big
E=$T/eicars
mkdir -p "$E"
python3 -c "
import sys
e = open('$T/eicar.com', 'rb').read()
for i in range(5000):
    open('$E/%04d-%s.com' % (i, 'x' * 200), 'wb').write(e)
"
chmod -R a+rX "$E"
printf "nCONTSCAN $E\n" | $CLIENT $SOCK raw > "$T/big.out"
check "CONTSCAN of 5,000 infected files: 5,000 lines" 5000 "$(grep -c 'Eicar-Test-Signature.UNOFFICIAL FOUND$' "$T/big.out")"
bytes=$(wc -c < "$T/big.out")
[ "$bytes" -gt 1048576 ] && ok "the reply is $bytes bytes, none cut" || bad "a reply over 1 MiB" "$bytes bytes"
# Never read: the reply stalls in the socket; the drain does not wait for it.
python3 - "$D/clamd.sock" "$E" > /dev/null <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("nCONTSCAN %s\n" % sys.argv[2]).encode())
time.sleep(30)
PY
LAZY=$!
wait_for "the reply stalled" sh -c "grep -c 'verdict=INFECTED' '$D/scanner.log' | awk '{exit !(\$1 >= 5100)}'"
t0=$(date +%s%N)
stop
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM with an unread reply: exit 0" 0 "$rc"
[ $ms -lt 8000 ] && ok "drained in $ms ms (write_timeout 2 s)" || bad "drain bounded by write_timeout" "$ms ms"
grep -q 'client_timeout state=reply' "$D/scanner.log" && ok "the reader that never read is logged" || bad "client_timeout logged"
kill $LAZY 2>/dev/null

echo "# memory of a large message is given back"
write_conf mem "$B/avwarden-scanner" 'max_concurrency = 1'
start mem || exit 1
D=$T/mem
# Resident kB of the supervisor's own mappings: ASan's shadow (0x7fff8000 to
# 0x10007fff8000 on x86_64, nothing else maps there) is left out, as it
# keeps the shadow of the 90 MB buffer's addresses after the buffer is gone
# on some kernels; a buffer kept would still show in full.
rss() {
	perl -ne 'if (/^([0-9a-f]+)-/) { $a = hex($1); $skip = $a >= 0x7fff8000 && $a < 0x10007fff8000 }
		elsif (/^Rss:\s+(\d+)/ && !$skip) { $t += $1 } END { print $t + 0, "\n" }' /proc/$DAEMON_PID/smaps
}
$CLIENT $SOCK instream "$T/clean.eml" > /dev/null
rss0=$(rss)
head -c 94371840 /dev/zero > "$T/90M"
check "a 90 MB message" "stream: OK|" "$($CLIENT $SOCK instream "$T/90M" 1048576 | vis)"
check "then a small one" "stream: OK|" "$($CLIENT $SOCK instream "$T/clean.eml" | vis)"
rss1=$(rss)
[ $((rss1 - rss0)) -lt 16384 ] && ok "supervisor RSS ${rss0} kB -> ${rss1} kB after 90 MB" ||
	bad "memory given back" "${rss0} -> ${rss1} kB"
rm -f "$T/90M"
stop || bad "stopped cleanly"

###########################################################################
echo "# the scanner host dies while a worker slot is spawning, 100 times"
# The host cannot receive the descriptors of its 2nd spawn request (as if a
# worker had lowered its RLIMIT_NOFILE): every worker crash replaces the
# worker, which kills the host with the slot still spawning.
cat > "$T/nofile-host.sh" <<SH
#!/bin/sh
AVW_FAULT_HOST=spawn-nofile:2 exec $FAULTY "\$@"
SH
chmod 755 "$T/nofile-host.sh"
write_conf spawn "$T/nofile-host.sh" 'max_concurrency = 1' 'spare_workers = 0' 'canary = false' 'cache_size = 0' 'poison_threshold = 100'
start spawn || exit 1
D=$T/spawn
printf 'AVWARDEN-FAULT:exit' > "$T/exit"
bad_replies=0 served=0
i=0
while [ $i -lt 100 ]; do
	i=$((i + 1))
	r=$($CLIENT $SOCK instream "$T/exit" | vis)
	[ "$r" = "stream: scanner exited with status 3 ERROR|" ] || { bad_replies=$((bad_replies + 1)); echo "     #$i: $r"; }
	alive || break
	# Served by the next generation (waits in the queue while it loads).
	[ "$($CLIENT $SOCK instream "$T/eicar.com" | vis)" = "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" ] &&
		served=$((served + 1))
done
check "supervisor alive after 100 hosts lost mid-spawn" yes "$(alive && echo yes || echo no)"
check "every crash answered ERROR" 0 "$bad_replies"
check "every next request served by a new generation" 100 "$served"
hosts=$(grep -c 'warn host_exit gen=' "$D/scanner.log")
[ "$hosts" -ge 100 ] && ok "host lost $hosts times, each logged" || bad "host losses logged" "$hosts"
stop || bad "stopped cleanly"

###########################################################################
echo "# scans that outlive their client are cancelled; identical bytes in flight are scanned once"
write_conf cancel "$FAULTY" 'max_concurrency = 4' 'poison_threshold = 100' 'timeout = 20' 'max_extract_time = 10'
start cancel || exit 1
D=$T/cancel
stat_of() { $CTL -s "$D/control.sock" stats | sed -n "s|^  $1: *||p"; }
# send_and_leave FILE: an INSTREAM over the unix socket, then a full close.
send_and_leave() {
	python3 - "$D/clamd.sock" "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
data = open(sys.argv[2], 'rb').read()
s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + struct.pack(">I", 0))
s.close()
PY
}
printf 'AVWARDEN-FAULT:hang' > "$T/hang"
for i in 1 2 3; do send_and_leave "$T/hang"; done
wait_for "3 scans cancelled" sh -c "[ \$(grep -c 'worker_exit .*cause=\"scan cancelled: its client went away\"' '$D/scanner.log') -eq 3 ]" &&
	ok "3 clients that left: their hung scans killed at once, not after timeout" ||
	bad "scans of departed clients cancelled" "$(grep -c client_gone "$D/scanner.log")"
check "no scan timed out" 0 "$(stat_of 'timeouts')"
check "cancelled counted" 3 "$(stat_of 'cancelled (client gone)')"
wait_for "no busy worker" sh -c "$CTL -s '$D/control.sock' stats | grep -q 'workers busy/idle: *0/8'" &&
	ok "no copy left running" || bad "workers idle again" "$($CTL -s "$D/control.sock" stats | grep busy)"

# Four clients, the same slow bytes at once: one scan, four answers.
printf 'AVWARDEN-FAULT:slow same bytes for everyone' > "$T/slow-same"
pids=""
for i in 1 2 3 4; do $CLIENT $SOCK instream "$T/slow-same" > "$T/same.$i" & pids="$pids $!"; done
wait $pids
n=0
for i in 1 2 3 4; do [ "$(vis < "$T/same.$i")" = "stream: OK|" ] && n=$((n + 1)); done
check "identical content: every client answered" 4 "$n"
check "identical content: scanned once" 1 "$(grep -c 'scan id=.*verdict=CLEAN worker=' "$D/scanner.log")"
check "identical content: three joined" 3 "$(stat_of 'joined (same bytes in flight)')"
# The first client leaves: the one that joined it is answered all the same.
printf 'AVWARDEN-FAULT:slow leader leaves' > "$T/slow-lead"
python3 - "$D/clamd.sock" "$T/slow-lead" > "$T/follower.out" <<'PY'
import socket, struct, sys, time
def stream(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    data = open(path, 'rb').read()
    s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + struct.pack(">I", 0))
    return s
a = stream(sys.argv[2])
time.sleep(0.2)   # the leader is scanning (a 1 s scan) when the follower comes
b = stream(sys.argv[2])
time.sleep(0.2)
a.close()         # the leader leaves
print(b.recv(200).decode().strip("\0"))
PY
check "leader gone: its follower still answered" "stream: OK" "$(cat "$T/follower.out")"
check "leader gone: its scan went on for the follower (one scan, not two)" 2 \
	"$(grep -c 'scan id=.*verdict=CLEAN worker=' "$D/scanner.log")"
check "leader gone: counted as cancelled" 4 "$(stat_of 'cancelled (client gone)')"
stop || bad "stopped cleanly"

###########################################################################
echo "# health: PING and avwardenctl health tell whether a scanner can serve"
cat > "$T/fail-start.sh" <<'SH'
#!/bin/sh
exit 1
SH
chmod 755 "$T/fail-start.sh"
write_conf nohealth "$T/fail-start.sh"
D=$T/nohealth
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "start failure" grep -q host_failed "$D/scanner.log" 2>/dev/null
check "PING while no scanner can start" "no scanner available: scanner host exited with status 1 ERROR|" \
	"$($CLIENT unix:$D/clamd.sock ping | vis)"
out=$($CTL -s "$D/control.sock" health 2>&1)
check "avwardenctl health: not serving, exit 1" "error: not serving: scanner host exited with status 1/1" "$out/$?"
stop || true
write_conf health "$B/avwarden-scanner" 'max_concurrency = 2'
start health || exit 1
D=$T/health
check "PING while serving" "PONG|" "$($CLIENT $SOCK ping | vis)"
out=$($CTL -s "$D/control.sock" health)
check "avwardenctl health: serving, exit 0" "serving: generation 1, 0 workers busy, 4 idle/0" "$out/$?"
stop || bad "stopped cleanly"
write_conf clamdping "$T/fail-start.sh" 'ping_health = false'
D=$T/clamdping
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "start failure" grep -q host_failed "$D/scanner.log" 2>/dev/null
check "ping_health = false: PONG as clamd" "PONG|" "$($CLIENT unix:$D/clamd.sock ping | vis)"
stop || true

###########################################################################
echo "# a hostile scanner host: every malformed or forged record kills it, never the supervisor"
# hostile NAME MODE [config lines...]: a daemon whose hosts run AVW_FAULT_HOST=MODE.
hostile() {
	name=$1 mode=$2
	shift 2
	cat > "$T/host-$name.sh" <<SH
#!/bin/sh
AVW_FAULT_HOST=$mode exec $FAULTY "\$@"
SH
	chmod 755 "$T/host-$name.sh"
	write_conf "$name" "$T/host-$name.sh" 'cache_size = 0' "$@"
	D=$T/$name
	SOCK=unix:$D/clamd.sock
	"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
	DAEMON_PID=$!
}
log_has() { grep -q "$1" "$D/scanner.log" 2>/dev/null; }
log_count() { grep -c "$1" "$D/scanner.log" 2>/dev/null || true; }
ctl_ok() { [ "$($CTL -s "$D/control.sock" ping 2>/dev/null)" = pong ]; }

for m in "second-ready:a second READY" "oversized:a record longer than any type" \
	"truncated:type 2 record of" "foreign-pid:which is not the host's child"; do
	mode=${m%%:*} want=${m#*:}
	hostile "h$mode" "$mode"
	wait_for "$mode: the host killed" log_has "warn host_malformed gen=1 .*$want" &&
		ok "$mode: host killed, the log says why" || bad "$mode: host killed" "$(grep host_ "$D/scanner.log" | head -3)"
	wait_for "a second host" log_has "host_start gen=2" && ok "$mode: a new host is started" || bad "$mode: restarted"
	ctl_ok && ok "$mode: supervisor serving its console" || bad "$mode: supervisor alive"
	stop || bad "$mode: stopped cleanly"
done

# A forged death: "worker N died of SIGSEGV" while it runs. Not believed:
# the host is killed, nothing is counted as a crash or against content.
hostile forge forge-exit
wait_for "forgery refused" log_has 'host_malformed gen=1 .*reported dead while it runs' &&
	ok "forged WORKER_EXIT: the host is killed" || bad "forged WORKER_EXIT refused" "$(grep host_ "$D/scanner.log" | head -3)"
check "forged death: no worker_crash logged" 0 "$(log_count 'worker_crash')"
check "forged death: no poison" 0 "$(log_count 'poison_message')"
ctl_ok && ok "forged death: supervisor serving" || bad "forged death: supervisor alive"
stop || bad "stopped cleanly"

# A worker killed from outside right after its fork and reaped by the host
# before the supervisor reads its WORKER_UP: its pidfd names a process gone,
# which is no forgery. The host lives, the worker is replaced, scans go on.
hostile gone worker-gone:2 'max_concurrency = 2'
wait_for "ready" log_has 'generation_serving gen=1' || bad "worker-gone: serving"
wait_for "the gone worker's exit read" log_has 'worker_exit worker=2 pid=0 ' &&
	ok "worker-gone: its exit is read" || bad "worker-gone: exit read" "$(grep worker= "$D/scanner.log" | head -8)"
for i in 1 2 3 4; do
	check "worker-gone: scan $i after it" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
done
check "worker-gone: PING" "PONG|" "$($CLIENT $SOCK ping | vis)"
check "worker-gone: the host was not killed" 0 "$(log_count 'host_malformed\|host_exit\|host_start gen=2')"
stop || bad "stopped cleanly"

# 100,000 LOG records at once: at most 50 a second reach the log.
hostile flood log-flood:100000
wait_for "the flood capped" log_has 'warn host_log_capped gen=1 ' && ok "LOG flood: capped, said once" || bad "LOG flood capped"
dropped() { $CTL -s "$D/control.sock" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["host_logs_dropped"])'; }
wait_for "the flood read and counted" sh -c "[ \$($CTL -s '$D/control.sock' --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"host_logs_dropped\"])') -ge 99800 ]" &&
	ok "LOG flood: the rest counted ($(dropped) dropped)" || bad "LOG flood counted" "$(dropped)"
flood=$(log_count 'engine_log source=libclamav gen=1 .*text="flood')
[ "$flood" -le 100 ] && ok "LOG flood: $flood of 100000 records logged" || bad "LOG flood: records logged" "$flood"
check "LOG flood: scans go on" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop || bad "stopped cleanly"

# Forks that fail (the host at its process limit): retried with back-off,
# not thousands of times a second.
hostile forkfail fork-fail:2 'max_concurrency = 2' 'spare_workers = 0' 'canary = false' 'poison_threshold = 100'
wait_for "ready" log_has 'generation_serving gen=1' || bad "fork-fail: serving"
check "fork-fail: a worker dies" "stream: scanner exited with status 3 ERROR|" "$($CLIENT $SOCK instream "$T/exit" | vis)"
wait_for "second back-off step" log_has 'worker_spawn_backoff gen=1 retry_in=2000ms' &&
	ok "fork failures back off (1 s, 2 s, ...)" || bad "fork failures back off"
spawns=$(log_count 'warn worker_spawn worker=')
[ "$spawns" -le 4 ] && ok "fork failures: $spawns attempts logged in 3 s" || bad "fork failures throttled" "$spawns"
check "fork-fail: the other worker serves" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop || bad "stopped cleanly"

finish
