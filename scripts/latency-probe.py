#!/usr/bin/env python3
"""Latency of one request, repeated on one keep-alive connection: p50, p90, p99 in microseconds.

A raw socket keeps the client's own cost small, so foreman's share shows. Used for the per-endpoint figures in
progress.md, for example:

    python3 scripts/latency-probe.py 8080 POST /api/show '{"model":"llama3.2"}'
    python3 scripts/latency-probe.py 11434 GET /api/version
"""
import socket
import sys
import time

port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else b""
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1500
token = "t"  # FOREMAN_TOKEN of the foreman under test; the fake ignores it
request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n".encode()
if body:
    request += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
request += b"\r\n" + body

connection = socket.create_connection(("127.0.0.1", port))
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
times = []
for _ in range(count):
    start = time.perf_counter()
    connection.sendall(request)
    received = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        received += chunk
        end = received.find(b"\r\n\r\n")
        if end < 0:
            continue
        head = received[:end].decode("latin-1").lower()
        if "transfer-encoding: chunked" in head:
            if received.endswith(b"0\r\n\r\n"):
                break
            continue
        length = int(head.split("content-length:")[1].split("\r\n")[0]) if "content-length:" in head else 0
        if len(received) >= end + 4 + length:
            break
    times.append(time.perf_counter() - start)
times = sorted(times[count // 5:])  # the first fifth warms up
def at(fraction):
    return times[int(len(times) * fraction)] * 1e6
print(f"{method} {path} on :{port}: p50 {at(0.5):.0f} us, p90 {at(0.9):.0f} us, p99 {at(0.99):.0f} us ({len(times)} timed)")
