"""The generated repository's SBOM and its vulnerability scan (`services/validators/sbom.py`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from services.validators import nodes
from services.validators.nodes import validators
from services.validators.sbom import SBOM_PATH, osv_findings, osv_scan, resolve, sbom

PYPROJECT = """
[project]
name = "fraud-scoring"
version = "0.3.0"
dependencies = ["pydantic>=2", "httpx"]

[project.optional-dependencies]
dev = ["pytest>=8", "surely-not-a-package-amp>=1"]
"""


def test_requirements_resolve_to_the_installed_versions_transitively() -> None:
    r = resolve(PYPROJECT)
    assert r.project == "fraud-scoring" and r.version == "0.3.0"
    assert r.versions["pydantic"] == metadata.version("pydantic")
    assert r.versions["pydantic-core"] == metadata.version("pydantic-core")  # pydantic's own requirement
    assert "pydantic-core" in r.edges["pydantic"]
    assert r.direct == {"pydantic": "required", "httpx": "required", "pytest": "optional",
                        "surely-not-a-package-amp": "optional"}
    assert "surely-not-a-package-amp>=1" in r.unresolved


def test_the_document_is_valid_cyclonedx_and_a_function_of_its_inputs() -> None:
    doc, result = sbom({"pyproject.toml": PYPROJECT})
    assert doc is not None and result.status == "pass"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(doc) is None
    assert sbom({"pyproject.toml": PYPROJECT})[0] == doc  # committed again unchanged
    bom = json.loads(doc)
    assert "timestamp" not in bom["metadata"]
    purls = {c["purl"] for c in bom["components"]}
    assert f"pkg:pypi/pydantic@{metadata.version('pydantic')}" in purls
    root = next(d for d in bom["dependencies"] if d["ref"] == "fraud-scoring")
    assert f"pkg:pypi/httpx@{metadata.version('httpx')}" in root["dependsOn"]
    pytest_comp = next(c for c in bom["components"] if c["name"] == "pytest")
    assert pytest_comp["scope"] == "optional"
    warnings = [f for f in result.findings if f.severity == "warning"]
    assert [f.rule for f in warnings] == ["unresolved-requirement"] and "surely-not-a-package-amp" in warnings[0].message


def test_no_pyproject_is_skipped_and_a_broken_one_fails() -> None:
    assert sbom({"README.md": "x"})[1].status == "skipped"
    doc, result = sbom({"pyproject.toml": "[project\nname="})
    assert doc is None and result.status == "fail" and result.findings[0].rule == "pyproject-unreadable"


class _Osv(BaseHTTPRequestHandler):
    asked: list[dict] = []
    received = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Osv.asked.append(body)
        _Osv.received.set()
        results = [{"vulns": [{"id": "GHSA-test-0001"}]} if q["package"]["name"] == "httpx" else {}
                   for q in body["queries"]]
        data = json.dumps({"results": results}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def osv_server():
    """A local stand-in for the OSV API (the real one is outside this machine's reach)."""
    server = HTTPServer(("127.0.0.1", 0), _Osv)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_known_vulnerabilities_are_reported_as_warnings(osv_server) -> None:
    doc, _ = sbom({"pyproject.toml": PYPROJECT})
    result = osv_scan(doc, osv_server)
    assert result.status == "pass"
    asked = {q["package"]["name"] for q in _Osv.asked[-1]["queries"]}
    assert {"pydantic", "httpx", "pytest"} <= asked
    assert [(f.rule, f.severity) for f in result.findings] == [("GHSA-test-0001", "warning")]
    assert f"httpx {metadata.version('httpx')}" in result.findings[0].message


def test_offline_or_switched_off_is_skipped_with_its_reason() -> None:
    doc, _ = sbom({"pyproject.toml": PYPROJECT})
    offline = osv_scan(doc, "http://127.0.0.1:9")
    assert offline.status == "skipped" and offline.reason.startswith("offline")
    off = osv_scan(doc, "")
    assert off.status == "skipped" and "switched off" in off.reason


def test_osv_answers_map_to_the_packages_asked_about() -> None:
    answer = {"results": [{}, {"vulns": [{"id": "PYSEC-1"}, {"id": "GHSA-2"}]}]}
    found = osv_findings(answer, [("a", "1"), ("b", "2.0")])
    assert [f.rule for f in found] == ["PYSEC-1", "GHSA-2"] and all("b 2.0" in f.message for f in found)


def test_the_validation_ships_the_sbom_and_lists_both_tools() -> None:
    out = validators({"pyproject.toml": PYPROJECT, "README.md": "# x\n"}, checkov=False, timeout_s=60, osv_url="")
    tools = {t["tool"]: t["status"] for t in out["validation"]["tools"]}
    assert tools["sbom"] == "pass" and tools["osv-scan"] == "skipped"
    assert json.loads(out["reports"][SBOM_PATH])["bomFormat"] == "CycloneDX"


def test_the_osv_query_does_not_wait_for_the_tools(osv_server, monkeypatch) -> None:
    """The checks are made to wait until the OSV database has been asked: were the query sent after
    the tools, as it once was, they would wait in vain."""
    real_validate_tree = nodes.validate_tree
    asked_while_checking: list[bool] = []

    def checks_once_asked(*args, **kwargs):
        asked_while_checking.append(_Osv.received.wait(timeout=20))
        return real_validate_tree(*args, **kwargs)

    _Osv.received.clear()
    monkeypatch.setattr(nodes, "validate_tree", checks_once_asked)
    out = validators({"pyproject.toml": PYPROJECT, "README.md": "# x\n"}, checkov=False, timeout_s=60,
                     osv_url=osv_server)
    assert asked_while_checking == [True]
    tools = {t["tool"]: t for t in out["validation"]["tools"]}
    assert tools["osv-scan"]["status"] == "pass" and tools["osv-scan"]["findings"]
    assert [t["tool"] for t in out["validation"]["tools"]][-3:] == ["sbom", "osv-scan", "tf-conformance"]
