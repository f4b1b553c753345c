"""The generated repository as a zip: equal trees give equal bytes, so equal artifact keys."""

from __future__ import annotations

import io
import zipfile


def zip_tree(files: dict[str, str]) -> bytes:
    """A reproducible zip: fixed timestamps and order, so equal trees give equal bytes (and keys).

    Each entry is deflated: `writestr` takes the compression of the `ZipInfo` it is given, which is
    "stored" unless set, whatever the archive's default."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if text.startswith("#!") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()
