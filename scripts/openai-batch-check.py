#!/usr/bin/env python3
"""Drives foreman's Batch API (/v1/files, /v1/batches) with the official openai Python client, as a user would.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret MODEL=llama3.2 python3 scripts/openai-batch-check.py PHASE

PHASE is one of:
  create            uploads a LINES-line (default 1000) chat batch and creates it; prints `result {"batch": ID}`
  finish ID         waits for batch ID to complete, downloads its output and matches it line by line by custom_id
  cancel            uploads and creates a CANCEL_LINES-line (default 200) batch, cancels it once it runs, waits for
                    `cancelled`, and checks its output and error files account for every line
  invalid           uploads a file with bad lines: the batch fails validation with line-numbered errors
  endpoints         a small batch on each of /v1/completions and /v1/embeddings (base64 on some lines)

Against the fake Ollama (BOX=fake) the answer to a request with max_tokens=k is the first k of its reply words, so
every output line can be checked against its request; against a real engine (BOX=engine) the answers are only checked
for shape. BATCH_TIMEOUT (seconds, default 180) bounds each wait for a batch. WEBHOOK_URL, when set, is passed as foreman's `webhook_url`.
Exits non-zero on the first failed check.
"""
import io
import json
import os
import sys
import time

import openai

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
model = os.environ.get("MODEL", "llama3.2")
webhook = os.environ.get("WEBHOOK_URL")
box = os.environ.get("BOX", "fake")
embed_model = os.environ.get("EMBED_MODEL", "nomic-embed-text")
timeout = float(os.environ.get("BATCH_TIMEOUT", "180"))
client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)
WORDS = ["The", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering", "."]



def tokens(index):
    return index % 5 + 1


def upload(lines, name="batch.jsonl"):
    text = "".join(json.dumps({
        "custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"line {i}"}], "max_tokens": tokens(i)},
    }) + "\n" for i in range(lines))
    uploaded = client.files.create(file=(name, io.BytesIO(text.encode())), purpose="batch")
    check("files.create keeps the file whole", uploaded.bytes == len(text.encode()) and uploaded.purpose == "batch", uploaded)
    check("files.retrieve finds it", client.files.retrieve(uploaded.id).id == uploaded.id)
    check("files.content gives back its bytes", client.files.content(uploaded.id).content == text.encode())
    return uploaded


def create(file_id, metadata):
    extra = {"webhook_url": webhook} if webhook else None
    batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata=metadata, extra_body=extra)
    check("batches.create answers the batch, validating", batch.status == "validating" and batch.metadata == metadata, batch)
    return batch


def wait(batch_id, statuses):
    deadline = time.time() + timeout
    while time.time() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        time.sleep(0.1)
    check(f"batch {batch_id} reaches {statuses}", False, client.batches.retrieve(batch_id))


def lines_of(file_id):
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line.strip()]


phase = sys.argv[1] if len(sys.argv) > 1 else "create"
if phase == "create":
    lines = int(os.environ.get("LINES", "1000"))
    uploaded = upload(lines)
    batch = create(uploaded.id, {"run": "check"})
    check("batches.list shows it", any(b.id == batch.id for b in client.batches.list(limit=100).data))
    print("result " + json.dumps({"batch": batch.id, "file": uploaded.id}))
elif phase == "finish":
    lines = int(os.environ.get("LINES", "1000"))
    batch = wait(sys.argv[2], ("completed", "failed", "expired", "cancelled"))
    check("the batch completed", batch.status == "completed", batch)
    counts = batch.request_counts
    check("request_counts: every line completed", (counts.total, counts.completed, counts.failed) == (lines, lines, 0), counts)
    check("no error file when nothing failed", batch.error_file_id is None, batch)
    output = lines_of(batch.output_file_id)
    by_id = {}
    for line in output:
        check_id = line["custom_id"]
        if check_id in by_id:
            check("each custom_id once in the output", False, check_id)
        by_id[check_id] = line
    check("one output line per request", len(by_id) == lines, len(by_id))
    for i in range(lines):
        line = by_id.get(f"request-{i}")
        response = line and line["response"]
        body = response and response["body"]
        expected = "".join(WORDS[:tokens(i)]) if box == "fake" else None
        content = body and body["choices"][0]["message"]["content"]
        if not (line and line["error"] is None and response["status_code"] == 200 and body["object"] == "chat.completion"
                and (content == expected if expected is not None else isinstance(content, str))):
            check(f"request-{i}'s answer is its own", False, line)
    check("every output line is the answer to its own request", True)
    check("batch_req ids are unique", len({line["id"] for line in output}) == lines)
