#!/bin/sh
# tests/torture.sh: a live daemon under everything at once. Clients mixing
# every command with random disconnects (tests/torture.py), while workers
# are SIGKILLed, the database reloaded and the log reopened (SIGHUP), for
# TORTURE_SECONDS (20). Afterwards the supervisor is alive, every answer was
# right, and its descriptors and RSS are where they started.
# usage: tests/torture.sh BUILD_DIR   (root; in the ASan pass too)
set -u
SUITE=torture
. "$(dirname "$0")/lib.sh"
SECS=${TORTURE_SECONDS:-20}

TREE=$T/tree
mkdir -p "$TREE/sub"
cp "$T/eicar.com" "$TREE/e1.com"
cp "$T/eicar.com" "$TREE/sub/e2.com"
cp "$T/clean.eml" "$TREE/a.eml"
cp "$T/big.eml" "$TREE/sub/b.eml"
chmod -R a+rX "$TREE"

write_conf torture "$B/avwarden-scanner" 'max_concurrency = 3' 'poison_threshold = 100' 'cache_size = 64'
start torture || exit 1
D=$T/torture
fds() { ls /proc/$DAEMON_PID/fd | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' /proc/$DAEMON_PID/status; }
python3 "$ROOT/tests/torture.py" "$D/clamd.sock" "$TREE" 3 3 > "$T/warm" || bad "warm-up" "$(cat "$T/warm")"
# Counted with every slot's worker up and idle: a slot that is replacing
# its worker holds fewer descriptors for a moment.
wait_for "pool settled after warm-up" pool_settled "$D" || bad "pool settled after warm-up"
fd0=$(fds)
rss0=$(rss)
fdlist() { for f in /proc/$DAEMON_PID/fd/*; do printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"; done | sort -n; }
fdlist > "$T/fds.before"

python3 "$ROOT/tests/torture.py" "$D/clamd.sock" "$TREE" "$SECS" 4 > "$T/torture.out" &
tpid=$!
kills=0 reloads=0 hups=0 tick=0
while kill -0 $tpid 2>/dev/null; do
	sleep 0.3   # the fault rate under test, not a synchronisation
	tick=$((tick + 1))
	host=$(scanner_host)
	w=$(pgrep -P "$host" 2>/dev/null | shuf -n1)
	[ -n "$w" ] && kill -9 "$w" 2>/dev/null && kills=$((kills + 1))
	if [ $((tick % 10)) -eq 0 ]; then
		$CTL -s "$D/control.sock" reload > /dev/null 2>&1 && reloads=$((reloads + 1))
	fi
	if [ $((tick % 7)) -eq 0 ]; then
		kill -HUP "$DAEMON_PID" && hups=$((hups + 1))
	fi
done
wait $tpid
trc=$?
out=$(head -1 "$T/torture.out")
echo "     $out kills=$kills reloads=$reloads sighups=$hups"
sed -n 's/^wrong: /     wrong: /p' "$T/torture.out"
eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(sessions|commands|ok|errors|wrong|left|broken)=')"
check "torture: no wrong answer, no broken connection" 0 "$wrong"
[ "$trc" -eq 0 ] || bad "torture client exit status" "$trc"
[ "$commands" -gt 200 ] && ok "torture: $sessions sessions, $commands commands ($ok right, $errors ERROR, $left left midway)" ||
	bad "torture: enough commands" "$commands"
[ "$errors" -le $((kills * 2 + reloads)) ] && ok "errors ($errors) only from the faults injected" ||
	bad "errors bounded by the faults" "errors=$errors kills=$kills"
kill -0 "$DAEMON_PID" && ok "supervisor alive" || bad "supervisor alive"
# The last reply may still be closing: the counts settle, they are not guessed.
fds_back() { pool_settled "$D" && [ "$(fds)" -le "$fd0" ]; }
wait_for "descriptors back" fds_back &&
	ok "supervisor descriptors: $fd0 before, $(fds) after" ||
	{ bad "descriptors back" "$fd0 -> $(fds)"; fdlist | diff "$T/fds.before" - | sed 's/^/     /'; }
rss1=$(rss)
if [ -n "${AVW_WRAP:-}" ]; then
	echo "     RSS not compared under $AVW_WRAP (the tool's own memory): $rss0 -> $rss1 kB"
elif [ $((rss1 - rss0)) -le 4096 ]; then
	ok "supervisor RSS: $rss0 kB before, $rss1 kB after"
else
	bad "supervisor RSS stable" "$rss0 -> $rss1 kB"
fi
check "still serving" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop || bad "stopped cleanly"

echo "# SIGTERM in the middle of all that: drained, exit 0, no wrong answer"
write_conf tstop "$B/avwarden-scanner" 'max_concurrency = 3' 'poison_threshold = 100' 'cache_size = 64'
start tstop || exit 1
D=$T/tstop
python3 "$ROOT/tests/torture.py" "$D/clamd.sock" "$TREE" 8 4 stopping > "$T/stop.out" &
tpid=$!
wait_for "traffic" sh -c "grep -c 'info scan ' '$D/scanner.log' | awk '{exit !(\$1 >= 200)}'"
t0=$(date +%s%N)
stop
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $tpid
trc=$?
echo "     $(head -1 "$T/stop.out")"
grep -q ' commands=0 ' "$T/stop.out" && bad "traffic during the shutdown" "$(head -1 "$T/stop.out")"
sed -n 's/^wrong: /     wrong: /p' "$T/stop.out"
check "SIGTERM under load: exit 0" 0 "$rc"
[ $ms -lt 15000 ] && ok "drained in $ms ms" || bad "drained in time" "$ms ms"
check "SIGTERM under load: no wrong answer" 0 "$trc"
finish
