#!/bin/sh
# tests/metrics.sh: the Prometheus listener (metrics_listen). Its text passes
# Debian's promtool and parses with prometheus_client; the counters follow
# real scans, a reload, a size limit and the cache; a real Prometheus server
# scrapes it; hostile HTTP (garbage, huge headers, idle and slow connections,
# other methods and paths) gets an HTTP error or a close and never costs
# the daemon. promtool and prometheus come from Debian's package, unpacked by
# scripts/deps.sh into PROMETHEUS_ROOT.
# usage: tests/metrics.sh BUILD_DIR   (root; in the ASan pass too)
set -u
SUITE=metrics
. "$(dirname "$0")/lib.sh"
PROM=${PROMETHEUS_ROOT:-/var/cache/avwarden-test/prometheus}/usr/bin
PY=/usr/bin/python3   # Debian's: python3-prometheus-client is installed for it
PROBE="$PY $ROOT/tests/metrics_probe.py"
if [ ! -x "$PROM/promtool" ] || ! $PY -c 'import prometheus_client' 2>/dev/null; then
	echo "metrics: needs promtool in $PROM and python3-prometheus-client (run scripts/deps.sh)"
	exit 1
fi

###########################################################################
echo "# configuration errors name the cause"
refused() {  # refused NAME VALUE EXPECTED-TEXT
	write_conf "$1" "$B/avwarden-scanner" "metrics_listen = \"$2\""
	out=$("$B/avwarden" -c "$T/$1/avwarden.conf" --check-config 2>&1)
	rc=$?
	[ $rc -ne 0 ] && echo "$out" | grep -qF "$3" && ok "metrics_listen = \"$2\": refused ($3)" ||
		bad "metrics_listen = \"$2\" refused" "rc=$rc $out"
}
refused badunix "unix:/run/m.sock" "metrics are served over TCP only"
refused badopt "tcp:127.0.0.1:9310 wire" "allow= is the only option of metrics_listen"
refused badaddr "tcp:localhost:9310" "metrics_listen = \"tcp:localhost:9310\""
# A port someone else holds: the start fails and says so.
PORT=$(free_port)
perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:$ARGV[0]", ReuseAddr => 1)
	or die; open(F, ">", $ARGV[1]); close F; sleep 60' "$PORT" "$T/held" &
holder=$!
wait_for "port held" test -e "$T/held"
write_conf inuse "$B/avwarden-scanner" "metrics_listen = \"tcp:127.0.0.1:$PORT\""
out=$(timeout 60 "$B/avwarden" -c "$T/inuse/avwarden.conf" 2>&1)
rc=$?
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
[ $rc -ne 0 ] && echo "$out" | grep -q "another program has that port" && ok "port in use: the start fails, naming it" ||
	bad "port in use refused" "rc=$rc $out"

###########################################################################
echo "# the exposition"
PORT=$(free_port)
write_conf m "$B/avwarden-scanner" "metrics_listen = \"tcp:127.0.0.1:$PORT\"" 'max_message_size = 1M'
start m || exit 1
D=$T/m
v() { $PROBE value "$PORT" "$@"; }
$PROBE get "$PORT" /metrics > "$T/r0"
check "GET /metrics: 200" 200 "$(head -1 "$T/r0")"
grep -q '^Content-Type: text/plain; version=0.0.4' "$T/r0" && ok "text format 0.0.4" ||
	bad "content type" "$(grep -i '^content-type' "$T/r0")"
sed '1,/^$/d' "$T/r0" > "$T/m0"
lint=$("$PROM/promtool" check metrics < "$T/m0" 2>&1)
rc=$?
check "promtool check metrics: clean, no lint" "0 " "$rc $lint"
check "serving" 1 "$(v avwarden_serving)"
check "generation 1" 1 "$(v avwarden_generation)"
check "signatures of the test database" "$($CTL -s "$D/control.sock" --json version | $PY -c 'import json,sys; print(json.load(sys.stdin)["signatures"])')" \
	"$(v avwarden_signatures)"
check "build info carries libclamav's version" 1 \
	"$(v avwarden_build_info engine="$($CTL -s "$D/control.sock" --json version | $PY -c 'import json,sys; print(json.load(sys.stdin)["engine"])')")"
