"""Console sessions and CSRF tokens: an HMAC-signed cookie, and tokens derived from it.

The cookie holds the SHA-256 of the key signed in with (never the key), a random nonce and an expiry, signed
with the console secret. Each request looks the key up again, so removing a key from the configuration ends
its sessions at once, and the key's scopes and sites are always the current ones.

A form's CSRF token is HMAC(secret, nonce): bound to the session (or, on the sign-in page, to a short-lived
pre-session cookie), so a token taken from one session is worthless in another. SameSite=Strict already keeps
other sites' forms from carrying the cookie; the token is the second lock.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass

from ..auth import ADMIN, MODERATE, AuthConfigError, KeyRing
from ..settings import Settings

log = logging.getLogger("serve.console")

SESSION_COOKIE = "console_session"
SIGNIN_COOKIE = "console_signin"  # the sign-in form's own CSRF nonce, before there is a session
SIGNIN_TTL_S = 3600
MIN_SECRET_CHARS = 32
# The name recorded for decisions made with no keys configured (open mode, loopback only).
OPEN_MODE_MODERATOR = "local"


@dataclass(frozen=True)
class Moderator:
    """Who is signed in: the key's name, the sites it may see (None: all) and the session's nonce."""

    name: str
    sites: frozenset[str] | None
    nonce: str

    def may_see(self, site_id: str) -> bool:
        # A comment sent without a site ("") belongs to no site: only a key tied to no sites sees it.
        return self.sites is None or site_id in self.sites


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> "Signer":
        secret = settings.console_secret
        if not secret:
            log.warning(
                "MODERATION_CONSOLE_SECRET is not set: console sessions end when the service restarts (they "
                "are signed with a random per-process secret; with --workers > 1 a session works on one worker "
                "only). Set it to 32+ random characters to keep sessions across restarts."
            )
            return cls(secrets.token_bytes(32))
        if len(secret) < MIN_SECRET_CHARS:
            raise AuthConfigError(
                f"MODERATION_CONSOLE_SECRET is {len(secret)} characters; it must be at least {MIN_SECRET_CHARS} "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))'), or unset for a "
                "per-process one"
            )
        return cls(secret.encode())

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + data, hashlib.sha256).digest()

    def sign(self, purpose: str, payload: dict[str, object]) -> str:
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(data)}.{_b64(self._mac(purpose, data))}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, object] | None:
        """The payload of a value this signer made for `purpose`, unexpired; None for anything else."""
        if not value or value.count(".") != 1:
            return None
        data_part, mac_part = value.split(".")
        try:
            data, mac = _unb64(data_part), _unb64(mac_part)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, data)):
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("x"), int | float) or payload["x"] < time.time():
            return None
        return payload

    def csrf_token(self, nonce: str) -> str:
        return _b64(self._mac("csrf", nonce.encode()))

    def csrf_ok(self, nonce: str, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(nonce), presented or "")

    # Sessions

    def new_session(self, digest: bytes | None, hours: float) -> tuple[str, str]:
        """(cookie value, nonce) for a key (its SHA-256; None in open mode)."""
        nonce = secrets.token_urlsafe(18)
        payload = {"k": digest.hex() if digest else "", "n": nonce, "x": int(time.time() + hours * 3600)}
        return self.sign("session", payload), nonce

    def moderator(self, keyring: KeyRing, cookie: str | None) -> Moderator | None:
        """Who the session cookie signs in, if it is valid and its key still holds `moderate` or `admin`."""
        payload = self.unsign("session", cookie)
        if payload is None or not isinstance(payload.get("n"), str) or not isinstance(payload.get("k"), str):
            return None
        nonce, digest_hex = str(payload["n"]), str(payload["k"])
        if keyring.open:
            return Moderator(OPEN_MODE_MODERATOR, None, nonce) if digest_hex == "" else None
        try:
            key = keyring.by_digest(bytes.fromhex(digest_hex))
        except ValueError:
            return None
        if key is None or not (MODERATE in key.scopes or ADMIN in key.scopes):
            return None
        return Moderator(key.name, key.sites, nonce)

    def new_signin_nonce(self) -> tuple[str, str]:
        nonce = secrets.token_urlsafe(18)
        return self.sign("signin", {"n": nonce, "x": int(time.time() + SIGNIN_TTL_S)}), nonce

    def signin_nonce(self, cookie: str | None) -> str | None:
        payload = self.unsign("signin", cookie)
        return str(payload["n"]) if payload and isinstance(payload.get("n"), str) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise ValueError("not base64") from e
