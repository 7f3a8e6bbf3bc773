#!/bin/sh
# tests/postfix.sh: avwarden behind Postfix, through Debian's clamav-milter
# (Postfix has no clamd client of its own: a milter is how it scans). One
# private Postfix (Debian 12's, unpacked by scripts/deps.sh into POSTFIX_ROOT,
# never installed: the postfix package conflicts with the exim4 packages
# tests/mta.sh needs) runs with a config_directory, queue, maillog and maildir
# of its own in the test's temp dir, SMTP on 127.0.0.1 only, and two smtpd
# listeners, each with `-o smtpd_milters=` naming its own clamav-milter:
#   unix  ClamdSocket unix:<avwarden's socket>   the milter writes the message
#         to an unlinked temporary file and sends nFILDES with its descriptor
#   tcp   ClamdSocket tcp:127.0.0.1:<port>        the milter sends nINSTREAM
# The milters run as clamav, OnInfected Reject with a RejectMsg that names
# the virus (without one the reply is a bare "550 5.7.1 Command rejected"),
# OnFail Defer, AddHeader Replace; each runs under strace, which records what
# it asked avwarden and what it got back. swaks sends, to each listener: a
# clean mail (250, then found in the maildir with X-Virus-Status: Clean);
# EICAR as a base64 attachment and as the plain body (550 naming the virus,
# never queued); a 50 KB mail over avwarden's max_message_size (avwarden
# answers ERROR, which the milter takes for a failure: 451, never queued);
# with avwarden stopped, a clean mail (451, never queued: no mail passes
# unscanned); and with avwarden started again, clean mail until one is
# accepted (the milter, which marked avwarden dead, defers the first while
# it probes again), at most two.
# usage: tests/postfix.sh BUILD_DIR   (root; scripts/deps.sh installs
# clamav-milter, swaks and strace and unpacks Postfix). POSTFIX_KEEP=DIR
# copies the temp dir there.
set -u
SUITE=postfix
. "$(dirname "$0")/lib.sh"

PFROOT=${POSTFIX_ROOT:-/var/cache/avwarden-test/postfix}
MILTER=/usr/sbin/clamav-milter
MILTER_USER=clamav
# Postfix's mail_owner and setgid_group: accounts of their own, as the
# package's `postfix` and `postdrop` would be (which do not exist here).
PF_USER=avwpostfix
PF_GROUP=avwpostdrop
VIRUS=Eicar-Test-Signature.UNOFFICIAL

missing=""
for tool in "$PFROOT/usr/sbin/postfix" "$PFROOT/usr/lib/postfix/sbin/master" "$MILTER" \
	/usr/bin/swaks /usr/bin/perl /usr/bin/strace; do
	[ -x "$tool" ] || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	bad "Postfix test tools installed" "missing:$missing (scripts/deps.sh installs them)"
	finish
	exit 1
fi
if ! id -u "$MILTER_USER" >/dev/null 2>&1; then
	bad "user $MILTER_USER exists" "clamav-base creates it"
	finish
	exit 1
fi
getent group "$PF_GROUP" >/dev/null || groupadd --system "$PF_GROUP" || exit 1
getent passwd "$PF_USER" >/dev/null || useradd --system --user-group --no-create-home \
	--home-dir /nonexistent --shell /usr/sbin/nologin --comment "avwarden tests, private Postfix" \
	"$PF_USER" || exit 1
PF_UID=$(id -u "$PF_USER")
PF_GID=$(id -g "$PF_USER")
# The unpacked binaries' RUNPATH is /usr/lib/postfix, where nothing is:
# given to the postfix commands, and by master to its daemons.
PF_LIBS=$PFROOT/usr/lib/postfix

