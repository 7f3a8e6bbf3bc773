#!/bin/sh
# tests/operations.sh: what the operator touches. avwardenctl in human and
# JSON form, reload by generations (under load, with a new signature, with a
# corrupt database, SIGUSR2, clamd's RELOAD, update_interval), the verdict
# cache, the scanner log (scan, crash, reload and libclamav lines; reopen
# after logrotate moved it), the control socket's mode and errors, and
# --exit-with-parent.
# usage: tests/operations.sh BUILD_DIR   (root; python3 parses the JSON)
set -u
SUITE=operations
. "$(dirname "$0")/lib.sh"
EICAR_FOUND="stream: Eicar-Test-Signature.UNOFFICIAL FOUND|"

ctl() { $CTL -s "$D/control.sock" "$@"; }
stat_of() { ctl stats | sed -n "s|^  $1: *||p"; }
log_has() { grep -q "$1" "$D/scanner.log" 2>/dev/null; }
log_count() { grep -c "$1" "$D/scanner.log" 2>/dev/null || true; }
# json EXPR: evaluates a Python expression over the JSON on stdin (as d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# A database of our own, so signatures can be added and broken.
DB=$T/db
mkdir -p "$DB"
cp "$B/db/"* "$DB/"
chmod 755 "$DB"
chmod 644 "$DB/"*
printf 'avwarden operations test: AVW-NEW-SIGNATURE-7f3a9c\n' > "$T/newsig.txt"
HEX=$(printf 'AVW-NEW-SIGNATURE-7f3a9c' | od -An -v -tx1 | tr -d ' \n')

###########################################################################
echo "# avwardenctl, human and --json"
write_conf ops "$B/avwarden-scanner" "database = \"$DB\"" 'update_interval = 0'
start ops || exit 1
D=$T/ops

check "ping" pong "$(ctl ping)"
check "ping --json" True "$(ctl --json ping | json 'd["pong"]')"
v=$(ctl version)
echo "$v" | grep -q "^avwarden [0-9.]*$" && ok "version: avwarden's" || bad "version: avwarden's" "$v"
echo "$v" | grep -q "^engine: ClamAV [0-9]" && ok "version: engine's" || bad "version: engine's" "$v"
echo "$v" | grep -q "^signatures: [1-9]" && ok "version: signature count" || bad "version: signatures" "$v"
echo "$v" | grep -q "^database: 2 local files, newest 20" && ok "version: database files and date" ||
	bad "version: database" "$v"
check "version --json: fields" "0.1.0 True True 1" "$(ctl --json version |
	json '" ".join([d["avwarden"], str(d["signatures"] > 0), str(d["engine"][0].isdigit()), str(d["generation"])])')"

check "INFECTED scan" "$EICAR_FOUND" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
check "CLEAN scan" "stream: OK|" "$($CLIENT $SOCK instream "$T/clean.eml" | vis)"
s=$(ctl stats)
echo "$s" | head -1 | grep -q "^avwarden:scanner stats$" && ok "stats: title line" || bad "stats: title" "$s"
check "stats: messages checked" 2 "$(stat_of 'messages checked')"
check "stats: viruses detected" 1 "$(stat_of 'viruses detected')"
# max_concurrency = 2 and, by default, as many spares: 4 workers.
check "stats: workers busy/idle" "0/4" "$(stat_of 'workers busy/idle')"
check "stats --json: counters" "2 1 1 0 0 4" "$(ctl --json stats |
	json '" ".join(str(d[k]) for k in ["messages_checked","clean","viruses_detected","errors","workers_busy","workers_idle"])')"
for k in unscannable timeouts sandbox_violations host_restarts cache_hits reloads reload_failures \
	queue_depth average_ms poison_hits worker_crashes; do
	ctl --json stats | json "d['$k']" >/dev/null 2>&1 || bad "stats --json has $k"
done
ok "stats --json has every counter"

w=$(ctl workers)
check "workers: one line per worker" 4 "$(echo "$w" | grep -c ' idle ')"
rss=$(echo "$w" | awk 'NR == 2 { print $6 }')
[ "${rss:-0}" -gt 1000 ] && ok "workers: RSS ${rss} kB" || bad "workers: RSS" "$w"
check "workers --json" "4 True idle" "$(ctl --json workers |
	json '" ".join([str(len(d["workers"])), str(all(x["rss_bytes"] > 0 and x["pid"] > 1 for x in d["workers"])), d["workers"][0]["state"]])')"

check "unknown command: error" "error: unknown command 'frobnicate' (try: ping, health, version, stats, workers, reload, reopen-logs, shutdown)" \
	"$(ctl frobnicate)"
