"""Scoring a request: join each comment to its article, run the model, decide, record, shape the answer.

`moderate` is the one path from comments to decisions; /v1/predict and the Coral endpoint both use it, so a
comment gets the same action, reasons, copy-paste memory and audit entry whichever way it arrives.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from model.artifact import LoadedModel
from model.inputs import Comment
from model.policy import HOLD, REJECT, Decision, Policy

from .batcher import Batcher
from .copypaste import DEFAULT_SITE, CopyPasteIndex, simhash_words
from .explain import explain_labels, fired_signals, prepare_all, relevance
from .guard import StorageGuard
from .metrics import Metrics
from .schemas import (
    MAX_ID_CHARS,
    ArticleIn,
    Explanation,
    ModelRef,
    PolicyRef,
    PredictRequest,
    PredictResponse,
    PredictResult,
)
from .settings import Settings

log = logging.getLogger("serve.decisions")


@dataclass
class Services:
    """What scoring needs, taken from app.state once per request (a reload mid-request changes nothing)."""

    loaded: LoadedModel
    policy: Policy
    settings: Settings
    store: Any  # storage.Store
    guard: StorageGuard
    index: CopyPasteIndex
    metrics: Metrics
    batcher: Batcher  # the app's one (new_batcher): one model call at a time per worker process


@dataclass
class Item:
    """One comment ready to score: its text, article context and the key that says which article it is."""

    comment_id: str
    echo_id: str | None
    comment: Comment
    article_key: str | None
    notes: list[str] = field(default_factory=list)
    # False: decide on it, but keep it out of the audit and the copy-paste memory (Perspective's doNotStore).
    store: bool = True


@dataclass
class Outcome:
    item: Item
    label: str
    scores: dict[str, float]
    decision: Decision
    signals: dict[str, Any]
    explanation: Explanation | None
    fingerprint: int | None = None
    # The explanation's phrases per label, for the moderator's queue; set for queued comments only.
    phrases: dict[str, list[str]] | None = None


def audit_id(comment_id: str | None, text: str) -> str:
    """The id a comment is audited under: the caller's, else one derived from the text (stable per text)."""
    return comment_id or "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def article_key(article_id: str | None, article: ArticleIn | None) -> str | None:
    """Which article a comment sits under, for copy-paste: its id, else its URL, else a hash of its text."""
    if article_id:
        return article_id
    if article is None:
        return None
    if article.url:
        # URLs may be longer than the database's id column (MAX_ID_CHARS); the key only has to be stable.
        if len(article.url) <= MAX_ID_CHARS:
            return article.url
        return "sha256:" + hashlib.sha256(article.url.encode()).hexdigest()[:32]
    if article.title or article.body:
        return "sha256:" + hashlib.sha256(f"{article.title}\n{article.body}".encode()).hexdigest()[:16]
    return None


def _unknown_article(loc: list[str | int]) -> HTTPException:
    # The id is not repeated: answers never echo what the client sent (`loc` says which one it was).
    msg = "no article is stored under this article_id; PUT /v1/articles/{id} first, or send `article` inline"
    return HTTPException(422, [{"loc": loc, "msg": msg, "type": "unknown_article"}])


class StorageDown:
    """Sentinel: the lookup failed, as opposed to finding nothing."""


def reads_stored_articles(request: PredictRequest) -> bool:
    """Whether build_items will look an article up in the Store (an `article_id` with no inline article)."""
    return any(c.article is None and (c.article_id or request.article_id) for c in request.comments)


def build_items(request: PredictRequest, services: Services) -> list[Item]:
    """Resolve `article_id`s through the Store; an unknown id is a 422 naming the field."""
    cache: dict[str, Any] = {}
    items = []
    for i, c in enumerate(request.comments):
        own = c.article is not None or c.article_id is not None
        article, article_id = (c.article, c.article_id) if own else (request.article, request.article_id)
        loc: list[str | int] = ["body", "comments", i, "article_id"] if own else ["body", "article_id"]
        notes: list[str] = []
        comment = Comment(c.text, article.title, article.body) if article else Comment(c.text)
        if article is None and article_id:
            if article_id not in cache:
                cache[article_id] = services.guard.call(
                    "get_article", services.store.get_article, article_id, fallback=StorageDown
                )
            stored = cache[article_id]
            if stored is StorageDown:
                notes.append(f"article {article_id!r} could not be read (storage unavailable); scored without it")
            elif stored is None:
                raise _unknown_article(loc)
            else:
                comment = Comment(c.text, stored.title, stored.body)
        items.append(Item(audit_id(c.id, c.text), c.id, comment, article_key(article_id, article), notes))
    return items


def _score(key: tuple[Any, bool], comments: list[Comment]) -> list[tuple[Any, Any, Any, Any]]:
    """(probabilities, relevance, explanation or None, Prepared) per comment: the model's whole share of a
    request. The text is normalised once, by featurize; everything after reads that."""
    estimator, explain = key
    featurized = estimator.featurize(comments)  # once: probabilities, relevance and explanation share them
    proba = estimator.predict_proba(comments, featurized=featurized)
    relevances = relevance(estimator, comments, featurized)
    prepared = prepare_all(comments, featurized)
    explanations = explain_labels(estimator, comments, featurized, prepared) if explain else [None] * len(comments)
    return list(zip(proba, relevances, explanations, prepared, strict=True))


