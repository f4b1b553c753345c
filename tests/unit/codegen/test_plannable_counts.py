"""A first `terraform plan` can count every resource: no count hangs on a value known only after apply.

A module output (an ARN, an id) is unknown until the resource behind it exists, so
`count = var.stream_arn == null ? 0 : 1` fails the first plan of a stack that creates the stream
("Invalid count argument"). Whether an input is wired is known when rendering: counts depend on
its `wired_<name>` companion, which the root passes as a literal.
"""

from __future__ import annotations

import re

from services.codegen.render_text import TEMPLATES
from services.codegen.render_tf_wiring import INPUTS

#: A resource-level count or for_each (two spaces in: not a dynamic block inside a resource).
_RESOURCE_COUNT = re.compile(r"^  (count|for_each)\s*=\s*(.+)$", re.MULTILINE)


def test_no_resource_count_reads_a_wired_value():
    offending = []
    for path in sorted(TEMPLATES.glob("terraform/*/modules/*.tf")):
        cloud = path.parts[-3]
        wired = {name for name, spec in INPUTS[cloud].items() if spec.source and not spec.presence}
        for _, expr in _RESOURCE_COUNT.findall(path.read_text(encoding="utf-8")):
            read = set(re.findall(r"\bvar\.([a-z0-9_]+)", expr)) & wired
            if read:
                offending.append(f"{path.relative_to(TEMPLATES)}: {expr} reads {sorted(read)}")
    assert not offending, "\n".join(offending)


def test_the_root_passes_true_where_the_input_is_wired_and_nothing_where_it_is_not(rendered):
    with_stream = rendered["aws_streaming_serverless"]["infra/main.tf"]
    block = with_stream[with_stream.index('module "stream_processing"'):]
    block = block[:block.index("\n}\n")]
    assert re.search(r"^  wired_stream_arn\s+= true$", block, re.MULTILINE)
    assert re.search(r"^  stream_arn\s+= module\.ingest_stream\.stream_arn$", block, re.MULTILINE)
    module = rendered["aws_streaming_serverless"]["infra/modules/stream_processing/variables.tf"]
    declared = module[module.index('variable "wired_stream_arn"'):]
    assert "type        = bool" in declared[:400] and "default     = false" in declared[:400]