elif phase == "cancel":
    lines = int(os.environ.get("CANCEL_LINES", "200"))
    uploaded = upload(lines, "cancel.jsonl")
    batch = create(uploaded.id, {"run": "cancel"})
    wait(batch.id, ("in_progress",))
    cancelling = client.batches.cancel(batch.id)
    check("batches.cancel answers cancelling", cancelling.status in ("cancelling", "cancelled"), cancelling)
    batch = wait(batch.id, ("cancelled", "completed", "failed", "expired"))
    check("the batch ended cancelled", batch.status == "cancelled" and batch.cancelled_at is not None, batch)
    counts = batch.request_counts
    check("request_counts add up", counts.total == lines and counts.completed + counts.failed == lines and counts.failed > 0, counts)
    errors = lines_of(batch.error_file_id)
    check("the error file holds every request that did not run",
          len(errors) == counts.failed and all(e["error"]["code"] == "batch_cancelled" and e["response"] is None for e in errors),
          errors[:3])
    done = lines_of(batch.output_file_id) if batch.output_file_id else []
    check("output and errors together name every request once",
          sorted(line["custom_id"] for line in done + errors) == sorted(f"request-{i}" for i in range(lines)))
    try:
        client.batches.cancel(batch.id)
        check("cancelling again answers the batch", True)
    except openai.APIStatusError as error:
        check("cancelling again answers the batch", False, error)
    print("result " + json.dumps({"batch": batch.id}))
elif phase == "invalid":
    good = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}
    rows = [json.dumps(good), "not json", json.dumps({**good, "url": "/v1/embeddings"}), json.dumps(good),
            json.dumps({**good, "custom_id": "b", "body": {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}}),
            json.dumps({**good, "custom_id": "c" * 513})]
    uploaded = client.files.create(file=("bad.jsonl", io.BytesIO(("\n".join(rows) + "\n").encode())), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  extra_body={"webhook_url": webhook} if webhook else None)
    batch = wait(batch.id, ("failed", "in_progress", "completed"))
    check("a bad file fails validation", batch.status == "failed" and batch.request_counts.total == 0, batch)
    found = sorted((e.line, e.code) for e in batch.errors.data)
    check("each bad line is named with its number",
          found == [(2, "invalid_json_line"), (3, "mismatched_endpoint"), (4, "duplicate_custom_id"), (5, "model_not_found"),
                    (6, "invalid_request")], found)
    try:
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}\n")), purpose="fine-tune")
        check("a purpose other than batch is refused", False)
    except openai.BadRequestError as error:
        check("a purpose other than batch is a 400", "purpose" in str(error), error)
    try:
        client.batches.retrieve("batch_nope")
        check("an unknown batch is refused", False)
    except openai.NotFoundError:
        check("an unknown batch is a 404", True)
    deleted = client.files.delete(uploaded.id)
    check("files.delete", deleted.deleted)
    try:
        client.files.retrieve(uploaded.id)
        check("a deleted file is gone", False)
    except openai.NotFoundError:
        check("a deleted file is a 404", True)
elif phase == "endpoints":
    prompts = [f"Once upon a time {i}" for i in range(5)]
    text = "".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/completions",
                               "body": {"model": model, "prompt": p, "max_tokens": 3}}) + "\n" for i, p in enumerate(prompts))
    uploaded = client.files.create(file=("completions.jsonl", io.BytesIO(text.encode())), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/completions", completion_window="24h")
    batch = wait(batch.id, ("completed", "failed", "cancelled", "expired"))
    check("a completions batch completes", batch.status == "completed" and batch.request_counts.completed == 5, batch)
    done = {line["custom_id"]: line["response"]["body"] for line in lines_of(batch.output_file_id)}
    check("completions answers in OpenAI's shape",
          sorted(done) == [f"c{i}" for i in range(5)] and all(b["object"] == "text_completion" and b["choices"][0]["text"] for b in done.values()),
          done)
    inputs = ["The sky is blue.", "Paris", "batches"]
    text = "".join(json.dumps({"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
                               "body": {"model": embed_model, "input": x, **({"encoding_format": "base64"} if i == 1 else {})}}) + "\n"
                   for i, x in enumerate(inputs))
    uploaded = client.files.create(file=("embeddings.jsonl", io.BytesIO(text.encode())), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    batch = wait(batch.id, ("completed", "failed", "cancelled", "expired"))
    check("an embeddings batch completes", batch.status == "completed" and batch.request_counts.completed == 3, batch)
    done = {line["custom_id"]: line["response"]["body"] for line in lines_of(batch.output_file_id)}
    direct = client.embeddings.create(model=embed_model, input=inputs[0], encoding_format="float").data[0].embedding
    check("an embedding in a batch is the one a call gets", [round(x, 5) for x in done["e0"]["data"][0]["embedding"]] == [round(x, 5) for x in direct],
          done["e0"])
    check("base64 where the line asked for it", isinstance(done["e1"]["data"][0]["embedding"], str), done["e1"])
    if os.environ.get("MAX_FILE_BYTES"):
        big = b"x" * (int(os.environ["MAX_FILE_BYTES"]) + 1)
        try:
            client.files.create(file=("big.jsonl", io.BytesIO(big)), purpose="batch")
            check("a file past FOREMAN_MAX_FILE_BYTES is refused", False)
        except openai.APIStatusError as error:
            check("a file past FOREMAN_MAX_FILE_BYTES is a 413", error.status_code == 413, error)
        check("and leaves nothing behind", all(f.filename != "big.jsonl" for f in client.files.list().data))
else:
    sys.exit(f"unknown phase {phase}")

passed()
