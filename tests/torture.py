#!/usr/bin/env python3
"""tests/torture.py: clients that do everything at once to a live daemon.

  torture.py SOCKET TREE SECONDS CLIENTS [stopping]

CLIENTS threads, for SECONDS, each picking at random: INSTREAM (z and n
forms, random chunking, clean or EICAR, often unique bytes so the cache
does not answer), a disconnect in the middle of a stream or a command,
IDSESSION with pipelined commands, SCAN/CONTSCAN/MULTISCAN of TREE, FILDES,
PING/VERSION/STATS, garbage, a half-close. Every answer is checked: a
verdict must be the right one; an ERROR is allowed (workers are killed
around us), a wrong verdict or a connection the daemon breaks never.
With "stopping" the daemon is being shut down meanwhile: a refused or
closed connection is then expected (counted as "stopped"), a wrong verdict
still never. Prints one line of counts; exits 1 on
any wrong answer.
"""
import os, random, socket, struct, sys, threading, time

SOCK, TREE, SECONDS, CLIENTS = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
STOPPING = len(sys.argv) > 5 and sys.argv[5] == "stopping"
EICAR = b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
FOUND = "Eicar-Test-Signature.UNOFFICIAL FOUND"
lock = threading.Lock()
counts = {"sessions": 0, "commands": 0, "ok": 0, "errors": 0, "wrong": 0, "left": 0, "broken": 0, "stopped": 0}
wrongs = []


def bump(key, n=1):
    with lock:
        counts[key] += n


def wrong(what, got):
    with lock:
        counts["wrong"] += 1
        if len(wrongs) < 20:
            wrongs.append("%s: %r" % (what, got))


def dial():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(SOCK)
    bump("sessions")
    return s


def recv_all(s, until=None):
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        out += d
        if until is not None and until(out):
            break
    return out


def stream(payload, rng):
    out, i = b"", 0
    while i < len(payload):
        n = rng.randint(1, 4096)
        out += struct.pack(">I", len(payload[i:i + n])) + payload[i:i + n]
        i += n
    return out + struct.pack(">I", 0)


def sample(rng):
    """Bytes to scan and whether they hold EICAR; often unique (no cache)."""
    tag = b"%d-%d" % (rng.getrandbits(48), time.monotonic_ns()) if rng.random() < 0.7 else b"same"
    if rng.random() < 0.4:
        return EICAR, True                       # EICAR must be at offset 0
    body = b"From: a@example.org\r\nSubject: " + tag + b"\r\n\r\n" + os.urandom(rng.randint(0, 20000)).hex().encode()
    return body, False


def check_verdict(what, text, infected):
    text = text.strip("\0\n")
    if STOPPING and text in ("", "stream:"):
        bump("stopped")  # closed unanswered by the shutdown
    elif text.endswith("ERROR"):
        bump("errors")
    elif (infected and text.endswith(FOUND)) or (not infected and text.endswith(": OK")):
        bump("ok")
    else:
        wrong(what, text)


def do_instream(rng):
    data, infected = sample(rng)
    z = rng.random() < 0.5
    s = dial()
    s.sendall((b"zINSTREAM\0" if z else b"nINSTREAM\n") + stream(data, rng))
    bump("commands")
    check_verdict("INSTREAM", recv_all(s).decode(errors="replace"), infected)
    s.close()


def do_leave(rng):
    data, _ = sample(rng)
    s = dial()
    msg = b"zINSTREAM\0" + stream(data, rng)
    s.sendall(msg[:rng.randint(0, len(msg))])
    bump("commands")
    bump("left")
    s.close()


