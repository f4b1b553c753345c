"""Uploaded zips: every unsafe or unreadable entry is a 4xx naming it; good archives read as before."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from amp_contracts import PayloadTooLarge, ValidationFailed

from services.gateway import uploads
from services.gateway.uploads import read_zip


def make_zip(entries: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED,
             mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


def test_a_plain_repository_reads_with_its_folder_prefix_removed() -> None:
    files = read_zip(make_zip({"repo/README.md": "# hi\n", "repo/infra/main.tf": "x = 1\n"}))
    assert files == {"README.md": "# hi\n", "infra/main.tf": "x = 1\n"}


def test_backslashes_are_separators_and_dot_parts_vanish() -> None:
    files = read_zip(make_zip({"a\\b.py": "x = 1\n", "./c/./d.txt": "d\n"}))
    assert files == {"a/b.py": "x = 1\n", "c/d.txt": "d\n"}


@pytest.mark.parametrize("name", [
    "/etc/passwd", "\\windows\\x.txt", "C:/x.txt", "c:x.txt", "../up.txt", "a/../../up.txt", "..\\up.txt",
    ".git/config", "./.git/config", "sub/.git/hooks/post-checkout", ".GIT/config", "a\\.git\\config",
    ".git./config", "CON", "nul.txt", "docs/com1.md", "LPT9.py", "a\x01b.txt", "a\nb.txt", "x:stream",
])
def test_unsafe_names_are_refused_naming_the_entry(name: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        read_zip(make_zip({name: "x\n", "README.md": "# r\n"}))
    assert exc.value.http_status == 422
    assert repr(name) in str(exc.value)


def test_a_symlink_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="symbolic link"):
        read_zip(make_zip({"link": "/etc/passwd"}, mode=stat.S_IFLNK | 0o777))


def test_a_device_entry_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="special files"):
        read_zip(make_zip({"dev": ""}, mode=stat.S_IFCHR | 0o600))


def test_names_that_collide_after_normalisation_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="collides"):
        read_zip(make_zip({"a/b.txt": "1", "a\\b.txt": "2"}))


def test_a_bad_crc_is_422() -> None:
    data = bytearray(make_zip({"a.txt": "hello world\n"}, compression=zipfile.ZIP_STORED))
    at = data.index(b"hello world")
    data[at] ^= 0x01  # stored bytes changed, CRC kept
    with pytest.raises(ValidationFailed, match="a.txt") as exc:
        read_zip(bytes(data))
    assert exc.value.http_status == 422


def test_an_encrypted_entry_is_422() -> None:
    data = bytearray(make_zip({"a.txt": "secret\n"}, compression=zipfile.ZIP_STORED))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag in both headers
        at = data.index(sig)
        flag_at = at + (6 if sig == b"PK\x03\x04" else 8)
        data[flag_at] |= 0x01
    with pytest.raises(ValidationFailed, match="encrypted"):
        read_zip(bytes(data))


def test_an_unknown_compression_method_is_422() -> None:
    data = bytearray(make_zip({"a.txt": "x\n"}, compression=zipfile.ZIP_STORED))
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.index(sig) + off
        data[at:at + 2] = (99).to_bytes(2, "little")
    with pytest.raises(ValidationFailed, match="compression"):
        read_zip(bytes(data))


def test_corrupt_deflate_data_is_422() -> None:
    data = bytearray(make_zip({"a.txt": "some text that deflates " * 20}))
    at = data.index(b"PK\x03\x04") + 30 + len("a.txt")
    data[at:at + 8] = b"\xff" * 8
    with pytest.raises(ValidationFailed, match="a.txt"):
        read_zip(bytes(data))


def test_a_zip_bomb_is_refused_by_its_ratio() -> None:
    with pytest.raises(ValidationFailed, match="ratio"):
        read_zip(make_zip({"bomb.txt": b"0" * (8 * 1024 * 1024)}))


def test_too_many_entries_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "MAX_FILES", 3)
    with pytest.raises(PayloadTooLarge):
        read_zip(make_zip({f"f{i}.txt": "x" for i in range(4)}))


def test_total_size_is_counted_while_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "MAX_UNCOMPRESSED", 1000)
    data = make_zip({"a.txt": "a" * 600, "b.txt": "b" * 600})
    with pytest.raises(PayloadTooLarge):
        read_zip(data)


def test_garbage_is_422() -> None:
    with pytest.raises(ValidationFailed):
        read_zip(b"PK\x03\x04 not really a zip")