def new_batcher() -> Batcher:
    """What an app scores through off the event loop: one model call at a time, over all requests waiting for
    it (serve/batcher.py). One per app, kept in app.state, so nothing about scoring is module state."""
    return Batcher(_score)


# Requests of up to this many comments, and this many characters of text in all, are scored on the event
# loop. The character bound matters as much: one 10,000-character comment holds the loop, and every /healthz
# and small request behind it, for as long as eight short ones.
INLINE_MAX_COMMENTS = 8
INLINE_MAX_CHARS = 4_000


async def moderate(services: Services, items: list[Item], site_id: str | None, explain: bool) -> list[Outcome]:
    """The one path of a request's comments, for /v1/predict and Coral alike: score them, then decide and record.

    The model runs on the event loop for a small request (scores_inline), else through the Batcher on a thread.
    Why: with one embedding thread per process (docs/operating.md's `--workers` setup) the Batcher's joint calls
    made every request of a burst wait for the whole batch; scored inline, a request waits only for those ahead
    of it (bench/results/inline-before-after.md). With several embedding threads the Batcher stays, since it is
    what spreads a burst of single comments over them. Database reads and writes (the copy-paste memory, the
    audit) always run in a thread, so a slow or unreachable database never stalls the loop.
    """
    key = (services.loaded.estimator, explain)
    comments = [it.comment for it in items]
    rows = await _score_now(services, key, comments)
    outcomes, recorded = await run_in_threadpool(decide, services, items, rows, site_id)
    if not recorded:
        # Queued comments the request did not ask to explain: the console highlights the explanation's
        # phrases, so score those few again with the explanation, the same way, then record.
        unexplained = [o for o in outcomes if queues(services, o) and o.phrases is None]
        if unexplained:
            again = await _score_now(services, (key[0], True), [o.item.comment for o in unexplained])
            for o, row in zip(unexplained, again, strict=True):
                o.phrases = phrase_lists(row[2])
        await run_in_threadpool(record, services, outcomes, site_id)
    return outcomes


async def _score_now(services: Services, key: tuple[Any, bool], comments: list[Comment]) -> list[Any]:
    if scores_inline(services, comments):
        return _score(key, comments)
    return await run_in_threadpool(services.batcher.score, key, comments)


def scores_inline(services: Services, comments: list[Comment]) -> bool:
    """Whether moderate scores these comments on the event loop rather than through the Batcher on a thread."""
    if len(comments) > INLINE_MAX_COMMENTS:
        return False
    articles = {(c.article_title, c.article_body) for c in comments}  # one request's comments share theirs
    chars = sum(len(c.text) for c in comments) + sum(len(t) + len(b) for t, b in articles)
    if chars > INLINE_MAX_CHARS:
        return False
    return int(getattr(services.loaded.estimator, "embedding_threads", 0)) <= 1


def decide(services: Services, items: list[Item], rows: list[Any], site_id: str | None) -> tuple[list[Outcome], bool]:
    """From the model's rows (_score) to decisions: copy-paste memory, policy, and (when every comment the
    queue takes was explained) the record: then True. Does I/O."""
    loaded, settings = services.loaded, services.settings
    proba = [r[0] for r in rows]
    relevances = [r[1] for r in rows]
    explanations = [r[2] for r in rows]
    prepared = [r[3] for r in rows]
    labels = list(loaded.metadata["labels"])
    fingerprints = [simhash_words(p.words) for p in prepared]
    outcomes = []
    for it, row, rel, phrases, fp, prep in zip(
        items, proba, relevances, explanations, fingerprints, prepared, strict=True
    ):
        scores = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        dupes = services.index.check_and_add(site_id, fp, it.article_key, add=it.store)
        decision = services.policy.decide(scores, site_id, near_duplicates=dupes)
        decision = Decision(
            decision.action, decision.decided, [*decision.reasons, *it.notes], decision.shadow, decision.labels
        )
        signals = fired_signals(prep, dupes, rel, settings.low_relevance_below)
        explanation = Explanation(labels=phrases, signals=signals) if phrases is not None else None
        outcome = Outcome(it, labels[int(row.argmax())], scores, decision, signals, explanation, fp)
        if phrases is not None:
            outcome.phrases = phrase_lists(phrases)
        outcomes.append(outcome)
    if any(queues(services, o) and o.phrases is None for o in outcomes):
        return outcomes, False
    record(services, outcomes, site_id)
    return outcomes, True


def queues(services: Services, outcome: Outcome) -> bool:
    """Whether the comment's text goes to the moderator's queue: held, or in shadow mode would have been held
    or rejected; never with the queue off (retention 0) or for a comment not to be stored."""
    decision = outcome.decision
    wanted = decision.decided in (HOLD, REJECT) if decision.shadow else decision.action == HOLD
    return wanted and outcome.item.store and int(getattr(services.settings, "queue_retention_days", 0)) > 0


