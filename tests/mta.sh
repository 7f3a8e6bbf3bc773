#!/bin/sh
# tests/mta.sh: avwarden behind a real MTA. Two private Exim daemons (Debian's
# exim4-daemon-heavy; config, spool, logs and mailbox in the test's temp dir,
# SMTP on 127.0.0.1 only, nothing read from /etc/exim4) check every message
# in their DATA ACL with `deny malware = *`:
#   unix  av_scanner = clamd:<avwarden's unix socket>   Exim sends
#         "SCAN <its spool .eml>", a file of Debian-exim's, mode 0640, which
#         avwarden must open with Exim's credentials
#   tcp   av_scanner = clamd:127.0.0.1 <port>            Exim sends zINSTREAM
#   tcplocal  av_scanner = clamd:127.0.0.1 <port>:local  Exim sends "SCAN <spool
#         .eml>" over TCP; avwarden opens it as the uid the kernel reports
#         for Exim's loopback socket (sock_diag)
# swaks sends, to each: a clean mail (250, then found in the mailbox); EICAR as
# a base64 attachment and as the plain body (550 naming the virus, never
# accepted); with avwarden stopped, a clean mail (4xx, never accepted: no mail
# passes unscanned); and, with avwarden's max_message_size below the mail's
# size, a mail that gets an ERROR reply (4xx, never accepted); on errors=close
# listeners, a mail the worker crashes on gets no reply at all, the
# connection closed (4xx, never accepted). Exim runs with
# ACL debugging to a file, which shows what it asked avwarden and what it got
# back. Before Exim, SCAN is checked as Debian-exim directly: its own 0640
# file is scanned, a root-only file is refused.
# usage: tests/mta.sh BUILD_DIR   (root; scripts/deps.sh installs
# exim4-daemon-heavy and swaks). MTA_KEEP=DIR copies the temp dir there.
set -u
SUITE=mta
. "$(dirname "$0")/lib.sh"

EXIM=/usr/sbin/exim4
EXIM_USER=Debian-exim
VIRUS=Eicar-Test-Signature.UNOFFICIAL

missing=""
for tool in "$EXIM" /usr/bin/swaks /usr/bin/perl /usr/bin/setpriv; do
	[ -x "$tool" ] || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	bad "MTA test tools installed" "missing:$missing (scripts/deps.sh installs exim4-daemon-heavy and swaks)"
	finish
	exit 1
fi
# exim4-daemon-light has no content scanning: the malware condition needs heavy.
if ! "$EXIM" -bV 2>/dev/null | grep -q '^Malware:.* clamd'; then
	bad "exim has the clamd malware scanner" "$("$EXIM" -bV 2>&1 | head -1): install exim4-daemon-heavy"
	finish
	exit 1
fi
EXIM_UID=$(id -u "$EXIM_USER" 2>/dev/null)
EXIM_GID=$(id -g "$EXIM_USER" 2>/dev/null)
if [ -z "$EXIM_UID" ]; then
	bad "user $EXIM_USER exists" "exim4-base creates it"
	finish
	exit 1
fi

EXIM_PIDS=""
mta_cleanup() {
	for p in $EXIM_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $EXIM_PIDS; do wait "$p" 2>/dev/null; done
	[ -n "${MTA_KEEP:-}" ] && cp -a "$T" "$MTA_KEEP"
	cleanup
}
trap mta_cleanup EXIT INT TERM
[ -n "${MTA_KEEP:-}" ] && rm -rf "$MTA_KEEP"

# as_exim CMD...: runs CMD as Debian-exim, no supplementary groups (as Exim's
# receiving process does).
as_exim() { setpriv --reuid="$EXIM_UID" --regid="$EXIM_GID" --clear-groups "$@"; }

###########################################################################
# avwarden on the unix socket Debian's clamd uses by default, plus TCP.
# avw_conf [LINES...]: $T/mta/avwarden.conf with both listeners.
AVW_PORT=$(free_port)
D=$T/mta
avw_conf() {
	write_conf mta "$B/avwarden-scanner" "$@"
	sed -i "s|^listen = .*|listen = { \"unix:$D/clamd.sock\", \"tcp:127.0.0.1:$AVW_PORT\" }|" "$D/avwarden.conf"
}
avw_conf
start mta || exit 1

