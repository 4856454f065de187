#!/usr/bin/env python3
"""Drives foreman in front of real llama.cpp engines with the official ollama-python client, as a user would.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret CHAT_MODEL=smollm2-135m-instruct \
       EMBED_MODEL=all-minilm-l6-v2 python3 scripts/realengine-check.py

foreman's providers file names the chat engine `chat` and the embeddings engine `embed`, both of kind `openai`
(the test `RealEngineTests` starts all three). Exits non-zero on the first failed check.
"""
import math
import os
import sys
import urllib.request

import ollama

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
chat_model = os.environ.get("CHAT_MODEL", "smollm2-135m-instruct")
embed_model = os.environ.get("EMBED_MODEL", "all-minilm-l6-v2")
client = ollama.Client(host=url, headers={"Authorization": f"Bearer {token}"})



listed = {m.model for m in client.list().models}
check("list names each engine's model under its provider and bare",
      {f"chat/{chat_model}", chat_model, f"embed/{embed_model}", embed_model} <= listed, listed)

question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
reply = client.chat(model=chat_model, messages=question, options={"num_predict": 16, "temperature": 0, "seed": 1})
check("chat (stream=False): the engine's real tokens as Ollama's message",
      reply.done and reply.message.role == "assistant" and len(reply.message.content) > 0, reply)
check("chat (stream=False): counts and durations from the engine",
      (reply.prompt_eval_count or 0) > 0 and (reply.eval_count or 0) > 0 and (reply.total_duration or 0) > 0, reply)
check("chat (stream=False): done_reason", reply.done_reason in ("stop", "length"), reply.done_reason)

parts = list(client.chat(model=f"chat/{chat_model}", messages=question, stream=True,
                         options={"num_predict": 16, "temperature": 0, "seed": 1}))
check("chat (stream=True): several lines, then done", len(parts) > 2 and parts[-1].done and not parts[0].done, len(parts))
check("chat (stream=True): the streamed text is the text of the whole answer",
      "".join(p.message.content for p in parts) == reply.message.content,
      ("".join(p.message.content for p in parts), reply.message.content))

generated = client.generate(model=chat_model, prompt="Once upon a time", options={"num_predict": 8, "temperature": 0})
check("generate (stream=False)", generated.done and len(generated.response) > 0 and (generated.eval_count or 0) > 0, generated)
streamed = list(client.generate(model=chat_model, prompt="Once upon a time", stream=True, options={"num_predict": 8}))
check("generate (stream=True)", streamed[-1].done and len("".join(p.response for p in streamed)) > 0, len(streamed))

embedded = client.embed(model=embed_model, input=["The sky is blue.", "The sky is blue.", "Paris is in France."])
vectors = embedded.embeddings
check("embed: one 384-dimension vector per input from the real model",
      len(vectors) == 3 and all(len(v) == 384 for v in vectors), [len(v) for v in vectors])


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


check("embed: the same text gives the same vector, another text another",
      cosine(vectors[0], vectors[1]) > 0.9999 and cosine(vectors[0], vectors[2]) < 0.99,
      (cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])))

metrics = urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})).read().decode()
unhonoured = [line for line in metrics.splitlines() if line.startswith("foreman_unhonoured_fields_total")]
check("every field these calls sent was honoured (nothing left out, nothing logged)", not unhonoured, unhonoured)

shown = client.show(f"chat/{chat_model}")
context = (shown.modelinfo or {}).get("openai.context_length")
check("show: the context length is the engine's", isinstance(context, int) and context > 0, shown.modelinfo)

running = {m.model for m in client.ps().models}
check("ps: what the engines hold", f"chat/{chat_model}" in running, running)

for model in ("no-such-model", "chat/no-such-model"):
    try:
        client.chat(model=model, messages=question)
        check(f"an unknown model ({model}) is refused", False)
    except ollama.ResponseError as error:
        check(f"an unknown model ({model}) is Ollama's 404", error.status_code == 404, (error.status_code, error.error))

passed()
