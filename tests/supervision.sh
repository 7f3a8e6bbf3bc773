#!/bin/sh
# tests/supervision.sh: supervision under hostile and broken scanners:
# poison messages, recycling, exact concurrency and a full queue, the host
# dying mid-scan, start-up failures with back-off, a slow start, a corrupt
# database, the timeout's accuracy, and a soak with random worker kills.
# usage: tests/supervision.sh BUILD_DIR   (root; kernel as integration.sh)
set -u
SUITE=supervision
. "$(dirname "$0")/lib.sh"
FAULTY=$B/tests/avwarden-scanner-faulty
EICAR_FOUND="stream: Eicar-Test-Signature.UNOFFICIAL FOUND|"

if [ "$(id -u)" -ne 0 ]; then
	echo "supervision: needs root (scanners run as their own account, avwarden); run: sudo make check"
	exit 1
fi

stats() { $CTL -s "$D/control.sock" stats; }
stat_is() { stats | grep -q "$1"; }
log_has() { grep -q "$1" "$D/scanner.log" 2>/dev/null; }
log_count() { grep -c "$1" "$D/scanner.log" 2>/dev/null || true; }

###########################################################################
echo "# poison message, recycling"
# The same bytes are sent again and again here and must reach a worker each
# time: no verdict cache in these daemons (cache tests are in operations.sh).
write_conf sup "$FAULTY" 'cache_size = 0' 'max_jobs_per_worker = 3' 'max_concurrency = 1' 'timeout = 2' 'max_extract_time = 1'
start sup || exit 1
D=$T/sup
printf 'AVWARDEN-FAULT:crash poison-sample' > "$T/poison"
check "1st crash" "stream: scanner crashed: SIGSEGV ERROR|" "$($CLIENT $SOCK instream "$T/poison" | vis)"
check "2nd crash" "stream: scanner crashed: SIGSEGV ERROR|" "$($CLIENT $SOCK instream "$T/poison" | vis)"
crashes=$(stats | awk '/worker crashes/ {print $3}')
check "3rd: answered from memory" \
	"stream: poison message: scanner crashed: SIGSEGV, 2 times; not scanned again for now ERROR|" \
	"$($CLIENT $SOCK instream "$T/poison" | vis)"
check "no worker crashed for the 3rd" "$crashes" "$(stats | awk '/worker crashes/ {print $3}')"
check "poison logged once" 1 "$(log_count 'warn poison_message sha256=')"
check "other content still scanned" "$EICAR_FOUND" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"

retired0=$(log_count 'info worker_retire')
n=0
for i in 1 2 3 4 5 6 7; do
	[ "$($CLIENT $SOCK instream "$T/clean.eml" | vis)" = "stream: OK|" ] && n=$((n + 1))
done
check "every job answered across recycling" 7 "$n"
wait_for "two retirements" sh -c "[ \$(grep -c 'info worker_retire' '$D/scanner.log') -ge $((retired0 + 2)) ]" &&
	ok "workers retire after max_jobs_per_worker" || bad "workers retire after max_jobs_per_worker"

# Hung scan: answered at timeout (2 s), well before 2x.
printf 'AVWARDEN-FAULT:hang' > "$T/hang"
t0=$(date +%s%N)
r=$($CLIENT $SOCK instream "$T/hang" | vis)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "hang answered with timeout" "stream: scan timed out after 2 s ERROR|" "$r"
[ $ms -ge 1900 ] && [ $ms -lt 4000 ] && ok "timeout answered in ${ms} ms (timeout 2000 ms)" ||
	bad "timeout answered within [timeout, 2x timeout)" "${ms} ms"
echo "     measured: hung scan answered after ${ms} ms with timeout = 2 s"
stop || bad "stopped cleanly"

###########################################################################
echo "# concurrency and a full queue"
write_conf conc "$FAULTY" 'cache_size = 0' 'max_concurrency = 2' 'max_queue = 1'
start conc || exit 1
D=$T/conc
printf 'AVWARDEN-FAULT:slow' > "$T/slow"
cpids=""
for i in 1 2 3; do $CLIENT $SOCK instream "$T/slow" > "$T/slow.$i" & cpids="$cpids $!"; done
wait_for "2 busy, 1 queued" sh -c "$CTL -s '$D/control.sock' stats | grep -q 'workers busy/idle: *2/2' &&
	$CTL -s '$D/control.sock' stats | grep -q 'queue depth: *1\$'" &&
	ok "exactly max_concurrency scanning, the rest queued" || bad "exactly max_concurrency scanning"
t0=$(date +%s%N)
r=$($CLIENT $SOCK instream "$T/clean.eml" | vis)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "full queue answered at once" "stream: queue full (max_queue 1) ERROR|" "$r"
[ $ms -lt 500 ] && ok "full-queue answer took ${ms} ms" || bad "full-queue answer at once" "${ms} ms"
wait $cpids
for i in 1 2 3; do check "queued slow scan $i answered" "stream: OK|" "$(vis < "$T/slow.$i")"; done

# The host dies mid-scan: that job fails, the next is served by a new generation.
$CLIENT $SOCK instream "$T/slow" > "$T/inflight" &
cpid=$!
wait_for "a busy worker" stat_is 'workers busy/idle: *1/'
host=$(pgrep -P "$DAEMON_PID" | head -1)
kill -9 "$host"
wait "$cpid"
check "in-flight job answered when the host died" "stream: scanner host exited during the scan ERROR|" "$(vis < "$T/inflight")"
check "next request served by the new generation" "$EICAR_FOUND" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
log_has 'warn host_exit gen=.* pid=.* action=restart' && ok "host death logged" || bad "host death logged"
stop || bad "stopped cleanly"

