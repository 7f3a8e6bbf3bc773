#!/bin/sh
# tests/install.sh: `make install` into a staging directory (DESTDIR), then
# checks what landed there: every file with its mode, the generated config
# (scanner_path pointing at the installed scanner, accepted by the installed
# avwarden), the systemd unit, the logrotate file, the man pages, that no
# file mentions the staging directory, that a reinstall keeps a modified
# config, and that `make uninstall` removes everything but the config.
# usage: sh tests/install.sh BUILD_DIR
# Needs groff and logrotate (scripts/deps.sh installs them); fails without.
set -eu
SUITE=install
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-build}" && pwd)
# The Makefile's BUILD, relative to the checkout when it is inside it, so
# make sees the same targets a plain `make` built.
case "$B" in
"$ROOT"/*) BUILD=${B#"$ROOT"/} ;;
*) BUILD=$B ;;
esac
PASS=0
FAIL=0
T=$(mktemp -d /tmp/avwarden-install.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
D=$T/destdir
P=$D/usr/local
CONF=$P/etc/avwarden/avwarden.conf
UNIT=$P/lib/systemd/system/avwarden.service
ROTATE=$P/etc/logrotate.d/avwarden

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '     %s\n' "$2"; return 0; }
# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2] got [$3]"; fi
}
finish() {
	echo
	echo "$SUITE: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
# mk TARGET: make in the checkout, staged under $D, output in $T/make.out.
mk() {
	(cd "$ROOT" && make --no-print-directory -s "$1" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr/local) \
		> "$T/make.out" 2>&1
}
# The value of KEY in a config file, quotes removed (last one wins, as in avwarden).
conf_value() {
	sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\\(.*\\)\"[[:space:]]*\$/\\1/p" "$2" | tail -n 1
}

###########################################################################
echo "# make install DESTDIR=$D PREFIX=/usr/local"
if mk install; then
	ok "make install"
else
	bad "make install" "$(cat "$T/make.out")"
	finish
	exit 1
fi

# path mode: every installed file with its permissions.
while read -r f mode; do
	if [ ! -f "$D$f" ]; then
		bad "$f installed" "missing"
	else
		check "$f installed, mode $mode" "$mode" "$(stat -c %a "$D$f")"
	fi
done <<FILES
/usr/local/sbin/avwarden 755
/usr/local/bin/avwardenctl 755
/usr/local/libexec/avwarden/avwarden-scanner 755
/usr/local/etc/avwarden/avwarden.conf 640
/usr/local/lib/systemd/system/avwarden.service 644
/usr/local/etc/logrotate.d/avwarden 644
/usr/local/share/man/man8/avwarden.8 644
/usr/local/share/man/man8/avwardenctl.8 644
/usr/local/share/man/man8/avwarden-scanner.8 644
/usr/local/share/man/man5/avwarden.conf.5 644
/usr/local/share/man/man1/avwarden-scan.1 644
/usr/local/share/doc/avwarden/README.md 644
/usr/local/share/doc/avwarden/examples/avwarden-scanner-wrapper.sh 644
/usr/local/lib/sysusers.d/avwarden.conf 644
FILES

same=0
for p in sbin/avwarden bin/avwardenctl libexec/avwarden/avwarden-scanner; do
	cmp -s "$B/${p##*/}" "$P/$p" && same=$((same + 1))
done
check "installed programs are the ones in $BUILD/" 3 "$same"

###########################################################################
echo "# configuration"
check "config: scanner_path is the installed scanner" /usr/local/libexec/avwarden/avwarden-scanner \
	"$(conf_value scanner_path "$CONF")"
if [ -x "$D$(conf_value scanner_path "$CONF")" ]; then
	ok "config: scanner_path exists under DESTDIR and is executable"
else
	bad "config: scanner_path exists under DESTDIR and is executable"
fi
check "config: only scanner_path differs from etc/avwarden.conf.example" "" \
	"$(sed '/^scanner_path[[:space:]]*=/d' "$ROOT/etc/avwarden.conf.example" |
		diff - "$CONF" | grep '^[<>]' | grep -v '^> scanner_path = ' || true)"

# As installed, the file must parse; what --check-config may still report
# here is only what this machine lacks (scanner at its final path, the
# database, user avwarden), never a syntax or value error.
rc=0
"$P/sbin/avwarden" -c "$CONF" --check-config > "$T/check.out" 2>&1 || rc=$?
other=$(grep -v -e "^$CONF: OK\$" -e "^avwarden: $CONF:[0-9]*: scanner_path " -e "^avwarden: $CONF:[0-9]*: database " \
	-e "^avwarden: $CONF:[0-9]*: user " -e "^avwarden: $CONF:[0-9]*: note: " "$T/check.out" || true)