# Processes this suite started, by pid: each milter's strace (the milter is
# its child; strace exits with it) and Postfix's start-fg (master's parent;
# it exits with master). A milter takes about 5 s to stop.
TRACE_PIDS=""
PF_PID=""
Q=$T/postfix/queue
pf_cleanup() {
	[ -s "$Q/pid/master.pid" ] && kill -TERM "$(sed 1q "$Q/pid/master.pid")" 2>/dev/null
	for p in $TRACE_PIDS; do pkill -TERM -P "$p"; done
	for p in $PF_PID $TRACE_PIDS; do wait "$p" 2>/dev/null; done
	[ -n "${POSTFIX_KEEP:-}" ] && cp -a "$T" "$POSTFIX_KEEP"
	cleanup
}
trap pf_cleanup EXIT INT TERM

###########################################################################
# avwarden, both listeners; max_message_size below the 50 KB mail only.
AVW_PORT=$(free_port)
D=$T/postfix-avw
write_conf postfix-avw "$B/avwarden-scanner" 'max_message_size = "20K"' 'max_path_scan_size = "20K"'
sed -i "s|^listen = .*|listen = { \"unix:$D/clamd.sock\", \"tcp:127.0.0.1:$AVW_PORT\" }|" "$D/avwarden.conf"
# Before the milters: each probes its ClamdSocket once at start and takes an
# unanswered probe for a dead scanner (its first mail is then deferred).
start postfix-avw || exit 1

###########################################################################
# milter_start NAME CLAMDSOCKET: $T/milter-NAME/clamav-milter.conf and that
# milter in the foreground (in this script's background) under strace, its
# socket $T/milter-NAME/milter.sock (group $PF_USER: smtpd connects as it).
milter_start() {
	name=$1 clamd=$2
	M=$T/milter-$name
	mkdir -p "$M/tmp"
	chmod 755 "$M"
	chown "$MILTER_USER" "$M/tmp"
	chmod 700 "$M/tmp"
	cat > "$M/clamav-milter.conf" <<CONF
# avwarden tests/postfix.sh: nothing here comes from /etc/clamav.
MilterSocket unix:$M/milter.sock
MilterSocketGroup $PF_USER
MilterSocketMode 660
User $MILTER_USER
Foreground yes
# Where the unix variant writes each message before passing its descriptor.
TemporaryDirectory $M/tmp
ClamdSocket $clamd
OnClean Accept
OnInfected Reject
RejectMsg This message contains malware (%v)
# No reply, an unknown reply (an ERROR), no scanner: 4xx, never accepted.
OnFail Defer
AddHeader Replace
ReportHostname milter-$name.avwarden.test
LogFile $M/milter.log
LogInfected Basic
LogClean Basic
CONF
	strace -f -qq -o "$M/strace" -e trace=connect,sendto,sendmsg,recvfrom -e signal=none -s 96 \
		"$MILTER" -c "$M/clamav-milter.conf" > "$M/out" 2>&1 &
	TRACE_PIDS="$TRACE_PIDS $!"
	if wait_for "milter ($name) socket" test -S "$M/milter.sock"; then
		ok "milter ($name): clamav-milter on $M/milter.sock, ClamdSocket $clamd"
	else
		bad "milter ($name): clamav-milter on $M/milter.sock" "$(cat "$M/out" "$M/milter.log" 2>/dev/null)"
		return 1
	fi
}