def do_session(rng):
    s = dial()
    n = rng.randint(1, 6)
    req, want = b"zIDSESSION\0", []
    for _ in range(n):
        k = rng.random()
        if k < 0.3:
            req += b"zPING\0"
            want.append("PONG")
        elif k < 0.4:
            req += b"zVERSION\0"
            want.append("VERSION")
        else:
            data, inf = sample(rng)
            req += b"zINSTREAM\0" + stream(data, rng)
            want.append(inf)
    req += b"zEND\0"
    s.sendall(req)
    bump("commands", n)
    out = recv_all(s, lambda b: b.count(b"\0") >= n).decode(errors="replace")
    replies = [r for r in out.split("\0") if r]
    if STOPPING and len(replies) < n:
        bump("stopped")  # the shutdown ended the session; what came is checked
        want = want[:len(replies)]
        n = len(replies)
    if len(replies) != n:
        wrong("IDSESSION reply count %d of %d" % (len(replies), n), out)
        s.close()
        return
    for i, (r, w) in enumerate(zip(replies, want)):
        if not r.startswith("%d: " % (i + 1)):
            wrong("IDSESSION tag", r)
            continue
        r = r.split(": ", 1)[1]
        if w == "PONG":
            (bump("ok") if r == "PONG" else wrong("PING in session", r))
        elif w == "VERSION":
            (bump("ok") if r.startswith("ClamAV ") else wrong("VERSION in session", r))
        else:
            check_verdict("INSTREAM in session", "stream: " + r.split("stream: ", 1)[-1], w)
    s.close()


def do_path(rng):
    cmd = rng.choice(["SCAN", "CONTSCAN", "MULTISCAN"])
    s = dial()
    s.sendall(("n%s %s\n" % (cmd, TREE)).encode())
    bump("commands")
    out = recv_all(s).decode(errors="replace")
    lines = [l for l in out.split("\n") if l]
    found = [l for l in lines if l.endswith(FOUND)]
    errors = [l for l in lines if l.endswith("ERROR")]
    want = 1 if cmd == "SCAN" else 2
    if STOPPING and not lines:
        bump("stopped")
    elif len(found) + len(errors) >= want or (cmd == "SCAN" and (found or errors)):
        bump("ok" if not errors else "errors")
    else:
        wrong(cmd, out)
    s.close()


def do_fildes(rng):
    import array
    s = dial()
    fd = os.open(os.path.join(TREE, "e1.com"), os.O_RDONLY)
    s.sendall(b"zFILDES\0")
    s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
    os.close(fd)
    bump("commands")
    check_verdict("FILDES", recv_all(s).decode(errors="replace"), True)
    s.close()


def do_simple(rng):
    c = rng.choice([b"zPING\0", b"nVERSION\n", b"zSTATS\0", b"PING\n", b"zFROB\0", b"nPI", b"zINSTREAM\0\0\0"])
    s = dial()
    s.sendall(c)
    # Unfinished commands are cut off by a half-close (else they would wait
    # for command_read_timeout): the daemon closes, with nothing to say.
    if rng.random() < 0.3 or c in (b"nPI", b"zINSTREAM\0\0\0"):
        s.shutdown(socket.SHUT_WR)
    bump("commands")
    out = recv_all(s, lambda b: b.endswith(b"\0") or b.endswith(b"\n"))
    if STOPPING and out == b"":
        bump("stopped")
    elif c in (b"zPING\0", b"PING\n") and out.strip(b"\0\n") not in (b"PONG",) and not out.endswith(b"ERROR\0") \
            and not out.endswith(b"ERROR\n"):
        wrong("PING", out)
    else:
        bump("ok")
    s.close()


ACTIONS = [do_instream] * 5 + [do_leave] * 2 + [do_session] * 2 + [do_path, do_fildes, do_simple, do_simple]


def client(seed):
    rng = random.Random(seed)
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        try:
            rng.choice(ACTIONS)(rng)
        except (ConnectionRefusedError, FileNotFoundError):
            if STOPPING:
                bump("stopped")
                return
            wrong("connect", "refused")
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
            if STOPPING:
                bump("stopped")
                continue
            wrong("connection broken", repr(e))


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(" ".join("%s=%d" % kv for kv in counts.items()))
for w in wrongs:
    print("wrong: " + w)
sys.exit(1 if counts["wrong"] else 0)
