#!/bin/sh
# scripts/add-user.sh [NAME]: the scanner processes' own system account
# (default avwarden), created when missing: no home, no login shell, its own
# group, and used by nothing else. A scanner running as `nobody` shares its
# uid with every other daemon that does: a compromised worker could then
# signal or inspect them. Run by `make install`, `make run` and the tests,
# as root; prints what it did.
set -eu
name=${1:-avwarden}
if getent passwd "$name" >/dev/null; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "add-user: the account '$name' does not exist and only root can create it:" >&2
	echo "    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $name" >&2
	exit 1
fi
useradd --system --user-group --no-create-home --home-dir /nonexistent \
	--shell /usr/sbin/nologin --comment "avwarden scanner processes" "$name"
echo "add-user: created system account $name (uid $(id -u "$name")) for the scanner processes"
