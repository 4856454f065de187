#!/usr/bin/env python3
"""Starts foreman with the environment each service file sets (paths moved to a temporary folder, the port to a
free one), checks /healthz, /metrics with the token and the unix socket, then sends SIGTERM as launchd and systemd
do and checks a clean exit. Usage: python3 deploy/check.py [path/to/foreman]"""
import json, os, plistlib, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/foreman"
here = os.path.dirname(os.path.abspath(__file__))

def plist_env():
    with open(os.path.join(here, "com.foreman.plist"), "rb") as f:
        plist = plistlib.load(f)
    assert plist["ProgramArguments"][1:] == ["serve"]
    return dict(plist["EnvironmentVariables"])

def unit_env():
    env = {}
    for line in open(os.path.join(here, "foreman.service")):
        m = re.match(r"Environment=(\w+)=(.*)", line.strip())
        if m: env[m.group(1)] = m.group(2)
        assert not line.startswith("ExecStart=") or line.strip().endswith("foreman serve")
    env["FOREMAN_TOKEN"] = "from-environment-file"  # EnvironmentFile=/etc/foreman.env
    return env

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def check(name, env):
    folder = tempfile.mkdtemp()
    port = free_port()
    env = dict(env, FOREMAN_ADDR=f"127.0.0.1:{port}", FOREMAN_DB=f"{folder}/foreman.db", FOREMAN_SOCKET=f"{folder}/foreman.sock",
               PATH=os.environ.get("PATH", "/usr/bin"))
    process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1))
                break
            except Exception as error:
                if getattr(error, "code", None) == 503:  # degraded: no Ollama here, still serving
                    health = json.load(error); break
                time.sleep(0.05)
        else:
            raise SystemExit(f"{name}: foreman did not start")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer " + env["FOREMAN_TOKEN"]})
        assert urllib.request.urlopen(request, timeout=2).status == 200
        mode = oct(os.stat(env["FOREMAN_SOCKET"]).st_mode & 0o777)
        assert mode == "0o600", mode
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=45)
        assert code == 0, code
        print(f"{name}: started with {sorted(k for k in env if k.startswith('FOREMAN_'))}; healthz status {health['status']}; "
              f"metrics 200 with the token; socket mode {mode}; SIGTERM exit {code}")
    finally:
        if process.poll() is None: process.kill()

check("launchd plist", plist_env())
check("systemd unit", unit_env())
