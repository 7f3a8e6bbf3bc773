#!/bin/sh
# tests/shared.sh: two nodes share verdicts through a real redis-server
# (Debian's). Node B answers from Redis what node A scanned; entries
# written without the key (forged, or a valid one moved to another
# message's key) are ignored and the message scanned; Redis stopped
# (SIGSTOP: slow) or killed (down) costs no answer, and the node comes back
# to it when it returns; a reload to other signatures stops using the old
# entries. Prints the latency a lookup adds (p50/p99, Redis up and down).
# usage: tests/shared.sh BUILD_DIR   (root; in the ASan pass too)
set -u
SUITE=shared
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! command -v redis-server > /dev/null || ! command -v redis-cli > /dev/null; then
	echo "shared: needs redis-server and redis-cli (Debian's redis-server package; run scripts/deps.sh)"
	exit 1
fi

RPORT=$(free_port)
A_PID=""
rcli() { redis-cli -p "$RPORT" "$@"; }
trap 'kill -9 $REDIS_PID $A_PID 2>/dev/null; kill -CONT $REDIS_PID 2>/dev/null; cleanup' EXIT

head -c 32 /dev/urandom > "$T/key"
chmod 600 "$T/key"
# Each node its own copy of the database: B's is reloaded with more later.
mkdir -p "$T/dba" "$T/dbb"
cp "$B"/db/* "$T/dba/"
cp "$B"/db/* "$T/dbb/"
chmod -R a+rX "$T/dba" "$T/dbb"
node_conf() {  # node_conf NAME DB [KEYFILE [SHARED_CACHE]]
	write_conf "$1" "$B/avwarden-scanner" "database = \"$2\"" \
		"shared_cache = \"${4:-redis://127.0.0.1:$RPORT}\"" \
		"shared_cache_key_file = \"${3:-$T/key}\"" 'shared_cache_timeout_ms = 50'
}
mail() {  # mail FILE [infected]: a message no one has sent before
	{
		printf 'From: a@example.org\nTo: b@example.org\nMessage-ID: <%s@example.org>\nSubject: test\n\n' \
			"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		if [ "${2:-}" = infected ]; then cat "$T/eicar.com"; echo; else echo "nothing to see"; fi
	} > "$1"
}
EICAR="Eicar-Test-Signature.UNOFFICIAL FOUND|"

###########################################################################
echo "# configuration errors name the cause"
node_conf bad1 "$T/dba" "$T/key" "redis://localhost:6379"
out=$("$B/avwarden" -c "$T/bad1/avwarden.conf" --check-config 2>&1)
echo "$out" | grep -q "not an IP address" && ok "a host name is refused (no DNS on the loop)" || bad "host name" "$out"
node_conf bad2 "$T/dba" "$T/nokey"
out=$(timeout 60 "$B/avwarden" -c "$T/bad2/avwarden.conf" 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "shared_cache_key_file $T/nokey: No such file" &&
	ok "a missing key file stops the start, saying how to make one" || bad "missing key" "rc=$rc $out"
cp "$T/key" "$T/openkey"
chmod 644 "$T/openkey"
node_conf bad3 "$T/dba" "$T/openkey"
out=$(timeout 60 "$B/avwarden" -c "$T/bad3/avwarden.conf" 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "readable by others" && ok "a key others can read is refused" ||
	bad "open key" "rc=$rc $out"
head -c 8 /dev/urandom > "$T/shortkey"
chmod 600 "$T/shortkey"
node_conf bad4 "$T/dba" "$T/shortkey"
out=$(timeout 60 "$B/avwarden" -c "$T/bad4/avwarden.conf" 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "8 bytes; between 32" && ok "an 8-byte key is refused" || bad "short key" "$out"

###########################################################################
echo "# node B answers from what node A scanned"
redis_start "$RPORT" || { bad "redis-server started" "$(cat "$T/redis.out")"; finish; exit 1; }
node_conf a "$T/dba"
node_conf b "$T/dbb"
start a || exit 1
A_PID=$DAEMON_PID
SOCK_A=$SOCK
start b || exit 1
SOCK_B=$SOCK
up_in() { grep -q "shared_cache_up" "$T/$1/scanner.log"; }
wait_for "A connected" up_in a && wait_for "B connected" up_in b && ok "both nodes connected to Redis" ||
	bad "nodes connected"
mail "$T/m1"
mail "$T/e1" infected
check "A: clean mail" "stream: OK|" "$($CLIENT $SOCK_A instream "$T/m1" | vis)"
check "A: infected mail" "stream: $EICAR" "$($CLIENT $SOCK_A instream "$T/e1" | vis)"
wait_for "A's two verdicts stored" sh -c "[ \"\$(redis-cli -p $RPORT dbsize)\" = 2 ]" &&
	ok "A stored 2 verdicts in Redis" || bad "stored" "$(rcli dbsize)"
check "B: the clean mail, from Redis" "stream: OK|" "$($CLIENT $SOCK_B instream "$T/m1" | vis)"
check "B: the infected mail, from Redis" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e1" | vis)"
check "B: 2 shared hits" 2 "$(stat_json b shared_cache_hits)"
check "B: no scan by a worker (both from the shared cache)" 0 "$(grep -c 'scan id=.* worker=[1-9]' "$T/b/scanner.log")"
check "B: the same mail again, from its own cache" "stream: OK|" "$($CLIENT $SOCK_B instream "$T/m1" | vis)"
check "B: still 2 shared hits" 2 "$(stat_json b shared_cache_hits)"
check "B: 1 local hit" 1 "$(stat_json b cache_hits)"

###########################################################################
echo "# entries written without the key are ignored"
KEY1=$(rcli --raw keys 'avw:*' | head -1)
PRINT=$(echo "$KEY1" | cut -d: -f2)
[ ${#PRINT} -eq 64 ] && ok "keys carry the scope (signatures, engine, limits) and the content's SHA-256" || bad "key format" "$KEY1"
forge() {  # forge MAILFILE VALUE
	h=$(sha256sum "$1" | cut -d' ' -f1)
	rcli set "avw:$PRINT:$h" "$2" > /dev/null
}
mail "$T/e2" infected
forge "$T/e2" "$(printf '%064d' 0)|1|1|0|"
check "forged CLEAN for an infected mail: scanned, FOUND" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e2" | vis)"
check "B: 1 forged entry counted" 1 "$(stat_json b shared_cache_forged)"
grep -q "shared_cache_forged" "$T/b/scanner.log" && ok "the forgery is logged" || bad "forgery logged"
# Signed with another key: the HMAC A would compute, under a key of the attacker's.
mail "$T/e3" infected
h3=$(sha256sum "$T/e3" | cut -d' ' -f1)
wrong=$($PY -c "
import hmac, hashlib, sys
text = '1|1|0|'
print(hmac.new(b'not the key but 32 bytes long!!!', ('avw:$PRINT:$h3\n' + text).encode(), hashlib.sha256).hexdigest() + '|' + text)")
rcli set "avw:$PRINT:$h3" "$wrong" > /dev/null
check "CLEAN signed with another key: scanned, FOUND" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e3" | vis)"
# A valid entry (A's, for the clean m1) copied to an infected mail's key.
mail "$T/e4" infected
h1=$(sha256sum "$T/m1" | cut -d' ' -f1)
forge "$T/e4" "$(rcli --raw get "avw:$PRINT:$h1")"
check "a genuine CLEAN moved to another mail's key: scanned, FOUND" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e4" | vis)"
check "B: 3 forged entries counted" 3 "$(stat_json b shared_cache_forged)"
mail "$T/e5" infected
forge "$T/e5" "garbage"
check "a malformed entry: scanned, FOUND" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e5" | vis)"
# A 64 MB value: only its first bytes are ever read (GETRANGE), so it costs
# the supervisor nothing.
mail "$T/e6" infected
head -c 67108864 /dev/zero | tr '\0' x > "$T/huge"
rcli -x set "avw:$PRINT:$(sha256sum "$T/e6" | cut -d' ' -f1)" < "$T/huge" > /dev/null
hwm0=$(awk '/^VmHWM/ {print $2}' /proc/$DAEMON_PID/status)
check "a 64 MB entry: scanned, FOUND" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e6" | vis)"
# Redis answers in order: once a later lookup's miss is counted, the reply
# for the big entry has been read (or, as GETRANGE asks, its first bytes).
misses0=$(stat_json b shared_cache_misses)
probe() { mail "$T/probe"; $CLIENT $SOCK_B instream "$T/probe" > /dev/null; [ "$(stat_json b shared_cache_misses)" -gt "$misses0" ]; }
WAIT_STEPS=200 wait_for "a later lookup answered" probe || bad "a later lookup answered"
hwm1=$(awk '/^VmHWM/ {print $2}' /proc/$DAEMON_PID/status)
[ $((hwm1 - hwm0)) -lt 8192 ] && ok "a 64 MB entry: supervisor's peak RSS $hwm0 -> $hwm1 kB" ||
	bad "64 MB entry read whole" "peak RSS $hwm0 -> $hwm1 kB"
check "B: 5 forged entries counted" 5 "$(stat_json b shared_cache_forged)"

###########################################################################
echo "# Redis slow, then down, then back"
lat() { $CLIENT "$1" load-unique 2 1 "$T/clean.eml" | tr ' ' '\n' | grep -E '^(rps|p50_ms|p99_ms|errors|wrong|failed)=' | tr '\n' ' '; }
up=$(lat $SOCK_B)
echo "     Redis up, every message new (a miss each): $up"
echo "     lookup time on B, Redis up (ask to answer): p50 $(stat_json b shared_cache_lookup_ms_p50) ms, p99 $(stat_json b shared_cache_lookup_ms_p99) ms"
kill -STOP "$REDIS_PID"
# Clients that hang up while their lookup waits on the stopped Redis: each
# job is cancelled in the middle of its lookup, and its late reply (when the
# connection goes) finds nothing.
wait_for "pool settled" pool_settled "$T/b"
fds0=$(ls /proc/$DAEMON_PID/fd | wc -l)
cancelled0=$(stat_json b cancelled)
$PY - "$T/b/clamd.sock" <<'EOF2'
import os, socket, struct, sys
for i in range(50):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    body = b"From: a\n\n" + os.urandom(16).hex().encode() + b"\n"
    s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(body)) + body + struct.pack(">I", 0))
    s.close()
EOF2
gone() { [ "$(stat_json b cancelled)" -gt "$cancelled0" ]; }
wait_for "cancellations" gone && ok "clients gone mid-lookup: $(($(stat_json b cancelled) - cancelled0)) jobs cancelled" ||
	bad "cancelled mid-lookup"
fds_back() { pool_settled "$T/b" && [ "$(ls /proc/$DAEMON_PID/fd | wc -l)" -le "$fds0" ]; }
wait_for "descriptors back" fds_back && ok "descriptors back to $fds0" || bad "descriptors" "$fds0 -> $(ls /proc/$DAEMON_PID/fd | wc -l)"
slow=$(lat $SOCK_B)
echo "     Redis stopped (SIGSTOP): $slow"
case $slow in *"errors=0 wrong=0 failed=0"*) ok "Redis stopped: every message answered, none wrong";;
*) bad "answers with Redis stopped" "$slow";; esac
[ "$(stat_json b shared_cache_timeouts)" -ge 1 ] && ok "lookups given up: $(stat_json b shared_cache_timeouts)" ||
	bad "timeouts counted"
wait_for "slow Redis dropped" grep -q 'shared_cache_down.*too slow' "$T/b/scanner.log" &&
	ok "8 lookups given up in a row: Redis dropped, said once" || bad "slow Redis dropped"
check "said once" 1 "$(grep -c 'shared_cache_down' "$T/b/scanner.log")"
kill -CONT "$REDIS_PID"
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
down=$(lat $SOCK_B)
echo "     Redis killed: $down"
case $down in *"errors=0 wrong=0 failed=0"*) ok "Redis down: every message answered, none wrong";;
*) bad "answers with Redis down" "$down";; esac
[ "$(stat_json b shared_cache_skipped)" -ge 1 ] && ok "lookups not even tried while down: $(stat_json b shared_cache_skipped)" ||
	bad "skipped counted"
check "infected while Redis is down" "stream: $EICAR" "$($CLIENT $SOCK_B instream "$T/e1" | vis)"
redis_start "$RPORT" || bad "redis-server restarted"
ups() { [ "$(grep -c shared_cache_up "$T/$1/scanner.log")" -ge 2 ]; }
WAIT_STEPS=4000 wait_for "B back on Redis" ups b && ok "B reconnected once Redis was back" || bad "B reconnected"
WAIT_STEPS=4000 wait_for "A back on Redis" ups a && ok "A reconnected too" || bad "A reconnected"
mail "$T/m6"
check "A: a new mail" "stream: OK|" "$($CLIENT $SOCK_A instream "$T/m6" | vis)"
wait_for "A stored it" sh -c "[ \"\$(redis-cli -p $RPORT dbsize)\" -ge 1 ]" || bad "A stored it in the new Redis"
hits=$(stat_json b shared_cache_hits)
check "B: answered from the new Redis" "stream: OK|" "$($CLIENT $SOCK_B instream "$T/m6" | vis)"
check "B: one more shared hit" $((hits + 1)) "$(stat_json b shared_cache_hits)"

###########################################################################
echo "# other signatures, other keys"
HEX=$(printf 'avwarden shared cache reload test' | od -An -tx1 | tr -d ' \n')
echo "Avwarden.Test.Shared:0:*:$HEX" > "$T/dbb/shared.ndb"
chmod 644 "$T/dbb/shared.ndb"
$CTL -s "$T/b/control.sock" reload > /dev/null || bad "B reloaded"
mail "$T/m7"
check "A: another new mail" "stream: OK|" "$($CLIENT $SOCK_A instream "$T/m7" | vis)"
wait_for "A stored it" sh -c "[ \"\$(redis-cli -p $RPORT dbsize)\" -ge 2 ]"
hits=$(stat_json b shared_cache_hits)
check "B, on other signatures: scans it itself" "stream: OK|" "$($CLIENT $SOCK_B instream "$T/m7" | vis)"
check "B: no shared hit across signature sets" "$hits" "$(stat_json b shared_cache_hits)"

kill -0 "$A_PID" && kill -0 "$DAEMON_PID" && ok "both nodes alive" || bad "nodes alive"
stop && ok "B: SIGTERM, exit 0" || bad "B exit status"
DAEMON_PID=$A_PID
stop && ok "A: SIGTERM, exit 0" || bad "A exit status"
A_PID=""
finish
