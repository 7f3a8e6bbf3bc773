#!/bin/sh
# tests/multinode.sh: the multi-node recipe of the README, run. Two avwarden
# nodes on TCP sharing a verdict cache in a real redis-server, and Debian's
# HAProxy in front with a clamd-protocol health check (PING, expect PONG).
# Under load through HAProxy, node A is killed: the client sees no failed
# request beyond those in flight on A, and node B answers from the shared
# cache a message that A scanned. etc/haproxy-avwarden.cfg is the config
# used, with its addresses filled in.
# usage: tests/multinode.sh BUILD_DIR   (root; in the ASan pass too)
set -u
SUITE=multinode
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
for tool in haproxy redis-server redis-cli; do
	command -v $tool > /dev/null || { echo "multinode: needs $tool (Debian's haproxy and redis-server; run scripts/deps.sh)"; exit 1; }
done

RPORT=$(free_port)
A_PID="" HAP_PID=""
trap 'kill -9 $REDIS_PID $A_PID $HAP_PID 2>/dev/null; cleanup' EXIT
redis_start "$RPORT" || bad "redis-server started" "$(cat "$T/redis.out")"
head -c 32 /dev/urandom > "$T/key"
chmod 600 "$T/key"

PA=$(free_port)
PB=$(free_port)
node() {  # node NAME PORT
	write_conf "$1" "$B/avwarden-scanner" "listen = { \"tcp:127.0.0.1:$2\" }" \
		"shared_cache = \"redis://127.0.0.1:$RPORT\"" "shared_cache_key_file = \"$T/key\""
}
node a "$PA"
node b "$PB"
start a || exit 1
A_PID=$DAEMON_PID
start b || exit 1
B_PID=$DAEMON_PID
wait_for "nodes on Redis" sh -c "grep -q shared_cache_up '$T/a/scanner.log' && grep -q shared_cache_up '$T/b/scanner.log'" ||
	bad "nodes connected to Redis"

FRONT=$(free_port)
sed -e "s/@FRONT@/127.0.0.1:$FRONT/" -e "s/@NODE_A@/127.0.0.1:$PA/" -e "s/@NODE_B@/127.0.0.1:$PB/" \
	"$ROOT/etc/haproxy-avwarden.cfg" > "$T/haproxy.cfg"
haproxy -c -f "$T/haproxy.cfg" > "$T/haproxy.check" 2>&1 && ok "haproxy -c accepts the recipe's config" ||
	bad "haproxy config" "$(cat "$T/haproxy.check")"
haproxy -db -f "$T/haproxy.cfg" > "$T/haproxy.out" 2>&1 &
HAP_PID=$!
F=tcp:127.0.0.1:$FRONT
pong() { [ "$($CLIENT $F ping 2>/dev/null | tr -d '\0')" = PONG ]; }
wait_for "HAProxy serving" pong && ok "PING through HAProxy: PONG" || bad "HAProxy serving" "$(tail -5 "$T/haproxy.out")"
check "EICAR through HAProxy" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $F instream "$T/eicar.com" | vis)"

###########################################################################
echo "# both nodes serve"
$CLIENT $F load-unique 2 2 "$T/clean.eml" "$T/eicar.com" > "$T/both.out"
echo "     $(cat "$T/both.out")"
grep -q "wrong=0 failed=0" "$T/both.out" && ok "load through HAProxy: no wrong or failed request" || bad "load" "$(cat "$T/both.out")"
na=$(stat_json a messages_checked)
nb=$(stat_json b messages_checked)
[ "$na" -gt 10 ] && [ "$nb" -gt 10 ] && ok "both nodes took a share (A $na, B $nb)" || bad "round robin" "A $na B $nb"

###########################################################################
echo "# node A scans a message; B answers it from the shared cache"
{
	printf 'From: a@example.org\nTo: b@example.org\nMessage-ID: <%s@example.org>\nSubject: wave\n\n' \
		"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	cat "$T/eicar.com"
	echo
} > "$T/wave.eml"
check "A: the wave's first copy" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT tcp:127.0.0.1:$PA instream "$T/wave.eml" | vis)"
wait_for "A stored it" sh -c "[ \"\$(redis-cli -p $RPORT dbsize)\" -ge 1 ]"

###########################################################################
echo "# node A killed under load"
$CLIENT $F load-unique 6 4 "$T/clean.eml" "$T/big.eml" "$T/eicar.com" > "$T/kill.out" &
LPID=$!
half_done() { [ "$(stat_json a messages_checked)" -gt $((na + 20)) ]; }
wait_for "load reaching A" half_done || bad "load reached A"
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
A_PID=""
wait "$LPID"
out=$(cat "$T/kill.out")
echo "     $out"
eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(requests|ok|errors|wrong|failed)=')"
check "no wrong verdict" 0 "$wrong"
[ "$failed" -le 4 ] && ok "failed requests ($failed) at most those in flight on A (4 clients)" ||
	bad "failed beyond those in flight" "failed=$failed"
[ "$requests" -gt 50 ] && ok "$requests requests served through the kill" || bad "requests served" "$requests"
down_seen() { grep -q "Server avwarden/a is DOWN" "$T/haproxy.out"; }
wait_for "HAProxy saw A down" down_seen && ok "HAProxy's PING check took A out" || bad "A marked down" "$(tail -3 "$T/haproxy.out")"
hits=$(stat_json b shared_cache_hits)
check "B, through HAProxy: the wave's next copy" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$($CLIENT $F instream "$T/wave.eml" | vis)"
check "B answered it from the shared cache" $((hits + 1)) "$(stat_json b shared_cache_hits)"
after=$($CLIENT $F load-unique 2 2 "$T/clean.eml" "$T/eicar.com")
echo "     after the kill: $after"
case $after in *"wrong=0 failed=0"*) ok "after the kill: no failed request";; *) bad "after the kill" "$after";; esac

DAEMON_PID=$B_PID
stop && ok "B: SIGTERM, exit 0" || bad "B exit status"
finish
