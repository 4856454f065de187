#!/usr/bin/env python3
"""Drives a running foreman with the official ollama-python client, as a user would.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret FAKE_URL=http://127.0.0.1:11434 \
       python3 scripts/ollama-python-check.py

Needs `pip install ollama` and foreman in front of fake-ollama (FAKE_URL is read for its
concurrency counter). Exits non-zero on the first failed check.
"""
import concurrent.futures
import json
import os
import sys
import urllib.request

import ollama

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
fake = os.environ.get("FAKE_URL", "http://127.0.0.1:11434")
client = ollama.Client(host=url, headers={"Authorization": f"Bearer {token}"})



models = client.list().models
check("list returns the fake's models", {m.model for m in models} >= {"llama3.2:latest", "nomic-embed-text:latest"})

shown = client.show("llama3.2")
check("show has capabilities and model_info", "completion" in (shown.capabilities or []) and shown.modelinfo is not None)

reply = client.chat(model="llama3.2", messages=[{"role": "user", "content": "why is the sky blue?"}])
check("chat (stream=False) returns the whole message", reply.message.content.startswith("The sky is blue") and reply.done)

parts = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True))
check("chat (stream=True) yields tokens then done", len(parts) > 2 and parts[-1].done and not parts[0].done)

generated = client.generate(model="llama3.2", prompt="why?")
check("generate (stream=False)", generated.response.startswith("The sky") and generated.done)

streamed = list(client.generate(model="llama3.2", prompt="why?", stream=True))
check("generate (stream=True)", "".join(p.response for p in streamed).startswith("The sky") and streamed[-1].done)

embedded = client.embed(model="nomic-embed-text", input=["a", "b"])
check("embed returns one vector per input", len(embedded.embeddings) == 2)

check("ps lists resident models", len(client.ps().models) >= 1)

try:
    client.chat(model="ghost", messages=[{"role": "user", "content": "hi"}])
    check("unknown model raises", False)
except ollama.ResponseError as error:
    check("unknown model raises ResponseError 404", error.status_code == 404 and error.error == "model 'ghost' not found")

try:
    ollama.Client(host=url, headers={"Authorization": "Bearer wrong"}).list()
    check("wrong token raises", False)
except ollama.ResponseError as error:
    check("wrong token raises ResponseError 401", error.status_code == 401)


def one_chat(i):
    return client.chat(model="llama3.2", messages=[{"role": "user", "content": f"chat {i}"}]).done


with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
    done = list(pool.map(one_chat, range(8)))
check("eight concurrent chats all complete", all(done))
state = json.load(urllib.request.urlopen(f"{fake}/_fake/state"))
check("the target never ran two generations at once", state["max_concurrent_generations"] == 1)

passed()
