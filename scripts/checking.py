"""The pass-or-stop bookkeeping the client check scripts share (scripts/*-check.py): each check prints `ok   NAME`,
the first failure prints `FAIL NAME DETAIL` and exits 1, and `passed()` prints the count the tests look for."""
import sys

_count = 0


def check(name, condition, detail=""):
    global _count
    if not condition:
        print(f"FAIL {name} {detail}", flush=True)
        sys.exit(1)
    _count += 1
    print(f"ok   {name}", flush=True)


def passed():
    print(f"{_count} checks passed", flush=True)
