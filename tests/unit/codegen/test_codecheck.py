"""Model-written seam code: parsed and held to the allowlist before anything is written."""

from __future__ import annotations

import pytest

from services.codegen.asks import Seam
from services.codegen.codecheck import check_code, local_packages
from services.codegen.seams import UnsafeSeamCode, apply_fills


@pytest.mark.parametrize(("source", "says"), [
    ("import os\nos.system('id')\n", "`os`"),
    ("from subprocess import run\n", "`subprocess`"),
    ("import socket\n", "`socket`"),
    ("import ctypes\n", "`ctypes`"),
    ("import importlib\n", "`importlib`"),
    ("import urllib.request\n", "`urllib.request`"),
    ("import httpx\n", "`httpx`"),
    ("import pickle\n", "`pickle`"),
    ("eval('1 + 1')\n", "`eval()`"),
    ("exec('x = 1')\n", "`exec()`"),
    ("__import__('os')\n", "`__import__"),
    ("getattr(object, 'x')\n", "`getattr()`"),
    ("x = ().__class__.__bases__[0].__subclasses__()\n", "`__subclasses__`"),
    ("def f(g):\n    return g.__globals__\n", "`__globals__`"),
    ("open('/etc/passwd').read()\n", "open()"),
    ("open(name).read()\n", "open()"),
    ("open('../../secrets.txt').read()\n", "open()"),
    ("from pathlib import Path\nPath('data.csv').write_text('x')\n", "write_text"),
    ("from pathlib import Path\nPath('/var/lib/amp').read_text()\n", "outside the repository"),
    ("def f(:\n", "syntax error"),
    ("import requests_but_not_listed\n", "not on the allowlist"),
])
def test_code_outside_the_allowlist_is_refused(source: str, says: str) -> None:
    problems = check_code(source, local_packages={"services"})
    assert problems and any(says in p for p in problems), problems


@pytest.mark.parametrize("source", [
    "def check_request(row: dict[str, float]) -> list[str]:\n"
    "    return [f'{k} must not be negative' for k, v in row.items() if v < 0]\n",
    "import math\nfrom statistics import mean\n\ndef f(xs):\n    return math.sqrt(mean(xs))\n",
    "from services.common.schema import FEATURES\n\ndef f():\n    return list(FEATURES)\n",
    "from .schema import RANGES\n",
    "class A:\n    def __init__(self):\n        super().__init__()\n        self.n = type(self).__name__\n",
    "import numpy as np\n\ndef f(x):\n    return np.clip(x, 0, 1)\n",
])
def test_ordinary_domain_code_passes(source: str) -> None:
    assert check_code(source, local_packages={"services"}) == []


def test_the_repositorys_own_packages_are_local() -> None:
    assert local_packages(["services/a/b.py", "pipelines/x.py", "README.md", "setup.py"]) == {"services", "pipelines"}


def test_the_writer_refuses_unsafe_code_whoever_wrote_it() -> None:
    files = {"services/app.py": "# amp:seam s1: rules\ndef f():\n    return 1\n# amp:end-seam\n"}
    seams = [Seam(id="s1", path="services/app.py", default="def f():\n    return 1\n")]
    with pytest.raises(UnsafeSeamCode, match="`os`"):
        apply_fills(files, seams, {"s1": "import os\n\ndef f():\n    return os.getpid()\n"})
    assert "return 2" in apply_fills(files, seams, {"s1": "def f():\n    return 2\n"})["services/app.py"]
