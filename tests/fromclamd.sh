#!/bin/sh
# tests/fromclamd.sh: avwarden --from-clamd-conf.
# Debian's default clamd.conf (tests/fromclamd/debian-default.conf, and the
# installed /etc/clamav/clamd.conf when there is one) converts to a config
# that `avwarden --check-config` accepts, with clamd's socket, its mode,
# owner and group, the limits and timeouts in avwarden's units, the log and
# the database; a clamd.conf that sets every option clamd 1.4 knows (the list
# clamconf prints, checked by clamconf itself) leaves no line unaccounted
# for, and whatever is left out is named on stderr with its reason; values
# are read as clamd reads them; a file clamd would refuse is refused naming
# its line. End to end: avwarden started on the converted config of a
# clamd.conf whose socket lives in the test's directory answers clamdscan
# --config-file=THAT_CLAMD.CONF: the MTA's side stays as it was.
# usage: sh tests/fromclamd.sh BUILD_DIR   (root)
set -u
SUITE=fromclamd
. "$(dirname "$0")/lib.sh"
A=$B/avwarden
FIX=$ROOT/tests/fromclamd

# conv NAME CLAMD.CONF: converts it into $T/NAME.out and $T/NAME.err; status in CRC.
conv() {
	"$A" --from-clamd-conf "$2" > "$T/$1.out" 2> "$T/$1.err"
	CRC=$?
}
# val NAME KEY: KEY's value in $T/NAME.out (the last one, as avwarden reads it).
val() { sed -n "s/^$2 = //p" "$T/$1.out" | tail -n 1; }
# checkconf NAME: avwarden --check-config accepts $T/NAME.out.
checkconf() {
	if out=$("$A" -c "$T/$1.out" --check-config 2>&1); then
		ok "$1: avwarden --check-config accepts the output"
	else
		bad "$1: avwarden --check-config accepts the output" "$out"
	fi
}
# accounted NAME CLAMD.CONF: every option line of the clamd.conf is named in
# the output with what became of it ("# line N: Option ..."), the stderr
# summary adds up to the number of lines, and every line left out is on
# stderr with a reason.
accounted() {
	n=0 missing=""
	grep -n -v -E '^[[:space:]]*(#|$)' "$2" > "$T/$1.lines"
	while IFS= read -r l; do
		num=${l%%:*}
		name=$(printf '%s\n' "${l#*:}" | awk '{ print $1 }')
		n=$((n + 1))
		grep -q "^# line $num: $name " "$T/$1.out" || missing="$missing $num:$name"
	done < "$T/$1.lines"
	check "$1: each of the $n clamd.conf lines named in the output" "" "$missing"
	counts=$(sed -n 's/.*: \([0-9]*\) lines carried over, \([0-9]*\) already what avwarden does, \([0-9]*\) without effect in clamd either, \([0-9]*\) not carried over$/\1 \2 \3 \4/p' "$T/$1.err")
	check "$1: the stderr summary adds up to $n lines" "$n" "$(echo "$counts" | awk '{ print $1 + $2 + $3 + $4 }')"
	check "$1: each line left out is on stderr, with its reason" "$(echo "$counts" | awk '{ print $4 }')" \
		"$(grep -c ': not carried over: [a-z(]' "$T/$1.err")"
}

###########################################################################
echo "# the option"
"$A" --help > "$T/help" 2>&1
grep -q -- '--from-clamd-conf' "$T/help" && ok "--help names --from-clamd-conf" || bad "--help" "$(cat "$T/help")"
"$A" --from-clamd-conf "$FIX/debian-default.conf" -c /dev/null > /dev/null 2>&1
check "with another option: usage error" 2 $?

###########################################################################
echo "# Debian's default clamd.conf (our copy)"
conv debian "$FIX/debian-default.conf"
check "converted: exit 0" 0 "$CRC"
checkconf debian
accounted debian "$FIX/debian-default.conf"
check "listen: clamd's socket, its mode, owner (clamd's User) and group" \
	'{ "unix:/var/run/clamav/clamd.ctl mode=0666 owner=clamav group=clamav" }' "$(val debian listen)"