###########################################################################
echo "# scanner that fails at start: back-off, immediate tempfail"
cat > "$T/fail-start.sh" <<'SH'
#!/bin/sh
echo "fail-start: refusing to start" >&2
exit 1
SH
chmod 755 "$T/fail-start.sh"
write_conf failstart "$T/fail-start.sh"
D=$T/failstart
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "second back-off step" log_has 'host_failed reason="scanner host exited with status 1" retry_in=2000ms' &&
	ok "back-off doubles (1 s, 2 s, ...)" || bad "back-off doubles"
check "first step logged once" 1 "$(log_count 'retry_in=1000ms')"
t0=$(date +%s%N)
r=$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "tempfail while failing" "stream: no scanner available: scanner host exited with status 1 ERROR|" "$r"
[ $ms -lt 500 ] && ok "answered in ${ms} ms, not left hanging" || bad "answered at once" "${ms} ms"
stop || true

echo "# corrupt database"
mkdir -p "$T/corrupt-db"
printf 'this is not a signature\n' > "$T/corrupt-db/broken.ndb"
chmod -R a+rX "$T/corrupt-db"
write_conf baddb "$B/avwarden-scanner"
sed -i "s|^database.*|database = \"$T/corrupt-db\"|" "$T/baddb/avwarden.conf"
D=$T/baddb
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "load failure logged" log_has 'host_failed reason="cannot load database' &&
	ok "corrupt database: cause logged" || bad "corrupt database: cause logged"
case "$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)" in
"stream: no scanner available: cannot load database $T/corrupt-db: Malformed database ERROR|") ok "corrupt database: tempfail names it";;
*) bad "corrupt database: tempfail names it" "$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)";;
esac
stop || true

echo "# slow start: requests wait, they do not fail"
cat > "$T/slow-start.sh" <<SH
#!/bin/sh
sleep 2
exec $B/avwarden-scanner "\$@"
SH
chmod 755 "$T/slow-start.sh"
write_conf slowstart "$T/slow-start.sh"
D=$T/slowstart
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "socket" test -S "$D/clamd.sock"
check "request during start-up waits for the scanner" "$EICAR_FOUND" "$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)"
stop || bad "stopped cleanly"

echo "# start slower than timeout: a queued request gives up at its timeout"
sed -i 's/^sleep 2$/sleep 4/' "$T/slow-start.sh"
write_conf slower "$T/slow-start.sh" 'timeout = 2' 'max_extract_time = 1'
D=$T/slower
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "socket" test -S "$D/clamd.sock"
t0=$(date +%s%N)
r=$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "queued request answered at its timeout" "stream: no scanner available within 2 s ERROR|" "$r"
[ $ms -ge 1900 ] && [ $ms -lt 3500 ] && ok "answered after ${ms} ms (timeout 2 s)" || bad "answered at the timeout" "${ms} ms"
stop || bad "stopped cleanly"

###########################################################################
echo "# soak: 2 clients, a worker killed every 250 ms"
# Poison accounting off here: the kills are ours, not the content's.
write_conf soak "$B/avwarden-scanner" 'cache_size = 0' 'max_concurrency = 2' 'max_jobs_per_worker = 0' 'poison_threshold = 100'
start soak || exit 1
D=$T/soak
fds() { ls /proc/$DAEMON_PID/fd | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' /proc/$DAEMON_PID/status; }
$CLIENT $SOCK load 2 2 "$T/eicar.com" "$T/clean.eml" "$T/big.eml" > "$T/warm" || bad "warm-up load" "$(cat "$T/warm")"
wait_for "pool settled" pool_settled "$D" || bad "pool settled"
fd0=$(fds)
rss0=$(rss)
$CLIENT $SOCK load 6 2 "$T/eicar.com" "$T/clean.eml" "$T/big.eml" > "$T/soak.out" &
lpid=$!
kills=0
host=$(scanner_host)
while kill -0 $lpid 2>/dev/null; do
	sleep 0.25   # the fault rate under test, not a synchronisation
	w=$(pgrep -P "$host" | shuf -n1)
	[ -n "$w" ] && kill -9 "$w" 2>/dev/null && kills=$((kills + 1))
done
wait $lpid
lrc=$?
out=$(cat "$T/soak.out")
echo "     $out kills=$kills"
eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(requests|ok|errors|wrong|failed)=')"
check "soak: every request got one reply (failed=0)" 0 "$failed"
check "soak: zero wrong verdicts" 0 "$wrong"
[ "$errors" -le "$kills" ] && ok "soak: errors ($errors) <= injected faults ($kills)" ||
	bad "soak: errors <= injected faults" "errors=$errors kills=$kills"
[ "$lrc" -eq 0 ] || bad "soak: load client exit status" "$lrc"
[ "$requests" -gt 100 ] && ok "soak: $requests requests served" || bad "soak: enough requests" "$requests"
# No leak: counted, like before, with every slot's worker up and idle.
fds_back() { pool_settled "$D" && [ "$(fds)" -le "$fd0" ]; }
wait_for "supervisor fds back" fds_back &&
	ok "soak: supervisor fds not grown ($fd0 -> $(fds))" || bad "soak: supervisor fds not grown" "$fd0 -> $(fds)"
rss1=$(rss)
[ $((rss1 - rss0)) -le 1024 ] && ok "soak: supervisor RSS ${rss0} -> ${rss1} kB" ||
	bad "soak: supervisor RSS stable" "${rss0} -> ${rss1} kB"
stats | grep 'worker replacement ms' | sed 's/^ */     measured: /'
$CLIENT $SOCK load 3 2 "$T/eicar.com" "$T/clean.eml" "$T/big.eml" | sed 's/^/     no faults: /'
stop || bad "stopped cleanly"

finish
