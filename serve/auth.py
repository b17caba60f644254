"""API keys with scopes, and who a key is.

Scopes follow the threat model: a key that only scores comments is often embedded in a comment form, so it
must not be able to write what the next retraining learns from or what comments are judged against.

- `predict`: score comments (`POST /v1/predict`, `GET /v1/model`) and read stored articles;
- `articles`: store and read articles (`PUT`/`GET /v1/articles/{id}`);
- `feedback`: record a moderator's label (`POST /v1/feedback`), under the key's name;
- `moderate`: sign in to the moderator's console (`/console`): read held comments, decide on them;
- `admin`: reload, audit log, feedback export; an admin key may also do everything above.

A key may be tied to sites: `{"<key>": {"scopes": ["moderate"], "name": "desk-1", "sites": ["news.example"]}}`.
The console then shows and decides only those sites' comments (and, for comments sent without a site_id,
only to keys with no `sites`). The API endpoints do not read `sites` yet.

A key arrives as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Every configured key is compared,
with hmac.compare_digest over SHA-256 digests (equal lengths, no early exit), so the time taken says
nothing about which key or how much of it matched. Keys never appear in logs, errors or settings reprs.

Each key has a name, the identity recorded with the feedback it sends: `{"<key>": {"scopes": [...], "name":
"desk-1"}}`, or for a key written in the older `{"<key>": ["predict"]}` form, `key-` and the first 12 hex
digits of the key's SHA-256 (stable, and not enough to recover a long random key).

The key is checked before the request body is read (AuthFirstRoute): an unauthenticated client gets 401
whatever it sends, and costs the server no parsing.

No keys configured means no authentication: the service then refuses to start on anything but a loopback
address (see check_open_mode), and says so loudly in the log.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .settings import Settings

log = logging.getLogger("serve.auth")

PREDICT, ARTICLES, FEEDBACK, MODERATE, ADMIN = "predict", "articles", "feedback", "moderate", "admin"
SCOPES = (PREDICT, ARTICLES, FEEDBACK, MODERATE, ADMIN)
MIN_KEY_CHARS = 16
MAX_NAME_CHARS = 64
# What the older list form's keys are called: "key-" + this many hex digits of the key's SHA-256.
DERIVED_NAME_HEX = 12
KEYS_SHAPE = '{"<key>": {"scopes": ["predict"], "name": "site-backend"}}'
SITES_SHAPE = '"sites": ["news.example.com"]'


class AuthConfigError(ValueError):
    """The key settings cannot be used; the message names the setting and the fix (never a key)."""


@dataclass(frozen=True)
class Key:
    digest: bytes  # SHA-256 of the key; the key itself is not kept
    scopes: frozenset[str]
    name: str
    # The sites whose comments the key may see in the console; None: every site.
    sites: frozenset[str] | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the key's name and scopes, or name None when no keys are configured (open mode)."""

    name: str | None
    scopes: frozenset[str]