# exim_start NAME AV_SCANNER: writes $T/exim-NAME/exim.conf and runs that
# daemon in the foreground (in this script's background) on a free port; sets
# PORT_<NAME>.
exim_start() {
	name=$1 scanner=$2
	E=$T/exim-$name
	port=$(free_port)
	mkdir -p "$E/spool" "$E/log" "$E/mail"
	chown "$EXIM_USER:$EXIM_USER" "$E/spool" "$E/log" "$E/mail"
	chmod 750 "$E/spool" "$E/log" "$E/mail"
	# Owned by root, not group/world writable: Exim refuses it otherwise.
	cat > "$E/exim.conf" <<CONF
# avwarden tests/mta.sh: a private Exim; nothing here comes from /etc/exim4.
primary_hostname = mta-$name.avwarden.test
qualify_domain = avwarden.test
domainlist local_domains = avwarden.test
exim_user = $EXIM_USER
exim_group = $EXIM_USER
spool_directory = $E/spool
log_file_path = $E/log/%slog
pid_file_path = $E/exim.pid
daemon_smtp_ports = $port
local_interfaces = <; 127.0.0.1
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
# -C names a file outside Debian's TRUSTED_CONFIG_LIST (/etc/exim4/trusted_configs):
# root keeps privilege for the daemon, but the receiving process (already
# the Exim user) re-executes Exim for delivery and gets no root back. So
# deliveries run as the Exim user throughout, into a directory it owns.
deliver_drop_privilege = true
log_selector = +subject +received_recipients
av_scanner = $scanner
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
  accept  domains = +local_domains
  deny    message = relay not permitted

# No defer_ok: when the scanner cannot be reached the condition defers, and
# so does the ACL (451); the message is not accepted unscanned.
acl_data:
  deny    malware = *
          message = This message contains malware (\$malware_name)
  # The file Exim had scanned, still in place: its owner and mode.
  warn    logwrite = scanned file \${stat:\$spool_directory/scan/\$message_exim_id/\$message_exim_id.eml}
  accept

begin routers
local:
  driver = accept
  domains = +local_domains
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = $E/mail
  maildir_format
  create_directory
  user = $EXIM_USER
  group = $EXIM_USER
  mode = 0640

begin retry
*  *  F,1h,5m
CONF
	chmod 644 "$E/exim.conf"
	# -d-all+acl: the ACL debug lines name the clamd request and its reply.
	"$EXIM" -C "$E/exim.conf" -d-all+acl -bdf > "$E/debug" 2>&1 &
	EXIM_PIDS="$EXIM_PIDS $!"
	eval "PORT_$name=$port"
	if wait_for "exim ($name) listening on 127.0.0.1:$port" listening "$port"; then
		ok "exim ($name): private daemon on 127.0.0.1:$port, av_scanner = $scanner"
	else
		bad "exim ($name): private daemon on 127.0.0.1:$port" \
			"$(tail -5 "$E/debug"; cat "$E/log/paniclog" 2>/dev/null)"
		return 1
	fi
}

# mail_file NAME KIND: writes $T/NAME.eml with Subject NAME; KIND is clean,
# attach (EICAR as a base64 attachment) or plain (EICAR as the text body).
mail_file() {
	{
		printf 'From: alice@example.org\nTo: bob@avwarden.test\nSubject: %s\n' "$1"
		printf 'Message-ID: <%s@avwarden.test>\nMIME-Version: 1.0\n' "$1"
		case $2 in
		clean)
			printf 'Content-Type: text/plain\n\nSee you at noon.\n';;
		attach)
			printf 'Content-Type: multipart/mixed; boundary=AVW\n\n--AVW\n'
			printf 'Content-Type: text/plain\n\nThe file you asked for.\n--AVW\n'
			printf 'Content-Type: application/octet-stream; name=eicar.com\n'
			printf 'Content-Disposition: attachment; filename=eicar.com\n'
			printf 'Content-Transfer-Encoding: base64\n\n'
			base64 < "$T/eicar.com"
			printf -- '--AVW--\n';;
		plain)
			printf 'Content-Type: text/plain\n\n'
			cat "$T/eicar.com"
			printf '\n';;
		esac
	} > "$T/$1.eml"
}

