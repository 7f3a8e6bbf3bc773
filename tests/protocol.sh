#!/bin/sh
# tests/protocol.sh: the whole clamd protocol, side by side with Debian's
# clamd on the same database: every command's reply must be the same bytes
# (where a figure is avwarden's own, the layout is compared). Then what
# clamd has no counterpart for: path scans with the client's credentials,
# FILDES with a memfd and a pipe, IDSESSION with pipelined commands,
# malformed and truncated commands, listener options (allow=, IPv6, mode=,
# owner=, wire) and clamdscan's four modes against clamscan.
# usage: tests/protocol.sh BUILD_DIR   (root: clamd, setpriv)
set -u
SUITE=protocol
. "$(dirname "$0")/lib.sh"

q() { printf "$2" | $CLIENT "$1" raw | vis; }

# A database both daemons load: ours, plus a signature that spans a
# line-start dot, to tell SMTP wire form from the message.
DB=$T/db
mkdir -p "$DB"
cp "$B/db/"* "$DB/"
printf 'Avwarden.Test.Dot:0:*:%s\n' "$(printf '\n.AVW-DOT-SIGNATURE' | od -An -v -tx1 | tr -d ' \n')" > "$DB/dot.ndb"
# Two signatures that match one file, for ALLMATCHSCAN.
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
printf 'Avwarden.Test.One:0:*:%s\nAvwarden.Test.Two:0:*:%s\n' "$(hexof AVW-ALLMATCH-ONE)" "$(hexof AVW-ALLMATCH-TWO)" > "$DB/two.ndb"
mkdir -p "$T/allmatch"
printf 'first AVW-ALLMATCH-ONE then AVW-ALLMATCH-TWO\n' > "$T/allmatch/two.txt"
chmod -R a+rX "$T/allmatch"
# 3 MiB, past StreamMaxLength (2M on both): clamd limits INSTREAM only.
{ cat "$T/eicar.com"; head -c 3145728 /dev/zero; } > "$T/big3m.com"
chmod 644 "$T/big3m.com"
chmod 755 "$DB"
chmod 644 "$DB/"*

# Samples: a tree with two viruses, a clean tree, a FIFO, a private file.
S=$T/s
mkdir -p "$S/tree/sub" "$S/clean/deeper" "$S/private"
cp "$T/eicar.com" "$S/tree/e2.com"
cp "$T/eicar.com" "$S/tree/sub/e.com"
echo hello > "$S/tree/a.txt"
echo a > "$S/clean/x"
echo b > "$S/clean/deeper/y"
mkfifo "$S/fifo"
cp "$T/eicar.com" "$S/private/secret.com"
chmod -R a+rX "$S"
chmod 600 "$S/private/secret.com"
chmod 700 "$S/private"

###########################################################################
echo "# Debian's clamd, same database"
# The same INSTREAM limit on both: 2 MiB (clamd's StreamMaxLength).
start_clamd "$DB" "StreamMaxLength 2M" || exit 1
RC=$T/clamd
REF=unix:$RC/clamd.sock

# An address of this host that is not loopback, for a TCP client that is
# not on the loopback: the first global one, else one on a dummy interface.
GLOBAL=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
if [ -z "$GLOBAL" ]; then
	ip link add avwtest0 type dummy && ip addr add 192.0.2.77/32 dev avwtest0 && ip link set avwtest0 up &&
		GLOBAL=192.0.2.77 && trap 'kill -9 $CLAMD_PID 2>/dev/null; ip link del avwtest0; cleanup' EXIT
fi
[ -n "$GLOBAL" ] || { bad "a non-loopback address on this host" "none, and no dummy interface could be added (needs root, iproute2)"; finish; exit 1; }

write_conf proto "$B/avwarden-scanner" "database = \"$DB\"" 'cache_size = 0' 'max_message_size = "2M"' \
	"listen = { \"unix:$T/proto/clamd.sock\", \"tcp:127.0.0.1:37311\", \"tcp:[::1]:37312\",
	  \"tcp:127.0.0.1:37313 allow=10.0.0.0/8\", \"unix:$T/proto/wire.sock wire\",
	  \"unix:$T/proto/mta.sock mode=0660 owner=nobody group=nogroup\", \"tcp:$GLOBAL:37315\" }"