check "MaxThreads 12 -> max_concurrency" 12 "$(val debian max_concurrency)"
check "MaxQueue 100, less the 12 running -> max_queue" 88 "$(val debian max_queue)"
check "MaxScanTime 120000 ms -> max_extract_time in s" 120 "$(val debian max_extract_time)"
check "timeout above it" 130 "$(val debian timeout)"
check "ReadTimeout 180 -> read_timeout" 180 "$(val debian read_timeout)"
check "CommandReadTimeout 30 -> command_read_timeout" 30 "$(val debian command_read_timeout)"
check "SendBufTimeout 200 ms -> write_timeout, whole seconds" 1 "$(val debian write_timeout)"
check "StreamMaxLength 25M -> max_message_size" '"25M"' "$(val debian max_message_size)"
check "MaxFileSize 25M -> max_extract_size" '"25M"' "$(val debian max_extract_size)"
check "MaxScanSize 100M -> max_cumulative_extract_size" '"100M"' "$(val debian max_cumulative_extract_size)"
check "MaxRecursion 16 -> max_extract_depth" 16 "$(val debian max_extract_depth)"
check "MaxFiles 10000 -> max_file_count" 10000 "$(val debian max_file_count)"
check "DatabaseDirectory -> database" '"/var/lib/clamav"' "$(val debian database)"
check "SelfCheck 3600 -> update_interval" 3600 "$(val debian update_interval)"
check "LogFile -> scanner_log" '"/var/log/clamav/clamav.log"' "$(val debian scanner_log)"
check "LogSyslog false -> syslog" false "$(val debian syslog)"
check "LogFacility LOG_LOCAL6 -> syslog_facility" '"local6"' "$(val debian syslog_facility)"
check "the scanners keep their own account" '"avwarden"' "$(val debian user)"
check "scanner_path: the scanner of this build" "\"$B/avwarden-scanner\"" "$(val debian scanner_path)"
for want in "OnAccessMaxFileSize 5M: not carried over: avwarden does no on-access scanning" \
	"Foreground false: not carried over: avwarden always runs in the foreground" \
	"MaxEmbeddedPE 10M: not carried over: avwarden has no setting for it" \
	"ArchiveBlockEncrypted false: not carried over:" \
	"LogRotate true: not carried over:" \
	"note: $FIX/debian-default.conf: AlertExceedsMax is not set, so clamd answered OK"; do
	grep -q -F -- "$want" "$T/debian.err" && ok "stderr: ${want%%:*}..." || bad "stderr names: $want" "$(cat "$T/debian.err")"
done
grep -q '^# line 12: ScanArchive true: avwarden always parses archives' "$T/debian.out" &&
	ok "what avwarden already does is noted in the output" || bad "ScanArchive noted" "$(cat "$T/debian.out")"
grep -q 'ScanArchive' "$T/debian.err" && bad "stderr has only what is left out" "$(cat "$T/debian.err")" ||
	ok "stderr has only what is left out (not ScanArchive true)"

if [ -f /etc/clamav/clamd.conf ]; then
	echo "# this machine's /etc/clamav/clamd.conf"
	conv installed /etc/clamav/clamd.conf
	check "converted: exit 0" 0 "$CRC"
	checkconf installed
	accounted installed /etc/clamav/clamd.conf
	sock=$(sed -n 's/^LocalSocket[[:space:]]\{1,\}//p' /etc/clamav/clamd.conf | head -n 1)
	if [ -n "$sock" ]; then
		grep -q "^listen = { \"unix:$sock " "$T/installed.out" && ok "listen: its LocalSocket, $sock" ||
			bad "listen: its LocalSocket" "$(grep '^listen' "$T/installed.out")"
	fi
	if [ "$(grep -v '^#' /etc/clamav/clamd.conf)" = "$(grep -v '^#' "$FIX/debian-default.conf")" ]; then
		echo "     (it sets the same options as our copy of Debian's default)"
	else
		echo "     (it differs from our copy of Debian's default: changed locally)"
	fi
fi