# smtp NAME MAILNAME: one SMTP session with swaks against exim NAME, sending
# $T/MAILNAME.eml. Sets REPLY (the reply to the end of DATA) and SAID (Exim's
# debug lines about the malware scan during this session), and prints the
# times: end of DATA to reply (the scan is in there), and the whole session
# (swaks' start-up, and Exim waiting up to 200 ms for the client to close
# first after QUIT, are in there).
smtp() {
	eval "port=\$PORT_$1"
	dbg=$T/exim-$1/debug
	seen=$(wc -l < "$dbg")
	t0=$(now_ms)
	swaks --server 127.0.0.1 --port "$port" --helo client.avwarden.test \
		--from alice@example.org --to bob@avwarden.test --data "@$T/$2.eml" \
		--timeout 30 --show-time-lapse < /dev/null > "$T/$2.swaks" 2>&1
	rc=$?
	t1=$(now_ms)
	# swaks prints replies as "<-  250 ..." (expected) or "<** 550 ..."
	# (error); the first after the lone "." is the verdict on the message.
	REPLY=$(awk '/^ -> \.$/ { d = 1; next }
		d && /^<[-*~]/ { sub(/^<[-*~]+ */, ""); print; exit }' "$T/$2.swaks")
	lapse=$(awk '/^ -> \.$/ { d = 1; next } d && /^=== response in/ { print $4; exit }' "$T/$2.swaks")
	quit=$(awk '/^ -> QUIT$/ { d = 1; next } d && /^=== response in/ { print $4; exit }' "$T/$2.swaks")
	SAID=$(tail -n +"$((seen + 1))" "$dbg" | grep -E 'Malware (scan: issuing|response:)' |
		sed 's/^ *[0-9]* //')
	echo "     measured: $2: end of DATA to reply (scan included) ${lapse:-?};" \
		"whole SMTP session $((t1 - t0)) ms, of which QUIT to 221 ${quit:-?} (swaks exit $rc)"
}
# delivered NAME SUBJECT: the message is in exim NAME's mailbox.
delivered() { grep -rqs "^Subject: $2\$" "$T/exim-$1/mail"; }
# accepted NAME SUBJECT: exim NAME took the message (its "<=" log line, written
# before the 250).
accepted() { grep -qs "<= .* T=\"$2\"" "$T/exim-$1/log/mainlog"; }
never_accepted() {
	if accepted "$1" "$2" || delivered "$1" "$2"; then
		bad "$3" "$(grep -s "$2" "$T/exim-$1/log/mainlog")"
	else
		ok "$3"
	fi
}
# exim_said NAME DESCRIPTION REQUEST_RE RESPONSE_RE: the scan request and
# reply Exim logged in the last session.
exim_said() {
	if echo "$SAID" | grep -Eq "^Malware scan: issuing $3" &&
		echo "$SAID" | grep -Eq "^Malware response: $4\$"; then
		ok "$1: $2"
	else
		bad "$1: $2" "exim's debug: [$SAID]"
	fi
}
SPOOLFILE='/scan/[0-9A-Za-z-]+/[0-9A-Za-z-]+\.eml'

# run_scans NAME: clean delivered, EICAR in two forms rejected naming it.
run_scans() {
	n=$1
	if [ "$n" = unix ] || [ "$n" = tcplocal ]; then
		req='clamd local-path scan'
		path="$T/exim-$n/spool$SPOOLFILE: "
		scan_desc="exim asked for a path scan (SCAN) of its spool file; reply"
	else
		req='clamd new-style remote scan \(zINSTREAM\)'
		path='stream: '
		scan_desc="exim sent the message with zINSTREAM; reply stream:"
	fi
	mail_file "$n-clean" clean
	smtp "$n" "$n-clean"
	case $REPLY in
	250*) ok "$n: clean mail accepted ($REPLY)";;
	*) bad "$n: clean mail accepted" "reply [$REPLY]; $(tail -3 "$T/exim-$n/log/mainlog" 2>/dev/null)";;
	esac
	exim_said "$n" "$scan_desc OK" "$req" "${path}OK"
	id=$(echo "$REPLY" | sed -n 's/^250 OK id=//p')
	st=$(grep -s " ${id:-none} scanned file " "$T/exim-$n/log/mainlog" | grep -o 'mode=[0-7]* .* uid=[0-9]* gid=[0-9]*')
	case $st in
	"mode=0640 "*" uid=$EXIM_UID gid=$EXIM_GID") ok "$n: the spool file Exim scanned is $EXIM_USER's, mode 0640";;
	*) bad "$n: the spool file Exim scanned is $EXIM_USER's, mode 0640" "exim's stat: [$st]";;
	esac
	if wait_for "$n-clean in the mailbox" delivered "$n" "$n-clean"; then
		ok "$n: clean mail delivered to the mailbox"
	else
		bad "$n: clean mail delivered to the mailbox" "$(tail -5 "$T/exim-$n/log/mainlog")"
	fi
	for kind in attach plain; do
		mail_file "$n-eicar-$kind" "$kind"
		smtp "$n" "$n-eicar-$kind"
		case $REPLY in
		"550 This message contains malware ($VIRUS)") ok "$n: EICAR ($kind) rejected: $REPLY";;
		*) bad "$n: EICAR ($kind) rejected with 550 naming $VIRUS" \
			"reply [$REPLY]; $(tail -3 "$T/exim-$n/log/mainlog" 2>/dev/null)";;
		esac
		exim_said "$n" "$scan_desc $VIRUS FOUND" "$req" "$path$VIRUS FOUND"
		never_accepted "$n" "$n-eicar-$kind" "$n: EICAR ($kind) never accepted nor delivered"
	done
}

