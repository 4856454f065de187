#!/usr/bin/env python3
"""Drives foreman's model management with the official ollama Python client, as a user would: pull (streamed and
not), push, a blob upload and create, copy and delete, each followed by a listing that must already show the change.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret [PREFIX=box/] python3 scripts/ollama-models-check.py

PREFIX names the provider in a fleet (`box/`); the fake target behind foreman pulls any name that does not contain
`does-not-exist`. Exits non-zero on the first failed check.
"""
import os
import tempfile

import ollama

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
prefix = os.environ.get("PREFIX", "")
headers = {"Authorization": f"Bearer {token}"}
# In a fleet a blob names its box in a header: blobs carry no model name.
if os.environ.get("BLOB_PROVIDER"):
    headers["X-Foreman-Provider"] = os.environ["BLOB_PROVIDER"]
client = ollama.Client(host=url, headers=headers)


def listed():
    return {model.model for model in client.list().models}


def bare(name):
    return name.split("/", 1)[1] if prefix and name.startswith(prefix) else name


pulled = prefix + "tinyllama"
parts = list(client.pull(pulled, stream=True))
statuses = [part.status for part in parts]
check("pull (streamed): progress lines arrive, from the manifest to success",
      statuses[0] == "pulling manifest" and statuses[-1] == "success", statuses)
check("pull (streamed): layer lines carry digest, total and completed",
      any(part.digest and part.total and part.completed == part.total for part in parts), parts)
check("pull: the listing shows the model once the call has returned", any(bare(name).startswith("tinyllama") for name in listed()), listed())

whole = client.pull(prefix + "smollm", stream=False)
check("pull (not streamed): one answer, success", whole.status == "success", whole)

try:
    list(client.pull(prefix + "does-not-exist", stream=True))
    check("pull (streamed) of an unknown model raises the box's error", False)
except ollama.ResponseError as error:
    check("pull (streamed) of an unknown model raises the box's error", "file does not exist" in error.error, error)
try:
    client.pull(prefix + "does-not-exist", stream=False)
    check("pull (not streamed) of an unknown model is the box's 500", False)
except ollama.ResponseError as error:
    check("pull (not streamed) of an unknown model is the box's 500", error.status_code == 500 and "file does not exist" in error.error, error)

pushed = list(client.push(pulled, stream=True))
check("push (streamed): progress lines to success", pushed[-1].status == "success", pushed)
check("push (not streamed): success", client.push(pulled, stream=False).status == "success")

with tempfile.NamedTemporaryFile(delete=False) as blob:
    blob.write(os.urandom(3 * 1024 * 1024 + 17))
digest = client.create_blob(blob.name)
os.unlink(blob.name)
check("create_blob: the upload is accepted and its digest returned", digest.startswith("sha256:"), digest)
made = client.create(model=prefix + "from-files", files={"model.gguf": digest}, stream=False)
check("create from an uploaded blob: success, listed", made.status == "success" and any(bare(n).startswith("from-files") for n in listed()), made)
derived = list(client.create(model=prefix + "derived", from_=pulled, system="Be brief.", stream=True))
check("create from a base (streamed): success, listed",
      derived[-1].status == "success" and any(bare(n).startswith("derived") for n in listed()), derived)

copied = client.copy(pulled, prefix + "copied")
check("copy: success, listed", copied.status == "success" and any(bare(n).startswith("copied") for n in listed()), copied)
removed = client.delete(prefix + "copied")
check("delete: success, gone from the listing", removed.status == "success" and not any(bare(n).startswith("copied") for n in listed()), removed)
try:
    client.delete(prefix + "copied")
    check("delete of a model that is not there is the box's 404", False)
except ollama.ResponseError as error:
    check("delete of a model that is not there is the box's 404", error.status_code == 404, error)

passed()