###########################################################################
echo "# a clamd.conf setting every option clamd knows"
E=$T/every
mkdir -p "$E"
# clamconf -g prints every option with a suggestion; the few suggestions that
# are no valid values (empty, -1, 10000L) get one. Then the deprecated names
# clamd still reads, and ignores.
clamconf -g clamd.conf | sed -n 's/^#\([A-Z][A-Za-z0-9]*\) \(.*\)$/\1 \2/p' |
	sed -e 's/ $/ yes/' -e 's/ -1$/ 7/' -e 's/ \([0-9]*\)L$/ \1/' > "$E/clamd.conf"
cat >> "$E/clamd.conf" <<'EOF'
DetectBrokenExecutables yes
MailMaxRecursion 64
ArchiveMaxScanSize 10M
ArchiveMaxRecursion 8
ArchiveMaxFiles 1000
ArchiveMaxCompressionRatio 250
ArchiveBlockMax yes
ArchiveLimitMemoryUsage yes
MailFollowURLs no
AllowSupplementaryGroups yes
ScanOnAccess yes
EOF
opts=$(awk '{ print $1 }' "$E/clamd.conf" | sort -u | wc -l)
[ "$opts" -gt 130 ] && ok "$opts distinct options in it" || bad "every option" "only $opts: $(cat "$E/clamd.conf")"
clamconf -c "$E" > "$E/clamconf.out" 2>&1
grep -q ERROR "$E/clamconf.out" && bad "clamd's own parser accepts it (clamconf)" "$(grep ERROR "$E/clamconf.out")" ||
	ok "clamd's own parser accepts it (clamconf)"
conv every "$E/clamd.conf"
check "converted: exit 0" 0 "$CRC"
checkconf every
accounted every "$E/clamd.conf"
check "every option is one the conversion knows" "" "$(grep -E 'not a clamd option|a bug' "$T/every.err")"
check "TCPSocket 3310 on TCPAddr localhost" yes \
	"$(grep -q '"tcp:127.0.0.1:3310"' "$T/every.out" && echo yes)"
grep -q "ScanOnAccess yes: deprecated: clamd 1.4 ignores it too" "$T/every.out" &&
	ok "a deprecated option: no effect in clamd either" || bad "deprecated" "$(grep ScanOnAccess "$T/every.out")"

###########################################################################
echo "# values as clamd reads them, and what avwarden can take"
cat > "$T/units.conf" <<EOF
LocalSocket $T/u/clamd.sock
LocalSocket $T/u/other.sock
LocalSocketMode 066
User root
TCPSocket 3310
MaxThreads 300
MaxQueue 5
MaxScanTime 2500
SendBufTimeout 1500
StreamMaxLength 0
MaxFileSize 010K
MaxScanSize 5g
MaxRecursion 0
ReadTimeout 0
DisableCache YES
LogSyslog 1
LogFacility LOG_MAIL
LogFile relative.log
localsocket /x
ExcludePath ^/proc/ # part of the value
  # an indented comment
	ScanMail no
EOF
conv units "$T/units.conf"
check "converted: exit 0" 0 "$CRC"
checkconf units
accounted units "$T/units.conf"
check "the first LocalSocket wins, as in clamd; mode gets owner rw; root's socket: no owner" \
	"{ \"unix:$T/u/clamd.sock mode=0666\",
           \"tcp:0.0.0.0:3310\",
           \"tcp:[::]:3310\" }" "$(sed -n '/^listen = /,/}$/p' "$T/units.out" | sed 's/^listen = //')"
