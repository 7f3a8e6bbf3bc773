#!/bin/sh
# make bench: avwarden against clamd (same database, same client, same
# corpus, alternating runs) and against libclamav in-process, in one run.
# Prints throughput and latency at 1, 2 and 4 connections, the ratios, and
# memory and load time on a large synthetic database.
# usage: scripts/bench.sh BUILD_DIR [SECONDS_PER_RUN]
set -eu
B=$(cd "${1:-build}" && pwd)
SECS=${2:-4}
W=$B/bench
CLIENT=$B/tests/clamd-client
TESTFILES=/usr/share/clamav-testfiles
CONC=4   # avwarden max_concurrency = clamd MaxThreads
rm -rf "$W"
mkdir -p "$W/corpus" "$W/bigdb"
chmod 755 "$W" "$W/corpus" "$W/bigdb"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (scanners switch to nobody)"; exit 1; }

echo "bench: generating the corpus"
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
echo "bench: corpus $(ls "$W/corpus" | wc -l) mails: 20 x 5 KB, 10 x 50 KB with a binary attachment, 3 with an infected archive"

echo "bench: generating a large database (200000 body signatures)"
od -An -v -tx1 -N 3200000 /dev/urandom | tr -d ' \n' | fold -w 32 |
	awk '{ printf "Bench.Sig.%d:0:*:%s\n", NR, $0 }' > "$W/bigdb/bench.ndb"
cp "$B/db/"* "$W/bigdb/"
chmod 644 "$W/bigdb/"*

start_avwarden() {  # DB
	cat > "$W/avwarden.conf" <<CONF
listen = "unix:$W/avw.sock"
control_socket = "$W/avw-ctl.sock"
database = "$1"
scanner_path = "$B/avwarden-scanner"
user = "nobody"
max_concurrency = $CONC
max_jobs_per_worker = 0
# The mix repeats the same messages: with the verdict cache most requests
# would never reach a worker, which is not what is being compared here.
cache_size = 0
CONF
	rm -f "$W/ready"
	mkfifo "$W/ready"
	"$B/avwarden" -c "$W/avwarden.conf" --ready-fd 3 3>"$W/ready" 2>/dev/null &
	AVW=$!
	t0=$(date +%s%N)
	head -c1 "$W/ready" >/dev/null
	AVW_LOAD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	# Ready means one worker; wait for all of them.
	until "$B/avwardenctl" -s "$W/avw-ctl.sock" stats | grep -q "workers busy/idle: *0/$CONC"; do sleep 0.05; done
}
stop_avwarden() { kill -TERM $AVW; wait $AVW || true; }