# postfix_start: one private Postfix, smtpd on PORT_unix and PORT_tcp, each
# with its milter; virtual(8) delivers to $T/postfix/mail/bob/ (a maildir).
postfix_start() {
	P=$T/postfix
	PORT_unix=$(free_port)
	PORT_tcp=$(free_port)
	mkdir -p "$P/conf" "$P/mail" "$Q"
	chmod 755 "$P" "$P/conf" "$Q"
	chown "$PF_USER:$PF_USER" "$P/mail"
	cat > "$P/conf/main.cf" <<CONF
# avwarden tests/postfix.sh: a private Postfix; nothing here comes from /etc/postfix.
compatibility_level = 3.6
config_directory = $P/conf
queue_directory = $Q
data_directory = $P/data
command_directory = $PFROOT/usr/sbin
daemon_directory = $PFROOT/usr/lib/postfix/sbin
shlib_directory = $PFROOT/usr/lib/postfix
meta_directory = $PFROOT/etc/postfix
mail_owner = $PF_USER
setgid_group = $PF_GROUP
# Postfix's defaults, and the unpacked libraries for every daemon master spawns.
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME
    LD_LIBRARY_PATH=$PF_LIBS
maillog_file = $P/maillog
maillog_file_prefixes = $P
myhostname = postfix.avwarden.test
mydomain = avwarden.test
myorigin = avwarden.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
alias_maps =
alias_database =
# Nothing leaves this instance.
default_transport = error:this test instance delivers nowhere else
local_transport = error:this test instance has no local mailboxes
virtual_mailbox_domains = avwarden.test
virtual_mailbox_base = $P/mail
virtual_mailbox_maps = static:bob/
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1
# The default, said out loud: a milter that cannot be reached defers the
# mail (451), it does not let it through.
milter_default_action = tempfail
CONF
	# No chroot (the 5th column): the daemons reach $T directly.
	cat > "$P/conf/master.cf" <<CONF
127.0.0.1:$PORT_unix inet n - n - - smtpd -o smtpd_milters=unix:$T/milter-unix/milter.sock
127.0.0.1:$PORT_tcp inet n - n - - smtpd -o smtpd_milters=unix:$T/milter-tcp/milter.sock
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
CONF
	# start-fg: postfix-script's integrity check (post-install creates the
	# queue directories, owned by $PF_USER), then master in the foreground.
	LD_LIBRARY_PATH=$PF_LIBS "$PFROOT/usr/sbin/postfix" -c "$P/conf" start-fg > "$P/out" 2>&1 &
	PF_PID=$!
	if wait_for "postfix listening on 127.0.0.1:$PORT_unix" listening "$PORT_unix" &&
		wait_for "postfix listening on 127.0.0.1:$PORT_tcp" listening "$PORT_tcp"; then
		ok "postfix: private instance ($(LD_LIBRARY_PATH=$PF_LIBS "$PFROOT/usr/sbin/postconf" -c "$P/conf" -h mail_version) from $PFROOT) on 127.0.0.1:$PORT_unix (milter unix) and :$PORT_tcp (milter tcp)"
	else
		bad "postfix: private instance on 127.0.0.1:$PORT_unix and :$PORT_tcp" \
			"$(cat "$P/out"; tail -5 "$P/maillog" 2>/dev/null)"
		return 1
	fi
}

# mail_file NAME KIND: writes $T/NAME.eml with Subject and Message-ID NAME;
# KIND is clean, attach (EICAR as a base64 attachment), plain (EICAR as the
# text body) or big (50 KB of base64).
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
		big)
			sed -n '/^Content-Type: multipart/,$p' "$T/big.eml";;
		esac
	} > "$T/$1.eml"
}

