"""`python -m bench` / `amp bench`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("the benchmarks are not written yet")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
