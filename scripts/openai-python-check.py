#!/usr/bin/env python3
"""Drives foreman's /v1 surface with the official openai Python client, as a user would.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret CHAT_MODEL=llama3.2 EMBED_MODEL=nomic-embed-text \
       BOX=fake python3 scripts/openai-python-check.py

BOX=fake: foreman fronts the fake Ollama (translated calls; the test then reads what the fake received).
BOX=engine: foreman fronts a real llama.cpp engine as an `openai` provider (calls relayed). PHASE (queue-full,
hang-up) runs one check for a scene the test suite sets; see below. Exits non-zero on the first failed check.
"""
import os
import sys

import openai

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
chat_model = os.environ.get("CHAT_MODEL", "llama3.2")
embed_model = os.environ.get("EMBED_MODEL", "nomic-embed-text")
box = os.environ.get("BOX", "fake")
client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)
question = [{"role": "user", "content": "What is the capital of France? One word."}]

# Two single checks the test suite sets the scene for (the fake paused, the queue full):
#   PHASE=queue-full: a chat is refused 503 with Retry-After;
#   PHASE=hang-up: a streamed chat is read to its first chunk, then the client closes it.
phase = os.environ.get("PHASE", "all")
if phase == "queue-full":
    try:
        client.chat.completions.create(model=chat_model, messages=question)
        check("a full queue refuses the call", False)
    except openai.APIStatusError as error:
        check("a full queue is a 503 with Retry-After, in OpenAI's shape",
              error.status_code == 503 and error.response.headers.get("retry-after") is not None
              and "maximum pending requests exceeded" in error.body.get("message", ""), (error.status_code, error.body))
    passed()
    sys.exit(0)
if phase == "hang-up":
    stream = client.chat.completions.create(model=chat_model, messages=question, max_tokens=50, stream=True)
    first = next(iter(stream))
    check("the stream began", first.choices and first.choices[0].delta.role == "assistant", first)
    stream.close()
    passed()
    sys.exit(0)

ids = [m.id for m in client.models.list().data]
check("models.list names the chat model", any(i == chat_model or i.startswith(chat_model + ":") for i in ids), ids)
listed = next(i for i in ids if i == chat_model or i.startswith(chat_model + ":"))
check("models.retrieve finds it", client.models.retrieve(listed).id == listed)

reply = client.chat.completions.create(model=chat_model, messages=question, max_tokens=8, temperature=0,
                                       extra_body={"options": {"num_ctx": 4096}})
choice = reply.choices[0]
check("chat (not streamed): an assistant message", choice.message.role == "assistant" and len(choice.message.content) > 0, reply)
check("chat (not streamed): finish_reason and usage",
      choice.finish_reason in ("stop", "length") and reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0, reply)

chunks = list(client.chat.completions.create(model=chat_model, messages=question, max_tokens=8, temperature=0, stream=True,
                                             stream_options={"include_usage": True}))
deltas = [c.choices[0].delta for c in chunks if c.choices]
check("chat (streamed): the first delta carries the role", deltas and deltas[0].role == "assistant", chunks[:2])
text = "".join(d.content or "" for d in deltas)
check("chat (streamed): the text of the whole answer", text == choice.message.content, (text, choice.message.content))
check("chat (streamed): a finish_reason, then usage", any(c.choices and c.choices[0].finish_reason for c in chunks)
      and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0, chunks[-2:])

schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
shaped = client.chat.completions.create(model=chat_model, messages=question, max_tokens=32,
                                        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}})
check("chat with a JSON schema answers", shaped.choices[0].finish_reason in ("stop", "length"), shaped)

if box == "fake":
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    called = client.chat.completions.create(model=chat_model, messages=[{"role": "user", "content": "weather?"}], tools=tools)
    calls = called.choices[0].message.tool_calls or []
    check("tools: the call comes back as OpenAI's tool call",
          len(calls) == 1 and calls[0].function.name == "get_weather" and calls[0].function.arguments == "{}"
          and called.choices[0].finish_reason == "tool_calls", called)

completion = client.completions.create(model=chat_model, prompt="Once upon a time", max_tokens=8)
check("completions (not streamed)", len(completion.choices[0].text) > 0 and completion.usage.completion_tokens > 0, completion)
pieces = list(client.completions.create(model=chat_model, prompt="Once upon a time", max_tokens=8, stream=True))
check("completions (streamed)", len("".join(p.choices[0].text for p in pieces if p.choices)) > 0, pieces[:2])

floats = client.embeddings.create(model=embed_model, input=["The sky is blue.", "Paris"], encoding_format="float")
check("embeddings (float): one vector per input", len(floats.data) == 2 and len(floats.data[0].embedding) > 0, len(floats.data))
default = client.embeddings.create(model=embed_model, input=["The sky is blue.", "Paris"])
check("embeddings (the client's default, base64): the same vectors",
      [round(x, 5) for x in default.data[0].embedding] == [round(x, 5) for x in floats.data[0].embedding])

# The Responses API is relayed to the box as it came (Ollama and llama.cpp's server both serve it).
response = client.responses.create(model=chat_model, input="What is the capital of France? One word.", max_output_tokens=16)
check("responses (not streamed): output text", response.status == "completed" and len(response.output_text) > 0, response)
events = list(client.responses.create(model=chat_model, input="What is the capital of France? One word.", max_output_tokens=16,
                                      stream=True))
kinds = [event.type for event in events]
check("responses (streamed): text deltas, then completed",
      "response.output_text.delta" in kinds and kinds[-1] == "response.completed", kinds)

try:
    client.chat.completions.create(model="no-such-model", messages=question)
    check("an unknown model is refused", False)
except openai.NotFoundError as error:
    check("an unknown model is OpenAI's 404", error.status_code == 404 and "no-such-model" in str(error), error)

if box == "fake":
    try:
        client.chat.completions.create(model=chat_model, messages=[])
        check("no messages is refused", False)
    except openai.BadRequestError as error:
        check("no messages is a 400 in OpenAI's shape", error.body.get("message") == "[] is too short - 'messages'", error.body)

wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
try:
    wrong.models.list()
    check("a wrong token is refused", False)
except openai.AuthenticationError as error:
    check("a wrong token is a 401", error.status_code == 401)

passed()
