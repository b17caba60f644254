"""Perspective's toxicity attributes as calibrated probabilities, and their character spans.

One linear head per attribute, followed by Platt scaling, over three things: the comment's sentence embedding,
the word-list counts (model/lexicon.py) and what the span model's word table says about its words
(model/spans.py, SpanModel.summarise). Why this shape: the service already embeds every comment it scores
(normalize(text), with the model's encoder), so the heads reuse that embedding; the word lists and the table
carry what an embedding blurs (which word insults, profanity, slurs, masked spellings). The span model then
reads the heads' scores to decide which words to mark.

Trained by training/attributes.py on the Toxic Spans set; stored by model/attribute_files.py as plain arrays.
Nothing here knows about training or serving.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .lexicon import LEXICON_NAMES, lexicon_features
from .spans import SPAN_OUTPUTS, SUMMARY, SpanModel, sigmoid, words

# Perspective's names, in the order arrays store them.
ATTRIBUTES: tuple[str, ...] = ("TOXICITY", "SEVERE_TOXICITY", "INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK")


SUMMARY_COLUMNS = len(SPAN_OUTPUTS) * len(SUMMARY)


def head_inputs(embeddings: np.ndarray, normalized: Sequence[str], summaries: np.ndarray) -> np.ndarray:
    """What the heads read, unscaled: the embedding, the LEXICON_NAMES values of each normalised text, and the
    span model's summary of each text's words."""
    lexicon = np.array([lexicon_features(t) for t in normalized], dtype=np.float64).reshape(len(normalized), -1)
    summaries = np.asarray(summaries, dtype=np.float64).reshape(len(normalized), SUMMARY_COLUMNS)
    return np.hstack([np.asarray(embeddings, dtype=np.float64), lexicon, summaries])


@dataclass(frozen=True)
class AttributeHeads:
    """Linear heads: probability = sigmoid(a * (x_scaled . coef + intercept) + b) per attribute."""

    names: tuple[str, ...]
    mean: np.ndarray  # (d,) standardisation of head_inputs' columns
    scale: np.ndarray  # (d,)
    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)
    platt: np.ndarray  # (k, 2): slope and offset of the calibration, fitted on data the heads did not see

    @property
    def columns(self) -> int:
        return int(self.mean.shape[0])

    @property
    def embedding_dim(self) -> int:
        return self.columns - len(LEXICON_NAMES) - SUMMARY_COLUMNS

    def check(self) -> None:
        """Raise ValueError naming the array whose shape does not fit the others."""
        k, d = len(self.names), self.columns
        expected = {"scale": (d,), "coef": (k, d), "intercept": (k,), "platt": (k, 2)}
        for name, shape in expected.items():
            found = getattr(self, name).shape
            if found != shape:
                raise ValueError(
                    f"attribute heads: {name} has shape {found}, expected {shape} for {k} heads, {d} inputs"
                )
        unknown = [n for n in self.names if n not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"attribute heads: unknown attributes {unknown}; expected some of {list(ATTRIBUTES)}")

    def decision(self, inputs: np.ndarray) -> np.ndarray:
        return ((inputs - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(n, k) calibrated probabilities, columns in `names` order."""
        z = self.decision(inputs)
        return sigmoid(self.platt[:, 0] * z + self.platt[:, 1])


Spans = dict[str, list[tuple[int, int, float]]]


@dataclass(frozen=True)
class Attributes:
    """The heads and the span model of one model directory, and the encoder the heads' embeddings come from."""

    heads: AttributeHeads
    spans: SpanModel
    encoder: dict[str, object]  # the EmbedderConfig fields the heads were trained with
    metadata: dict[str, object]

    @property
    def names(self) -> tuple[str, ...]:
        return self.heads.names

    def analyze(
        self, text: str, normalized: str, embedding: np.ndarray, spans: bool = False
    ) -> tuple[dict[str, float], Spans]:
        """Attribute -> probability for one comment (`text` as sent, `normalized` = normalize(text), `embedding`
        its sentence embedding), and with spans=True, output -> [(begin, end, score)] over `text`."""
        found = words(text)
        summary = self.spans.summarise(text, found)[None, :]
        inputs = head_inputs(np.asarray(embedding).reshape(1, -1), [normalized], summary)
        scores = dict(zip(self.names, map(float, self.heads.predict(inputs)[0]), strict=True))
        return scores, (self.spans.spans(text, scores, found) if spans else {})