start_clamd() {  # DB
	cat > "$W/clamd.conf" <<CONF
LocalSocket $W/clamd.sock
DatabaseDirectory $1
Foreground yes
LogFile $W/clamd.log
MaxThreads $CONC
StreamMaxLength 100M
TemporaryDirectory /tmp
CONF
	/usr/sbin/clamd --config-file="$W/clamd.conf" >/dev/null 2>&1 &
	CLAMD=$!
	t0=$(date +%s%N)
	until [ "$($CLIENT unix:$W/clamd.sock ping 2>/dev/null | tr -d '\0')" = PONG ]; do sleep 0.05; done
	CLAMD_LOAD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop_clamd() { kill -TERM $CLAMD; wait $CLAMD || true; }

pss() {  # total PSS in kB of the given pids
	t=0
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo $t
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "bench: throughput, ${SECS} s per run, runs alternate avwarden / clamd"
start_avwarden "$B/db"
start_clamd "$B/db"
printf '%-10s %-5s %10s %9s %9s\n' target conns req/s p50_ms p99_ms > "$W/table"
for c in 1 2 4; do
	for round in 1 2; do
		a=$($CLIENT unix:$W/avw.sock load "$SECS" $c $FILES)
		k=$($CLIENT unix:$W/clamd.sock load "$SECS" $c $FILES)
		echo "$c $round avwarden $a" >> "$W/raw"
		echo "$c $round clamd $k" >> "$W/raw"
	done
	# The last 4096 avwarden jobs were all at this concurrency.
	eval "over_$c=\"$("$B/avwardenctl" -s "$W/avw-ctl.sock" stats | sed -n 's/.*overhead us\/message: *\(p50 [0-9.]* p99 [0-9.]*\).*/\1/p')\""
done
stop_clamd
# Crash recovery: kill a worker 20 times, each once the pool is whole again.
host=$(pgrep -P $AVW | head -1)
for i in $(seq 1 20); do
	kill -9 "$(pgrep -P "$host" | shuf -n1)"
	n=0
	until "$B/avwardenctl" -s "$W/avw-ctl.sock" stats | grep -q "workers busy/idle: *0/$CONC" &&
		[ "$(pgrep -P "$host" | wc -l)" -eq $CONC ]; do
		n=$((n + 1)); [ $n -gt 400 ] && break; sleep 0.005
	done
done
respawn=$("$B/avwardenctl" -s "$W/avw-ctl.sock" stats | sed -n 's/.*worker replacement ms: *//p')
stop_avwarden
inproc=$("$B/tests/bench-inproc" "$B/db" "$SECS" "$(nproc)" $FILES)

# Best of the two rounds for each, so a hiccup does not decide the ratio.
best() {  # conns target -> "rps p50 p99"
	grep "^$1 [12] $2 " "$W/raw" | while read -r _ _ _ rest; do
		echo "$(field "$rest" rps) $(field "$rest" p50_ms) $(field "$rest" p99_ms)"
	done | sort -n -r | head -1
}
echo
printf '%-22s %6s %10s %9s %9s\n' target conns req/s p50_ms p99_ms
for c in 1 2 4; do
	for t in avwarden clamd; do
		set -- $(best $c $t)
		printf '%-22s %6s %10s %9s %9s\n' $t $c "$1" "$2" "$3"
		eval "${t}_$c=$1"
	done
done
ip_rps=$(field "$inproc" rps)
printf '%-22s %6s %10s %9s %9s\n' "in-process ($(nproc) thr)" - "$ip_rps" "$(field "$inproc" p50_ms)" "$(field "$inproc" p99_ms)"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "avwarden/clamd throughput:      1 conn $(ratio $avwarden_1 $clamd_1)x   2 conns $(ratio $avwarden_2 $clamd_2)x   4 conns $(ratio $avwarden_4 $clamd_4)x   (target >= 1.25x at 1 and 4)"
echo "avwarden/in-process throughput: 4 conns $(ratio $avwarden_4 $ip_rps)x   (target >= 0.80x)"
echo "worker killed -> replacement serving, ms: $respawn   (target p50 <= 10)"
echo "overhead per job, us (dispatch to answer, outside libclamav): 1 conn $over_1; 2 conns $over_2; 4 conns $over_4   (target p50 <= 30)"

echo
echo "bench: large database: memory and load time"
start_avwarden "$W/bigdb"
sleep 1   # let the workers settle before reading PSS; not a synchronisation
host=$(pgrep -P $AVW | head -1)
avw_pss=$(pss $AVW $host $(pgrep -P $host))
avw_sigs=$("$B/avwardenctl" -s "$W/avw-ctl.sock" version | sed -n 's/signatures: //p')
stop_avwarden
start_clamd "$W/bigdb"
clamd_pss=$(pss $CLAMD)
stop_clamd
big=$("$B/tests/bench-inproc" "$W/bigdb" 1 1 "$W/corpus/small1.eml")
ip_pss=$(field "$big" pss_kb)
printf '%-34s %10s %12s\n' "" "load ms" "PSS kB"
printf '%-34s %10s %12s\n' "avwarden (supervisor+host+$CONC workers)" "$AVW_LOAD_MS" "$avw_pss"
printf '%-34s %10s %12s\n' "clamd" "$CLAMD_LOAD_MS" "$clamd_pss"
printf '%-34s %10s %12s\n' "in-process engine" "$(field "$big" load_ms)" "$ip_pss"
echo "signatures loaded: $avw_sigs"
echo "avwarden/in-process memory: $(ratio $avw_pss $ip_pss)x   (target <= 1.3x)"
echo "avwarden/clamd memory:      $(ratio $avw_pss $clamd_pss)x"
