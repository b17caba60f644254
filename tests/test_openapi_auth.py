"""/openapi.json declares how a key is sent, so that Swagger UI and generated clients can authenticate.

The client below knows nothing of this service: it reads the security schemes and each operation's security
requirements from the live server's /openapi.json and builds its headers from them alone.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .live import Live, start

KEY = "openapi-test-key-0123456789abcdef"
COMMENT = {"id": "c1", "text": "Thanks, the part on export controls answered my question."}
PREDICT = {"article": {"title": "Rare earths", "body": "Export controls."}, "comments": [COMMENT]}


@pytest.fixture(scope="module")
def live(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    keys = {KEY: {"scopes": ["predict"], "name": "openapi-test"}}
    server = start(default_model_dir, tmp_path_factory.mktemp("openapi"), env={"MODERATION_API_KEYS": json.dumps(keys)})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def spec(live: Live) -> dict[str, Any]:
    return httpx.get(f"{live.url}/openapi.json", timeout=10).json()


def headers_from_spec(spec: dict[str, Any], requirement: dict[str, list[str]], key: str) -> dict[str, str]:
    """What a generic OpenAPI client sends for one security requirement (http bearer or an apiKey header)."""
    headers = {}
    for name in requirement:
        scheme = spec["components"]["securitySchemes"][name]
        if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer":
            headers["Authorization"] = f"Bearer {key}"
        elif scheme["type"] == "apiKey" and scheme["in"] == "header":
            headers[scheme["name"]] = key
        else:
            raise AssertionError(f"a scheme a generic client cannot use: {scheme}")
    return headers


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_both_key_headers_are_declared(spec: dict[str, Any]):
    schemes = spec["components"]["securitySchemes"]
    assert {(s["type"], s.get("scheme"), s.get("in"), s.get("name")) for s in schemes.values()} == {
        ("http", "bearer", None, None),
        ("apiKey", None, "header", "X-API-Key"),
    }


def test_each_declared_way_authenticates_a_prediction(live: Live, spec: dict[str, Any]):
    requirements = spec["paths"]["/v1/predict"]["post"]["security"]
    assert len(requirements) == 2  # either header is enough
    for requirement in requirements:
        headers = headers_from_spec(spec, requirement, KEY)
        r = httpx.post(f"{live.url}/v1/predict", json=PREDICT, headers=headers, timeout=30)
        assert r.status_code == 200, (requirement, r.text)
        assert r.json()["results"][0]["id"] == "c1"
        wrong = headers_from_spec(spec, requirement, "not-the-key-0123456789")
        assert httpx.post(f"{live.url}/v1/predict", json=PREDICT, headers=wrong, timeout=30).status_code == 401
    assert httpx.post(f"{live.url}/v1/predict", json=PREDICT, timeout=30).status_code == 401


def test_an_operation_declares_a_key_exactly_when_it_refuses_requests_without_one(live: Live, spec: dict[str, Any]):
    """Over every operation of the live spec: 401 without a key if and only if `security` is declared."""
    checked = []
    for method, path, operation in operations(spec):
        url = live.url + re.sub(r"\{[^}]+\}", "x", path)
        kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT") else {}
        status = httpx.request(method, url, timeout=30, **kwargs).status_code
        declared = bool(operation.get("security"))
        assert (status == 401) == declared, f"{method} {path}: {status} without a key, security declared: {declared}"
        checked.append(declared)
    assert any(checked) and not all(checked)  # both kinds were seen