start proto || exit 1
D=$T/proto

# same NAME REQUEST: the two daemons answer with the same bytes.
same() {
	a=$(q "$REF" "$2")
	b=$(q "$SOCK" "$2")
	if [ "$a" = "$b" ]; then ok "$1: $b"; else bad "$1" "clamd [$a] avwarden [$b]"; fi
}
# same_sorted: the same lines in any order (MULTISCAN scans in parallel).
same_sorted() {
	a=$(q "$REF" "$2" | tr '|' '\n' | sort)
	b=$(q "$SOCK" "$2" | tr '|' '\n' | sort)
	if [ "$a" = "$b" ]; then ok "$1 (any order)"; else bad "$1" "clamd [$a] avwarden [$b]"; fi
}

same "zPING" 'zPING\0'
same "nPING" 'nPING\n'
same "legacy PING" 'PING\n'
same "zVERSION" 'zVERSION\0'
same "nVERSION" 'nVERSION\n'
same "unknown command" 'zFROBNICATE\0'
same "SCAN without a path" 'nSCAN\n'
same "zINSTREAM, EICAR" "zINSTREAM\0\0\0\0\104$(cat "$T/eicar.com" | sed 's/%/%%/g; s/\\/\\\\/g')\0\0\0\0"
same "nINSTREAM, empty" 'nINSTREAM\n\0\0\0\0'
same "SCAN, one clean file" "nSCAN $S/tree/a.txt\n"
same "SCAN, one infected file (z)" "zSCAN $S/tree/e2.com\0"
same "SCAN, a directory stops at the first virus" "nSCAN $S/tree\n"
same_sorted "CONTSCAN, every virus" "nCONTSCAN $S/tree\n"
same_sorted "MULTISCAN, every virus" "nMULTISCAN $S/tree\n"
same "ALLMATCHSCAN of a file" "zALLMATCHSCAN $S/tree/e2.com\0"
same "ALLMATCHSCAN: every signature that matches, one line each" "zALLMATCHSCAN $T/allmatch/two.txt\0"
same "ALLMATCHSCAN (n): every signature that matches" "nALLMATCHSCAN $T/allmatch/two.txt\n"
same "SCAN of the same file: the first match only" "zSCAN $T/allmatch/two.txt\0"
same "SCAN, a clean tree" "nSCAN $S/clean\n"
same "SCAN of a file past StreamMaxLength: scanned, as clamd does" "zSCAN $T/big3m.com\0"
same "CONTSCAN, a clean tree (z)" "zCONTSCAN $S/clean\0"

# held SOCKET BYTES: sent with no terminator, the connection kept open (as
# python-clamd and other client libraries do); the reply within 3 s.
held() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(3)
s.sendall(sys.argv[2].encode().replace(b"\\0", b"\0"))
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
except socket.timeout:
    out += b"<no reply within 3 s>"
print(out.decode(errors="replace").replace("\n", "|").replace("\0", "|"))
PY
}
for cmd in "PING" "VERSION" "PIN" "FOO" "IDSESSION" "SCAN $S/tree/e2.com" "SCAN $S/tree/a.txt" 'PING\0VERSION'; do
	a=$(held "$RC/clamd.sock" "$cmd")
	b=$(held "$D/clamd.sock" "$cmd")
	[ "$a" = "$b" ] && ok "unterminated legacy '$cmd', connection held open: $b" ||
		bad "unterminated legacy '$cmd'" "clamd [$a] avwarden [$b]"
done
same "SCAN, no such file" "nSCAN $S/none\n"
same "SCAN, a relative path" 'nSCAN relative/path\n'
same "SCAN, a path with a leading space" "nSCAN  $S/tree/a.txt\n"
same "legacy SCAN" "SCAN $S/tree/a.txt\n"
same "IDSESSION: PING, VERSION, SCAN, END" "zIDSESSION\0zPING\0zVERSION\0zSCAN $S/tree/e2.com\0zEND\0"
same "IDSESSION: a command clamd refuses inside" 'zIDSESSION\0zSHUTDOWNX\0'
# clamd leaves this unanswered; avwarden says why.
check "IDSESSION: legacy command inside" "1: Command invalid inside IDSESSION. ERROR" "$(q $SOCK 'zIDSESSION\0PING\n')"

