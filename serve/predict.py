"""Scoring a request: join each comment to its article, run the model, shape the answer."""

from model.artifact import LoadedModel
from model.inputs import Comment

from .schemas import ArticleIn, ModelRef, PredictRequest, PredictResponse, PredictResult


def _comment(text: str, article: ArticleIn | None) -> Comment:
    if article is None:
        return Comment(text)
    return Comment(text, article.title, article.body)


def predict(loaded: LoadedModel, request: PredictRequest) -> PredictResponse:
    comments = [_comment(c.text, c.article or request.article) for c in request.comments]
    proba = loaded.estimator.predict_proba(comments)
    labels = list(loaded.metadata["labels"])
    results = [
        PredictResult(
            id=c.id,
            label=labels[int(row.argmax())],
            scores={label: round(float(p), 6) for label, p in zip(labels, row, strict=True)},
        )
        for c, row in zip(request.comments, proba, strict=True)
    ]
    return PredictResponse(model=ModelRef(name=loaded.name, version=loaded.version), results=results)
