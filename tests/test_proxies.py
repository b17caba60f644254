"""X-Forwarded-For is believed only from the configured trusted proxies (issue 24): with uvicorn's defaults
it was believed from 127.0.0.1, and a client sending a new forged address per request was never rate
limited. Real `python -m serve` processes on loopback, since it is uvicorn that reads the header."""

import types
from pathlib import Path

import httpx
import pytest

from serve.__main__ import main
from serve.settings import Settings
from serve.workers import worker_config

from .live import start

# A burst of 5 requests, then one every 12 s: the tests below run far inside one refill.
RATE = {"MODERATION_RATE_LIMIT_PER_MINUTE": "5"}


def forged(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{i}"}


def test_forged_forwarded_for_does_not_buy_a_fresh_bucket(tiny_model_dir: Path, tmp_path: Path):
    live = start(tiny_model_dir, tmp_path, env=RATE)
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            first = [http.get("/v1/model", headers=forged(i)).status_code for i in range(5)]
            after = [http.get("/v1/model", headers=forged(100 + i)).status_code for i in range(20)]
    finally:
        live.stop()
    assert first == [200] * 5
    assert after == [429] * 20, "each forged X-Forwarded-For got its own bucket: the header was believed"


def test_a_trusted_proxys_forwarded_for_is_the_client(tiny_model_dir: Path, tmp_path: Path):
    live = start(tiny_model_dir, tmp_path, env=RATE, args=("--trusted-proxies", "127.0.0.1,10.0.0.0/8"))
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            # The proxy appends the address it saw; what the client wrote before it is not believed.
            chain = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}  # client, then an inner trusted proxy
            spread = [http.get("/v1/model", headers=forged(i)).status_code for i in range(12)]
            one_client = [http.get("/v1/model", headers=chain).status_code for _ in range(6)]
            proxy_itself = http.get("/v1/model").status_code  # no header: the proxy's own bucket, still full
    finally:
        live.stop()
    assert spread == [200] * 12, "each forwarded client has its own bucket"
    assert one_client == [200] * 5 + [429], "the client behind the trusted proxies is rate limited"
    assert proxy_itself == 200


def test_proxy_headers_are_off_unless_proxies_are_trusted():
    assert Settings().trusted_proxies == []
    assert Settings().uvicorn_proxy_options() == {"proxy_headers": False}
    trusted = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8")
    assert trusted.uvicorn_proxy_options() == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["127.0.0.1", "10.0.0.0/8"],
    }
    # The workers of `--workers N` build their own uvicorn config: it must say the same.
    for settings, on in ((Settings(), False), (trusted, True)):
        app = types.SimpleNamespace(state=types.SimpleNamespace(settings=settings))
        config = worker_config(app, "warning")
        assert config.proxy_headers is on
        if on:
            assert config.forwarded_allow_ips == ["127.0.0.1", "10.0.0.0/8"]


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODERATION_TRUSTED_PROXIES", '["::1", "172.16.0.0/12"]')
    assert Settings().trusted_proxies == ["::1", "172.16.0.0/12"]
    monkeypatch.setenv("MODERATION_TRUSTED_PROXIES", "192.0.2.1,192.0.2.2")
    assert Settings().trusted_proxies == ["192.0.2.1", "192.0.2.2"]


@pytest.mark.parametrize("bad", ["*", "proxy.internal", "10.0.0.1/8"])
def test_a_bad_trusted_proxy_stops_the_start(bad: str, capsys: pytest.CaptureFixture):
    # "*" would believe everyone; a name or a network with host bits set would silently match nothing.
    assert main(["--trusted-proxies", bad]) == 1
    err = capsys.readouterr().err
    assert "trusted_proxies" in err and "is not an IP address or a CIDR network" in err