a=$(q "$REF" 'zVERSIONCOMMANDS\0')
b=$(q "$SOCK" 'zVERSIONCOMMANDS\0')
[ "${a%%| COMMANDS:*}" = "${b%%| COMMANDS:*}" ] && ok "VERSIONCOMMANDS: same version part" ||
	bad "VERSIONCOMMANDS version" "clamd [$a] avwarden [$b]"
missing=""
for cmd in ${b#*| COMMANDS: }; do
	cmd=${cmd%|}
	[ "$cmd" = AVWINSTREAM ] && continue
	case " ${a#*| COMMANDS: } " in *" $cmd "* | *" $cmd|"*) ;; *) missing="$missing $cmd" ;; esac
done
[ -z "$missing" ] && ok "VERSIONCOMMANDS: every command listed is one clamd has" ||
	bad "VERSIONCOMMANDS lists unknown commands" "$missing"
shape() { sed 's/[0-9][0-9.]*/N/g; s/\tIDLE N ~//g'; }
a=$(q "$REF" 'zSTATS\0' | tr '\n' '~' | shape)
b=$(q "$SOCK" 'zSTATS\0' | tr '\n' '~' | shape)
# clamd lists its threads' pools_used in MB; avwarden has no such pool.
a=$(echo "$a" | sed 's/pools_used NM pools_total NM/pools_used N\/A pools_total N\/A/')
check "STATS: clamd's layout" "$a" "$b"

###########################################################################
echo "# FILDES"
fildes() {  # SOCKET KIND [FILE]: passes a descriptor of KIND (file, memfd, pipe)
	python3 - "$@" <<'PY'
import array, os, socket, sys
path, kind = sys.argv[1], sys.argv[2]
if kind == "file":
    fd = os.open(sys.argv[3], os.O_RDONLY)
elif kind == "memfd":
    fd = os.memfd_create("sample")
    os.write(fd, open(sys.argv[3], "rb").read())
else:
    fd, w = os.pipe()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(b"zFILDES\0")
s.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
# The number is the daemon's own descriptor: not comparable.
import re
print(re.sub(rb"^fd\[\d+\]", b"fd[N]", out).decode().replace("\0", "|"))
PY
}
for kind in "file $S/tree/a.txt" "file $S/tree/e2.com" "memfd $T/eicar.com" "pipe" "file $T/big3m.com"; do
	a=$(fildes "$RC/clamd.sock" $kind)
	b=$(fildes "$D/clamd.sock" $kind)
	[ -n "$b" ] && [ "$a" = "$b" ] && ok "FILDES ${kind%% *}: $b" || bad "FILDES $kind" "clamd [$a] avwarden [$b]"
done
check "FILDES over TCP" "FILDES needs a unix socket ERROR|" "$(q tcp:127.0.0.1:37311 'zFILDES\0')"

# fdsteps SOCKET STEP...: each STEP one sendmsg, "BYTES" or "BYTES+E,C" with
# descriptors of the EICAR (E) and a clean (C) file attached; the reply, with
# the daemon's own descriptor numbers masked. 3 s without EOF shows as such.
fdsteps() {
	python3 - "$T/eicar.com" "$S/tree/a.txt" "$@" <<'PY'
import array, os, re, socket, sys, time
E, C = os.open(sys.argv[1], os.O_RDONLY), os.open(sys.argv[2], os.O_RDONLY)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[3])
s.settimeout(3)
out = b""
try:
    for step in sys.argv[4:]:
        data, _, fds = step.partition("+")
        data = data.encode().decode("unicode_escape").encode("latin1")
        fl = [{"E": E, "C": C}[x] for x in fds.split(",") if x]
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fl))] if fl else []
        s.sendmsg([data], anc)
        time.sleep(0.02)  # one message per read: clamd's framing needs it, not a sync
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
except socket.timeout:
    out += b"<no EOF within 3 s>"
