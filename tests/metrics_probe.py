#!/usr/bin/python3
"""tests/metrics_probe.py: an HTTP client for tests/metrics.sh.

  get PORT PATH [METHOD]     prints the status, then the headers and body
  value PORT NAME [K=V ...]  one sample of /metrics, parsed by
                             prometheus_client's own parser (Debian's
                             python3-prometheus-client); "missing" if absent
  raw PORT HEX|@FILE         sends the bytes, prints the reply's status line
                             or "closed" (nothing came back)
  hold PORT N SECONDS        opens N connections that send half a request,
                             scrapes while they are open, closes them, and
                             prints "held=N scrape_while=STATUS"
  slow PORT                  sends half a request and waits: prints how many
                             seconds until the server closed it
"""
import socket
import sys
import time
import http.client

from prometheus_client.parser import text_string_to_metric_families


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, r.getheaders(), body


def value(port, name, labels):
    status, _, body = get(port, "/metrics")
    if status != 200:
        return "status %d" % status
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                v = s.value
                return str(int(v)) if v == int(v) else repr(v)
    return "missing"


def raw(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(data)
        got = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    s.close()
    return got.split(b"\r\n")[0].decode("latin-1") if got else "closed"


def hold(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    try:
        status = str(get(port, "/metrics")[0])
    except (OSError, http.client.HTTPException) as e:
        status = type(e).__name__
    for s in socks:
        s.close()
    return "held=%d scrape_while=%s" % (len(socks), status)


def slow(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return "%.0f" % (time.monotonic() - t0)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "get":
        status, headers, body = get(port, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "GET")
        print(status)
        for k, v in headers:
            print("%s: %s" % (k, v))
        print()
        sys.stdout.write(body)
    elif cmd == "value":
        labels = dict(a.split("=", 1) for a in sys.argv[4:])
        print(value(port, sys.argv[3], labels))
    elif cmd == "raw":
        a = sys.argv[3]
        if a.startswith("@"):
            with open(a[1:], "rb") as f:
                data = f.read()
        else:
            data = bytes.fromhex(a)
        print(raw(port, data))
    elif cmd == "hold":
        print(hold(port, int(sys.argv[3])))
    elif cmd == "slow":
        print(slow(port))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