# run_down NAME: avwarden is stopped; the mail must be deferred, not accepted.
run_down() {
	n=$1
	mail_file "$n-down" clean
	smtp "$n" "$n-down"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: avwarden down: deferred ($REPLY)";;
	*) bad "$n: avwarden down: deferred with 4xx" "reply [$REPLY]";;
	esac
	never_accepted "$n" "$n-down" "$n: avwarden down: mail never accepted nor delivered"
	if grep -qs "malware acl condition: clamd .*\(unable\|failed\) to connect" "$T/exim-$n/log/mainlog"; then
		ok "$n: exim logged that the scanner could not be reached"
	else
		bad "$n: exim logged that the scanner could not be reached" "$(tail -3 "$T/exim-$n/log/mainlog" 2>/dev/null)"
	fi
}

# run_error NAME: avwarden runs with max_message_size = 20K; a 50 KB mail
# gets an ERROR reply (or, streamed over TCP, a connection closed at the
# limit), on which Exim must defer.
run_error() {
	n=$1
	sed -e "s/^To: .*/To: bob@avwarden.test/" -e "s/^Subject: .*/Subject: $n-toolarge/" "$T/big.eml" > "$T/$n-toolarge.eml"
	if [ "$n" = unix ]; then
		req='clamd local-path scan'
		path="$T/exim-$n/spool$SPOOLFILE: "
	else
		req='clamd new-style remote scan \(zINSTREAM\)'
		path=''
	fi
	smtp "$n" "$n-toolarge"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: 50 KB over max_message_size: deferred ($REPLY)";;
	*) bad "$n: 50 KB over max_message_size: deferred with 4xx" "reply [$REPLY]";;
	esac
	if [ "$n" = unix ]; then
		exim_said "$n" "exim's request got an ERROR reply" "$req" "$path.* ERROR"
	# Over TCP, as clamd does, avwarden closes the stream at the limit while
	# Exim is still sending: Exim gets the ERROR line or a broken connection.
	elif echo "$SAID" | grep -Eq "^Malware response: .*INSTREAM size limit exceeded. ERROR\$" ||
		tail -3 "$T/exim-$n/log/mainlog" | grep -Eq "malware acl condition: clamd .*: unable to (read from|send( file terminator)? to) socket"; then
		ok "$n: exim got the ERROR line or a broken connection"
	else
		bad "$n: exim got the ERROR line or a broken connection" "$SAID $(tail -2 "$T/exim-$n/log/mainlog")"
	fi
	never_accepted "$n" "$n-toolarge" "$n: 50 KB over max_message_size: never accepted nor delivered"
}

###########################################################################
echo "# SCAN with the MTA's credentials (what Exim's unix-socket requests rely on)"
mkdir -p "$T/spoolish"
chown "$EXIM_USER:$EXIM_USER" "$T/spoolish"
chmod 750 "$T/spoolish"
install -m 0640 -o "$EXIM_USER" -g "$EXIM_USER" "$T/eicar.com" "$T/spoolish/exim.eml"
install -m 0600 -o root -g root "$T/eicar.com" "$T/spoolish/root.eml"
check "SCAN as $EXIM_USER: its own 0640 file is scanned" \
	"$T/spoolish/exim.eml: $VIRUS FOUND" \
	"$(printf 'SCAN %s\n' "$T/spoolish/exim.eml" | as_exim "$CLIENT" "$SOCK" raw)"