OPEN_CALLER = Caller(None, frozenset(SCOPES))


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[Key, ...]

    @property
    def open(self) -> bool:
        return not self.keys

    def find(self, presented: str) -> Key | None:
        digest = hashlib.sha256(presented.encode()).digest()
        return self.by_digest(digest)

    def by_digest(self, digest: bytes) -> Key | None:
        """The key with this SHA-256 (a console session keeps the digest, never the key)."""
        found: Key | None = None
        for key in self.keys:  # no break: every key costs the same time
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def derived_name(key: str) -> str:
    """The name of a key given without one: stable across restarts, safe to store and show."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:DERIVED_NAME_HEX]


def load_keyring(settings: Settings) -> KeyRing:
    keys: dict[str, object] = dict(settings.api_keys)
    if settings.api_keys_file is not None:
        keys.update(_read_keys_file(Path(settings.api_keys_file)))
    return KeyRing(tuple(_parse_key(n, key, spec) for n, (key, spec) in enumerate(keys.items(), start=1)))


def _read_keys_file(path: Path) -> dict[str, object]:
    try:
        from_file = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise AuthConfigError(f"api_keys_file {path.name} does not exist; fix MODERATION_API_KEYS_FILE") from e
    except json.JSONDecodeError as e:
        raise AuthConfigError(
            f"api_keys_file {path.name} is not JSON (line {e.lineno}); expected {KEYS_SHAPE}"
        ) from None
    if not isinstance(from_file, dict):
        raise AuthConfigError(f"api_keys_file {path.name} must hold a JSON object of the shape {KEYS_SHAPE}")
    return from_file


def _parse_key(n: int, key: object, spec: object) -> Key:
    """One entry of the key settings: `[scopes]` (older form) or `{"scopes": [...], "name": "..."}`.
    Messages name the key by its position, never by its value."""
    if not isinstance(key, str) or len(key) < MIN_KEY_CHARS:
        raise AuthConfigError(f"API key #{n} is shorter than {MIN_KEY_CHARS} characters; use a long random key")
    name: object = derived_name(key)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"scopes", "name", "sites"})
        if unknown:
            raise AuthConfigError(
                f"API key #{n} has unknown fields {unknown}; expected {KEYS_SHAPE}, optionally with {SITES_SHAPE}"
            )
        name = spec.get("name", name)
        scopes = spec.get("scopes")
        sites = _parse_sites(n, spec["sites"]) if "sites" in spec else None
    else:
        scopes, sites = spec, None
    if not isinstance(scopes, list) or not scopes or any(s not in SCOPES for s in scopes):
        raise AuthConfigError(f"API key #{n} has scopes {scopes!r}; expected a non-empty list from {list(SCOPES)}")
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_NAME_CHARS
        or any(not c.isprintable() for c in name)
    ):
        raise AuthConfigError(
            f"API key #{n} has a name that is not 1 to {MAX_NAME_CHARS} printable characters; "
            'give it one such as "desk-1" (it is recorded as the moderator of the feedback the key sends)'
        )
    return Key(hashlib.sha256(key.encode()).digest(), frozenset(scopes), name, sites)


def _parse_sites(n: int, sites: object) -> frozenset[str]:
    if (
        not isinstance(sites, list)
        or not sites
        or any(not isinstance(s, str) or not s.strip() or len(s) > 256 for s in sites)
    ):
        raise AuthConfigError(
            f"API key #{n} has sites {sites!r}; expected a non-empty list of site ids ({SITES_SHAPE}), "
            "or leave `sites` out for a key that sees every site"
        )
    return frozenset(sites)


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


def authenticate(request: Request, scopes: frozenset[str]) -> Caller:
    """The caller, if its key holds one of `scopes` (or no keys are configured); else 401 or 403."""
    return check_key(request.app.state.keyring, presented_key(request), scopes)


def check_key(keyring: KeyRing, presented: str | None, scopes: frozenset[str]) -> Caller:
    """authenticate, for a key already taken from the request (serve/perspective.py also reads `?key=`)."""
    if keyring.open:
        return OPEN_CALLER
    challenge = {"WWW-Authenticate": "Bearer"}
    if presented is None:
        raise HTTPException(401, "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`", challenge)
    key = keyring.find(presented)
    if key is None:
        raise HTTPException(401, "unknown API key", challenge)
    if not any(key.allows(scope) for scope in scopes):
        needed = " or ".join(f"`{s}`" for s in sorted(scopes))
        raise HTTPException(403, f"this API key lacks the {needed} scope; ask for a key with it")
    return Caller(key.name, key.scopes)


class ScopeCheck:
    """A dependency that lets the request through only with a key holding one of `scopes` (or in open mode),
    and hands the route the Caller. AuthFirstRoute runs the same check before the body is read."""

    def __init__(self, *scopes: str) -> None:
        unknown = set(scopes) - set(SCOPES)
        if not scopes or unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; expected some of {list(SCOPES)}")
        self.scopes = frozenset(scopes)

    # async: it blocks on nothing, and a plain `def` dependency would cost a thread-pool hand-off per request.
    async def __call__(self, request: Request) -> Caller:
        return authenticate(request, self.scopes)


def require(*scopes: str) -> ScopeCheck:
    return ScopeCheck(*scopes)


def _scope_checks(dependant: Dependant) -> Iterator[ScopeCheck]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, ScopeCheck):
            yield sub.call
        yield from _scope_checks(sub)


# The two ways a key arrives, as OpenAPI security schemes (components.securitySchemes of /openapi.json), so
# that Swagger UI shows an Authorize button and generated clients know the headers. Either one is enough.
BEARER_SCHEME, HEADER_SCHEME = "bearerAuth", "apiKeyHeader"
SECURITY_SCHEMES = {
    BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    HEADER_SCHEME: {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "`X-API-Key: <key>`"},
}
SECURITY = [{BEARER_SCHEME: []}, {HEADER_SCHEME: []}]


def add_security_schemes(app: FastAPI) -> None:
    """Declare SECURITY_SCHEMES in the app's OpenAPI document (the routes that need a key name them)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            build().setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES  # build() caches it
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


class AuthFirstRoute(APIRoute):
    """An APIRoute that checks the API key before the body is read.

    FastAPI reads and parses the body before it solves any dependency, so with the key checked only by a
    dependency, an unauthenticated client sending a malformed body got 400 or 422 and made the server parse
    it. This route runs the checks of the route's own `require(...)` dependencies (parameters or the route's
    `dependencies=`) first; the dependencies still run, and give the route its Caller. Checks added only
    when a router is included are not seen here: declare scopes on the routes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scopes = sorted({scope for check in _scope_checks(self.dependant) for scope in check.scopes})
        if scopes:  # in OpenAPI: which key this operation needs
            self.openapi_extra = {"security": SECURITY, **(self.openapi_extra or {})}
            needed = " or ".join(f"`{s}`" for s in (scopes if ADMIN in scopes else [*scopes, ADMIN]))
            self.description = f"{self.description}\n\nNeeds an API key with the {needed} scope.".strip()

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = tuple(_scope_checks(self.dependant))
        if not checks:
            return handler

        async def key_checked_first(request: Request) -> Response:
            for check in checks:
                authenticate(request, check.scopes)
            return await handler(request)

        return key_checked_first


PredictScope = Annotated[Caller, Depends(require(PREDICT))]
AdminScope = Annotated[Caller, Depends(require(ADMIN))]
ArticlesWrite = Annotated[Caller, Depends(require(ARTICLES))]
ArticlesRead = Annotated[Caller, Depends(require(ARTICLES, PREDICT))]
FeedbackScope = Annotated[Caller, Depends(require(FEEDBACK))]
