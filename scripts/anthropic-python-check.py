#!/usr/bin/env python3
"""Drives foreman's /v1/messages with the official anthropic Python client, as a user would.

Usage: FOREMAN_URL=http://127.0.0.1:8080 FOREMAN_TOKEN=secret CHAT_MODEL=llama3.2 python3 scripts/anthropic-python-check.py

foreman relays /v1/messages to the box as a queued job, byte for byte: the box (Ollama, or llama.cpp's server) answers
in Anthropic's shape. Exits non-zero on the first failed check.
"""
import os
import sys

import anthropic

from checking import check, passed

url = os.environ.get("FOREMAN_URL", "http://127.0.0.1:8080")
token = os.environ.get("FOREMAN_TOKEN", "secret")
chat_model = os.environ.get("CHAT_MODEL", "llama3.2")
# The client's default: the token as x-api-key.
client = anthropic.Anthropic(base_url=url, api_key=token, max_retries=0)



question = [{"role": "user", "content": "What is the capital of France? One word."}]
message = client.messages.create(model=chat_model, max_tokens=8, messages=question)
texts = [block.text for block in message.content if block.type == "text"]
check("messages (not streamed): an assistant message with text", message.role == "assistant" and texts and len(texts[0]) > 0, message)
check("messages (not streamed): stop_reason and usage",
      message.stop_reason in ("end_turn", "max_tokens", "stop_sequence") and message.usage.output_tokens > 0, message)

with client.messages.stream(model=chat_model, max_tokens=8, messages=question) as stream:
    streamed = "".join(stream.text_stream)
    final = stream.get_final_message()
check("messages (streamed): text arrives in deltas", len(streamed) > 0, streamed)
check("messages (streamed): the final message holds the same text",
      [block.text for block in final.content if block.type == "text"] == [streamed], (final, streamed))

bearer = anthropic.Anthropic(base_url=url, auth_token=token, max_retries=0)
check("the token as a bearer token works too", len(bearer.messages.create(model=chat_model, max_tokens=4, messages=question).content) > 0)

try:
    client.messages.create(model="no-such-model", max_tokens=8, messages=question)
    check("an unknown model is refused", False)
except anthropic.NotFoundError as error:
    check("an unknown model is a 404 in Anthropic's shape",
          error.status_code == 404 and error.body.get("type") == "error" and error.body["error"]["type"] == "not_found_error", error.body)

wrong = anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0)
try:
    wrong.messages.create(model=chat_model, max_tokens=8, messages=question)
    check("a wrong key is refused", False)
except anthropic.AuthenticationError as error:
    check("a wrong key is a 401 in Anthropic's shape", error.status_code == 401 and error.body["error"]["type"] == "authentication_error", error.body)

passed()