check "MaxThreads 300 -> 256, avwarden's most" 256 "$(val units max_concurrency)"
check "MaxQueue 5 below MaxThreads: none wait" 0 "$(val units max_queue)"
check "MaxScanTime 2500 ms -> 3 s, rounded up" 3 "$(val units max_extract_time)"
check "timeout = max_extract_time + 10" 13 "$(val units timeout)"
check "SendBufTimeout 1500 ms -> 2 s" 2 "$(val units write_timeout)"
check "StreamMaxLength 0 (no limit) -> 4G" '"4G"' "$(val units max_message_size)"
check "... with room in a worker for it" '"5G"' "$(val units max_worker_memory)"
check "... and in the message budget" '"4G"' "$(val units max_message_memory)"
check "MaxFileSize 010K: octal, as clamd reads it" '"8K"' "$(val units max_extract_size)"
check "MaxScanSize 5g (lower case)" '"5G"' "$(val units max_cumulative_extract_size)"
check "MaxRecursion 0 (no limit) -> 100" 100 "$(val units max_extract_depth)"
check "ReadTimeout 0 -> 3600" 3600 "$(val units read_timeout)"
check "DisableCache YES -> cache_size 0" 0 "$(val units cache_size)"
check "LogSyslog 1 -> syslog" true "$(val units syslog)"
check "LogFacility LOG_MAIL -> mail" '"mail"' "$(val units syslog_facility)"
for want in ":4: User root: not carried over: avwarden's scanners never run as root" \
	":18: LogFile relative.log: not carried over: avwarden needs an absolute path" \
	":19: localsocket /x: not carried over: not a clamd option: clamd's names are case sensitive (LocalSocket?)" \
	":20: ExcludePath ^/proc/ # part of the value: not carried over:" \
	":22: ScanMail no: not carried over: avwarden always parses mail" \
	"note: $T/units.conf:2: LocalSocket is given again" \
	"note: $T/units.conf:11: MaxFileSize 010K: clamd reads a leading 0 as octal" \
	"note: $T/units.conf:3: LocalSocketMode 066: avwarden also gives the socket's owner read and write"; do
	grep -q -F -- "$want" "$T/units.err" && ok "stderr: ...${want#*: }" || bad "stderr names: $want" "$(cat "$T/units.err")"
done
printf 'TCPSocket 3310\nTCPAddr 127.0.0.1\nTCPAddr ::1\nTCPAddr 192.0.2.7\n' > "$T/tcp.conf"
conv tcp "$T/tcp.conf"
check "a listener per TCPAddr" '{ "tcp:127.0.0.1:3310",
           "tcp:[::1]:3310",
           "tcp:192.0.2.7:3310" }' "$(sed -n '/^listen = /,/}$/p' "$T/tcp.out" | sed 's/^listen = //')"
grep -q "Any host that reaches this address can scan" "$T/tcp.out" && ok "an open address is pointed out" ||
	bad "open address warning" "$(cat "$T/tcp.out")"
printf 'MaxThreads 4\n' > "$T/nosock.conf"
conv nosock "$T/nosock.conf"
check "no socket in the clamd.conf: converted" 0 "$CRC"
grep -q "no LocalSocket or TCPSocket carried over" "$T/nosock.err" && ok "... and said so on stderr" ||
	bad "no socket note" "$(cat "$T/nosock.err")"
checkconf nosock

