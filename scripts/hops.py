"""Processes the A/B scripts share: fake-ollama, foreman binaries and nginx as a bare hop, started on loopback and
stopped together (`scripts/ab-stream-cpu`, `scripts/ab-first-line`)."""
import json, os, shutil, socket, subprocess, sys, tempfile, time


class Hops:
    """Starts the processes; `with Hops() as hops:` stops them all and removes their files at the end."""

    def __init__(self, log_level="warning"):
        self.folder = tempfile.mkdtemp()
        self.children = []
        self.log_level = log_level

    def __enter__(self):
        return self

    def __exit__(self, *_):
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self, command, env=None, pass_fds=()):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                   pass_fds=pass_fds)
        self.children.append(process)
        return process

    def fake(self, binary, port):
        """fake-ollama from beside `binary`, with no token delay."""
        process = self.start([os.path.join(os.path.dirname(binary), "fake-ollama"), "--port", str(port), "--token-delay-ms", "0", "--load-time-ms", "0"])
        wait_for(port)
        return process

    def foreman(self, binary, port, fake_port, index):
        process = self.start([binary, "serve"], env=self.foreman_env(port, fake_port, index))
        wait_for(port)
        return process

    def foreman_under_valgrind(self, binary, port, fake_port, tool, pass_fds=()):
        """foreman run by valgrind with `tool`'s options; the process, and the path of the copy it runs. valgrind 3.19
        cannot read the DWARF 5 the Swift compiler writes, so it runs a copy of `binary` without its debug sections
        (the symbol table stays)."""
        copy = os.path.join(self.folder, "foreman")
        subprocess.run(["objcopy", "--strip-debug", binary, copy], check=True)
        process = self.start(["valgrind", *tool, copy, "serve"], env=self.foreman_env(port, fake_port, "valgrind"), pass_fds=pass_fds)
        wait_long(port)
        return process, copy

    def foreman_env(self, port, fake_port, name):
        return dict(os.environ, FOREMAN_TOKEN="bench", FOREMAN_DB=f"{self.folder}/{name}.db", FOREMAN_OLLAMA_URL=f"http://127.0.0.1:{fake_port}",
                    FOREMAN_ADDR=f"127.0.0.1:{port}", FOREMAN_LOG_LEVEL=self.log_level)

    def nginx(self, binary, port, fake_port, slow=False):
        """nginx relaying to the fake as a bare hop: kept upstream connections, no buffering. `slow`: it starts under
        valgrind, which takes seconds."""
        root = f"{self.folder}/nginx"
        for path in ["body", "proxy", "fastcgi", "uwsgi", "scgi"]:
            os.makedirs(f"{root}/{path}")
        with open(f"{root}/nginx.conf", "w") as conf:
            conf.write(f"""daemon off; master_process off; worker_processes 1; error_log stderr error; pid {root}/pid;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
  upstream fake {{ server 127.0.0.1:{fake_port}; keepalive 8; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }} }} }}
""")
        process = self.start([binary, "-p", root, "-c", f"{root}/nginx.conf"])
        (wait_long if slow else wait_for)(port)
        return process


def wait_for(port, tries=200, pause=0.05):
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(pause)
    sys.exit(f"nothing listens on {port}")


def wait_long(port):
    """Waits for `port` to listen: a program under valgrind takes seconds to start."""
    wait_for(port, tries=600, pause=0.2)


def chat_request(tokens):
    """A streamed chat of `tokens` tokens, with the bench's bearer token (the fake ignores it)."""
    body = json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "options": {"num_predict": tokens}}).encode()
    return (f"POST /api/chat HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def connect(port):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def stream(connection, request):
    """Sends `request` and reads its chunked answer to the end; the seconds to the first line."""
    start = time.perf_counter()
    connection.sendall(request)
    first, head, tail = None, b"", b""
    while not tail.endswith(b"0\r\n\r\n"):
        data = connection.recv(262144)
        if not data:
            sys.exit("the connection closed")
        if head is not None:
            # Until the head's end, the bytes are the head's; a body's last chunk ends with the same `CRLF CRLF`.
            head += data
            if b"\r\n\r\n" not in head:
                continue
            data = head.split(b"\r\n\r\n", 1)[1]
            head = None
        if first is None and b"}\n" in data:
            first = time.perf_counter() - start
        tail = (tail + data)[-16:]
    return first


def root(connection):
    """Sends `GET /` and reads its answer (Ollama's "Ollama is running", of known length); the seconds it took."""
    start = time.perf_counter()
    connection.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer bench\r\n\r\n")
    received = b""
    while not received.endswith(b"Ollama is running"):
        data = connection.recv(65536)
        if not data:
            sys.exit("the connection closed")
        received += data
    return time.perf_counter() - start