if [ "$rc" -le 1 ] && [ -z "$other" ]; then
	ok "installed avwarden parses the installed config"
else
	bad "installed avwarden parses the installed config" "rc=$rc: $(cat "$T/check.out")"
fi
# With what this machine has, it passes every check.
sed -e '/^scanner_path[[:space:]]*=/d' -e '/^database[[:space:]]*=/d' -e '/^user[[:space:]]*=/d' \
	-e "s|/run/avwarden/|$T/run/|g" "$CONF" > "$T/local.conf"
mkdir -p "$T/run"
{
	echo "scanner_path = \"$P/libexec/avwarden/avwarden-scanner\""
	echo "database = \"$B/db\""
	echo "user = \"nobody\""
} >> "$T/local.conf"
rc=0
out=$("$P/sbin/avwarden" -c "$T/local.conf" --check-config 2>&1) || rc=$?
check "--check-config on the installed config (local database, user nobody)" "$T/local.conf: OK/0" "$out/$rc"

###########################################################################
echo "# systemd unit, logrotate"
check "unit: Type=notify" "Type=notify" "$(grep '^Type=' "$UNIT")"
execstart=$(sed -n 's/^ExecStart=//p' "$UNIT")
check "unit: ExecStart" "/usr/local/sbin/avwarden -c /usr/local/etc/avwarden/avwarden.conf" "$execstart"
if [ -x "$D${execstart%% *}" ]; then
	ok "unit: ExecStart's program is the installed avwarden"
else
	bad "unit: ExecStart's program is the installed avwarden" "$D${execstart%% *} missing"
fi
# shellcheck disable=SC2016 # $MAINPID is systemd's, literally
check "unit: ExecReload sends SIGUSR2" 'ExecReload=/bin/kill -USR2 $MAINPID' "$(grep '^ExecReload=' "$UNIT")"
# The daemon's own sandbox needs setuid/setgid, user namespaces, mounts and
# its own seccomp filters: none of these may be taken away by the unit.
check "unit: nothing that would break avwarden's sandbox" "" \
	"$(grep -E '^(RestrictNamespaces|PrivateUsers|SystemCallFilter|CapabilityBoundingSet|User|DynamicUser)=' \
		"$UNIT" || true)"
# systemd's own parser: an unknown key or a bad value is a warning there,
# so any output fails. The copy's paths point into the staging directory
# because verify also checks that ExecStart's program exists.
if command -v systemd-analyze > /dev/null 2>&1; then
	mkdir "$T/unit"
	sed "s|=/usr/local/|=$D/usr/local/|g" "$UNIT" > "$T/unit/avwarden.service"
	out=$(systemd-analyze verify --man=no "$T/unit/avwarden.service" 2>&1) || true
	check "unit: systemd-analyze verify has no complaint" "" "$out"
fi
check "logrotate: postrotate reopens the log" \
	"/usr/local/bin/avwardenctl reopen-logs >/dev/null 2>&1 || true" \
	"$(grep 'avwardenctl' "$ROTATE" | sed 's/^[[:space:]]*//')"
if ! command -v logrotate > /dev/null 2>&1; then
	bad "logrotate installed" "apt-get install logrotate (make deps)"