ctl frobnicate >/dev/null; check "unknown command: exit 1" 1 $?
check "unknown command --json" "unknown command" "$(ctl --json frobnicate | json 'd["error"][:15]')"
check "control socket is mode 0600" 600 "$(stat -c %a "$D/control.sock")"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups $CTL -s "$D/control.sock" ping 2>&1)
rc=$?
echo "$out" | grep -q "Permission denied (the control socket is mode 0600" && [ $rc -eq 1 ] &&
	ok "another user: clear error, exit 1" || bad "another user: clear error" "rc=$rc $out"

###########################################################################
echo "# the verdict cache"
hits0=$(stat_of 'cache hits')
check "repeat INFECTED" "$EICAR_FOUND" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
check "answered from the cache (hits +1)" $((hits0 + 1)) "$(stat_of 'cache hits')"
log_has 'info scan id=.* verdict=INFECTED virus=Eicar-Test-Signature.UNOFFICIAL cached_gen=1' &&
	ok "cache answer logged with its generation" || bad "cache answer logged"
entries=$(stat_of 'cache entries')
[ "$entries" -ge 2 ] && ok "cache holds $entries verdicts" || bad "cache entries" "$entries"

###########################################################################
echo "# reload: a new signature, by generations"
check "new sample not detected yet" "stream: OK|" "$($CLIENT $SOCK instream "$T/newsig.txt" | vis)"
echo "Avwarden.Test.NewSig:0:*:$HEX" > "$DB/new.ndb"
chmod 644 "$DB/new.ndb"
r=$(ctl reload)
rc=$?
echo "$r" | grep -q "^reloaded: generation 2 serving: 3 signatures" && [ $rc -eq 0 ] &&
	ok "reload answers when generation 2 serves" || bad "reload answer" "rc=$rc $r"
check "new signature detected right after" "stream: Avwarden.Test.NewSig.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/newsig.txt" | vis)"
check "cache emptied by the reload" 1 "$(stat_of 'cache entries')"
check "stats: reloads" 1 "$(stat_of 'reloads')"
check "version: generation 2" "2" "$(ctl --json version | json 'd["generation"]')"
wait_for "generation 1 retired" log_has 'info generation_retired gen=1' &&
	ok "old generation drained and stopped" || bad "old generation retired"
check "only generation 2's workers left" "4 2" "$(ctl --json workers | json '" ".join([str(len(d["workers"])), str(d["workers"][0]["generation"])])')"

echo "# reload: a corrupt database is refused, the old one keeps serving"
printf 'this is not a signature\n' > "$DB/broken.ndb"
chmod 644 "$DB/broken.ndb"
r=$(ctl reload)
rc=$?
echo "$r" | grep -q "^error: reload failed: .*; generation 2 keeps serving" && [ $rc -eq 1 ] &&
	ok "reload refused: answer names the cause, exit 1" || bad "corrupt reload answer" "rc=$rc $r"
check "old generation still serves" "stream: Avwarden.Test.NewSig.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/newsig.txt" | vis)"
check "stats: reload failures" 1 "$(stat_of 'reload failures')"
stat_of 'last reload' | grep -q "^generation 3 failed: " && ok "stats: last reload says which failed" ||
	bad "stats: last reload" "$(stat_of 'last reload')"
log_has 'error reload_failed gen=3 reason=.* action="generation 2 keeps serving"' &&
	ok "log: reload_failed with the generation that keeps serving" || bad "log: reload_failed"
log_has 'engine_log source=libclamav gen=3 pid=[0-9]* text="' &&
	ok "log: libclamav's own message, tagged" || bad "log: libclamav message"
rm -f "$DB/broken.ndb"

echo "# the canary: a database that breaks the scanner never takes traffic"
log_has 'info canary_passed gen=1 canaries=5' && ok "canary passed before generation 1 served" || bad "canary passed"
# The same scanner, told by a flag file to crash on EICAR (a broken update).
cat > "$T/canary-scanner.sh" <<SH
#!/bin/sh
[ -e "$T/break-eicar" ] && export AVW_FAULT_SCAN=crash-eicar
exec $B/tests/avwarden-scanner-faulty "\$@"
SH
chmod 755 "$T/canary-scanner.sh"
write_conf canary "$T/canary-scanner.sh" "database = \"$DB\"" 'update_interval = 0'
stop || bad "ops daemon stopped cleanly"
start canary || exit 1
D=$T/canary
touch "$T/break-eicar"
r=$(ctl reload)
rc=$?
check "a crashing database is refused" "error: reload failed: canary eicar.com: scanner crashed: SIGSEGV; generation 1 keeps serving/1" "$r/$rc"
check "generation 1 still serves" "$EICAR_FOUND" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
log_has 'error canary_failed gen=2 reason="canary eicar.com: scanner crashed: SIGSEGV"' &&
	ok "log: canary_failed names the canary and the crash" || bad "log: canary_failed"
