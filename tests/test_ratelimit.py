"""serve/ratelimit.py on a minimal FastAPI app: per-key and per-address buckets, 429 with Retry-After."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serve.ratelimit import RateLimitMiddleware, TokenBuckets

KEY_A = "a" * 32
KEY_B = "b" * 32


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(clock: Clock, per_minute: float = 60, burst: int = 3, known=(KEY_A, KEY_B), **kw) -> TestClient:
    app = FastAPI()

    @app.post("/v1/predict")
    def predict(body: dict) -> dict:
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    app.add_middleware(
        RateLimitMiddleware,
        per_minute=per_minute,
        burst=burst,
        is_known=(lambda k: k in known) if known is not None else None,
        clock=clock,
        **kw,
    )
    return TestClient(app)


def post(client: TestClient, key: str | None = None, bearer: bool = False):
    headers = {}
    if key:
        headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    return client.post("/v1/predict", json={}, headers=headers)


def test_burst_then_429_with_retry_after():
    clock = Clock()
    client = make_client(clock, per_minute=60, burst=3)
    assert [post(client, KEY_A).status_code for _ in range(3)] == [200, 200, 200]
    r = post(client, KEY_A)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"  # 60/min: one token a second
    assert "rate limit of 60 requests a minute" in r.json()["detail"]
    assert KEY_A not in r.text


def test_tokens_come_back_with_time():
    clock = Clock()
    client = make_client(clock, per_minute=6, burst=1)  # one token every 10 s
    assert post(client, KEY_A).status_code == 200
    r = post(client, KEY_A)
    assert r.status_code == 429 and r.headers["retry-after"] == "10"
    clock.now += 4
    r = post(client, KEY_A)
    assert r.status_code == 429 and r.headers["retry-after"] == "6"
    clock.now += 6
    assert post(client, KEY_A).status_code == 200


def test_keys_have_separate_buckets_whatever_the_header():
    clock = Clock()
    client = make_client(clock, burst=1)
    assert post(client, KEY_A).status_code == 200
    assert post(client, KEY_A, bearer=True).status_code == 429  # same key, other header: same bucket
    assert post(client, KEY_B).status_code == 200


def test_unknown_keys_share_the_address_bucket():
    # Random keys must not each get a fresh bucket: they are counted against the client address.
    clock = Clock()
    client = make_client(clock, burst=2)
    assert post(client, "x" * 32).status_code == 200
    assert post(client, "y" * 32).status_code == 200
    assert post(client).status_code == 429
    assert post(client, KEY_A).status_code == 200  # a known key is not held back by the address


def test_probes_are_exempt():
    clock = Clock()
    client = make_client(clock, burst=1)
    assert post(client).status_code == 200
    assert post(client).status_code == 429
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_client_table_is_bounded():
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=100, clock=clock)
    for i in range(1000):
        buckets.take(f"addr:10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100


@pytest.mark.parametrize(("rate", "burst", "match"), [(0, 1, "rate must be > 0"), (1, 0, "burst must be >= 1")])
def test_bad_settings_are_refused(rate: float, burst: int, match: str):
    with pytest.raises(ValueError, match=match):
        TokenBuckets(rate=rate, burst=burst)