except (BrokenPipeError, ConnectionResetError) as e:
    out += b"<" + type(e).__name__.encode() + b">"
print(re.sub(rb"fd\[\d+\]", b"fd[N]", out).decode(errors="replace").replace("\0", "|").replace("\n", "~"))
PY
}
same_fd() {
	a=$(fdsteps "$RC/clamd.sock" "$@")
	b=$(fdsteps "$D/clamd.sock" "$@")
	n=$(printf "%s " "$@" | sed "s/\\\\/\//g")
	[ -n "$b" ] && [ "$a" = "$b" ] && ok "FILDES $n: $b" || bad "FILDES $n" "clamd [$a] avwarden [$b]"
}
same_fd 'zFILDES\0' 'x+E,C'            # two descriptors count as none
same_fd 'zFILDES\0' 'x'                # a byte without one: answered at once
same_fd 'zFILDES\0' 'x+C'
same_fd 'nFILDES\n' 'x+E'
same_fd 'FILDES\n' 'x+E'               # legacy, with its newline
same_fd 'FILDES' 'x+E'                 # legacy without: "FILDESx"
same_fd 'zIDSESSION\0zFILDES\0' 'x+E' 'zFILDES\0' 'x+C' 'zEND\0'
same_fd 'zIDSESSION\0zFILDES\0' 'x+E' 'zPING\0' 'zEND\0'
same_fd 'zIDSESSION\0zFILDES\0' 'x+E,C'
same_fd 'zIDSESSION\0zFILDES\0' 'zPING\0'  # the z of PING is the byte, with no descriptor
# The command, its byte and the descriptor in one read (as clamdscan
# --multiscan --fdpass often lands): the byte is the descriptor's, never the
# start of the next command.
same_fd 'zIDSESSION\0zFILDES\0x+E' 'zPING\0' 'zEND\0'
same_fd 'zIDSESSION\0zFILDES\0x+E' 'zFILDES\0x+C' 'zEND\0'

###########################################################################
echo "# INSTREAM past the size limit"
# past SOCKET FRAMING: 4 MiB in 64 KiB chunks as fast as the socket takes
# them. clamd answers at the header that passes its limit and closes at
# once, without reading on: the client's sending fails (a client that only
# reads the reply after sending sees a broken connection, never a reply it
# could take for clean).
past() {
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
s.sendall(b"zINSTREAM\0" if sys.argv[2] == "z" else b"nINSTREAM\n")
sent, chunk, how = 0, b"\0" * 65536, "sent all 4 MiB"
try:
    while sent < 4 << 20:
        s.sendall(struct.pack(">I", len(chunk)) + chunk)
        sent += len(chunk)
    s.sendall(b"\0\0\0\0")
except (BrokenPipeError, ConnectionResetError):
    how = "sending broken before the end"
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
except ConnectionResetError:
    pass
print(how, out.replace(b"\0", b"|").replace(b"\n", b"~").decode())
PY
}
for f in z n; do
	a=$(past "$RC/clamd.sock" $f)
	b=$(past "$D/clamd.sock" $f)
	[ "$a" = "$b" ] && ok "INSTREAM ($f) past the limit: $b" || bad "INSTREAM ($f) past the limit" "clamd [$a] avwarden [$b]"
done
same "IDSESSION: INSTREAM past the limit, tagged, then the session closes" \
	'zIDSESSION\0zINSTREAM\0\0\040\0\001zPING\0'
same "INSTREAM of exactly the limit" "zINSTREAM\0\0\040\0\0$(head -c 2097152 /dev/zero | tr '\0' 'a')\0\0\0\0"

###########################################################################
echo "# sessions, malformed and truncated commands"
r=$( { printf 'zIDSESSION\0zINSTREAM\0\0\0\0\104'; cat "$T/eicar.com";
	printf "\0\0\0\0zPING\0nSCAN $S/clean/x\nzVERSION\0zEND\0"; } | $CLIENT $SOCK raw | vis)
