#!/bin/sh
# Generates avwarden's test and default signature database; never downloads.
#   avwarden-test.ndb  EICAR as a body signature
#   avwarden-test.hdb  MD5 hash signatures of the base binaries in Debian's
#                      clamav-testfiles, so that its archived, packed and
#                      encoded variants are found only by unpacking them.
# usage: gen-db.sh OUTDIR
set -eu
out=$1
testfiles=/usr/share/clamav-testfiles
mkdir -p "$out"
# The EICAR test string, assembled so this file is not itself a test file.
eicar_hex=$(printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' \
	'ANTIVIRUS-TEST-FILE!$H+H*' | od -An -v -tx1 | tr -d ' \n')
printf 'Eicar-Test-Signature:0:0:%s\n' "$eicar_hex" > "$out/avwarden-test.ndb.tmp"
mv "$out/avwarden-test.ndb.tmp" "$out/avwarden-test.ndb"
if [ -r "$testfiles/clam.exe" ]; then
	: > "$out/avwarden-test.hdb.tmp"
	# clam.exe is the payload every other test file wraps (zip, upx, mbox...).
	for f in clam.exe; do
		sum=$(md5sum < "$testfiles/$f" | cut -d' ' -f1)
		size=$(stat -c %s "$testfiles/$f")
		printf '%s:%s:ClamAV-Test-File\n' "$sum" "$size" >> "$out/avwarden-test.hdb.tmp"
	done
	mv "$out/avwarden-test.hdb.tmp" "$out/avwarden-test.hdb"
else
	echo "gen-db: $testfiles/clam.exe missing (apt-get install clamav-testfiles); EICAR only" >&2
fi
