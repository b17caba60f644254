"""The moderator's console at /console: sign-in, the queue, decisions, and the readout.

Pages, not an API: left out of the OpenAPI document, answering HTML (errors included), every page behind a
session (serve/console/session.py) and every form behind its CSRF token. Comment text is hostile: templates
autoescape everything, and the Content-Security-Policy allows no inline script or style at all.
"""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from model.labels import LABELS
from model.policy import HOLD, REJECT
from storage import Queued, StorageError

from ..auth import ADMIN, MODERATE
from . import forms
from .decisions import CHOICES, resolution
from .forms import FormError
from .highlight import segments
from .readout import FLAG_LABELS, agreement, agreement_chart, site_readouts, what_if_policy, window
from .session import SESSION_COOKIE, SIGNIN_COOKIE, SIGNIN_TTL_S, Moderator, Signer

log = logging.getLogger("serve.console")

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
MAX_SELECTED = 200  # comments decided by one bulk action
SECURITY_HEADERS = {
    # No inline script or style anywhere: a comment that smuggled markup past the escaping still runs nothing.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

console_router = APIRouter(prefix="/console", include_in_schema=False)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(request_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def problem(
    request: Request, status: int, title: str, message: str, moderator: Moderator | None = None
) -> HTMLResponse:
    """An error as a page: what went wrong and what to do."""
    csrf = _signer(request).csrf_token(moderator.nonce) if moderator else ""
    return page(request, "problem.html", status, title=title, message=message, moderator=moderator, csrf=csrf)


def _signer(request: Request) -> Signer:
    return request.app.state.console_signer


def _moderator(request: Request) -> Moderator | None:
    return _signer(request).moderator(request.app.state.keyring, request.cookies.get(SESSION_COOKIE))


def _to_signin() -> RedirectResponse:
    return RedirectResponse("/console/sign-in", status_code=303, headers={"Cache-Control": "no-store"})


def _secure(request: Request) -> bool:
    mode = request.app.state.settings.console_secure_cookie
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


async def _form(request: Request) -> list[tuple[str, str]]:
    return forms.parse_body(await request.body())


def _bad_csrf(request: Request) -> HTMLResponse:
    return problem(
        request,
        403,
        "The form was refused",
        "The form's CSRF token is missing or does not belong to this session (it expires when you sign out or "
        "the session ends). Go back, reload the page, and submit the form again.",
    )


def _storage_down(request: Request, moderator: Moderator | None, e: StorageError) -> HTMLResponse:
    log.error("console: %s", e)
    return problem(
        request,
        503,
        "The database is unavailable",
        "The console could not read or write the database; nothing was changed. Try again in a minute; the "
        "server log has the details.",
        moderator,
    )


# Sign-in and sign-out


@console_router.get("")
@console_router.get("/")
async def console_home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@console_router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    if _moderator(request) is not None:
        return RedirectResponse("/console/queue", status_code=303)
    return _sign_in_page(request, 200, None)


def _sign_in_page(request: Request, status: int, error: str | None) -> HTMLResponse:
    cookie, nonce = _signer(request).new_signin_nonce()
    open_mode = request.app.state.keyring.open
    response = page(
        request, "signin.html", status, csrf=_signer(request).csrf_token(nonce), error=error, open_mode=open_mode
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        cookie,
        max_age=SIGNIN_TTL_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@console_router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    try:
        fields = dict(await _form(request))
    except FormError as e:
        return _sign_in_page(request, 400, str(e))
    nonce = _signer(request).signin_nonce(request.cookies.get(SIGNIN_COOKIE))
    if nonce is None or not _signer(request).csrf_ok(nonce, fields.get("csrf")):
        return _bad_csrf(request)
    keyring = request.app.state.keyring
    digest: bytes | None = None
    if not keyring.open:
        presented = fields.get("key", "").strip()
        if not presented:
            return _sign_in_page(request, 400, "key: enter an API key with the moderate or admin scope")
        key = keyring.find(presented)
        if key is None:
            return _sign_in_page(request, 401, "key: this is not a key this service knows; check it and try again")
        if not (MODERATE in key.scopes or ADMIN in key.scopes):
            return _sign_in_page(
                request, 403, "key: this key lacks the moderate scope; ask the operator for a key with `moderate`"
            )
        digest = key.digest
    settings = request.app.state.settings
    cookie, _ = _signer(request).new_session(digest, settings.console_session_hours)
    response = RedirectResponse("/console/queue", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(settings.console_session_hours * 3600),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/console")
    return response


@console_router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    moderator = _moderator(request)
    if moderator is None:
        return _to_signin()
    try:
        fields = dict(await _form(request))
    except FormError as e:
        return problem(request, 400, "The form could not be read", str(e), moderator)
    if not _signer(request).csrf_ok(moderator.nonce, fields.get("csrf")):
        return _bad_csrf(request)
    response = _to_signin()
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# The queue


@console_router.get("/queue")
def queue_page(request: Request) -> Response:
    moderator = _moderator(request)
    if moderator is None:
        return _to_signin()
    settings = request.app.state.settings
    filters = forms.queue_filters(
        list(request.query_params.multi_items()), moderator.sites, settings.queue_retention_days
    )
    store = request.app.state.store
    try:
        result = store.list_queue(filters.query)
        sites = store.queue_sites(moderator.sites)
    except StorageError as e:
        return _storage_down(request, moderator, e)
    items = [_item_view(q) for q in result.items]
    return page(
        request,
        "queue.html",
        400 if filters.errors else 200,
        moderator=moderator,
        csrf=_signer(request).csrf_token(moderator.nonce),
        filters=filters,
        items=items,
        sites=sites,
        labels=LABELS,
        actions=(HOLD, REJECT),
        choices=CHOICES,
        older=filters.link(before=result.older) if result.older else None,
        newer=filters.link(after=result.newer) if result.newer else None,
        message=_message(request),
        retention_days=settings.queue_retention_days,
    )


def _item_view(q: Queued) -> dict[str, Any]:
    flagged_first = (q.flagged, *[lab for lab in FLAG_LABELS if lab != q.flagged])
    return {
        "q": q,
        "site": q.site_id or "(no site)",
        "when": q.created_at.strftime("%Y-%m-%d %H:%M UTC") if q.created_at else "",
        "scores": sorted(q.scores.items(), key=lambda kv: -kv[1]),
        "segments": segments(q.text, q.phrases, flagged_first),
        # In order, each once: several labels' explanations often name the same phrase.
        "phrases": list(dict.fromkeys(p for lab in flagged_first for p in q.phrases.get(lab, [])))[:8],
    }


def _message(request: Request) -> str | None:
    done, choice = request.query_params.get("done", ""), request.query_params.get("choice", "")
    if not done.isdigit() or choice not in CHOICES:
        return None
    n = int(done)
    text = f"{n} comment{'s' if n != 1 else ''} {CHOICES[choice].verb}."
    skipped = request.query_params.get("skipped", "")
    if skipped.isdigit() and int(skipped):
        text += f" {skipped} had already been decided (by another moderator, or removed after the retention period)."
    return text


@console_router.post("/decide")
async def decide(request: Request) -> Response:
    moderator = _moderator(request)
    if moderator is None:
        return _to_signin()
    try:
        fields = await _form(request)
    except FormError as e:
        return problem(request, 400, "The form could not be read", str(e), moderator)
    values = dict(fields)
    if not _signer(request).csrf_ok(moderator.nonce, values.get("csrf")):
        return _bad_csrf(request)
    one = values.get("one", "")
    if one:  # a button on one comment: "<id>:<choice>"
        raw_ids, _, choice = one.partition(":")
        raw = [raw_ids]
    else:
        choice = values.get("choice", "")
        raw = [v for k, v in fields if k == "ids"]
    if choice not in CHOICES:
        return problem(
            request,
            400,
            "Nothing was decided",
            f"choice: expected one of {', '.join(CHOICES)}; use the page's buttons",
            moderator,
        )
    if not raw or len(raw) > MAX_SELECTED or not all(r.isdigit() and len(r) < 19 for r in raw):
        return problem(
            request,
            400,
            "Nothing was decided",
            f"ids: select 1 to {MAX_SELECTED} comments with their check boxes, then choose an action",
            moderator,
        )
    store = request.app.state.store
    keep_text = bool(request.app.state.settings.store_text)
    try:
        found = await run_in_threadpool(store.get_queued, [int(r) for r in raw])
        hidden = [q for q in found if not moderator.may_see(q.site_id)]
        if hidden:
            return problem(
                request,
                403,
                "Nothing was decided",
                "Some of the selected comments belong to a site this key may not moderate. Decide only the comments "
                "your queue shows; ask the operator if your key should cover more sites.",
                moderator,
            )
        resolutions = [resolution(q, choice, moderator.name, keep_text) for q in found]
        done = await run_in_threadpool(store.resolve_queued, resolutions)
    except StorageError as e:
        return _storage_down(request, moderator, e)
    log.info("console: %s chose %s for %d comment(s)", moderator.name, choice, len(done))
    back = forms.safe_back(values.get("back", ""))
    sep = "&" if "?" in back else "?"
    return RedirectResponse(
        f"{back}{sep}done={len(done)}&choice={choice}&skipped={len(raw) - len(done)}", status_code=303
    )


# The readout


@console_router.get("/readout")
def readout_page(request: Request) -> Response:
    moderator = _moderator(request)
    if moderator is None:
        return _to_signin()
    params = dict(request.query_params)
    errors: list[str] = []
    days_raw = params.get("days", "14").strip() or "14"
    days = int(days_raw) if days_raw.isdigit() and 1 <= int(days_raw) <= 90 else 0
    if not days:
        errors.append(f"days: expected a whole number from 1 to 90; found {days_raw[:20]!r}")
        days = 14
    site = params.get("site", "").strip() or None
    if site is not None and not moderator.may_see(site):
        errors.append(f"site: this key may see {', '.join(sorted(moderator.sites or []))} only; pick one of those")
        site = None
    sites = frozenset({site}) if site is not None else moderator.sites
    policy = request.app.state.policy
    what_if = what_if_policy(policy, params, errors)
    since, first, last = window(days)
    store = request.app.state.store
    try:
        counts = store.decision_counts(since, sites)
        decided = store.moderator_decisions(since, sites, 20_000)
        known_sites = store.queue_sites(moderator.sites)
    except StorageError as e:
        return _storage_down(request, moderator, e)
    current = agreement(decided, policy.decide)
    trial = agreement(decided, lambda scores, _site: what_if.decide(scores))
    return page(
        request,
        "readout.html",
        400 if errors else 200,
        moderator=moderator,
        csrf=_signer(request).csrf_token(moderator.nonce),
        errors=errors,
        days=days,
        site=site or "",
        sites=sorted(set(known_sites) | {c[0] for c in counts}),
        readouts=site_readouts(counts, first, last),
        current=current,
        trial=trial,
        chart=agreement_chart(current, trial),
        policy=policy,
        what_if=what_if,
        flag_labels=FLAG_LABELS,
        labels=LABELS,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        first_day=(datetime.now(UTC) - timedelta(days=days - 1)).date().isoformat(),
    )