# smtp NAME MAILNAME: one SMTP session with swaks to listener NAME, sending
# $T/MAILNAME.eml. Sets REPLY (the reply to the end of DATA) and SAID (what
# milter NAME sent avwarden and got back during the session, from strace),
# and prints the time from the end of DATA to the reply (the milter's scan
# is in there) and of the whole session.
smtp() {
	eval "port=\$PORT_$1"
	trace=$T/milter-$1/strace
	seen=$(wc -l < "$trace")
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
	# The clamd conversation: the request, the descriptor passed with
	# SCM_RIGHTS, the reply; not the INSTREAM chunks nor the pool's PINGs.
	SAID=$(tail -n +"$((seen + 1))" "$trace" | sed -n \
		-e 's/^[0-9]*  *sendto([0-9]*, "\(n[A-Z]*\)\\n".*/asked: \1/p' \
		-e 's/^[0-9]*  *sendmsg(.*SCM_RIGHTS.*/passed: a descriptor (SCM_RIGHTS)/p' \
		-e 's/^[0-9]*  *\(recvfrom([0-9]*, \|<\.\.\. recvfrom resumed>\)"\(.*\)\\n", .*/got: \2/p' |
		grep -v -e '^asked: nPING$' -e '^got: PONG$')
	echo "     measured: $2: end of DATA to reply (milter and scan included) ${lapse:-?};" \
		"whole SMTP session $((t1 - t0)) ms (swaks exit $rc)"
}
# delivered SUBJECT: the message is in the maildir (new/: virtual(8) writes
# to tmp/ and renames); sets MSG to its file.
delivered() {
	MSG=$(grep -rls "^Subject: $1\$" "$T/postfix/mail/bob/new" 2>/dev/null | head -1)
	[ -n "$MSG" ]
}
# queue_id SUBJECT: the queue id cleanup gave the message (its Message-ID is
# the subject), or nothing.
queue_id() {
	sed -n "s/^.* postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=<$1@avwarden.test>\$/\1/p" \
		"$T/postfix/maillog" | head -1
}
# milter_reject_logged SUBJECT: Postfix's cleanup logged the milter's
# verdict at the end of DATA (through postlogd, so perhaps a moment after
# the reply).
milter_reject_logged() {
	qid=$(queue_id "$1")
	[ -n "$qid" ] && grep -q "$qid: milter-reject: END-OF-MESSAGE" "$T/postfix/maillog"
}
# never_accepted SUBJECT DESCRIPTION: the milter's reject is in the log, and
# the message was neither delivered nor seen by qmgr (Postfix hands a message
# to qmgr only once it is committed to the queue).
never_accepted() {
	if ! WAIT_STEPS=500 wait_for "cleanup's milter-reject for $1" milter_reject_logged "$1"; then
		bad "$2" "no milter-reject logged for $1: $(tail -3 "$T/postfix/maillog")"
	elif delivered "$1" || grep -q "postfix/qmgr\[[0-9]*\]: $qid: from=" "$T/postfix/maillog"; then
		bad "$2" "$(grep -s "$qid" "$T/postfix/maillog")"
	else
		ok "$2"
	fi
}
# milter_said NAME DESCRIPTION EXPECTED: SAID, one line per step, joined by
# "; ", is EXPECTED (a regular expression).
milter_said() {
	got=$(echo "$SAID" | paste -sd ';' | sed 's/;/; /g')
	if echo "$got" | grep -Eqx "$3"; then
		ok "$1: $2"
	else
		bad "$1: $2" "milter and avwarden said: [$got]; milter log: $(tail -3 "$T/milter-$1/milter.log" | paste -sd '|')"
	fi
}

# The request and the reply's prefix: FILDES answers "fd[N]: ", INSTREAM
# "stream: ".
request() {
	if [ "$1" = unix ]; then
		echo 'asked: nFILDES; passed: a descriptor \(SCM_RIGHTS\); got: fd\[[0-9]+\]: '
	else
		echo 'asked: nINSTREAM; got: stream: '
	fi
}

# run_scans NAME: clean delivered with the milter's headers, EICAR in two
# forms rejected naming it.
run_scans() {
	n=$1
	req=$(request "$n")
	mail_file "$n-clean" clean
	smtp "$n" "$n-clean"
	case $REPLY in
	"250 2.0.0 Ok: queued as "*) ok "$n: clean mail accepted ($REPLY)";;
	*) bad "$n: clean mail accepted" "reply [$REPLY]; $(tail -3 "$T/postfix/maillog")";;
	esac
	milter_said "$n" "clean: avwarden answered OK" "${req}OK"
	if wait_for "$n-clean in the maildir" delivered "$n-clean"; then
		ok "$n: clean mail delivered to the maildir"
		hdr=$(sed -n '/^$/q; /^X-Virus-/p' "$MSG" | paste -sd '|')
		check "$n: delivered with the milter's headers" \
			"X-Virus-Scanned: clamav-milter $("$MILTER" --version | sed 's/^clamav-milter //') at milter-$n.avwarden.test|X-Virus-Status: Clean" \
			"$hdr"
	else
		bad "$n: clean mail delivered to the maildir" "$(tail -5 "$T/postfix/maillog")"
	fi
	for kind in attach plain; do
		mail_file "$n-eicar-$kind" "$kind"
		smtp "$n" "$n-eicar-$kind"
		case $REPLY in
		"550 5.7.1 This message contains malware ($VIRUS)") ok "$n: EICAR ($kind) rejected: $REPLY";;
		*) bad "$n: EICAR ($kind) rejected with 550 naming $VIRUS" \
			"reply [$REPLY]; $(tail -3 "$T/postfix/maillog")";;
		esac
		milter_said "$n" "EICAR ($kind): avwarden answered $VIRUS FOUND" "$req$VIRUS FOUND"
		never_accepted "$n-eicar-$kind" "$n: EICAR ($kind) rejected by the milter, never queued nor delivered"
	done
}

