#!/usr/bin/env python3
"""Native chat latency on an idle foreman, then while THREADS threads submit /jobs jobs with a failing webhook.

    python3 scripts/native-under-load.py PORT TOKEN THREADS [CALLS]

Run it against a foreman started with FOREMAN_LOG_LEVEL=info and its log in a file: the log's `queue_wait_ms` and
`run_ms` of the `origin=api` jobs then split each native call's time between waiting and running (progress.md,
issue #14). The webhook goes to a loopback port nothing listens on, so every delivery fails.
"""
import http.client
import json
import sys
import threading
import time

port, token, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 300
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
job = json.dumps({
    "kind": "chat",
    "request": {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}], "options": {"num_predict": 1}},
    "state_webhook_url": "http://127.0.0.1:9/hook",
})
chat = json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False, "options": {"num_predict": 1}})
stop = threading.Event()


def submit():
    connection = http.client.HTTPConnection("127.0.0.1", port)
    while not stop.is_set():
        connection.request("POST", "/jobs", job, headers)
        connection.getresponse().read()


def timed():
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        connection.request("POST", "/api/chat", chat, headers)
        connection.getresponse().read()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return f"p50 {samples[len(samples) // 2]:.2f} ms, p99 {samples[int(len(samples) * 0.99)]:.2f} ms"


print("idle:", timed())
workers = [threading.Thread(target=submit) for _ in range(threads)]
for worker in workers:
    worker.start()
time.sleep(0.5)
print(f"with {threads} threads submitting /jobs:", timed())
stop.set()
for worker in workers:
    worker.join()
