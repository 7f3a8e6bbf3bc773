#!/bin/sh
# tests/client.sh: libavwarden and avwarden-scan against the real daemon.
# The protocol units (tests/test_client); the shared library's soname and
# exports; the four statuses through every entry point (buffer, fd from its
# offset, pipe, path) via tests/client-demo, which links the shared library:
# CLEAN, INFECTED, UNSCANNABLE (max_file_count exceeded), ERROR (size limit,
# daemon down, timeouts, malformed and missing answers from fake servers),
# WIRE form un-stuffed where it matters; four threads with a handle each;
# Debian's clamd (plain INSTREAM, un-stuffed by the library); the CLI's lines
# and exit codes; `make install` into a DESTDIR and a program built with
# `pkg-config --cflags --libs avwarden` against it.
# usage: tests/client.sh BUILD_DIR   (root; python3 for the fake servers)
set -u
SUITE=client
. "$(dirname "$0")/lib.sh"
DEMO=$B/tests/client-demo
SCAN=$B/avwarden-scan
# demo ARGS...: client-demo on the shared library. A non-zero exit (a
# sanitizer's report, a mismatch) shows up in the output it is checked by.
demo() {
	LD_LIBRARY_PATH=$B "$DEMO" "$@" 2>> "$T/demo.err"
	drc=$?
	[ $drc -eq 0 ] || echo "EXIT $drc"
}
# like CHECK EXPECTED_GLOB ACTUAL
like() {
	# shellcheck disable=SC2254 # the pattern is the point
	case "$3" in $2) ok "$1" ;; *) bad "$1" "expected [$2] got [$3]" ;; esac
}
EICAR_NAME=Eicar-Test-Signature.UNOFFICIAL

###########################################################################
echo "# unit: address syntax, reply parser, probe, un-stuffing (test_client)"
if "$B/tests/test_client" > "$T/unit.out" 2>&1; then
	ok "test_client: $(grep -c '\[       OK \]' "$T/unit.out") cmocka tests"
else
	bad "test_client" "$(cat "$T/unit.out")"
fi

echo "# the shared library"
check "soname" "libavwarden.so.0" \
	"$(readelf -d "$B/libavwarden.so.0.1.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
check "exports only the avw_ API" \
	"avw_client_free avw_client_new avw_client_set_wire avw_code_name avw_scan_buffer avw_scan_fd avw_scan_path avw_status_name" \
	"$(nm -D --defined-only "$B/libavwarden.so.0.1.0" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }' |
		grep -v '^_' | sort | tr '\n' ' ' | sed 's/ $//')"
check "no other global symbol" "" \
	"$(nm -D --defined-only "$B/libavwarden.so.0.1.0" | awk '{ print $3 }' | grep -v -e '^avw_' -e '^_' || true)"
check "symlinks" "libavwarden.so.0.1.0 libavwarden.so.0" \
	"$(readlink "$B/libavwarden.so.0") $(readlink "$B/libavwarden.so")"
like "client-demo loads it from \$LD_LIBRARY_PATH" "*$B/libavwarden.so.0*" \
	"$(LD_LIBRARY_PATH=$B ldd "$DEMO" | grep libavwarden)"
check "avwarden-scan has it linked in (static)" "" "$(ldd "$SCAN" | grep libavwarden || true)"