# run_error NAME: a 50 KB mail, over avwarden's max_message_size: avwarden
# answers ERROR, the milter defers.
run_error() {
	n=$1
	mail_file "$n-toolarge" big
	smtp "$n" "$n-toolarge"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: 50 KB over max_message_size: deferred ($REPLY)";;
	*) bad "$n: 50 KB over max_message_size: deferred with 4xx" "reply [$REPLY]";;
	esac
	if [ "$n" = unix ]; then
		milter_said "$n" "50 KB: avwarden answered ERROR" "$(request "$n").* ERROR"
		grep -q 'warn size_limit cmd=FILDES max_path_scan_size=20480' "$D/scanner.log" &&
			ok "$n: the descriptor past max_message_size is logged (size_limit cmd=FILDES)" ||
			bad "$n: size_limit logged for FILDES" "$(grep size_limit "$D/scanner.log")"
		if tail -1 "$T/milter-$n/milter.log" | grep -q "Unknown reply from clamd"; then
			ok "$n: 50 KB: the milter took the ERROR for a failure (\"Unknown reply from clamd\")"
		else
			bad "$n: 50 KB: the milter took the ERROR for a failure" "$(tail -3 "$T/milter-$n/milter.log")"
		fi
	# INSTREAM past the limit is answered as clamd answers it: its ERROR line,
	# and the connection closed at once while the milter may still be sending.
	elif tail -3 "$T/milter-$n/milter.log" | grep -Eq "Unknown reply from clamd|send failed: Broken pipe|Failed to flush STREAM"; then
		ok "$n: 50 KB: the milter took the ERROR line or the closed connection for a failure"
	else
		bad "$n: 50 KB: the milter took the ERROR line or the closed connection for a failure" "$(tail -3 "$T/milter-$n/milter.log")"
	fi
	never_accepted "$n-toolarge" "$n: 50 KB over max_message_size: rejected by the milter, never queued nor delivered"
}

# run_down NAME: avwarden is stopped; the milter must defer the mail.
run_down() {
	n=$1
	mail_file "$n-down" clean
	smtp "$n" "$n-down"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: avwarden down: deferred ($REPLY)";;
	*) bad "$n: avwarden down: deferred with 4xx" "reply [$REPLY]";;
	esac
	never_accepted "$n-down" "$n: avwarden down: rejected by the milter, never queued nor delivered"
	if grep -q "Failed to initiate streaming/fdpassing" "$T/milter-$n/milter.log"; then
		ok "$n: the milter logged that it could not reach avwarden"
	else
		bad "$n: the milter logged that it could not reach avwarden" "$(tail -3 "$T/milter-$n/milter.log")"
	fi
}

# run_back NAME: avwarden serves again; the milter, not restarted, finds it
# again (it marked it dead, and probes it again when a mail finds no scanner:
# that mail is deferred). Within two mails one is accepted, and every mail
# accepted was scanned.
run_back() {
	n=$1
	for try in 1 2; do
		mail_file "$n-back$try" clean
		smtp "$n" "$n-back$try"
		case $REPLY in
		250*) break;;
		4[0-9][0-9]*) never_accepted "$n-back$try" "$n: avwarden back: mail $try, deferred ($REPLY), rejected by the milter, never queued nor delivered";;
		*) break;;
		esac
	done
	case $REPLY in
	250*) ok "$n: avwarden back: mail $try accepted ($REPLY)";;
	*) bad "$n: avwarden back: accepted within 2 mails" "reply [$REPLY]; milter log: $(tail -3 "$T/milter-$n/milter.log" | paste -sd '|')";;
	esac
	milter_said "$n" "avwarden back: mail $try: avwarden answered OK" "$(request "$n")OK"
	if wait_for "$n-back$try in the maildir" delivered "$n-back$try"; then
		ok "$n: avwarden back: mail $try delivered"
	else
		bad "$n: avwarden back: mail $try delivered" "$(tail -5 "$T/postfix/maillog")"
	fi
}

