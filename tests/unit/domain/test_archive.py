"""The generated repository's zip: reproducible, compressed, and what was committed."""

from __future__ import annotations

import io
import zipfile

from amp_domain.archive import zip_tree

TREE = {
    "data/sample.csv": "id,amount,label\n" + "".join(f"{i},{i * 3 % 97}.5,{i % 2}\n" for i in range(2000)),
    "scripts/run.sh": "#!/bin/sh\necho run\n",
    "README.md": "# A project\n",
}


def test_equal_trees_give_equal_bytes_in_any_order() -> None:
    assert zip_tree(TREE) == zip_tree(dict(reversed(list(TREE.items()))))


def test_every_entry_is_deflated_and_reads_back_unchanged() -> None:
    data = zip_tree(TREE)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.filename: i.compress_type for i in z.infolist()} == dict.fromkeys(sorted(TREE), zipfile.ZIP_DEFLATED)
        assert {name: z.read(name).decode() for name in z.namelist()} == TREE
        assert z.getinfo("scripts/run.sh").external_attr >> 16 == 0o755
        assert z.getinfo("README.md").external_attr >> 16 == 0o644
    assert len(data) < sum(len(t) for t in TREE.values()) / 2
