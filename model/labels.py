"""The label schema: the one place that names the classes the model predicts."""

from typing import Final

SPAM: Final = "spam"
TOXIC: Final = "toxic"
SUBSTANTIVE: Final = "substantive"

# Order is the column order of predict_proba and of every report; changing it invalidates saved models.
LABELS: Final[tuple[str, ...]] = (SPAM, TOXIC, SUBSTANTIVE)

DESCRIPTIONS: Final[dict[str, str]] = {
    SPAM: "adds nothing specific to this article: promotion, links, generic praise, off-topic, gibberish",
    TOXIC: "attacks or demeans someone: insults, slurs, threats, hateful generalisations",
    SUBSTANTIVE: "engages civilly with this article's specific content",
}


def check_label(value: object) -> str:
    """Return `value` as a label, or raise ValueError naming the allowed labels."""
    if isinstance(value, str) and value.strip().lower() in LABELS:
        return value.strip().lower()
    raise ValueError(f"unknown label {value!r}; expected one of {', '.join(LABELS)}")
