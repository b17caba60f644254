"""MODERATION_LOG_FORMAT=json and request ids, on a real server: its output parsed line by line."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from model.policy import DEFAULT_POLICY_FILE

from .live import Live, spawn, start

PREDICT = {"comments": [{"id": "c1", "text": "Where did the ministry publish the list of enforcers?"}]}
SPAM = {
    "comments": [
        {"id": "spam-1", "text": "Very informative post!! Buy cheap followers at www.best-deals.example, call 555-0100"}
    ]
}
FIELDS = {"time", "level", "logger", "message", "request_id"}


@pytest.fixture(scope="module")
def live(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # The option wins over the environment; a list option takes commas.
    work = tmp_path_factory.mktemp("json-logs")
    # Shadow mode: the service logs each decision it would have enforced, from inside the request.
    shadow = work / "shadow.toml"
    shadow.write_text(DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace("shadow = false", "shadow = true"))
    args = ("--log-format", "json", "--log-level", "debug", "--cors-origins", "https://a.example,https://b.example")
    args += ("--policy-file", str(shadow))
    server = start(default_model_dir, work, env={"MODERATION_LOG_FORMAT": "text"}, args=args)
    try:
        yield server
    finally:
        server.stop()


def lines_of(live: Live) -> list[dict[str, Any]]:
    parsed = []
    for number, line in enumerate(live.log().splitlines(), start=1):
        if line.strip():
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"line {number} of the server's output is not JSON: {line!r}") from None
    return parsed


def test_a_sane_request_id_is_kept_and_returned(live: Live):
    r = httpx.post(f"{live.url}/v1/predict", json=PREDICT, headers={"X-Request-ID": "edge-42.a:b_c"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] == "edge-42.a:b_c"


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 129, 'quote"d', "semi;colon"])
def test_otherwise_each_request_gets_a_fresh_id(live: Live, given: str | None):
    headers = {} if given is None else {"X-Request-ID": given}
    ids = {httpx.get(f"{live.url}/healthz", headers=headers, timeout=10).headers["X-Request-ID"] for _ in range(2)}
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids


def test_refusals_carry_an_id_too(live: Live):
    r = httpx.post(f"{live.url}/v1/predict", content=b"not json", headers={"content-type": "text/plain"}, timeout=10)
    assert r.status_code == 415 and re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])


def test_cors_origins_given_as_a_comma_separated_option(live: Live):
    r = httpx.get(f"{live.url}/healthz", headers={"Origin": "https://b.example"}, timeout=10)
    assert r.headers.get("access-control-allow-origin") == "https://b.example"
    assert r.headers.get("access-control-expose-headers", "").lower() == "x-request-id"  # readable by the page
    preflight = {
        "Origin": "https://a.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-request-id, content-type",
    }
    assert httpx.options(f"{live.url}/v1/predict", headers=preflight, timeout=10).status_code == 200


def test_every_line_is_json_with_the_request_id_of_its_request(live: Live):
    rid = "trace-json-logs-1"
    assert httpx.post(f"{live.url}/v1/predict", json=PREDICT, headers={"X-Request-ID": rid}, timeout=30).is_success
    lines = lines_of(live)
    incomplete = [line for line in lines if not set(line) >= FIELDS]
    assert lines and not incomplete, incomplete
    mine = [line for line in lines if line["request_id"] == rid]
    assert any("POST /v1/predict -> 200" in line["message"] for line in mine), mine
    # uvicorn's own lines come through the same formatter, outside any request.
    started = [line for line in lines if line["logger"].startswith("uvicorn") and "running on" in line["message"]]
    assert started and started[0]["request_id"] is None
    assert any(line["logger"] == "serve" and "serving model" in line["message"] for line in lines)


def test_lines_logged_while_handling_a_request_carry_its_id(live: Live):
    rid = "trace-shadow-2"
    r = httpx.post(f"{live.url}/v1/predict", json=SPAM, headers={"X-Request-ID": rid}, timeout=30)
    assert r.json()["results"][0]["reasons"][-1].startswith("shadow mode: would")
    shadow = [
        line for line in lines_of(live) if "shadow mode: would" in line["message"] and "spam-1" in line["message"]
    ]
    assert [(line["logger"], line["request_id"]) for line in shadow] == [("serve.decisions", rid)], shadow


def test_an_unknown_format_stops_the_start_naming_the_setting(default_model_dir: Path, tmp_path: Path):
    live = spawn(default_model_dir, tmp_path, env={"MODERATION_LOG_FORMAT": "xml"})
    assert live.proc.wait(timeout=120) == 1
    out = live.log()
    assert "cannot start, invalid settings" in out and "log_format" in out and "'text' or 'json'" in out, out
