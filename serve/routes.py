"""HTTP routes: health, model metadata and prediction."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from model.artifact import LoadedModel

from .auth import AuthFirstRoute, PredictScope
from .predict import Services, predict_async
from .schemas import ErrorResponse, PredictRequest, PredictResponse
from .state import ModelHolder

router = APIRouter(route_class=AuthFirstRoute)


# Dependencies that only read app.state are `async def`: FastAPI runs a plain `def` dependency on the thread
# pool, and three hand-offs per request cost more CPU and latency under load than the lookups themselves.
async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> LoadedModel:
    loaded = holder.current
    if loaded is None:
        raise HTTPException(503, "no model is loaded")
    return loaded


ModelDep = Annotated[LoadedModel, Depends(get_model)]


def services_for(request: Request, loaded: LoadedModel) -> Services:
    state = request.app.state
    return Services(
        loaded, state.policy, state.settings, state.store, state.guard, state.index, state.metrics, state.batcher
    )


async def get_services(request: Request, loaded: ModelDep) -> Services:
    return services_for(request, loaded)


ServicesDep = Annotated[Services, Depends(get_services)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "the API key lacks the `predict` scope"},
    400: {"model": ErrorResponse, "description": "body is not decodable JSON (invalid UTF-8, too deeply nested)"},
    413: {"model": ErrorResponse, "description": "body over the size limit"},
    415: {"model": ErrorResponse, "description": "body is not application/json"},
    422: {"model": ErrorResponse, "description": "invalid request or unknown article_id; `loc` names the field"},
    429: {"model": ErrorResponse, "description": "over the rate limit; `Retry-After` says when to retry"},
}


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses={503: {"model": ErrorResponse}})
def readyz(request: Request, holder: Annotated[ModelHolder, Depends(get_holder)]) -> dict[str, str]:
    """A model is loaded and requests will be answered; "degraded" (still 200) when storage is failing."""
    if holder.current is None:
        raise HTTPException(503, "no model is loaded")
    out = {"status": "ready", "model_version": holder.current.version}
    problem = request.app.state.guard.problem()
    if problem:
        out.update(status="degraded", reason=f"{problem}; predictions are served but not recorded")
    return out


@router.get("/v1/model", tags=["model"], responses=_ERRORS)
def model_info(loaded: ModelDep, _: PredictScope) -> dict[str, Any]:
    """The serving model: version, labels, feature blocks, training data and held-out metrics."""
    meta = dict(loaded.metadata)
    meta.setdefault("features", list(getattr(loaded.estimator, "features", ())))
    meta.setdefault("metrics", {})
    embedders = [b.embedder for b in getattr(loaded.estimator, "blocks_", ()) if hasattr(b, "embedder")]
    if embedders:  # what this process runs now, which may differ from the training machine's
        meta["embedding_runtime"] = embedders[0].runtime
    return meta


@router.post("/v1/predict", tags=["predict"], responses=_ERRORS)
async def predict_route(body: PredictRequest, services: ServicesDep, _: PredictScope) -> PredictResponse:
    """Label and decide 1 to 256 comments; results come back in input order."""
    return await predict_async(services, body)