def phrase_lists(labels: dict[str, list[dict[str, Any]]] | None) -> dict[str, list[str]]:
    """The explanation's phrases per label, without weights."""
    return {label: [str(p["phrase"]) for p in phrases] for label, phrases in (labels or {}).items()}


def record(services: Services, outcomes: list[Outcome], site_id: str | None) -> None:
    """Audit every decision, remember the fingerprints, queue the held comments, count; storage failures are
    absorbed by the guard. Items with `store` False are counted only."""
    from storage import AuditEntry, QueuedIn  # imported here so scoring code does not need a database

    policy = services.policy.for_site(site_id)
    store_text = bool(getattr(services.settings, "store_text", False))
    entries = [
        AuditEntry(
            comment_id=o.item.comment_id,
            model_version=services.loaded.version,
            scores=o.scores,
            label=o.label,
            action=o.decision.action,
            decided_action=o.decision.decided,
            policy_version=policy.version,
            shadow=o.decision.shadow,
            reasons=o.decision.reasons,
            site_id=site_id,
            text=o.item.comment.text if store_text else None,
        )
        for o in outcomes
        if o.item.store
    ]
    prints = [
        (o.fingerprint, o.item.article_key or "", o.item.comment_id)
        for o in outcomes
        if o.fingerprint is not None and o.item.store
    ]
    queued = [
        QueuedIn(
            comment_id=o.item.comment_id,
            site_id=site_id or "",
            text=o.item.comment.text,
            label=o.label,
            flagged=o.decision.labels[0] if o.decision.labels else o.label,
            action=o.decision.action,
            decided_action=o.decision.decided,
            shadow=o.decision.shadow,
            scores=o.scores,
            reasons=o.decision.reasons,
            phrases=o.phrases or {},
            model_version=services.loaded.version,
            policy_version=policy.version,
            article_id=o.item.article_key,
            article_title=o.item.comment.article_title,
            article_body=o.item.comment.article_body,
        )
        for o in outcomes
        if queues(services, o)
    ]
    site = site_id or DEFAULT_SITE
    services.guard.call(
        "record_decisions", services.store.record_decisions, entries, site, prints, queued, fallback=None
    )
    if prints and services.index.due_for_prune(site, len(prints)):
        keep = services.index.capacity
        services.guard.call("prune_fingerprints", services.store.prune_fingerprints, site, keep, fallback=None)
    for o in outcomes:
        if o.decision.shadow and o.decision.decided != o.decision.action:
            log.info("shadow mode: would %s comment %s (site %s)", o.decision.decided, o.item.comment_id, site_id)
        services.metrics.predictions.labels(label=o.label, action=o.decision.action).inc()
        services.metrics.decisions.labels(decided=o.decision.decided, shadow=str(o.decision.shadow).lower()).inc()


def check_site_limits(settings: Any, request: PredictRequest) -> None:
    """MODERATION_MAX_COMMENTS / MODERATION_MAX_TEXT_CHARS, when set below the API's ceilings: a 422 naming the
    field, as the schema's own limits give."""
    problems: list[dict[str, Any]] = []
    if len(request.comments) > settings.max_comments:
        problems.append(
            {
                "loc": ["body", "comments"],
                "msg": f"this service takes at most {settings.max_comments} comments per request "
                f"(MODERATION_MAX_COMMENTS); found {len(request.comments)}: send them in smaller requests",
                "type": "too_long",
            }
        )
    for i, c in enumerate(request.comments):
        if len(c.text) > settings.max_text_chars:
            problems.append(
                {
                    "loc": ["body", "comments", i, "text"],
                    "msg": f"this service takes comments of at most {settings.max_text_chars} characters "
                    f"(MODERATION_MAX_TEXT_CHARS); found {len(c.text)}",
                    "type": "string_too_long",
                }
            )
    if problems:
        raise HTTPException(422, problems)


async def predict_async(services: Services, request: PredictRequest) -> PredictResponse:
    """The predict endpoint: the request's comments, their articles, then `moderate`."""
    check_site_limits(services.settings, request)
    if reads_stored_articles(request) or len(request.comments) > INLINE_MAX_COMMENTS:
        items = await run_in_threadpool(build_items, request, services)  # storage reads, or many texts to hash
    else:
        items = build_items(request, services)
    return respond(services, request, await moderate(services, items, request.site_id, request.explain))


def respond(services: Services, request: PredictRequest, outcomes: list[Outcome]) -> PredictResponse:
    policy = services.policy.for_site(request.site_id)
    results = [
        PredictResult(
            id=o.item.echo_id,
            label=o.label,
            scores=o.scores,
            action=o.decision.action,
            reasons=o.decision.reasons,
            signals=o.signals,
            explanation=o.explanation,
        )
        for o in outcomes
    ]
    return PredictResponse(
        model=ModelRef(name=services.loaded.name, version=services.loaded.version),
        policy=PolicyRef(version=policy.version, shadow=policy.shadow),
        results=results,
    )