newest=$(stat -c %Y "$B"/db/* | sort -n | tail -1)
age=$(v avwarden_database_age_seconds)
now=$(date +%s)
[ "$age" -ge $((now - newest - 2)) ] && [ "$age" -le $((now - newest + 2)) ] &&
	ok "database age: $age s, from the newest signature file" || bad "database age" "$age, expected about $((now - newest))"
check "database build time" "$newest" "$(v avwarden_database_build_timestamp_seconds)"
check "workers: 4 idle (2 scans at once, 2 spares)" 4 "$(v avwarden_workers state=idle)"
check "nothing counted yet" 0 "$(v avwarden_scan_duration_seconds_count)"

###########################################################################
echo "# counters follow scans"
$CLIENT $SOCK instream "$T/clean.eml" > /dev/null
$CLIENT $SOCK instream "$T/big.eml" > /dev/null
check "EICAR found" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
check "clean: 2" 2 "$(v avwarden_scans_total verdict=clean)"
check "infected: 1" 1 "$(v avwarden_scans_total verdict=infected)"
check "histogram count: 3" 3 "$(v avwarden_scan_duration_seconds_count)"
check "histogram +Inf bucket: 3" 3 "$(v avwarden_scan_duration_seconds_bucket le=+Inf)"
check "histogram 60 s bucket: 3" 3 "$(v avwarden_scan_duration_seconds_bucket le=60)"
sum=$(v avwarden_scan_duration_seconds_sum)
$PY -c "import sys; sys.exit(not 0 < float('$sum') < 30)" && ok "histogram sum: $sum s" || bad "histogram sum" "$sum"
check "cache misses: 3" 3 "$(v avwarden_cache_misses_total cache=local)"
$CLIENT $SOCK instream "$T/clean.eml" > /dev/null
check "the same mail again: a cache hit" 1 "$(v avwarden_cache_hits_total cache=local)"
check "cache entries: 3" 3 "$(v avwarden_cache_entries cache=local)"
head -c 2000000 /dev/urandom > "$T/big.bin"
check "INSTREAM past max_message_size" "INSTREAM size limit exceeded. ERROR|" "$($CLIENT $SOCK instream "$T/big.bin" | vis)"
check "rejected by max_message_size: 1" 1 "$(v avwarden_rejected_total reason=max_message_size)"
check "rejected by the queue: 0" 0 "$(v avwarden_rejected_total reason=queue_full)"
# A zip cut short: UNSCANNABLE, counted under its code's name.
$PY -c "
import io, os, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('report.txt', os.urandom(3000).hex())
d = b.getvalue()
open('$T/cut.zip', 'wb').write(d[:len(d) * 4 // 10])"
check "a cut zip: not clean" "stream: Heuristics.Unscannable.MalformedContainer FOUND|" "$($CLIENT $SOCK instream "$T/cut.zip" | vis)"
check "scans_by_code_total{code=DEC_RESULT_MALFORMED_CONTAINER_DETECTED}: 1" 1 \
	"$(v avwarden_scans_by_code_total code=DEC_RESULT_MALFORMED_CONTAINER_DETECTED)"
check "unscannable: 1" 1 "$(v avwarden_scans_total verdict=unscannable)"
# A worker killed: counted by its cause.
crashes0=$(v avwarden_worker_failures_total cause=crash)
kill -9 "$(pgrep -P "$(scanner_host)" | head -1)"
crashed() { [ "$(v avwarden_worker_failures_total cause=crash)" = $((crashes0 + 1)) ]; }
wait_for "the crash counted" crashed && ok "a killed worker: worker_failures_total{cause=\"crash\"} + 1" ||
	bad "crash counted" "$crashes0 -> $(v avwarden_worker_failures_total cause=crash)"
$CTL -s "$D/control.sock" reload > /dev/null
check "after a reload: generation 2" 2 "$(v avwarden_generation)"
check "reloads: 1" 1 "$(v avwarden_reloads_total)"
check "reload failures: 0" 0 "$(v avwarden_reload_failures_total)"
check "worker crashes unchanged by a reload" $((crashes0 + 1)) "$(v avwarden_worker_failures_total cause=crash)"
$PROBE get "$PORT" /metrics | sed '1,/^$/d' > "$T/m1"
lint=$("$PROM/promtool" check metrics < "$T/m1" 2>&1)
check "promtool after scans and a reload" "0 " "$? $lint"

###########################################################################
echo "# a real Prometheus scrapes it"
WEB=$(free_port)
mkdir -p "$T/prom"
cat > "$T/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: avwarden
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
"$PROM/prometheus" --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
	--web.listen-address="127.0.0.1:$WEB" > "$T/prom/out" 2>&1 &
prom_pid=$!
trap 'kill -9 $prom_pid 2>/dev/null; cleanup' EXIT
pq() {  # pq QUERY: the first result's value, or nothing
	$PY - "$WEB" "$1" <<'EOF' 2>/dev/null
import json, sys, urllib.parse, urllib.request
u = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
r = json.load(urllib.request.urlopen(u, timeout=5))["data"]["result"]
print(r[0]["value"][1] if r else "")
EOF
}
infected_seen() { [ "$(pq 'avwarden_scans_total{verdict="infected"}')" = 1 ]; }
WAIT_STEPS=6000 wait_for "Prometheus's first scrape" infected_seen &&
	ok "Prometheus scraped avwarden_scans_total{verdict=\"infected\"} = 1" ||
	bad "Prometheus scrape" "$(tail -5 "$T/prom/out")"
check "Prometheus: target up" 1 "$(pq 'up{job="avwarden"}')"
check "Prometheus: generation 2" 2 "$(pq 'avwarden_generation')"
kill "$prom_pid"
wait "$prom_pid" 2>/dev/null

###########################################################################
echo "# hostile HTTP"
fds() { ls /proc/$DAEMON_PID/fd | wc -l; }
wait_for "pool settled" pool_settled "$D" || bad "pool settled"
fd0=$(fds)
check "GET /: 404" 404 "$($PROBE get "$PORT" / | head -1)"
check "GET /metrics/../etc/passwd: 404" 404 "$($PROBE get "$PORT" /metrics/../etc/passwd | head -1)"
$PROBE get "$PORT" /metrics POST > "$T/post"
check "POST /metrics: 405" 405 "$(head -1 "$T/post")"
grep -q '^Allow: GET, HEAD' "$T/post" && ok "405 says Allow: GET, HEAD" || bad "Allow header" "$(cat "$T/post")"
head=$($PROBE get "$PORT" /metrics HEAD)
check "HEAD /metrics: 200, no body" "200" "$(echo "$head" | head -1)$(echo "$head" | sed '1,/^$/d')"
head -c 3000 /dev/urandom > "$T/noise"
r=$($PROBE raw "$PORT" "@$T/noise")
case $r in "HTTP/1.1 400"* | closed) ok "random bytes: 400 or closed ($r)";; *) bad "random bytes" "$r";; esac
{ printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: '; head -c 100000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } > "$T/bighead"
r=$($PROBE raw "$PORT" "@$T/bighead")
case $r in "HTTP/1.1 431"* | "HTTP/1.1 413"* | "HTTP/1.1 400"* | closed) ok "100 KB header: refused ($r)";;
*) bad "100 KB header" "$r";; esac
r=$($PROBE raw "$PORT" "$(printf 'GET /metrics HTTP/1.0\r\n\r\n' | od -v -An -tx1 | tr -d ' \n')")
check "HTTP/1.0: 200" "HTTP/1.1 200 OK" "$r"
r=$($PROBE hold "$PORT" 40 2>&1)
case $r in "held=40 scrape_while="*) ok "40 half-open connections held ($r)";; *) bad "40 half-open connections" "$r";; esac
check "PING while they were held" "PONG|" "$($CLIENT $SOCK ping | vis)"
check "a scrape after they close" 200 "$($PROBE get "$PORT" /metrics | head -1)"
t=$($PROBE slow "$PORT")
[ "$t" -ge 9 ] && [ "$t" -le 15 ] && ok "a slow request is closed after the 10 s timeout ($t s)" || bad "slow request closed" "$t s"
i=0 pids=""
while [ $i -lt 200 ]; do
	$PROBE raw "$PORT" 474554 > /dev/null 2>&1 &  # "GET" and gone
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids  # these clients only: a bare wait would wait for the daemon too
check "200 clients gone mid-request: still serving" 200 "$($PROBE get "$PORT" /metrics | head -1)"
fds_back() { pool_settled "$D" && [ "$(fds)" -le "$fd0" ]; }
wait_for "descriptors back" fds_back && ok "supervisor descriptors back to $fd0" || bad "descriptors" "$fd0 -> $(fds)"
kill -0 "$DAEMON_PID" && ok "supervisor alive" || bad "supervisor alive"
check "scans go on" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop && ok "SIGTERM: exit 0 with the metrics listener open" || bad "SIGTERM exit status"
listening "$PORT" && bad "metrics port closed at exit" || ok "metrics port closed at exit"

###########################################################################
echo "# allow=: scrapers outside the list get nothing"
PORT=$(free_port)
write_conf allow "$B/avwarden-scanner" "metrics_listen = \"tcp:127.0.0.1:$PORT allow=192.0.2.0/24\""
start allow || exit 1
check "127.0.0.1 outside allow=: closed unanswered" closed \
	"$($PROBE raw "$PORT" "$(printf 'GET /metrics HTTP/1.0\r\n\r\n' | od -v -An -tx1 | tr -d ' \n')")"
wait_for "refusal logged" grep -q 'metrics_refused' "$T/allow/scanner.log" && ok "refusal logged" || bad "refusal logged"
stop || bad "allow: SIGTERM exit status"

finish