got=$(printf 'SCAN %s\n' "$T/spoolish/root.eml" | as_exim "$CLIENT" "$SOCK" raw)
case $got in
"$T/spoolish/root.eml: "*" ERROR") ok "SCAN as $EXIM_USER: root's 0600 file is refused ($got)";;
*) bad "SCAN as $EXIM_USER: root's 0600 file is refused" "got [$got]";;
esac

###########################################################################
echo "# exim: private daemons"
exim_start unix "clamd:$D/clamd.sock" || { finish; exit 1; }
exim_start tcp "clamd:127.0.0.1 $AVW_PORT" || { finish; exit 1; }
# `local`: the scanner is on this host, so Exim sends SCAN <spool file> over
# TCP; avwarden opens it as the owner of Exim's loopback socket.
exim_start tcplocal "clamd:127.0.0.1 $AVW_PORT:local" || { finish; exit 1; }
# Two servers, as a multi-node setup gives Exim: the first of them is down
# (nothing listens on its port), so whichever Exim picks, it ends on avwarden.
DEAD_PORT=$(free_port)
exim_start twin "clamd:127.0.0.1 $DEAD_PORT : 127.0.0.1 $AVW_PORT" || { finish; exit 1; }

###########################################################################
echo "# unix socket: Exim sends SCAN <spool file>"
run_scans unix

###########################################################################
echo "# TCP: Exim sends zINSTREAM"
run_scans tcp

###########################################################################
echo "# TCP with local: Exim sends SCAN <spool file>, opened as its socket's owner"
run_scans tcplocal

###########################################################################
echo "# two servers, one down: Exim fails over to avwarden"
run_scans twin

###########################################################################
echo "# avwarden stopped: mail is deferred, never accepted unscanned"
stop
check "avwarden stopped cleanly" 0 $?
run_down unix
run_down tcp

###########################################################################
echo "# avwarden answers ERROR (message over max_message_size): deferred, never accepted unscanned"
avw_conf 'max_message_size = "20K"' 'max_path_scan_size = "20K"'
start mta || exit 1
run_error unix
run_error tcp
stop
check "avwarden stopped cleanly" 0 $?

###########################################################################
echo "# errors=close: an error clamd never sends (the worker crashed on the mail) closes unanswered: deferred"
# The test scanner crashes on any message holding EICAR (tests/fault.h).
cat > "$T/crash-eicar.sh" <<WRAP
#!/bin/sh
export AVW_FAULT_SCAN=crash-eicar
exec $B/tests/avwarden-scanner-faulty "\$@"
WRAP
chmod 755 "$T/crash-eicar.sh"
write_conf mta "$T/crash-eicar.sh" "canary = false"
sed -i "s|^listen = .*|listen = { \"unix:$D/clamd.sock errors=close\", \"tcp:127.0.0.1:$AVW_PORT errors=close\", \"unix:$D/reply.sock\" }|" "$D/avwarden.conf"
start mta || exit 1
check "errors=reply (the default): the crash is an ERROR reply" \
	"stream: scanner crashed: SIGSEGV ERROR|" "$($CLIENT "unix:$D/reply.sock" instream "$T/eicar.com" | vis)"
check "errors=close: no reply at all, the connection closed" "" "$($CLIENT "$SOCK" instream "$T/eicar.com" | vis)"
for n in unix tcp; do
	mail_file "$n-crash" plain
	smtp "$n" "$n-crash"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: connection closed instead of an ERROR: deferred ($REPLY)";;
	*) bad "$n: connection closed instead of an ERROR: deferred with 4xx" "reply [$REPLY]";;
	esac
	never_accepted "$n" "$n-crash" "$n: never accepted nor delivered"
done
n=$(grep -c 'error_closed listen="[a-z]*:[^ ]* errors=close" error=".*scanner crashed' "$D/scanner.log")
[ "$n" -ge 3 ] && ok "each closing logged with its listener and error ($n)" ||
	bad "error_closed logged" "$(grep error_closed "$D/scanner.log" | head -3)"
stop
check "avwarden stopped cleanly" 0 $?

finish