###########################################################################
echo "# what clamd would refuse, refused with the line"
# refused NAME LINE MESSAGE: line 2 of a file is LINE; exit 1, nothing on
# stdout, stderr "FILE:2: MESSAGE..."; CLAMD=yes: clamd's parser refuses it too.
refused() {
	printf 'LocalSocket /tmp/x.sock\n%b\n' "$2" > "$T/bad.conf"
	"$A" --from-clamd-conf "$T/bad.conf" > "$T/bad.out" 2> "$T/bad.err"
	rc=$?
	if [ $rc -eq 1 ] && [ ! -s "$T/bad.out" ] && grep -q -F -- "$T/bad.conf:2: $3" "$T/bad.err"; then
		ok "$1: exit 1, $(cat "$T/bad.err")"
	else
		bad "$1" "exit $rc, stdout $(wc -c < "$T/bad.out") bytes, stderr: $(cat "$T/bad.err")"
	fi
	if [ "${CLAMD:-yes}" = yes ]; then
		mkdir -p "$T/badd"
		cp "$T/bad.conf" "$T/badd/clamd.conf"
		clamconf -c "$T/badd" 2>&1 | grep -q ERROR && ok "$1: clamd's parser refuses it too" ||
			bad "$1: clamd's parser refuses it too" "$(clamconf -c "$T/badd" 2>&1 | head -5)"
	fi
}
refused "a # after a value" 'MaxThreads 12 # twelve' "MaxThreads 12 # twelve: expected a whole number (digits only) (in clamd.conf a comment is a whole line"
refused "a boolean" 'ScanMail maybe' "ScanMail maybe: expected yes or no"
refused "a size" 'StreamMaxLength 25MB' "StreamMaxLength 25MB: expected a size"
refused "an octal size with 9" 'MaxFileSize 09M' "MaxFileSize 09M: a leading 0 makes clamd read it as octal"
refused "no argument" 'Debug' "Debug: missing argument"
refused "an unclosed quote" 'LogFile "/var/log/x.log' 'LogFile "/var/log/x.log: the quote is never closed'
refused "an empty quote" 'LogFile ""' 'LogFile: empty argument'
refused "a DOS line end" 'MaxThreads 3\r' "carriage return (DOS line end)"
refused "clamd's example file" 'Example' '"Example": this is clamd'"'"'s unedited example file'
refused "a choice" 'BytecodeMode Fast' "BytecodeMode Fast: expected one of Auto|ForceJIT|ForceInterpreter|Test"
CLAMD=no refused "a socket mode (clamd refuses it at start)" 'LocalSocketMode 8' "LocalSocketMode 8: not an octal mode"
"$A" --from-clamd-conf "$T/missing.conf" > /dev/null 2> "$T/e.err"
check "a missing file: exit 1, named" "1 avwarden: $T/missing.conf: cannot read: No such file or directory" "$? $(cat "$T/e.err")"
"$A" --from-clamd-conf "$T" > /dev/null 2> "$T/e.err"
check "a directory" "1 avwarden: $T: not a regular file" "$? $(cat "$T/e.err")"
"$A" --from-clamd-conf "$ROOT/etc/avwarden.conf.example" > /dev/null 2> "$T/e.err"
check "an avwarden.conf by mistake" "1 avwarden: $ROOT/etc/avwarden.conf.example: not one clamd option in it: not a clamd.conf" \
	"$? $(cat "$T/e.err")"

###########################################################################
echo "# end to end: clamd's socket, clamd's clamd.conf for the client"
D=$T/e2e
mkdir -p "$D"
chmod 755 "$D"
cat > "$D/clamd.conf" <<EOF
LocalSocket $D/clamd.ctl
LocalSocketGroup clamav
LocalSocketMode 660
FixStaleSocket true
User clamav
DatabaseDirectory $B/db
MaxThreads 2
MaxQueue 10
MaxScanTime 5000
StreamMaxLength 10M
LogFile $D/clamav.log
LogTime true
ScanArchive true
EOF
conv e2e "$D/clamd.conf"
check "converted: exit 0" 0 "$CRC"
# The one key the test changes: its own console socket, not the system's.
sed "s|^control_socket = .*|control_socket = \"$D/control.sock\"|" "$T/e2e.out" > "$D/avwarden.conf"
if ! start e2e; then
	bad "avwarden starts on the converted config" "$(cat "$D/stderr")"
else
	check "the socket as clamd made it: owner, group, mode" "clamav clamav 660" "$(stat -c '%U %G %a' "$D/clamd.ctl")"
	out=$(clamdscan --config-file="$D/clamd.conf" --no-summary "$T/eicar.com" 2>&1)
	check "clamdscan --config-file=clamd.conf EICAR: FOUND" \
		"$T/eicar.com: Eicar-Test-Signature.UNOFFICIAL FOUND/1" "$out/$?"
	out=$(clamdscan --config-file="$D/clamd.conf" --no-summary --stream "$T/eicar.com" 2>&1)
	check "clamdscan --stream EICAR: FOUND" "$T/eicar.com: Eicar-Test-Signature.UNOFFICIAL FOUND/1" "$out/$?"
	out=$(clamdscan --config-file="$D/clamd.conf" --no-summary --stream "$T/clean.eml" 2>&1)
	check "clamdscan --stream clean mail: OK" "$T/clean.eml: OK/0" "$out/$?"
	grep -q 'verdict=INFECTED' "$D/clamav.log" && ok "LogFile carried: the scans are in it" ||
		bad "scans in $D/clamav.log" "$(cat "$D/clamav.log" "$D/stderr" 2>&1 | tail -20)"
	stop
	check "stops cleanly" 0 $?
fi

finish