else
	# logrotate exits 0 even after "error: ... unknown option": read its output too.
	rc=0
	out=$(logrotate --debug --state "$T/logrotate.state" "$ROTATE" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q '^error'; then
		ok "logrotate --debug accepts the installed file"
	else
		bad "logrotate --debug accepts the installed file" "rc=$rc: $out"
	fi
	# A real rotation with the same file, moved to a scratch log directory
	# and with avwardenctl replaced by a stand-in that records its arguments.
	mkdir -m 0700 "$T/log"
	echo "2026-01-01T00:00:00.000Z info start version=test" > "$T/log/scanner.log"
	printf '#!/bin/sh\necho "$@" >> %s/ctl.calls\n' "$T" > "$T/avwardenctl"
	chmod 755 "$T/avwardenctl"
	sed -e "s|^/var/log/avwarden/|$T/log/|" -e "s|/usr/local/bin/avwardenctl|$T/avwardenctl|" "$ROTATE" \
		> "$T/rotate.conf"
	# Only root can hand the new file to root:adm.
	[ "$(id -u)" -eq 0 ] || sed -i 's/^\([[:space:]]*create 0640\) root adm$/\1/' "$T/rotate.conf"
	rc=0
	out=$(logrotate --force --state "$T/logrotate.state" "$T/rotate.conf" 2>&1) || rc=$?
	check "logrotate rotates the log" "0/" "$rc/$out"
	check "rotated log kept uncompressed (delaycompress)" yes \
		"$([ -s "$T/log/scanner.log.1" ] && echo yes || echo no)"
	if [ "$(id -u)" -eq 0 ]; then
		check "new log created 0640 root:adm" "640 root:adm" "$(stat -c '%a %U:%G' "$T/log/scanner.log" 2>&1)"
	else
		check "new log created 0640" 640 "$(stat -c %a "$T/log/scanner.log" 2>&1)"
	fi
	check "postrotate ran avwardenctl reopen-logs once" reopen-logs "$(cat "$T/ctl.calls" 2>&1)"
fi

###########################################################################
echo "# man pages, paths"
if ! command -v groff > /dev/null 2>&1; then
	bad "groff installed" "apt-get install groff-base (make deps)"
else
	for m in man8/avwarden.8 man8/avwardenctl.8 man8/avwarden-scanner.8 man5/avwarden.conf.5 man1/avwarden-scan.1; do
		check "$m renders without warnings" "" "$(groff -man -Tutf8 -ww -z "$P/share/man/$m" 2>&1)"
	done
fi
check "no installed file mentions the staging directory" "" "$(grep -rlF "$D" "$D" || true)"
check "no @VARIABLE@ left unsubstituted" "" "$(grep -l '@[A-Z]*DIR@' "$UNIT" "$ROTATE" "$CONF" || true)"

###########################################################################
echo "# reinstall, uninstall"
if mk install && [ ! -e "$CONF.new" ]; then
	ok "reinstall over an unchanged config: no avwarden.conf.new"
else
	bad "reinstall over an unchanged config: no avwarden.conf.new" "$(cat "$T/make.out")"
fi
echo 'max_concurrency = 8  # local change' >> "$CONF"
cp "$CONF" "$T/modified.conf"
if mk install; then
	ok "reinstall over a modified config"
else
	bad "reinstall over a modified config" "$(cat "$T/make.out")"
fi
if cmp -s "$T/modified.conf" "$CONF"; then
	ok "reinstall: modified config kept"
else
	bad "reinstall: modified config kept"
fi
if [ -f "$CONF.new" ] && cmp -s "$B/install/avwarden.conf" "$CONF.new"; then
	check "reinstall: new default written as avwarden.conf.new, mode 640" 640 "$(stat -c %a "$CONF.new")"
else
	bad "reinstall: new default written as avwarden.conf.new"
fi
if grep -q 'avwarden.conf.new' "$T/make.out"; then
	ok "reinstall: says where the new default went"
else
	bad "reinstall: says where the new default went" "$(cat "$T/make.out")"
fi

echo "# the scanners' own account"
check "sysusers.d: the avwarden account" 'u avwarden - "avwarden scanner processes" /nonexistent /usr/sbin/nologin' \
	"$(grep '^u ' "$P/lib/sysusers.d/avwarden.conf")"
check "installed default config: user avwarden" 'user = "avwarden"' "$(grep '^user' "$B/install/avwarden.conf")"
# scripts/add-user.sh (what make install runs as root): a system account,
# its own group, no login; a second run changes nothing.
sh "$ROOT/scripts/add-user.sh" avwarden-itest > "$T/adduser.out" 2>&1
grep -q "created system account avwarden-itest" "$T/adduser.out" && ok "add-user: creates it" ||
	bad "add-user: creates it" "$(cat "$T/adduser.out")"
check "add-user: shell nologin, home /nonexistent" "/usr/sbin/nologin /nonexistent" \
	"$(getent passwd avwarden-itest | awk -F: '{ print $7, $6 }')"
check "add-user: its own group" avwarden-itest "$(id -gn avwarden-itest)"
[ "$(id -u avwarden-itest)" -lt 1000 ] && ok "add-user: a system uid" || bad "add-user: system uid" "$(id -u avwarden-itest)"
check "add-user: a second run says nothing" "" "$(sh "$ROOT/scripts/add-user.sh" avwarden-itest 2>&1)"
userdel avwarden-itest 2>/dev/null || true
r=$(setpriv --reuid=nobody --regid=nogroup --clear-groups sh "$ROOT/scripts/add-user.sh" avwarden-missing 2>&1 || true)
echo "$r" | grep -q "only root can create it" && echo "$r" | grep -q "useradd --system" &&
	ok "add-user as a user: says how" || bad "add-user as a user" "$r"

if mk uninstall; then
	ok "make uninstall"
else
	bad "make uninstall" "$(cat "$T/make.out")"
fi
check "uninstall leaves only the configuration" \
	"/usr/local/etc/avwarden/avwarden.conf /usr/local/etc/avwarden/avwarden.conf.new" \
	"$(cd "$D" && find . -type f | sed 's|^\.||' | sort | tr '\n' ' ' | sed 's/ $//')"

finish
