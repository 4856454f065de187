#!/usr/bin/env python3
"""Drives foreman's Ollama verbs as a person would: through pipes, and on a pseudo-terminal for `run`'s conversation
and `pull`'s progress bars.

Usage: FOREMAN=.build/debug/foreman FOREMAN_HOST=127.0.0.1:8080 FOREMAN_TOKEN=secret python3 scripts/cli-check.py

The fake target behind foreman answers every chat with the same words and pulls any name. Exits non-zero on the
first failed check.
"""
import os
import pty
import select
import subprocess
import time

from checking import check, passed

binary = os.environ["FOREMAN"]
env = dict(os.environ)
env.pop("FOREMAN_URL", None)


def run(*arguments, stdin=None, extra=None):
    return subprocess.run([binary, *arguments], input=stdin, capture_output=True, text=True, timeout=60, env={**env, **(extra or {})})


def on_terminal(arguments, inputs=(), timeout=30):
    """Runs foreman on a pseudo-terminal, sending each input once its awaited text has appeared after the previous
    one. Returns the screen's text and the exit code."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(binary, [binary, *arguments], env)
    output = b""
    seen = 0
    pending = [(wait.encode(), text.encode()) for wait, text in inputs]
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline and status is None:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                output += os.read(fd, 4096)
            except OSError:
                pass
        if pending:
            found = output.find(pending[0][0], seen)
            if found >= 0:
                seen = found + len(pending[0][0])
                os.write(fd, pending.pop(0)[1])
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 0.2)
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        output += chunk
    if status is None:
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    return output.decode(errors="replace"), os.waitstatus_to_exitcode(status)


listed = run("list")
lines = listed.stdout.splitlines()
check("list: Ollama's columns", lines and lines[0].split() == ["NAME", "ID", "SIZE", "MODIFIED"], listed.stdout)
row = next((line for line in lines if line.startswith("llama3.2:latest ")), "")
check("list: a row with a 12-character id, a size and an age",
      len(row.split()[1]) == 12 and "GB" in row and row.rstrip().endswith("ago"), listed.stdout)
check("list PREFIX: only the matching models", [line.split()[0] for line in run("list", "qwen").stdout.splitlines()[1:]] == ["qwen2.5:7b"])

pulled = run("pull", "tinyllama")
check("pull through a pipe: one plain line per status and per finished layer",
      pulled.returncode == 0 and pulled.stderr.splitlines() == [
          "pulling manifest", "pulling 000000000000: 100% 2.0 GB", "pulling 111111111111: 100% 1.4 KB",
          "verifying sha256 digest", "writing manifest", "success"], pulled.stderr)
check("pull: the model is listed at once", any(line.startswith("tinyllama:latest") for line in run("list").stdout.splitlines()))
screen, code = on_terminal(["pull", "smollm"])
check("pull on a terminal: bars drawn in place", code == 0 and "\u2595" in screen and "\u2588" in screen and "\r\x1b[K" in screen and "success" in screen, repr(screen))
missing = run("pull", "does-not-exist")
check("pull of an unknown model: the box's error in one line, exit 1",
      missing.returncode == 1 and missing.stderr.strip().endswith("foreman: pull model manifest: file does not exist"), missing.stderr)

check("cp: Ollama's words", run("cp", "tinyllama", "tiny2").stdout == "copied 'tinyllama' to 'tiny2'\n")
check("rm: Ollama's words", run("rm", "tiny2").stdout == "deleted 'tiny2'\n")
gone = run("rm", "tiny2")
check("rm of a model that is not there: one line, exit 4", gone.returncode == 4 and gone.stderr == "foreman: model 'tiny2' not found\n", gone)

answer = run("run", "llama3.2", "why", "is", "the", "sky", "blue?")
check("run MODEL PROMPT: the answer, streamed, then a newline", answer.returncode == 0 and answer.stdout == "The sky is blue because of Rayleigh scattering.\n", answer)
piped = run("run", "llama3.2", stdin="a question on standard input")
check("run with the prompt on standard input", piped.returncode == 0 and piped.stdout.startswith("The sky is blue"), piped)
screen, code = on_terminal(["run", "llama3.2"], [(">>> ", "first question\n"), (">>> ", "second question\n"), (">>> ", "/bye\n")])
check("run on a terminal: a conversation of two turns, ended by /bye",
      code == 0 and screen.count("The sky is blue") == 2 and screen.count(">>> ") == 3, repr(screen))

fresh = run("run", "phi3", "hi")
check("run of a model the box lacks: pulled first, then the answer", fresh.returncode == 0 and "success" in fresh.stderr
      and fresh.stdout.startswith("The sky is blue"), fresh)
check("run --format json --think: accepted", run("run", "--format", "json", "--think", "llama3.2", "in json").returncode == 0)

shown = run("show", "llama3.2")
check("show: the model's section", shown.returncode == 0 and "  Model\n" in shown.stdout and "architecture" in shown.stdout, shown.stdout)
ps = run("ps")
check("ps: Ollama's columns, then each provider's line", ps.stdout.splitlines()[0].split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
      and "PROVIDER    RUNNING    QUEUED" in ps.stdout, ps.stdout)
status = run("status")
check("status: health, queue and providers", status.returncode == 0 and ": ok\n" in status.stdout and "queue: 0 waiting" in status.stdout, status.stdout)

down = run("list", extra={"FOREMAN_HOST": "127.0.0.1:1"})
check("a server that is not running: one line naming the address, exit 69",
      down.returncode == 69 and down.stderr == "foreman: cannot reach foreman at http://127.0.0.1:1: connection refused\n", down)
wrong = run("ps", extra={"FOREMAN_TOKEN": "wrong"})
check("a wrong token: the server's error in one line", wrong.returncode == 1 and wrong.stderr == "foreman: unauthorized\n", wrong)

for command in (f"{binary} list | head -n 1", f"{binary} jobs list | head -c 10"):
    shell = subprocess.run(["bash", "-c", "set -o pipefail; " + command], capture_output=True, text=True, timeout=60, env=env)
    check(f"a closed pipe ends quietly: {command.replace(binary, 'foreman')}", shell.returncode == 0 and shell.stderr == "", shell)

passed()