stat_of 'last reload' | grep -q "^generation 2 failed: canary eicar.com" && ok "stats: last reload names the canary" ||
	bad "stats: last reload" "$(stat_of 'last reload')"
rm -f "$T/break-eicar"
# A database that no longer detects EICAR: the wrong verdict refuses it.
mv "$DB/avwarden-test.ndb" "$T/ndb.saved"
r=$(ctl reload)
check "a database that misses EICAR is refused" \
	"error: reload failed: canary eicar.com: answered CLEAN, expected INFECTED; generation 1 keeps serving" "$r"
stop || bad "canary daemon stopped cleanly"
# At start there is nothing to fall back to: no scanner, with the reason.
write_conf canary2 "$B/avwarden-scanner" "database = \"$DB\"" 'update_interval = 0'
D=$T/canary2
"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
DAEMON_PID=$!
wait_for "refused at start" log_has 'host_failed reason="canary eicar.com: answered CLEAN, expected INFECTED"' &&
	ok "at start: refused, retried with back-off" || bad "canary at start"
check "at start: requests tempfail with the reason" \
	"stream: no scanner available: canary eicar.com: answered CLEAN, expected INFECTED ERROR|" \
	"$($CLIENT unix:$D/clamd.sock instream "$T/eicar.com" | vis)"
stop || true
write_conf canary3 "$B/avwarden-scanner" "database = \"$DB\"" 'update_interval = 0' 'canary = false'
start canary3 || exit 1
D=$T/canary3
check "canary = false: that database serves" "stream: OK|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop || bad "canary3 daemon stopped cleanly"
mv "$T/ndb.saved" "$DB/avwarden-test.ndb"

echo "# reload under load: 2 clients, 5 reloads, nothing lost"
write_conf load "$B/avwarden-scanner" "database = \"$DB\"" 'cache_size = 0' 'update_interval = 0'
start load || exit 1
D=$T/load
$CLIENT $SOCK load 5 2 "$T/eicar.com" "$T/clean.eml" "$T/big.eml" "$T/newsig.txt" > "$T/load.out" &
lpid=$!
n=0
for i in 1 2 3 4 5; do
	ctl reload > /dev/null && n=$((n + 1))
done
wait $lpid
lrc=$?
out=$(cat "$T/load.out")
echo "     $out reloads=$n"
eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(requests|ok|errors|wrong|failed)=')"
check "5 reloads completed during the load" 5 "$n"
check "under reload: failed=0" 0 "$failed"
check "under reload: errors=0" 0 "$errors"
check "under reload: wrong=0" 0 "$wrong"
[ "$lrc" -eq 0 ] && [ "$requests" -gt 100 ] && ok "under reload: $requests requests served" ||
	bad "under reload: requests" "rc=$lrc $out"
check "generation 6 serving" 6 "$(ctl --json version | json 'd["generation"]')"

echo "# overlapping reloads are coalesced; SIGUSR2; clamd RELOAD"
ctl reload > "$T/r1" & p1=$!
ctl reload > "$T/r2" & p2=$!
wait $p1 $p2
g1=$(sed 's/.*generation \([0-9]*\).*/\1/' "$T/r1")
g2=$(sed 's/.*generation \([0-9]*\).*/\1/' "$T/r2")
[ -n "$g1" ] && [ "$g1" -ge 7 ] && [ "$g2" -ge 7 ] && [ $((g1 > g2 ? g1 - g2 : g2 - g1)) -le 1 ] &&
	ok "two overlapping requests: one or two loads, both answered ($g1, $g2)" ||
	bad "overlapping reloads" "$(cat "$T/r1" "$T/r2")"
log_has 'reload_coalesced' && ok "coalescing logged" || bad "coalescing logged"
before=$(log_count 'info reload_done')
kill -USR2 "$DAEMON_PID"
wait_for "SIGUSR2 reload" sh -c "[ \$(grep -c 'info reload_done' '$D/scanner.log') -gt $before ]" &&
	ok "SIGUSR2 reloads" || bad "SIGUSR2 reloads"
log_has 'reload_start gen=[0-9]* pid=[0-9]* reason="SIGUSR2"' && ok "SIGUSR2 reload logged with its reason" ||
	bad "SIGUSR2 reason"
