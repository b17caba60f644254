"""Admin routes: reload the model (and policy) without dropping requests in flight."""

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from model.artifact import ArtifactError
from model.policy import PolicyError, load_policy

from .auth import AdminScope, AuthFirstRoute
from .schemas import ErrorResponse
from .state import fits_policy
from .warm import settle_heap

log = logging.getLogger("serve.admin")

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=AuthFirstRoute)

# An absolute path (POSIX or Windows) in an error message; only its last part is kept in answers.
_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\](?:[^\s'\"`,;()/\\]+[/\\])*([^\s'\"`,;()/\\]+)")


def without_paths(message: str) -> str:
    """The message with every absolute path cut to its file name: clients learn which file, not where."""
    return _PATH.sub(r"\1", message)


@admin_router.post(
    "/reload",
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "the new model or policy is unusable; the old one still serves"},
    },
)
async def reload(request: Request, _: AdminScope) -> dict[str, Any]:
    """Load `models/current` (and the policy file) again. Requests in flight finish on the model they started
    with; on failure nothing changes and the answer says which file is wrong and why. Under
    `python -m serve --workers N` the other workers then reload too (serve/workers.py)."""
    state = request.app.state
    old = state.holder.current
    try:
        # Loading unpickles and checks sha256: seconds on a big model, so not on the event loop.
        answer = await run_in_threadpool(reload_state, state)
    except (ArtifactError, PolicyError) as e:
        still = old.version if old else None
        raise HTTPException(409, f"reload failed, still serving model {still}: {without_paths(str(e))}") from None
    state.after_reload()  # the other worker processes, if any, reload too (serve/workers.py)
    return answer


def reload_state(state: Any) -> dict[str, Any]:
    """Reload the model and policy of one process's app state; raises ArtifactError or PolicyError (logged and
    counted) and changes nothing when either is unusable."""
    old = state.holder.current
    try:
        policy = load_policy(state.settings.policy_file)
        loaded = state.holder.load(fits_policy(policy, state.settings.policy_file))
    except (ArtifactError, PolicyError) as e:
        state.metrics.reloads.labels(outcome="failed").inc()
        log.error("reload failed, still serving %s: %s", old.version if old else None, e)
        raise
    state.policy = policy
    settle_heap()
    state.metrics.set_model(loaded.version, loaded.name)
    state.metrics.reloads.labels(outcome="ok").inc()
    log.info("reloaded: model %s (was %s), policy %s", loaded.version, old.version if old else None, policy.version)
    return {
        "status": "reloaded",
        "model_version": loaded.version,
        "previous_version": old.version if old else None,
        "policy_version": policy.version,
    }
