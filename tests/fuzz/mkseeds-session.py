#!/usr/bin/env python3
# tests/fuzz/mkseeds-session.py: writes the seeds of the session fuzzer
# (tests/fuzz/session/) from the byte sequences real clients send:
# clamdscan --stream and --multiscan --fdpass, Exim's SCAN and INSTREAM,
# clamav-milter's PING and INSTREAM, avwarden's client library. Rerun it
# after changing the operation encoding in tests/fuzz_session.c.
import os, struct, sys

OPEN, SEND, FD, HALF, CLOSE, DRAIN, RUN, ONE, ALL, HEALTH, STOP = range(11)
INFECTED, CLEAN, UNSCANNABLE, ERROR = 1, 0, 2, 3

def send(k, data):
    return bytes([SEND, k, len(data) & 0xff, len(data) >> 8]) + data

def stream(payload, chunk=64):
    out = b""
    for i in range(0, len(payload), chunk):
        part = payload[i:i + chunk]
        out += struct.pack(">I", len(part)) + part
    return out + struct.pack(">I", 0)

def prog(*ops):
    return b"".join(ops)

run = lambda n=4: bytes([RUN, n])
mail = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
seeds = {
    "clamdscan-stream": prog(bytes([OPEN, 0]), send(0, b"zINSTREAM\0" + stream(mail)), run(),
                             bytes([ONE, 0, INFECTED]), run(), bytes([DRAIN, 0])),
    "clamdscan-multiscan-fdpass": prog(bytes([OPEN, 0]), send(0, b"zIDSESSION\0zFILDES\0"),
                                       bytes([FD, 0, 0, 0x41]), send(0, b"zFILDES\0"), bytes([FD, 0, 0, 0x42]),
                                       run(), bytes([ALL, 0, CLEAN]), run(), send(0, b"zEND\0"), run(), bytes([DRAIN, 0])),
    "exim-scan-unix": prog(bytes([OPEN, 0]), send(0, b"SCAN /usr/share/clamav-testfiles/clam.exe\n"),
                           run(7), bytes([ONE, 0, INFECTED]), run(), bytes([DRAIN, 0])),
    "exim-instream-tcp": prog(bytes([OPEN, 1]), send(1, b"zINSTREAM\0" + stream(mail * 4, 100)), bytes([HALF, 1]),
                              run(), bytes([ONE, 0, CLEAN]), run(), bytes([DRAIN, 1])),
    "milter-ping-instream": prog(bytes([OPEN, 0]), send(0, b"nPING\n"), run(), bytes([DRAIN, 0]),
                                 bytes([OPEN, 0]), send(1, b"nINSTREAM\n" + stream(mail)), run(),
                                 bytes([ONE, 0, ERROR]), run(), bytes([DRAIN, 1])),
    "multiscan-testfiles": prog(bytes([OPEN, 0]), send(0, b"zMULTISCAN /usr/share/clamav-testfiles\0"),
                                run(7), bytes([ALL, 0, INFECTED]), run(7), bytes([ALL, 0, CLEAN]), run(7),
                                bytes([DRAIN, 0])),
    "session-pipelined": prog(bytes([OPEN, 0]), send(0, b"zIDSESSION\0zPING\0zVERSION\0zSTATS\0zINSTREAM\0" +
                                                    stream(b"abc") + b"zEND\0"), run(), bytes([ONE, 0, CLEAN]),
                              run(), bytes([DRAIN, 0])),
    "avwinstream-wire": prog(bytes([OPEN, 2]), send(2, b"zAVWINSTREAM WIRE\0" + stream(b"..x\r\n.\r\n")), run(),
                             bytes([ONE, 0, UNSCANNABLE]), run(), bytes([DRAIN, 2])),
    "leave-mid-stream": prog(bytes([OPEN, 0]), send(0, b"zINSTREAM\0\0\0\1\0abc"), run(), bytes([CLOSE, 0]), run()),
    "leave-while-scanning": prog(bytes([OPEN, 0]), send(0, b"zINSTREAM\0" + stream(mail)), run(), bytes([CLOSE, 0]), run()),
    "shutdown-with-work": prog(bytes([OPEN, 0]), send(0, b"zINSTREAM\0" + stream(mail)), run(),
                               bytes([OPEN, 0]), send(1, b"zSHUTDOWN\0"), run()),
    "unhealthy-ping": prog(bytes([HEALTH, 0]), bytes([OPEN, 0]), send(0, b"PING"), run(), bytes([DRAIN, 0])),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "session")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), out))
