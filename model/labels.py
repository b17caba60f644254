"""The label schema: the rubric's three labels, and the rule any label a team trains on must follow.

Labels are data: a model directory names the classes it predicts (model.json `classes`), and the service,
policy and feedback store take them from there. `LABELS` is what `training.fit` trains by default: the
rubric's labels (../shared/labeling-rubric.md, docs/model.md).
"""

import re
from collections.abc import Sequence
from typing import Final

SPAM: Final = "spam"
TOXIC: Final = "toxic"
SUBSTANTIVE: Final = "substantive"

# The default column order of predict_proba and of every report. A saved model keeps its own order.
LABELS: Final[tuple[str, ...]] = (SPAM, TOXIC, SUBSTANTIVE)

DESCRIPTIONS: Final[dict[str, str]] = {
    SPAM: "adds nothing specific to this article: promotion, links, generic praise, off-topic, gibberish",
    TOXIC: "attacks or demeans someone: insults, slurs, threats, hateful generalisations",
    SUBSTANTIVE: "engages civilly with this article's specific content",
}


# A label is stored in String(32) columns, is a column name in batch-scoring output and a key in JSON.
LABEL_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
LABEL_RULE: Final = "lower-case letters, digits and _, starting with a letter, at most 32 characters"


def check_label(value: object, labels: Sequence[str] = LABELS) -> str:
    """Return `value` (trimmed, lower-cased) as one of `labels`, or raise ValueError naming them."""
    if isinstance(value, str) and value.strip().lower() in labels:
        return value.strip().lower()
    raise ValueError(f"unknown label {value!r}; expected one of {', '.join(labels)}")


def check_label_set(labels: Sequence[object], origin: str = "labels") -> tuple[str, ...]:
    """`labels` as a tuple, or ValueError: at least two, distinct, each following LABEL_RULE."""
    bad = [x for x in labels if not isinstance(x, str) or not LABEL_PATTERN.fullmatch(x)]
    if bad:
        raise ValueError(f"{origin}: {bad} are not labels; a label is {LABEL_RULE}")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"{origin}: expected at least two distinct labels, found {list(labels)}")
    return tuple(str(x) for x in labels)
