#!/bin/sh
# Installs the Debian packages avwarden builds, runs and tests with, if any
# is missing. Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="build-essential pkg-config libuv1-dev libclamav-dev libseccomp-dev
libcmocka-dev libconfuse-dev libssl-dev clamav-testfiles clamdscan clamav
clamav-daemon python3 groff-base logrotate exim4-daemon-heavy swaks libfuse3-dev fuse3 socat
iproute2"
[ "${1:-}" = "--with-sanitizers" ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