###########################################################################
echo "# clamav-milter and postfix: private instances"
milter_start unix "unix:$D/clamd.sock" || { finish; exit 1; }
milter_start tcp "tcp:127.0.0.1:$AVW_PORT" || { finish; exit 1; }
postfix_start || { finish; exit 1; }

###########################################################################
echo "# unix socket: the milter sends nFILDES with the message's descriptor"
run_scans unix

###########################################################################
echo "# TCP: the milter sends nINSTREAM"
run_scans tcp

###########################################################################
echo "# avwarden answers ERROR (message over max_message_size): deferred, never accepted unscanned"
run_error unix
run_error tcp

###########################################################################
echo "# avwarden stopped: mail is deferred, never accepted unscanned"
stop
check "avwarden stopped cleanly" 0 $?
run_down unix
run_down tcp

###########################################################################
echo "# avwarden back: the milters, not restarted, scan with it again"
# Now max_message_size alone is 20K: it limits INSTREAM only, as clamd's
# StreamMaxLength does; the milter's FILDES on the unix socket is not.
sed -i '/^max_path_scan_size/d' "$D/avwarden.conf"
start postfix-avw || exit 1
run_back unix
run_back tcp
mail_file unix-big-fildes big
smtp unix unix-big-fildes
case $REPLY in
250*) ok "unix: 50 KB by FILDES, max_message_size 20K: scanned and accepted, as clamd does ($REPLY)";;
*) bad "unix: 50 KB by FILDES past max_message_size: scanned and accepted, as clamd does" "reply [$REPLY]";;
esac
mail_file tcp-big-stream big
smtp tcp tcp-big-stream
case $REPLY in
4[0-9][0-9]*) ok "tcp: 50 KB by INSTREAM past max_message_size: deferred ($REPLY)";;
*) bad "tcp: 50 KB by INSTREAM past max_message_size: deferred" "reply [$REPLY]";;
esac
stop
check "avwarden stopped cleanly" 0 $?

###########################################################################
echo "# errors=close: the worker crashed on the mail, the connection closed unanswered: deferred"
# The test scanner crashes on any message holding EICAR (tests/fault.h).
cat > "$T/crash-eicar.sh" <<WRAP
#!/bin/sh
export AVW_FAULT_SCAN=crash-eicar
exec $B/tests/avwarden-scanner-faulty "\$@"
WRAP
chmod 755 "$T/crash-eicar.sh"
write_conf postfix-avw "$T/crash-eicar.sh" 'canary = false' \
	"listen = { \"unix:$D/clamd.sock errors=close\", \"tcp:127.0.0.1:$AVW_PORT errors=close\" }"
start postfix-avw || exit 1
for n in unix tcp; do
	mail_file "$n-crash" plain
	smtp "$n" "$n-crash"
	case $REPLY in
	4[0-9][0-9]*) ok "$n: no reply, the connection closed: deferred ($REPLY)";;
	*) bad "$n: no reply, the connection closed: deferred with 4xx" "reply [$REPLY]";;
	esac
	never_accepted "$n-crash" "$n: never queued nor delivered"
	if tail -4 "$T/milter-$n/milter.log" | grep -Eq "No reply from clamd|Connection closed while reading"; then
		ok "$n: the milter took the closed connection for a failure"
	else
		bad "$n: the milter took the closed connection for a failure" "$(tail -3 "$T/milter-$n/milter.log")"
	fi
done
n=$(grep -c 'info error_closed .*error=".*scanner crashed' "$D/scanner.log")
[ "$n" -ge 2 ] && ok "avwarden logged each closing ($n)" || bad "error_closed logged" "$(grep -c error_closed "$D/scanner.log")"
stop
check "avwarden stopped cleanly" 0 $?

finish
