"""API keys with scopes: `predict` (score comments, store articles and feedback) and `admin` (reload, export).

A key arrives as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Every configured key is compared,
with hmac.compare_digest over SHA-256 digests (equal lengths, no early exit), so the time taken says
nothing about which key or how much of it matched. Keys never appear in logs, errors or settings reprs.

No keys configured means no authentication: the service then refuses to start on anything but a loopback
address (see check_open_mode), and says so loudly in the log.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .settings import Settings

log = logging.getLogger("serve.auth")

PREDICT, ADMIN = "predict", "admin"
SCOPES = (PREDICT, ADMIN)


class AuthConfigError(ValueError):
    """The key settings cannot be used; the message names the setting and the fix (never a key)."""


@dataclass(frozen=True)
class KeyRing:
    # (sha256 of the key, its scopes); the keys themselves are not kept.
    entries: tuple[tuple[bytes, frozenset[str]], ...]

    @property
    def open(self) -> bool:
        return not self.entries

    def scopes_for(self, presented: str) -> frozenset[str] | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found: frozenset[str] | None = None
        for key_digest, scopes in self.entries:  # no break: every key costs the same time
            if hmac.compare_digest(digest, key_digest):
                found = scopes
        return found


def load_keyring(settings: Settings) -> KeyRing:
    keys: dict[str, object] = dict(settings.api_keys)
    if settings.api_keys_file is not None:
        path = Path(settings.api_keys_file)
        try:
            from_file = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise AuthConfigError(f"api_keys_file {path.name} does not exist; fix MODERATION_API_KEYS_FILE") from e
        except json.JSONDecodeError as e:
            raise AuthConfigError(
                f'api_keys_file {path.name} is not JSON (line {e.lineno}); expected {{"<key>": ["predict"]}}'
            ) from None
        if not isinstance(from_file, dict):
            raise AuthConfigError(f"api_keys_file {path.name} must hold a JSON object of key -> list of scopes")
        keys.update(from_file)
    entries = []
    for n, (key, scopes) in enumerate(keys.items(), start=1):
        if not isinstance(key, str) or len(key) < 16:
            raise AuthConfigError(f"API key #{n} is shorter than 16 characters; use a long random key")
        if not isinstance(scopes, list) or not scopes or any(s not in SCOPES for s in scopes):
            raise AuthConfigError(f"API key #{n} has scopes {scopes!r}; expected a non-empty list from {list(SCOPES)}")
        entries.append((hashlib.sha256(key.encode()).digest(), frozenset(scopes)))
    return KeyRing(tuple(entries))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_open_mode(keyring: KeyRing, settings: Settings) -> None:
    """Without keys, serve only on loopback; warn loudly either way."""
    if not keyring.open:
        return
    if not is_loopback(settings.host):
        raise AuthConfigError(
            f"no API keys are configured and host is {settings.host}: anyone who can reach it could moderate "
            "and reload. Set MODERATION_API_KEYS (or MODERATION_API_KEYS_FILE), or bind 127.0.0.1"
        )
    log.warning("NO API KEYS CONFIGURED: every endpoint is open to any local process. Set MODERATION_API_KEYS.")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def require(scope: str):
    """A dependency that lets the request through only with a key holding `scope` (or in open mode)."""

    # async: it blocks on nothing, and a plain `def` dependency would cost a thread-pool hand-off per request.
    async def check(request: Request) -> None:
        keyring: KeyRing = request.app.state.keyring
        if keyring.open:
            return
        key = presented_key(request)
        challenge = {"WWW-Authenticate": "Bearer"}
        if key is None:
            raise HTTPException(
                401, "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`", challenge
            )
        scopes = keyring.scopes_for(key)
        if scopes is None:
            raise HTTPException(401, "unknown API key", challenge)
        if scope not in scopes:
            raise HTTPException(403, f"this API key lacks the `{scope}` scope; ask for a key with it")

    check.__name__ = f"require_{scope}"
    return check


PredictScope = Annotated[None, Depends(require(PREDICT))]
AdminScope = Annotated[None, Depends(require(ADMIN))]
