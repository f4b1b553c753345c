"""Where the CLI's bearer token comes from, so commands need no extra step on a local stack.

In order: `AMP_TOKEN`; the token `amp login` saved for this gateway (a 0600 file in the user's
config directory); on a loopback gateway, a token minted for the local user with the embedded
issuer's key in the data directory (`AMP_DATA_DIR`, default `.amp`): whoever can read that key
runs the stack anyway.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCAL_TTL_S = 12 * 3600


def config_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "amp" / "credentials.json"


def _saved() -> dict[str, str]:
    try:
        return json.loads(config_file().read_text())
    except (OSError, ValueError):
        return {}


def save(gateway: str, token: str) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = {**_saved(), gateway.rstrip("/"): token}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f)
    path.chmod(0o600)
    return path


def forget(gateway: str) -> bool:
    tokens = _saved()
    if tokens.pop(gateway.rstrip("/"), None) is None:
        return False
    fd = os.open(config_file(), os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f)
    return True


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def mint_local(data_dir: Path, user: str | None = None, ttl_s: float = LOCAL_TTL_S) -> str | None:
    """A token of the embedded issuer whose key is in `data_dir`, if there is one."""
    if not (data_dir / "secrets" / "issuer-es256.pem").exists():
        return None
    # lazy: the issuer (cryptography) is loaded only when a local token is minted
    from amp_runtime.identity import EmbeddedIssuer

    return EmbeddedIssuer.load(data_dir).mint(user or local_user(), ttl_s)


def resolve(gateway: str) -> str | None:
    if os.environ.get("AMP_TOKEN"):
        return os.environ["AMP_TOKEN"].strip()
    saved = _saved().get(gateway.rstrip("/"))
    if saved:
        return saved
    if (urlsplit(gateway).hostname or "") in LOOPBACK:
        try:
            return mint_local(Path(os.environ.get("AMP_DATA_DIR", ".amp")))
        except (OSError, ValueError):
            return None
    return None
