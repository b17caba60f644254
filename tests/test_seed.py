"""The five comments the project started from, sent with their article, get their labels."""

import json

from model import Comment, load_model

from .conftest import SEED, require_shared


def test_seed_comments_get_their_labels(default_model_dir):
    seed = json.loads(require_shared(SEED).read_text(encoding="utf-8"))
    body = "\n\n".join(seed["body"])
    loaded = load_model(default_model_dir)
    comments = [Comment(c["text"], seed["title"], body) for c in seed["comments"]]
    predicted = list(loaded.estimator.predict(comments))
    expected = [c["label"] for c in seed["comments"]]
    assert predicted == expected, list(zip([c["text"] for c in seed["comments"]], predicted, expected, strict=True))
