#!/bin/sh
# Installs the Debian packages avwarden builds, runs and tests with, if any
# is missing, and unpacks Postfix for tests/postfix.sh. Needs root (or sudo)
# only when something has to be installed.
set -eu
# libmicrohttpd-dev: the metrics listener; python3-prometheus-client:
# tests/metrics.sh parses it. libhiredis-dev: the shared verdict cache;
# redis-server: tests/shared.sh runs its own. haproxy: tests/multinode.sh. zlib1g-dev, libbz2-dev, liblzma-dev: the worker's container checks
# (scanner/zipcheck.c, contcheck.c). iproute2:
# protocol.sh (an address that is not loopback). clamav-milter and
# strace: tests/postfix.sh. libdb5.3 to libsasl2-2: what
# the unpacked Postfix links (the postfix package's Depends, Debian 12).
PKGS="build-essential pkg-config libuv1-dev libclamav-dev libseccomp-dev
libcmocka-dev libconfuse-dev libssl-dev clamav-testfiles clamdscan clamav
clamav-daemon python3 groff-base logrotate exim4-daemon-heavy swaks libfuse3-dev fuse3 socat
iproute2 clamav-milter strace libdb5.3 libicu72 libnsl2 libsasl2-2 zlib1g-dev libbz2-dev liblzma-dev
libmicrohttpd-dev python3-prometheus-client libhiredis-dev redis-server haproxy"
[ "${1:-}" = "--with-sanitizers" ] && PKGS="$PKGS clang libclang-rt-14-dev"
# make bench: perf counts the syscalls and context switches of each target.
[ "${1:-}" = "--with-bench" ] && PKGS="$PKGS linux-perf"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# Debian's postfix package conflicts with the exim4 packages the Exim suite
# needs (each provides mail-transport-agent), so it is never installed: its
# .deb is unpacked here and tests/postfix.sh runs it with a config directory
# of its own. The same default is in tests/postfix.sh; remove the directory
# to unpack the current version again.
POSTFIX_ROOT=${POSTFIX_ROOT:-/var/cache/avwarden-test/postfix}
postfix_missing=""
[ -f "$POSTFIX_ROOT/.unpacked" ] || postfix_missing=yes
# promtool and a Prometheus server for tests/metrics.sh: both are static
# binaries in Debian's prometheus package, unpacked the same way (installing
# it would start a Prometheus service on this machine).
PROMETHEUS_ROOT=${PROMETHEUS_ROOT:-/var/cache/avwarden-test/prometheus}
prometheus_missing=""
[ -f "$PROMETHEUS_ROOT/.unpacked" ] || prometheus_missing=yes
[ -z "$missing" ] && [ -z "$postfix_missing" ] && [ -z "$prometheus_missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# The tests run milters of their own; the one Debian's postinst may have
	# started (for /etc/clamav/clamav-milter.conf) is not needed.
	case " $missing " in
	*" clamav-milter "*) $SUDO invoke-rc.d clamav-milter stop >/dev/null 2>&1 || true;;
	esac
	# Likewise the Redis Debian's postinst may have started on port 6379.
	case " $missing " in
	*" redis-server "*) $SUDO invoke-rc.d redis-server stop >/dev/null 2>&1 || true;;
	esac
	case " $missing " in
	*" haproxy "*) $SUDO invoke-rc.d haproxy stop >/dev/null 2>&1 || true;;
	esac
fi
if [ -n "$postfix_missing" ]; then
	echo "deps: unpacking Debian's postfix into $POSTFIX_ROOT (not installed: it would replace exim4)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# As root, apt's download sandbox user (_apt) could not write to $tmp.
	(cd "$tmp" && $SUDO apt-get download -qq -o APT::Sandbox::User=root postfix)
	$SUDO rm -rf "$POSTFIX_ROOT.new"
	$SUDO mkdir -p "$POSTFIX_ROOT.new"
	$SUDO dpkg-deb -x "$tmp"/postfix_*.deb "$POSTFIX_ROOT.new"
	# What the package's postinst would do in /etc/postfix, the meta_directory
	# that post-install's check reads.
	$SUDO cp "$POSTFIX_ROOT.new/usr/share/postfix/dynamicmaps.cf" "$POSTFIX_ROOT.new/etc/postfix/"
	$SUDO mkdir -p "$POSTFIX_ROOT.new/etc/postfix/dynamicmaps.cf.d" "$POSTFIX_ROOT.new/etc/postfix/postfix-files.d"
	dpkg-deb -f "$tmp"/postfix_*.deb Version | $SUDO tee "$POSTFIX_ROOT.new/.unpacked" >/dev/null
	$SUDO rm -rf "$POSTFIX_ROOT"
	$SUDO mv "$POSTFIX_ROOT.new" "$POSTFIX_ROOT"
fi
if [ -n "$prometheus_missing" ]; then
	echo "deps: unpacking Debian's prometheus (promtool, prometheus) into $PROMETHEUS_ROOT"
	ptmp=$(mktemp -d)
	(cd "$ptmp" && $SUDO apt-get download -qq -o APT::Sandbox::User=root prometheus)
	$SUDO rm -rf "$PROMETHEUS_ROOT.new"
	$SUDO mkdir -p "$PROMETHEUS_ROOT.new"
	$SUDO dpkg-deb -x "$ptmp"/prometheus_*.deb "$PROMETHEUS_ROOT.new"
	dpkg-deb -f "$ptmp"/prometheus_*.deb Version | $SUDO tee "$PROMETHEUS_ROOT.new/.unpacked" >/dev/null
	rm -rf "$ptmp"
	$SUDO rm -rf "$PROMETHEUS_ROOT"
	$SUDO mv "$PROMETHEUS_ROOT.new" "$PROMETHEUS_ROOT"
fi
