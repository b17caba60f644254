"""HTTP routes: health, model metadata and prediction."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from model.artifact import LoadedModel

from .predict import predict
from .schemas import ErrorResponse, PredictRequest, PredictResponse
from .state import ModelHolder

router = APIRouter()


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> LoadedModel:
    loaded = holder.current
    if loaded is None:
        raise HTTPException(503, "no model is loaded")
    return loaded


ModelDep = Annotated[LoadedModel, Depends(get_model)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "body over the size limit"},
    415: {"model": ErrorResponse, "description": "body is not application/json"},
    422: {"model": ErrorResponse, "description": "invalid request; `loc` names the field"},
}


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses={503: {"model": ErrorResponse}})
def readyz(holder: Annotated[ModelHolder, Depends(get_holder)]) -> dict[str, str]:
    """A model is loaded and requests will be answered."""
    if holder.current is None:
        raise HTTPException(503, "no model is loaded")
    return {"status": "ready", "model_version": holder.current.version}


@router.get("/v1/model", tags=["model"])
def model_info(loaded: ModelDep) -> dict[str, Any]:
    """The serving model's metadata: version, labels, features, training data and held-out metrics."""
    meta = dict(loaded.metadata)
    return meta


@router.post("/v1/predict", tags=["predict"], responses=_ERRORS)
def predict_route(body: PredictRequest, loaded: ModelDep) -> PredictResponse:
    """Label 1 to 256 comments; results come back in input order."""
    return predict(loaded, body)