before=$(log_count 'info reload_done')
check "clamd RELOAD" "RELOADING|" "$(printf 'zRELOAD\0' | $CLIENT $SOCK raw | vis)"
wait_for "RELOAD reload" sh -c "[ \$(grep -c 'info reload_done' '$D/scanner.log') -gt $before ]" &&
	ok "clamd RELOAD reloads" || bad "clamd RELOAD reloads"
stop || bad "load daemon stopped cleanly"

echo "# update_interval: a changed database is reloaded by itself"
write_conf upd "$B/avwarden-scanner" "database = \"$DB\"" 'update_interval = 1'
start upd || exit 1
D=$T/upd
printf 'avwarden operations test: AVW-SECOND-SIGNATURE-51c2\n' > "$T/second.txt"
check "second sample clean before" "stream: OK|" "$($CLIENT $SOCK instream "$T/second.txt" | vis)"
echo "Avwarden.Test.Second:0:*:$(printf 'AVW-SECOND-SIGNATURE-51c2' | od -An -v -tx1 | tr -d ' \n')" > "$DB/second.ndb"
chmod 644 "$DB/second.ndb"
wait_for "database_changed and reload_done" sh -c "grep -q 'database_changed' '$D/scanner.log' &&
	grep -q 'info reload_done gen=2' '$D/scanner.log'" && ok "change noticed and reloaded" ||
	bad "update_interval reload"
check "second sample detected after the automatic reload" "stream: Avwarden.Test.Second.UNOFFICIAL FOUND|" \
	"$($CLIENT $SOCK instream "$T/second.txt" | vis)"

###########################################################################
echo "# the scanner log"
log_has 'info scan id=[0-9]* size=[0-9]* ms=[0-9.]* verdict=INFECTED virus=Avwarden.Test.Second.UNOFFICIAL worker=' &&
	ok "scan line: id, size, ms, verdict, virus" || bad "scan line"
w=$(ctl --json workers | json 'd["workers"][0]["pid"]')
kill -SEGV "$w"
wait_for "crash logged" log_has "warn worker_crash worker=[0-9]* pid=$w signal=SIGSEGV" &&
	ok "crash line names the signal" || bad "crash line"
log_has 'info reload_start gen=2 .*reason="database changed"' && log_has 'info reload_done gen=2 ' &&
	ok "reload lines: start (with reason) and done" || bad "reload lines"
mv "$D/scanner.log" "$D/scanner.log.1"
check "reopen-logs" "logs reopened" "$(ctl reopen-logs)"
n1=$(wc -l < "$D/scanner.log.1")
check "scan after reopen" "stream: OK|" "$($CLIENT $SOCK instream "$T/clean.eml" | vis)"
wait_for "new log file" log_has 'verdict=CLEAN' && ok "new file gets the lines after reopen-logs" ||
	bad "reopened log"
check "moved file no longer written" "$n1" "$(wc -l < "$D/scanner.log.1")"
mv "$D/scanner.log" "$D/scanner.log.2"
kill -HUP "$DAEMON_PID"
wait_for "SIGHUP reopen" log_has 'info log_reopen' && ok "SIGHUP reopens the log" || bad "SIGHUP reopen"
stop || bad "upd daemon stopped cleanly"

###########################################################################
echo "# daemon down; --exit-with-parent; control_socket_mode"
out=$(ctl ping 2>&1)
rc=$?
echo "$out" | grep -q "is avwarden running" && [ $rc -eq 1 ] && ok "daemon down: clear error, exit 1" ||
	bad "daemon down" "rc=$rc $out"

write_conf parent "$B/avwarden-scanner" 'control_socket_mode = "0660"'
D=$T/parent
mkfifo "$D/ready"
sh -c '"$1" -c "$2" --exit-with-parent --ready-fd 3 3>"$3" 2>"$4" & wait' sh \
	"$B/avwarden" "$D/avwarden.conf" "$D/ready" "$D/stderr" &
shpid=$!
got=$(timeout 60 head -c1 "$D/ready" | od -An -c | tr -d ' ')
[ "$got" = '\n' ] || bad "parent test daemon ready" "$(cat "$D/stderr")"
apid=$(pgrep -P "$shpid" -x avwarden)
check "control_socket_mode 0660" 660 "$(stat -c %a "$D/control.sock")"
kill -9 "$shpid"
wait_for "avwarden gone with its parent" sh -c "! kill -0 $apid 2>/dev/null" &&
	ok "exits when the parent dies" || { bad "exit with parent"; kill -9 "$apid"; }
log_has 'info shutdown reason=' && log_has 'info stopped reason="drained"' &&
	ok "it drained first (shutdown, stopped)" || bad "drained on parent death"

finish
