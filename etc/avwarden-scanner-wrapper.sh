#!/bin/sh
# Example scanner_path wrapper: set up whatever the scanner needs, then exec
# the real scanner with every argument unchanged. It must exec (not fork):
# the supervisor tracks the scanner host by the pid it spawned, and the
# control socket on fd 3 must reach the scanner as it is.
#
# AVWARDEN_SCANNER may name the real binary; otherwise it is looked up next
# to this script, then in the install location.
here=$(dirname "$0")
for s in "${AVWARDEN_SCANNER:-}" "$here/avwarden-scanner" "$here/../build/avwarden-scanner" \
	/usr/local/libexec/avwarden/avwarden-scanner /usr/libexec/avwarden/avwarden-scanner; do
	[ -n "$s" ] && [ -x "$s" ] && exec "$s" "$@"
done
echo "avwarden-scanner-wrapper: avwarden-scanner not found" >&2
exit 127