check "IDSESSION: INSTREAM, PING, SCAN, VERSION pipelined in one write" \
	"1: stream: Eicar-Test-Signature.UNOFFICIAL FOUND|2: PONG|3: $S/clean/x: OK
4: ClamAV $(q $SOCK 'nVERSION\n' | sed 's/^ClamAV //')|" "$r"
check "truncated command: no reply" "" "$(printf 'zSCAN /etc/pass' | $CLIENT $SOCK raw | vis)"
check "truncated INSTREAM: no reply" "" "$(printf 'zINSTREAM\0\0\0\1\0abc' | $CLIENT $SOCK raw | vis)"
check "NUL inside a newline command" "UNKNOWN COMMAND" "$(printf 'nSCAN /tmp\0x\n' | $CLIENT $SOCK raw | vis)"
check "lowercase command" "UNKNOWN COMMAND|" "$(q $SOCK 'zping\0')"
check "AVWINSTREAM with a bad argument" "UNKNOWN COMMAND|" "$(q $SOCK 'zAVWINSTREAM FOO\0')"
check "still serving" "PONG|" "$(q $SOCK 'zPING\0')"
fds() { ls /proc/$DAEMON_PID/fd | wc -l; }
wait_for "pool settled" pool_settled "$D" || bad "pool settled"
fd0=$(fds)
head -c 300000 /dev/urandom > "$T/partial"
i=0
while [ $i -lt 100 ]; do
	# 300 KB announced as 1 MB, then the client goes away mid-stream.
	{ printf 'zINSTREAM\0\0\020\0\0'; cat "$T/partial"; } | $CLIENT $SOCK raw >/dev/null 2>&1
	printf "zIDSESSION\0zPING\0zINSTREAM\0\0\0\1\0" | $CLIENT $SOCK raw >/dev/null 2>&1
	i=$((i + 1))
done
fds_back() { pool_settled "$D" && [ "$(fds)" -le "$fd0" ]; }
wait_for "connections closed" fds_back &&
	ok "200 clients gone mid-stream or mid-session: descriptors back to $fd0" || bad "descriptors after disconnects" "$fd0 -> $(fds)"
check "and it still serves" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"

###########################################################################
echo "# path scans run with the client's credentials"
check "root reads the private file" "$S/private/secret.com: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$(q $SOCK "zSCAN $S/private/secret.com\0")"
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
r=$(printf "zSCAN $S/private/secret.com\0" | asnobody $CLIENT $SOCK raw | vis)
check "nobody cannot have it scanned" "$S/private/secret.com: File path check failure: Permission denied. ERROR|" "$r"
r=$(printf "zCONTSCAN $S\0" | asnobody $CLIENT $SOCK raw | vis | tr '|' '\n' | sort | tr '\n' '|')
check "nobody's CONTSCAN skips what it cannot read" \
	"$S/private: File path check failure: Permission denied. ERROR|$S/tree/e2.com: Eicar-Test-Signature.UNOFFICIAL FOUND|$S/tree/sub/e.com: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$r"
check "nobody scans a file it can read" "$S/tree/a.txt: OK|" \
	"$(printf "zSCAN $S/tree/a.txt\0" | asnobody $CLIENT $SOCK raw | vis)"
ln -s "$S/private/secret.com" "$S/tree/link.com"
r=$(q $SOCK "zCONTSCAN $S/tree\0" | tr '|' '\n' | grep -c link.com)
check "links inside a tree are not followed" 0 "$r"
rm "$S/tree/link.com"
check "a FIFO is refused, not waited on" "$S/fifo: Not supported file type ERROR|" "$(q $SOCK "zSCAN $S/fifo\0")"
# Over loopback TCP the kernel names the client socket's owner (sock_diag):
# path scans run as that user, as on a unix socket (Exim's `:local`).
check "loopback TCP, root: the private file is scanned" "$S/private/secret.com: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$(q tcp:127.0.0.1:37311 "zSCAN $S/private/secret.com\0")"
check "loopback TCP, nobody: the private file is refused" \
	"$S/private/secret.com: File path check failure: Permission denied. ERROR|" \
	"$(printf "zSCAN $S/private/secret.com\0" | asnobody $CLIENT tcp:127.0.0.1:37311 raw | vis)"
