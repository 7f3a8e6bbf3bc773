#!/bin/sh
# Generates a signature database shaped like ClamAV's official one, for
# `make bench` (never downloads): NHASH random MD5 hash signatures (.hdb,
# MD5:SIZE:NAME) and NBODY random 16-32 byte body signatures plus EICAR
# (.ndb, NAME:0:*:HEX). Deterministic for a seed; a few seconds.
# usage: gen-bigdb.sh DIR [NHASH] [NBODY] [SEED]
set -eu
DIR=${1:?usage: gen-bigdb.sh DIR [NHASH] [NBODY] [SEED]}
NHASH=${2:-2000000}
NBODY=${3:-50000}
SEED=${4:-12345}
mkdir -p "$DIR"
python3 - "$DIR" "$NHASH" "$NBODY" "$SEED" <<'PY'
import os, random, sys
d, nh, nb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
# EICAR, assembled so this file is not itself a test file.
eicar = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*').hex()
seen = set()
with open(os.path.join(d, "bench.hdb.tmp"), "w") as f:
    out, i = [], 0
    while i < nh:
        h = r.getrandbits(128)
        if h in seen:
            continue
        seen.add(h)
        i += 1
        out.append("%032x:%d:Bench.Hash-%d\n" % (h, r.randint(64, 4 << 20), i))
        if len(out) >= 100000:
            f.write("".join(out))
            out = []
    f.write("".join(out))
seen = set()
with open(os.path.join(d, "bench.ndb.tmp"), "w") as f:
    f.write("Eicar-Test-Signature:0:0:%s\n" % eicar)
    i = 0
    while i < nb:
        b = r.randbytes(r.randint(16, 32))
        # Patterns neither short nor common; distinct 4-byte prefixes keep
        # the matcher's tables spread as real signatures do.
        if len(set(b)) < 8 or b[:4] in seen:
            continue
        seen.add(b[:4])
        i += 1
        f.write("Bench.Body-%d:0:*:%s\n" % (i, b.hex()))
for ext in ("hdb", "ndb"):
    os.rename(os.path.join(d, "bench.%s.tmp" % ext), os.path.join(d, "bench.%s" % ext))
PY
