"""Reading an uploaded repository zip safely: text files only, no path escapes, bounded size."""

from __future__ import annotations

import io
import zipfile

from amp_contracts import PayloadTooLarge, ValidationFailed

MAX_FILES = 5_000
MAX_UNCOMPRESSED = 100 * 1024 * 1024


def read_zip(data: bytes) -> dict[str, str]:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValidationFailed("the body is not a zip archive") from None
    infos = [i for i in z.infolist() if not i.is_dir()]
    if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
        raise PayloadTooLarge("the repository is too large")
    files: dict[str, str] = {}
    prefix = _common_prefix([i.filename for i in infos])
    for info in infos:
        name = info.filename[len(prefix):]
        if name.startswith("/") or ".." in name.split("/") or name.startswith(".git/"):
            continue
        try:
            files[name] = z.read(info).decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary files are not part of the generated repository
    if not files:
        raise ValidationFailed("the archive holds no text files")
    return files


def _common_prefix(names: list[str]) -> str:
    """A zip made of a folder ("repo/infra/...") is read as the folder's content."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop() + "/"
    return ""