check "loopback TCP, nobody: a file it can read is scanned" "$S/tree/e2.com: Eicar-Test-Signature.UNOFFICIAL FOUND|" \
	"$(printf "zSCAN $S/tree/e2.com\0" | asnobody $CLIENT tcp:127.0.0.1:37311 raw | vis)"
check "IPv6 loopback, nobody: the private file is refused" \
	"$S/private/secret.com: File path check failure: Permission denied. ERROR|" \
	"$(printf "zSCAN $S/private/secret.com\0" | asnobody $CLIENT 'tcp:[::1]:37312' raw | vis)"
# From any other address the owner means nothing here: refused.
check "TCP from a non-loopback address: path scans refused" \
	"$S/tree/a.txt: Path scans over TCP are for clients on this host's loopback whose socket owner the kernel reports; use INSTREAM ERROR|" \
	"$(q "tcp:$GLOBAL:37315" "zSCAN $S/tree/a.txt\0")"

###########################################################################
echo "# listeners: IPv6, allow=, mode= owner=, wire"
if [ -e /proc/net/if_inet6 ]; then
	check "IPv6 listener" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT 'tcp:[::1]:37312' instream "$T/eicar.com" | vis)"
else
	bad "IPv6 listener" "this kernel has no IPv6 (/proc/net/if_inet6 missing); the test needs it"
fi
check "a client outside allow= gets no reply" "" "$(q tcp:127.0.0.1:37313 'zPING\0')"
grep -q 'warn client_refused listen=tcp:127.0.0.1:37313 allow=10.0.0.0/8 client=127.0.0.1' "$D/scanner.log" &&
	ok "and is logged" || bad "refusal logged"
check "mode= owner= group=" "660 nobody nogroup" "$(stat -c '%a %U %G' "$D/mta.sock")"
check "the 0666 default" 666 "$(stat -c '%a' "$D/clamd.sock")"
# An SMTP client stuffs "." to ".." at line starts; the signature needs one dot.
printf 'Subject: dots\r\n\r\nline\r\n..AVW-DOT-SIGNATURE\r\n.\r\n' > "$T/wire.eml"
check "wire form, plain INSTREAM: the stuffed dot hides it" "stream: OK|" "$($CLIENT $SOCK instream "$T/wire.eml" | vis)"
check "wire listener un-stuffs" "stream: Avwarden.Test.Dot.UNOFFICIAL FOUND|" \
	"$($CLIENT "unix:$D/wire.sock" instream "$T/wire.eml" | vis)"
size=$(stat -c %s "$T/wire.eml")
r=$( { printf 'zAVWINSTREAM WIRE\0'; printf "$(printf '\\%03o\\%03o\\%03o\\%03o' 0 0 0 "$size")"; cat "$T/wire.eml"; printf '\0\0\0\0'; } |
	$CLIENT $SOCK raw | vis)
check "AVWINSTREAM WIRE un-stuffs, per request" "avw: INFECTED 0 ClamAV/$(q $SOCK 'nVERSION\n' | sed 's/^ClamAV //') Avwarden.Test.Dot.UNOFFICIAL|" "$r"

###########################################################################
echo "# clamdscan's four modes against clamscan"
cp -r /usr/share/clamav-testfiles "$T/corpus"
cp "$T/eicar.com" "$T/clean.eml" "$T/corpus/"
chmod -R a+rX "$T/corpus"
printf 'LocalSocket %s\n' "$D/clamd.sock" > "$T/clamdscan.conf"
want=$(clamscan -d "$DB" --infected --no-summary -r "$T/corpus" | sort)
clamscan -d "$DB" --infected --no-summary -r "$T/corpus" >/dev/null
want_rc=$?
n=$(echo "$want" | grep -c FOUND)
for mode in "" --stream --fdpass --multiscan "--multiscan --fdpass"; do
	got=$(clamdscan --config-file="$T/clamdscan.conf" $mode --infected --no-summary "$T/corpus" | sort)
	clamdscan --config-file="$T/clamdscan.conf" $mode --infected --no-summary "$T/corpus" >/dev/null
	rc=$?
	[ "$got" = "$want" ] && [ "$rc" = "$want_rc" ] && ok "clamdscan ${mode:-(plain)}: same $n findings and exit $rc as clamscan" ||
		{ echo "$want" > "$T/want"; echo "$got" > "$T/got"; bad "clamdscan ${mode:-(plain)}" "$(diff "$T/want" "$T/got" | head -5) rc=$rc want=$want_rc"; }
