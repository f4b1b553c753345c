"""Helpers for driving `amp` as a subprocess: plain pipes, or a pseudo-terminal for the prompts."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

COMPLETE = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
            "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
            "Retrain weekly.")
NO_REGION = ("Real-time card fraud scoring API: p95 under 80 ms at 3,000 requests per second, 99.9% availability, "
             "budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. Retrain weekly.")

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]")


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("AMP_GATEWAY", "NO_COLOR", "FORCE_COLOR")}
    e["PYTHONUNBUFFERED"] = "1"
    return e


def amp(gateway: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run `amp ARGS --gateway URL` with no terminal (stdin closed) and capture its output."""
    return subprocess.run([sys.executable, "-m", "amp_cli.main", *args, "--gateway", gateway], cwd=ROOT, env=env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)


def last_json(stdout: str) -> Any:
    return json.loads(stdout)


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


class Terminal:
    """`amp` on a pseudo-terminal: stdin, stdout and stderr are the slave side, as in a shell."""

    def __init__(self, argv: list[str], rows: int = 50, cols: int = 140) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        e = env()
        e["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen([sys.executable, "-m", "amp_cli.main", *argv], cwd=ROOT, env=e, stdin=slave,
                                     stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def text(self) -> str:
        return strip_ansi(self.raw.decode(errors="replace"))

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            raise EOFError
        self.raw += chunk
        return True

    def next_prompt(self, timeout: float, quiet: float = 0.4) -> str | None:
        """The last line once output pauses on an open prompt (ending in ': ' or '? '); None at exit."""
        deadline = time.monotonic() + timeout
        mark = len(self.raw)
        while time.monotonic() < deadline:
            try:
                if self._read(quiet) or len(self.raw) == mark:
                    continue
            except EOFError:
                return None
            tail = self.text.rsplit("\n", 1)[-1]
            if tail.endswith((": ", "? ")):
                return tail
        raise TimeoutError(f"no prompt within {timeout}s; output so far:\n{self.text[-3000:]}")

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def send_eof(self) -> None:
        """Ctrl-D at the start of a line: the program's input is closed."""
        os.write(self.master, b"\x04")

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                self._read(0.2)
            except EOFError:
                break
        return self.proc.wait(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        os.close(self.master)