###########################################################################
# A database with two signatures that tell SMTP wire form from the
# message: one spans a line-start dot, one is anchored at the end, where the
# end-of-data line goes. The wire files carry both forms' differences.
DB=$T/db
mkdir -p "$DB"
cp "$B/db/"* "$DB/"
hex() { printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'; }
printf 'Avwarden.Test.WireDot:0:*:%s\n' "$(hex '\r\n.AVW-WIRE-DOT')" > "$DB/wire.ndb"
printf 'Avwarden.Test.WireEnd:0:EOF-19:%s\n' "$(hex 'AVW-WIRE-END-MARK\r\n')" >> "$DB/wire.ndb"
chmod 755 "$DB"
chmod 644 "$DB/"*
printf 'Subject: t\r\n\r\nline one\r\n..AVW-WIRE-DOT hidden behind a stuffed dot\r\n.\r\n' > "$T/dot.wire"
printf 'Subject: t\r\n\r\nAVW-WIRE-END-MARK\r\n.\r\n' > "$T/end.wire"
printf 'Subject: t\r\n\r\n..a dot line\r\n..\r\n.\r\n' > "$T/clean.wire"
: > "$T/empty"
{ printf 'junk\n'; cat "$T/eicar.com"; } > "$T/junk-eicar"
# 2.5 MiB with the dot signature across the first 1 MiB boundary (the
# buffer's chunk) and across a 256 KiB one (the fd reader's).
{
	head -c $((262144 - 6)) /dev/zero | tr '\0' 'a'
	printf '\r\n.AVW-WIRE-DOT'
	head -c $((1048576 - 262144 - 10)) /dev/zero | tr '\0' 'b'
	head -c 1572864 /dev/zero | tr '\0' 'c'
} > "$T/large"
head -c 100000 /dev/zero | tr '\0' 'x' > "$T/100k"
cp "$T/eicar.com" "$T/private.com"
chmod 600 "$T/private.com"
mkfifo "$T/fifo"

###########################################################################
echo "# CLEAN and INFECTED, every entry point, unix and tcp"
write_conf cl "$B/avwarden-scanner" "database = \"$DB\"" 'cache_size = 0' \
	"listen = { \"unix:$T/cl/clamd.sock\", \"tcp:127.0.0.1:37411\" }"
start cl || exit 1
for mode in buffer fd pipe path; do
	like "$mode: CLEAN" "CLEAN|0|ClamAV/[0-9]*|" "$(demo "$SOCK" $mode "$T/clean.eml")"
	like "$mode: INFECTED" "INFECTED|0|ClamAV/[0-9]*|$EICAR_NAME" "$(demo "$SOCK" $mode "$T/eicar.com")"
	like "$mode: 2.5 MiB in chunks, signature across chunk boundaries" \
		"INFECTED|0|ClamAV/*|Avwarden.Test.WireDot.UNOFFICIAL" "$(demo "$SOCK" $mode "$T/large")"
	like "$mode: empty input is CLEAN" "CLEAN|0|ClamAV/*|" "$(demo "$SOCK" $mode "$T/empty")"
done
like "tcp: INFECTED" "INFECTED|0|ClamAV/*|$EICAR_NAME" "$(demo tcp:127.0.0.1:37411 buffer "$T/eicar.com")"
like "tcp: CLEAN" "CLEAN|0|ClamAV/*|" "$(demo tcp:127.0.0.1:37411 pipe "$T/big.eml")"
like "fd: scanned from the start, signature at offset 0 missed" "CLEAN|0|*" "$(demo "$SOCK" fd "$T/junk-eicar")"
like "fd: scanned from the current offset" "INFECTED|0|ClamAV/*|$EICAR_NAME" "$(demo "$SOCK" fd+5 "$T/junk-eicar")"
out=$(demo "$SOCK" threads "$T/eicar.com" "$T/clean.eml")
check "4 threads, a handle each: every verdict right" "threads: 200 scans, 0 wrong/0" "$out/$?"

echo "# WIRE: SMTP wire form un-stuffed by the daemon"
for mode in buffer fd pipe; do
	like "$mode wire: a signature behind a stuffed dot" "INFECTED|0|ClamAV/*|Avwarden.Test.WireDot.UNOFFICIAL" \
		"$(demo "$SOCK" $mode "$T/dot.wire" wire)"
done
like "not wire: the same bytes as they are" "CLEAN|0|*" "$(demo "$SOCK" buffer "$T/dot.wire")"
like "wire: end-of-data line removed" "INFECTED|0|ClamAV/*|Avwarden.Test.WireEnd.UNOFFICIAL" \
	"$(demo "$SOCK" path "$T/end.wire" wire)"
like "not wire: end-of-data line kept" "CLEAN|0|*" "$(demo "$SOCK" path "$T/end.wire")"
like "wire: a clean message" "CLEAN|0|*" "$(demo "$SOCK" pipe "$T/clean.wire" wire)"

echo "# ERROR from the library: arguments and files"
check "NULL client, buffer, path; fd -1" \
	"ERROR|2|avwarden-client|NULL client
ERROR|2|avwarden-client|NULL buffer
ERROR|2|avwarden-client|NULL path
ERROR|3|avwarden-client|bad file descriptor -1
no result: ERROR
status name of 0: UNKNOWN" "$(demo "$SOCK" null)"
check "missing file" "ERROR|8|avwarden-client|cannot open $T/nope: No such file or directory" \
	"$(demo "$SOCK" path "$T/nope")"
check "a directory" "ERROR|3|avwarden-client|cannot scan $T: a directory, not a regular file" \
	"$(demo "$SOCK" path "$T")"
out=$(timeout 5 env LD_LIBRARY_PATH="$B" "$DEMO" "$SOCK" path "$T/fifo")
check "a FIFO is refused, not opened (no writer: would block)" \
	"ERROR|3|avwarden-client|cannot scan $T/fifo: a FIFO, not a regular file" "$out"
check "permission denied (as nobody)" \
	"ERROR|16|avwarden-client|cannot open $T/private.com: Permission denied" \
	"$(setpriv --reuid=nobody --regid=nogroup --clear-groups env LD_LIBRARY_PATH="$B" "$DEMO" "$SOCK" path "$T/private.com")"

echo "# avwarden-scan"
SCAN_RE="ClamAV/[0-9][0-9.]*, code"
out=$($SCAN -a "$SOCK" "$T/clean.eml")
rc=$?
echo "$out" | grep -Eqx "$T/clean.eml: CLEAN - \($SCAN_RE 0\)" && [ $rc -eq 0 ] &&
	ok "clean file: line, exit 0" || bad "clean file" "rc=$rc $out"
out=$($SCAN -a "$SOCK" - < "$T/clean.eml")
rc=$?
echo "$out" | grep -Eqx -- "-: CLEAN - \($SCAN_RE 0\)" && [ $rc -eq 0 ] &&
	ok "stdin (a file): CLEAN, exit 0" || bad "stdin" "rc=$rc $out"
out=$(printf '%s' "$(cat "$T/eicar.com")" | $SCAN -a "$SOCK" -)
rc=$?
echo "$out" | grep -Eqx -- "-: INFECTED $EICAR_NAME \($SCAN_RE 0\)" && [ $rc -eq 1 ] &&
	ok "stdin (a pipe): INFECTED, exit 1" || bad "stdin pipe" "rc=$rc $out"
out=$($SCAN -a "$SOCK" "$T/clean.eml" "$T/eicar.com")
rc=$?
[ "$(echo "$out" | wc -l)" -eq 2 ] && echo "$out" | grep -Eqx "$T/eicar.com: INFECTED $EICAR_NAME \($SCAN_RE 0\)" &&
	[ $rc -eq 1 ] && ok "clean + infected: two lines, exit 1" || bad "clean + infected" "rc=$rc $out"
out=$($SCAN -q -a "$SOCK" "$T/clean.eml" "$T/eicar.com" "$T/clean.eml")
rc=$?
check "-q: only what is not clean" "$T/eicar.com: INFECTED/1" "${out%% "$EICAR_NAME"*}/$rc"
out=$($SCAN -q -a "$SOCK" "$T/clean.eml")
check "-q, all clean: silent, exit 0" "/0" "$out/$?"
out=$($SCAN --wire -a "$SOCK" "$T/dot.wire")
rc=$?
echo "$out" | grep -Eqx "$T/dot.wire: INFECTED Avwarden.Test.WireDot.UNOFFICIAL \($SCAN_RE 0\)" && [ $rc -eq 1 ] &&
	ok "--wire: exit 1" || bad "--wire" "rc=$rc $out"
out=$($SCAN -a "$SOCK" "$T/eicar.com" "$T/nope" "$T/clean.eml")
rc=$?
echo "$out" | grep -qx "$T/nope: ERROR cannot open $T/nope: No such file or directory (avwarden-client, code 8)" &&
	[ "$(echo "$out" | wc -l)" -eq 3 ] && [ $rc -eq 2 ] &&
	ok "an error among others: every file reported, exit 2" || bad "error among others" "rc=$rc $out"
out=$($SCAN -a tcp:127.0.0.1:37411 -t 30 "$T/eicar.com")
check "tcp, -t 30: exit 1" 1 $?
$SCAN -a "$SOCK" > /dev/null 2>&1
check "no FILE: exit 2" 2 $?
out=$($SCAN -a "tcp:localhost:3310" "$T/clean.eml" 2>&1)
rc=$?
check "bad address: says so, exit 2" \
	"avwarden-scan: -a tcp:localhost:3310: expected unix:/path, tcp:IPv4:PORT or tcp:[IPv6]:PORT/2" "$out/$rc"
out=$($SCAN -t abc "$T/clean.eml" 2>&1)
check "bad timeout: exit 2" "avwarden-scan: -t abc: expected seconds, e.g. 30 or 0.5/2" "$out/$?"
$SCAN --help | grep -q '^usage: avwarden-scan' && ok "--help" || bad "--help"
check "--version" "avwarden-scan 0.1.0" "$($SCAN --version)"
stop || bad "daemon stopped cleanly"

###########################################################################
echo "# UNSCANNABLE and the size limit"
write_conf lim "$B/avwarden-scanner" 'max_file_count = 1' 'max_message_size = "64K"' 'cache_size = 0'
start lim || exit 1
for mode in buffer pipe path; do
	like "$mode: archive over max_file_count: UNSCANNABLE" \
		"UNSCANNABLE|25|ClamAV/[0-9]*|Heuristics.Limits.Exceeded.MaxFiles" "$(demo "$SOCK" $mode "$TESTFILES/clam.zip")"
done
for mode in buffer pipe; do
	check "$mode: over max_message_size: ERROR 105 from the daemon" \
		"ERROR|105|avwarden|INSTREAM size limit exceeded" "$(demo "$SOCK" $mode "$T/100k")"
done
out=$($SCAN -a "$SOCK" "$TESTFILES/clam.zip" "$T/clean.eml")
rc=$?
echo "$out" | grep -Eqx "$TESTFILES/clam.zip: UNSCANNABLE Heuristics.Limits.Exceeded.MaxFiles \($SCAN_RE 25\)" &&
	[ $rc -eq 1 ] && ok "CLI: UNSCANNABLE, exit 1" || bad "CLI unscannable" "rc=$rc $out"
like "still serving after the limits" "INFECTED|0|ClamAV/*|$EICAR_NAME" "$(demo "$SOCK" buffer "$T/eicar.com")"
LIMSOCK=$SOCK
stop || bad "daemon stopped cleanly"

echo "# ERROR: daemon down"
t0=$(now_ms)
out=$(demo "$LIMSOCK" buffer "$T/clean.eml")
dt=$(($(now_ms) - t0))
check "unix socket gone: ERROR 103" \
	"ERROR|103|avwarden-client|cannot connect to $LIMSOCK: No such file or directory" "$out"
[ $dt -lt 1000 ] && ok "  at once (${dt} ms)" || bad "daemon down: fast" "${dt} ms"
check "tcp port closed: ERROR 103" \
	"ERROR|103|avwarden-client|cannot connect to tcp:127.0.0.1:37411: Connection refused" \
	"$(demo tcp:127.0.0.1:37411 path "$T/clean.eml")"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale.sock"
check "a socket nobody listens on: ERROR 103" \
	"ERROR|103|avwarden-client|cannot connect to unix:$T/stale.sock: Connection refused" \
	"$(demo "unix:$T/stale.sock" pipe "$T/clean.eml")"
out=$($SCAN -a "$LIMSOCK" "$T/clean.eml")
check "CLI: daemon down, exit 2" \
	"$T/clean.eml: ERROR cannot connect to $LIMSOCK: No such file or directory (avwarden-client, code 103)/2" "$out/$?"

###########################################################################
echo "# ERROR: fake servers (silent, stalled, not reading, garbage, hanging up)"
# fake.py PATH MODE: answers VERSIONCOMMANDS as avwarden does (except
# "silent"), then handles AVWINSTREAM as MODE says.
cat > "$T/fake.py" <<'PY'
import os, socket, struct, sys, threading, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(64)
os.rename(path, path + ".sock")  # appears once it listens
held = []

def read_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def serve(c):
    try:
        cmd = b""
        while not cmd.endswith(b"\0"):
            cmd += read_exact(c, 1)
        if cmd == b"zVERSIONCOMMANDS\0":
            c.sendall(b"ClamAV 1.4.6| COMMANDS: PING VERSIONCOMMANDS INSTREAM AVWINSTREAM\0")
            c.close()
            return
        if mode == "hangup":
            c.close()
            return
        if mode == "noread":
            return  # keeps the connection, reads nothing more
        while True:
            n = struct.unpack(">I", read_exact(c, 4))[0]
            if n == 0:
                break
            read_exact(c, n)
        if mode == "garbage":
            c.sendall(b"avw: MAYBE 0 x y\0")
            c.close()
        elif mode == "twolines":  # the second a moment after the first
            c.sendall(b"avw: CLEAN 0 x -\0")
            time.sleep(0.05)
            c.sendall(b"avw: INFECTED 0 x y\0")
            c.close()
        # stall: never answers
    except (EOFError, OSError):
        pass

while True:
    c, _ = s.accept()
    held.append(c)
    if mode != "silent":
        threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
FAKES=""
fake() {
	python3 "$T/fake.py" "$T/$1" "$1" &
	FAKES="$FAKES $!"
	wait_for "fake server $1" test -S "$T/$1.sock"
}
trap 'for p in $FAKES; do kill $p 2>/dev/null; done; cleanup' EXIT INT TERM
for m in silent stall noread garbage twolines hangup; do fake $m; done
head -c 16777216 /dev/zero > "$T/16m"

# timed NAME EXPECTED DEMO-ARGS...: the result, and the time within [1 s, 2 s).
timed() {
	name=$1 want=$2
	shift 2
	t0=$(now_ms)
	out=$(demo "$@" timeout=1000)
	dt=$(($(now_ms) - t0))
	check "$name" "$want" "$out"
	[ $dt -ge 1000 ] && [ $dt -lt 2000 ] && ok "  within the timeout and less than twice it (${dt} ms for 1000)" ||
		bad "$name: time" "${dt} ms for a 1000 ms timeout"
}
timed "accepts, never answers: ERROR 101" \
	"ERROR|101|avwarden-client|no answer from unix:$T/silent.sock within 1000 ms" "unix:$T/silent.sock" buffer "$T/clean.eml"
timed "takes the stream, never answers: ERROR 101" \
	"ERROR|101|avwarden-client|no answer from unix:$T/stall.sock within 1000 ms" "unix:$T/stall.sock" pipe "$T/big.eml"
timed "stops reading: ERROR 101 while sending" \
	"ERROR|101|avwarden-client|timed out sending to unix:$T/noread.sock after 1000 ms" "unix:$T/noread.sock" buffer "$T/16m"
# A source slower than the timeout: a FIFO whose writer never writes.
mkfifo "$T/slow"
sleep 10 > "$T/slow" &
slow=$!
t0=$(now_ms)
out=$($SCAN -a "unix:$T/stall.sock" -t 1 - < "$T/slow")
rc=$?
dt=$(($(now_ms) - t0))
kill $slow 2>/dev/null
check "a stalled stdin: ERROR 101, exit 2" \
	"-: ERROR timed out reading fd 0 after 1000 ms (avwarden-client, code 101)/2" "$out/$rc"
[ $dt -ge 1000 ] && [ $dt -lt 2000 ] && ok "  the scan gave up at its timeout (${dt} ms for 1000)" ||
	bad "stalled stdin: time" "${dt} ms"
check "garbage answer: ERROR 106" \
	"ERROR|106|avwarden-client|malformed reply: unknown status: \"avw: MAYBE 0 x y\"" \
	"$(demo "unix:$T/garbage.sock" buffer "$T/clean.eml")"
check "two answers, 50 ms apart: ERROR 106, never the first one's CLEAN" \
	"ERROR|106|avwarden-client|malformed reply: more than one line: \"avw: CLEAN 0 x -?avw: INFECTED 0 x y\"" \
	"$(demo "unix:$T/twolines.sock" buffer "$T/clean.eml")"
check "hangs up without an answer: ERROR 103" \
	"ERROR|103|avwarden-client|unix:$T/hangup.sock closed the connection without an answer" \
	"$(demo "unix:$T/hangup.sock" buffer "$T/clean.eml")"
out=$($SCAN -a "unix:$T/silent.sock" -t 0.5 "$T/clean.eml")
check "CLI: -t 0.5 against a silent server, exit 2" \
	"$T/clean.eml: ERROR no answer from unix:$T/silent.sock within 500 ms (avwarden-client, code 101)/2" "$out/$?"
for p in $FAKES; do kill "$p" 2>/dev/null; done
FAKES=""

###########################################################################
echo "# Debian's clamd: plain INSTREAM, clamd's replies, wire form un-stuffed here"
if ! command -v clamd > /dev/null 2>&1; then
	bad "clamd installed" "apt-get install clamav-daemon (make deps)"
else
	start_clamd "$DB" "MaxFiles 1" "AlertExceedsMax yes" "StreamMaxLength 64K"
	CS=unix:$T/clamd/clamd.sock
	printf 'hello\n' > "$T/hello.txt"  # a mail would be over MaxFiles 1
	check "clamd: CLEAN" "CLEAN|0|ClamAV|" "$(demo "$CS" buffer "$T/hello.txt")"
	check "clamd: INFECTED (a pipe: the protocol is known before reading it)" \
		"INFECTED|0|ClamAV|$EICAR_NAME" "$(demo "$CS" pipe "$T/eicar.com")"
	check "clamd: UNSCANNABLE" "UNSCANNABLE|0|ClamAV|Heuristics.Limits.Exceeded.MaxFiles" \
		"$(demo "$CS" path "$TESTFILES/clam.zip")"
	check "clamd: size limit, ERROR 105" "ERROR|105|ClamAV|INSTREAM size limit exceeded" \
		"$(demo "$CS" buffer "$T/100k")"
	check "clamd, wire: a signature behind a stuffed dot" "INFECTED|0|ClamAV|Avwarden.Test.WireDot.UNOFFICIAL" \
		"$(demo "$CS" pipe "$T/dot.wire" wire)"
	check "clamd, wire: end-of-data line removed" "INFECTED|0|ClamAV|Avwarden.Test.WireEnd.UNOFFICIAL" \
		"$(demo "$CS" fd "$T/end.wire" wire)"
	check "clamd, not wire: as they are" "CLEAN|0|ClamAV|" "$(demo "$CS" buffer "$T/dot.wire")"
	out=$($SCAN -a "$CS" "$T/eicar.com")
	check "clamd: CLI" "$T/eicar.com: INFECTED $EICAR_NAME (ClamAV, code 0)/1" "$out/$?"
	kill "$CLAMD_PID"
	wait "$CLAMD_PID" 2>/dev/null
fi

check "no sanitizer or other report from client-demo" "" \
	"$(grep -E 'Sanitizer|runtime error|MISMATCH' "$T/demo.err" 2>/dev/null | head -5)"

###########################################################################
echo "# make install: library, header, pkg-config file, CLI; a program built with pkg-config"
# Not in the sanitizer tree: make would relink it with the default compiler.
if nm "$SCAN" 2>/dev/null | grep -q __asan_init; then
	ok "install checks: done by the non-sanitizer run"
else
	case "$B" in
	"$ROOT"/*) BUILD=${B#"$ROOT"/} ;;
	*) BUILD=$B ;;
	esac
	I=$T/destdir
	if (cd "$ROOT" && make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$I" PREFIX=/usr/local) \
		> "$T/install.out" 2>&1; then
		ok "make install DESTDIR=..."
	else
		bad "make install" "$(cat "$T/install.out")"
	fi
	L=$I/usr/local/lib
	for f in lib/libavwarden.a:644 lib/libavwarden.so.0.1.0:644 include/avwarden.h:644 \
		lib/pkgconfig/avwarden.pc:644 bin/avwarden-scan:755; do
		check "installed ${f%:*}, mode ${f#*:}" "${f#*:}" "$(stat -c %a "$I/usr/local/${f%:*}" 2>&1)"
	done
	check "installed symlinks" "libavwarden.so.0.1.0 libavwarden.so.0" \
		"$(readlink "$L/libavwarden.so.0") $(readlink "$L/libavwarden.so")"
	check "avwarden.pc: version" "0.1.0" "$(PKG_CONFIG_LIBDIR=$L/pkgconfig pkg-config --modversion avwarden)"
	flags=$(PKG_CONFIG_SYSROOT_DIR=$I PKG_CONFIG_LIBDIR=$L/pkgconfig pkg-config --cflags --libs avwarden |
		sed 's/ *$//')
	check "avwarden.pc: flags" "-I$I/usr/local/include -L$L -lavwarden" "$flags"
	check "avwarden.pc: no staging directory inside" "" "$(grep -F "$I" "$L/pkgconfig/avwarden.pc" || true)"
	cat > "$T/mta.c" <<'C'
#include <avwarden.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	struct avw_result r;
	struct avw_client *c = avw_client_new(argv[1], 5000);
	enum avw_status st;
	if (argc < 3 || c == NULL)
		return 2;
	st = avw_scan_buffer(c, argv[2], strlen(argv[2]), &r);
	printf("%s %d %s %s\n", avw_status_name(st), r.code, r.engine, r.info);
	avw_client_free(c);
	return 0;
}
C
	# shellcheck disable=SC2086 # pkg-config's flags are words
	if cc -std=c99 -Wall -Wextra -Werror -pedantic -o "$T/mta" "$T/mta.c" $flags 2> "$T/cc.out"; then
		ok "a C99 -pedantic program builds with pkg-config's flags"
		check "  and runs on the installed shared library" \
			"ERROR 103 avwarden-client cannot connect to unix:$T/none.sock: No such file or directory" \
			"$(LD_LIBRARY_PATH=$L "$T/mta" "unix:$T/none.sock" hello)"
		like "  linked by its soname" "*libavwarden.so.0 => $L/libavwarden.so.0*" "$(LD_LIBRARY_PATH=$L ldd "$T/mta")"
	else
		bad "build with pkg-config's flags" "$(cat "$T/cc.out")"
	fi
	if cc -o "$T/mta-static" "$T/mta.c" -I"$I/usr/local/include" "$L/libavwarden.a" 2> "$T/cc.out"; then
		check "the static library links alone (no other library needed)" \
			"ERROR 103 avwarden-client cannot connect to unix:$T/none.sock: No such file or directory" \
			"$("$T/mta-static" "unix:$T/none.sock" hello)"
	else
		bad "static link" "$(cat "$T/cc.out")"
	fi
	if (cd "$ROOT" && make --no-print-directory -s uninstall BUILD="$BUILD" DESTDIR="$I" PREFIX=/usr/local) \
		> "$T/install.out" 2>&1; then
		left=""
		for f in lib/libavwarden.a lib/libavwarden.so.0.1.0 lib/libavwarden.so.0 lib/libavwarden.so \
			include/avwarden.h lib/pkgconfig/avwarden.pc bin/avwarden-scan; do
			if [ -e "$I/usr/local/$f" ] || [ -L "$I/usr/local/$f" ]; then left="$left $f"; fi
		done
		check "make uninstall removes them" "" "$left"
	else
		bad "make uninstall" "$(cat "$T/install.out")"
	fi
fi

finish