done

before=$(wc -l < "$D/scanner.log")
q $SOCK "zMULTISCAN $T/corpus\0" > /dev/null
w=$(tail -n +$((before + 1)) "$D/scanner.log" | grep ' info scan id=' | sed 's/.* worker=\([0-9]*\).*/\1/' | sort -u | wc -l)
[ "$w" -ge 2 ] && ok "MULTISCAN spreads one directory over $w workers" || bad "MULTISCAN in parallel" "workers used: $w"

stop || bad "stopped cleanly"

###########################################################################
echo "# limits across clients: max_connections, max_message_memory"
write_conf limits "$B/avwarden-scanner" 'max_connections = 3' 'max_message_size = "1M"' \
	'max_message_memory = "1M"' 'cache_size = 0'
start limits || exit 1
D=$T/limits
r=$(python3 - "$D/clamd.sock" <<'PY'
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
def reply(s):
    s.settimeout(10)
    out = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<timeout>"
    except ConnectionResetError:
        pass
    return out.replace(b"\0", b"|").decode()
held = [conn() for _ in range(3)]
for s in held:
    s.sendall(b"zPI")          # an unfinished command holds the connection
# The three are accepted once a fourth is refused: try until one is.
for _ in range(200):
    extra = conn()
    try:
        extra.sendall(b"zPING\0")
    except (BrokenPipeError, ConnectionResetError):
        pass
    first = reply(extra)
    if first != "PONG|":
        break
    time.sleep(0.01)
try:
    extra.sendall(b"zPING\0")
except (BrokenPipeError, ConnectionResetError):
    pass
print("4th:", first or "<closed>")
for s in held:
    s.close()
extra.close()
# Until the daemon has seen them go, new connections are still refused.
for _ in range(200):
    p = conn()
    try:
        p.sendall(b"zPING\0")
    except (BrokenPipeError, ConnectionResetError):
        pass
    if reply(p) == "PONG|":
        break
    time.sleep(0.01)
# One client holds 900 KB of a 1 MB budget; a second one needs more.
a = conn()
# sendall() returns only once the daemon has read all but a socket
# buffer's worth (~200 KB) of it: by then A holds at least 512 KB.
a.sendall(b"zINSTREAM\0" + (950000).to_bytes(4, "big") + b"x" * 900000)
b = conn()
b.sendall(b"zINSTREAM\0" + (900000).to_bytes(4, "big") + b"y" * 900000 + bytes(4))
print("second:", reply(b))
a.sendall(b"x" * 50000 + bytes(4))
print("first:", reply(a))
c = conn()
c.sendall(b"zINSTREAM\0" + (900000).to_bytes(4, "big") + b"z" * 900000 + bytes(4))
print("after:", reply(c))
PY
)
echo "$r" | sed 's/^/     /'
check "max_connections: the 4th connection is closed unanswered" "4th: <closed>" "$(echo "$r" | grep '^4th')"
grep -q 'warn connection_limit .*max_connections=3' "$D/scanner.log" && ok "connection_limit logged" || bad "connection_limit logged"
check "max_message_memory: a message that does not fit gets an ERROR" "second: stream: Can't allocate memory ERROR|" "$(echo "$r" | grep '^second')"
check "the message holding the memory is scanned" "first: stream: OK|" "$(echo "$r" | grep '^first')"
check "memory given back: the next one fits" "after: stream: OK|" "$(echo "$r" | grep '^after')"
grep -q 'warn message_memory .*max_message_memory=1048576' "$D/scanner.log" && ok "message_memory logged with the knob" ||
	bad "message_memory logged"
stop || bad "stopped cleanly"
finish
