"""Reading an uploaded repository zip safely: every entry checked, bounded, and named when refused.

An upload is untrusted input that ends up in git and, merged, in the next generated artifact, so
nothing is silently dropped that could matter and nothing dangerous passes:

- names: `\\` and `/` are both separators; absolute paths, drive letters (`C:`), `..`, `.git` as
  any component (whatever its case), Windows device names (`CON`, `nul.txt`, `COM1`…), control
  characters and names that collide after normalisation are refused with 422 naming the entry;
- entries: symlinks and other special files, encrypted entries, unknown compression methods, bad
  CRCs and corrupt data are 422, never a 500;
- size: at most `MAX_FILES` entries, `MAX_UNCOMPRESSED` bytes uncompressed (counted while
  inflating, not trusted from the headers), and a per-entry compression ratio of `MAX_RATIO`
  (a zip bomb is refused before it is inflated).

`read_zip` is CPU work on untrusted bytes: callers run it off the event loop.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from pathlib import PurePosixPath

from amp_contracts import PayloadTooLarge, ValidationFailed

MAX_FILES = 5_000
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 200
#: Below this size an entry's ratio is not judged (tiny files of repeated bytes compress well).
RATIO_FLOOR = 1024 * 1024

_DRIVE = re.compile(r"^[A-Za-z]:")
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10)),
            "conin$", "conout$"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class BadEntry(ValidationFailed):
    """An entry of the upload that cannot be accepted; the message names it."""

    def __init__(self, entry: str, why: str) -> None:
        super().__init__(f"zip entry {entry!r}: {why}")


def normalise(name: str) -> str:
    """The entry's path with `/` separators and no empty or `.` parts; raises BadEntry if unsafe."""
    if _CONTROL.search(name):
        raise BadEntry(name, "control characters in the name")
    raw = name.replace("\\", "/")
    if raw.startswith("/"):
        raise BadEntry(name, "absolute paths are not allowed")
    if _DRIVE.match(raw):
        raise BadEntry(name, "drive letters are not allowed")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts:
        raise BadEntry(name, "empty path")
    for part in parts:
        if part == "..":
            raise BadEntry(name, "`..` is not allowed")
        if part.lower() == ".git" or part.lower().rstrip(". ") == ".git":
            raise BadEntry(name, "`.git` is not allowed anywhere in a path (hooks and config would ship)")
        if part.split(".", 1)[0].lower().rstrip(" ") in _DEVICES:
            raise BadEntry(name, "device names are not allowed")
        if part.endswith((" ", ".")):
            raise BadEntry(name, "names ending in a space or a dot are not portable")
        if ":" in part:
            raise BadEntry(name, "`:` is not allowed in a name (alternate data streams)")
    return str(PurePosixPath(*parts))


def _kind(info: zipfile.ZipInfo) -> int:
    """The Unix file type from the entry's external attributes (0 when the zip did not record one)."""
    return stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0


def _check_entry(info: zipfile.ZipInfo) -> None:
    kind = _kind(info)
    if kind == stat.S_IFLNK:
        raise BadEntry(info.filename, "symbolic links are not allowed")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BadEntry(info.filename, "special files (devices, pipes, sockets) are not allowed")
    if info.flag_bits & 0x1:
        raise BadEntry(info.filename, "encrypted entries are not supported")
    if info.compress_type not in _SUPPORTED:
        raise BadEntry(info.filename, f"unsupported compression method {info.compress_type}")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise BadEntry(info.filename, f"compression ratio over {MAX_RATIO}:1 (a zip bomb?)")


def _inflate(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, refusing more than `budget` or more than it declared, whatever the headers say."""
    limit = min(budget, info.file_size)
    out = bytearray()
    try:
        with z.open(info) as f:
            while chunk := f.read(65536):
                out += chunk
                if len(out) > limit:
                    if len(out) > budget:
                        raise PayloadTooLarge(f"the repository inflates to more than {MAX_UNCOMPRESSED} bytes")
                    raise BadEntry(info.filename, "inflates to more than its declared size")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        # BadZipFile covers a bad CRC-32; zlib/lzma/bz2 errors and truncation mean corrupt data.
        raise BadEntry(info.filename, f"cannot be read ({type(exc).__name__}: {exc})") from None
    except NotImplementedError as exc:
        raise BadEntry(info.filename, f"cannot be read ({exc})") from None
    return bytes(out)


def read_zip(data: bytes) -> dict[str, str]:
    """path -> text of the archive's text files; binary files are left out (they are not generated)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ValidationFailed(f"the body is not a readable zip archive ({type(exc).__name__})") from None
    if len(infos) > MAX_FILES:
        raise PayloadTooLarge(f"the archive has {len(infos)} entries; at most {MAX_FILES} are accepted")
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
        raise PayloadTooLarge(f"the repository is larger than {MAX_UNCOMPRESSED} bytes uncompressed")
    entries: list[tuple[str, zipfile.ZipInfo]] = []
    seen: dict[str, str] = {}
    for info in infos:
        _check_entry(info)
        name = normalise(info.filename)
        if info.is_dir() or _kind(info) == stat.S_IFDIR:
            continue
        clash = name.lower()
        if clash in seen:
            raise BadEntry(info.filename, f"collides with {seen[clash]!r} after normalisation")
        seen[clash] = info.filename
        entries.append((name, info))
    prefix = _common_prefix([name for name, _ in entries])
    files: dict[str, str] = {}
    budget = MAX_UNCOMPRESSED
    for name, info in entries:
        raw = _inflate(z, info, budget)
        budget -= len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary files are not part of the generated repository
        if "\x00" in text:
            continue
        files[name[len(prefix):]] = text
    if not files:
        raise ValidationFailed("the archive holds no text files")
    return files


def _common_prefix(names: list[str]) -> str:
    """A zip made of a folder ("repo/infra/...") is read as the folder's content."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop() + "/"
    return ""
