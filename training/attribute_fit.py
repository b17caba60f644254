"""Fitting the attribute heads and the span model (model/attributes.py, model/spans.py) on the Toxic Spans set.

Which data each choice looks at: weights on the `train` part; the regularisation of each head, the Platt
scaling and each span output's threshold on the `calibration` part; the `test` part on nothing (it is scored
once, by training/attributes.py). The span model's word table is fitted on `train`; the word layer above it
reads, for each training comment, a table built without that comment's fold (else it would learn to trust a
table that has already seen the answer), and the heads' scores out of fold for the same reason.
"""

import hashlib
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from model.attributes import ATTRIBUTES, AttributeHeads
from model.spans import FEATURES, GATE_FEATURES, SPAN_OUTPUTS, SpanModel, Word, merge, offsets, sigmoid, words

from .toxic_spans import SpanComment

C_GRID = (0.0001, 0.0003, 0.001, 0.003, 0.01)
FOLDS = 5
SMOOTHING = 2.0  # pseudo-words at the overall rate in each word's log-odds
MIN_SUPPORT = 2  # words seen fewer times stay out of the table (they read as unseen)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.15, 0.85, 0.05))
GATE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 0.85, 0.05))


def folds_of(comments: Sequence[SpanComment]) -> np.ndarray:
    """Each comment's cross-validation fold, from a hash of its id: the same fold on every run and machine."""
    return np.array([int(hashlib.sha256(c.comment_id.encode()).hexdigest()[:6], 16) % FOLDS for c in comments])


def binary(comments: Sequence[SpanComment], name: str) -> np.ndarray:
    return np.array([c.targets[name] >= 0.5 for c in comments], dtype=int)


def shares(comments: Sequence[SpanComment], name: str) -> np.ndarray:
    return np.array([c.targets[name] for c in comments], dtype=float)


def _fit_shares(z: np.ndarray, share: np.ndarray, c: float, weight: np.ndarray | None = None) -> LogisticRegression:
    """Logistic regression on the annotators' share itself (each comment once as a positive weighted by the
    share, once as a negative weighted by the rest): it keeps what a 2-of-3 and a 3-of-3 comment differ by,
    which the 0/1 label throws away (+0.01 to +0.02 ROC-AUC on the calibration part)."""
    n = len(z)
    w = np.ones(n) if weight is None else weight
    weights = np.r_[share * w, (1.0 - share) * w]
    return LogisticRegression(C=c, max_iter=3000).fit(
        np.vstack([z, z]), np.r_[np.ones(n), np.zeros(n)], sample_weight=weights
    )


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_heads(
    x_train: np.ndarray,
    y_train: dict[str, np.ndarray],
    x_cal: np.ndarray,
    y_cal: dict[str, np.ndarray],
    rank_on: np.ndarray,
    weight: np.ndarray | None = None,
) -> tuple[AttributeHeads, dict[str, float]]:
    """Heads fitted on train's shares (y_train); C chosen by ROC-AUC on the calibration rows `rank_on` (the
    set's own comments: the calm ones would make every C look good), Platt fitted on all calibration rows'
    0/1 labels (y_cal), calm ones included, since a service mostly sees calm comments. Returns the heads and
    each chosen C."""
    mean, scale = _standardise(x_train)
    zt, zc = (x_train - mean) / scale, (x_cal - mean) / scale
    coefs, intercepts, platts, chosen = [], [], [], {}
    for name in ATTRIBUTES:
        best = None
        for c in C_GRID:
            lr = _fit_shares(zt, y_train[name], c, weight)
            y = y_cal[name][rank_on]
            auc = roc_auc_score(y, lr.decision_function(zc[rank_on])) if 0 < y.sum() < len(y) else 0.0
            if best is None or auc > best[0]:
                best = (auc, c, lr)
        assert best is not None
        _, c, lr = best
        chosen[name] = c
        platt = LogisticRegression(C=1e4, max_iter=1000).fit(lr.decision_function(zc)[:, None], y_cal[name])
        coefs.append(lr.coef_[0])
        intercepts.append(lr.intercept_[0])
        platts.append([platt.coef_[0, 0], platt.intercept_[0]])
    heads = AttributeHeads(ATTRIBUTES, mean, scale, np.array(coefs), np.array(intercepts), np.array(platts))
    return heads, chosen


def out_of_fold(
    x: np.ndarray, y: dict[str, np.ndarray], chosen: dict[str, float], folds: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """(n, k) head probabilities for training comments, each from heads that did not see its fold (raw
    sigmoid of the fold's logistic regression: close enough to calibrated for a feature of the span layer)."""
    out = np.zeros((len(x), len(ATTRIBUTES)))
    for f in range(FOLDS):
        seen, held = folds != f, folds == f
        mean, scale = _standardise(x[seen])
        for k, name in enumerate(ATTRIBUTES):
            lr = _fit_shares((x[seen] - mean) / scale, y[name][seen], chosen[name], weight[seen])
            out[held, k] = lr.predict_proba((x[held] - mean) / scale)[:, 1]
    return out


# -- spans -------------------------------------------------------------------------------------------------
def gold_of(c: SpanComment, output: str) -> frozenset[int]:
    return c.gold if output == "TOXICITY" else c.gold_by_type[output]


def word_labels(c: SpanComment, found: Sequence[Word]) -> np.ndarray:
    """(n_words, o): 1 where at least half of the word's characters are in that output's gold."""
    out = np.zeros((len(found), len(SPAN_OUTPUTS)))
    for k, name in enumerate(SPAN_OUTPUTS):
        gold = gold_of(c, name)
        for i, w in enumerate(found):
            inside = sum(j in gold for j in range(w.begin, w.end))
            out[i, k] = inside * 2 >= w.end - w.begin
    return out


def word_table(keys: Sequence[list[str]], labels: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(vocab, table, support, prior): smoothed log-odds of each word being inside a span, per output."""
    inside: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    total_in, total = np.zeros(len(SPAN_OUTPUTS)), 0
    for ks, ls in zip(keys, labels, strict=True):
        for key, lab in zip(ks, ls, strict=True):
            total += 1
            total_in += lab
            if key:
                inside[key] = inside.get(key, 0) + lab
                seen[key] = seen.get(key, 0) + 1
    rate = (total_in + 1) / (total + 2)
    vocab = np.array(sorted(k for k, n in seen.items() if n >= MIN_SUPPORT))
    support = np.array([seen[k] for k in vocab], dtype=float)
    hits = np.array([inside[k] for k in vocab]).reshape(len(vocab), len(SPAN_OUTPUTS))
    table = np.log((hits + SMOOTHING * rate) / (support[:, None] - hits + SMOOTHING * (1 - rate)))
    prior = np.log(rate / (1 - rate))
    return vocab, table, support, prior


def table_model(table: tuple[np.ndarray, ...], **layers: np.ndarray) -> SpanModel:
    """A SpanModel with `table` (word_table's result) and the given layers; those not given are blank
    (for summaries and word features, before the layers above the table are fitted)."""
    vocab, t, support, prior = table
    o = len(SPAN_OUTPUTS)
    blank = {
        "coef": np.zeros((o, len(FEATURES))),
        "intercept": np.zeros(o),
        "threshold": np.full(o, 0.5),
        "gate_coef": np.zeros((o, len(GATE_FEATURES))),
        "gate_intercept": np.zeros(o),
        "gate_threshold": np.zeros(o),
    }
    return SpanModel(vocab, t, support, prior, **{**blank, **layers})


class WordTables:
    """The training comments' words and labels, the word table of all of them and one per fold without it."""

    def __init__(self, train: Sequence[SpanComment], folds: np.ndarray) -> None:
        self.train, self.folds = train, folds
        found = [words(c.text) for c in train]
        self.keys = [[w.key for w in f] for f in found]
        self.labels = [word_labels(c, f) for c, f in zip(train, found, strict=True)]
        self.full = table_model(word_table(self.keys, self.labels))
        self.by_fold = []
        for f in range(FOLDS):
            rest = [i for i in range(len(train)) if folds[i] != f]
            self.by_fold.append(table_model(word_table([self.keys[i] for i in rest], [self.labels[i] for i in rest])))

    def train_summaries(self) -> np.ndarray:
        """Each training comment summarised by the table of the other folds."""
        return np.array([self.by_fold[f].summarise(c.text) for c, f in zip(self.train, self.folds, strict=True)])


def _scores(names: Sequence[str], probs: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(names, map(float, row), strict=True)) for row in probs]


def fit_spans(
    tables: WordTables, train_probs: np.ndarray, cal: Sequence[SpanComment], cal_probs: np.ndarray
) -> SpanModel:
    """The word layer and the gate on out-of-fold features of the training comments; thresholds chosen on `cal`."""
    o, nf = len(SPAN_OUTPUTS), len(FEATURES)
    comment_scores = _scores(ATTRIBUTES, train_probs)
    xs = [
        tables.by_fold[f].features(c.text, s)[1]
        for c, f, s in zip(tables.train, tables.folds, comment_scores, strict=True)
    ]
    x_all, y_all = np.concatenate(xs), np.concatenate(tables.labels)
    coef, intercept = np.zeros((o, nf)), np.zeros(o)
    for k in range(o):
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(x_all[:, k, :], y_all[:, k])
        coef[k], intercept[k] = lr.coef_[0], lr.intercept_[0]
    full = tables.full
    table = (full.vocab, full.table, full.support, full.prior)
    words_only = table_model(table, coef=coef, intercept=intercept)
    # The gate learns from the same out-of-fold word scores.
    g = np.array(
        [
            words_only.gate_inputs(sigmoid(np.einsum("nof,of->no", x, coef) + intercept), s)
            for x, s in zip(xs, comment_scores, strict=True)
        ]
    )
    has = np.array([[bool(gold_of(c, name)) for name in SPAN_OUTPUTS] for c in tables.train])
    gate_coef, gate_intercept = np.zeros((o, len(GATE_FEATURES))), np.zeros(o)
    for k in range(o):
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(g[:, k, :], has[:, k])
        gate_coef[k], gate_intercept[k] = lr.coef_[0], lr.intercept_[0]
    gated = table_model(table, coef=coef, intercept=intercept, gate_coef=gate_coef, gate_intercept=gate_intercept)
    threshold, gate_threshold = choose_thresholds(gated, cal, _scores(ATTRIBUTES, cal_probs))
    return table_model(
        table,
        coef=coef,
        intercept=intercept,
        threshold=threshold,
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        gate_threshold=gate_threshold,
    )


def choose_thresholds(
    model: SpanModel, comments: Sequence[SpanComment], scores: list[dict[str, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per output, the (word, gate) thresholds with the best mean span F1 on `comments`."""
    scored = []
    for c, s in zip(comments, scores, strict=True):
        found, ws = model.word_scores(c.text, s)
        scored.append((c, found, ws, model.gate(ws, s)))
    word_t, gate_t = np.zeros(len(SPAN_OUTPUTS)), np.zeros(len(SPAN_OUTPUTS))
    for k, name in enumerate(SPAN_OUTPUTS):
        best = (-1.0, 0.5, 0.0)
        for t in THRESHOLDS:
            marked = [offsets(merge(c.text, f, ws[:, k], t)) for c, f, ws, _ in scored]
            for gt in GATE_THRESHOLDS:
                f1 = np.mean(
                    [
                        span_f1(m if gate[k] >= gt else set(), gold_of(c, name))
                        for m, (c, _, _, gate) in zip(marked, scored, strict=True)
                    ]
                )
                if f1 > best[0]:
                    best = (float(f1), t, gt)
        word_t[k], gate_t[k] = best[1], best[2]
    return word_t, gate_t


def span_f1(predicted: set[int] | frozenset[int], gold: set[int] | frozenset[int]) -> float:
    """SemEval-2021 Task 5's per-comment F1 of character offsets; both empty scores 1, one empty 0."""
    if not gold:
        return 1.0 if not predicted else 0.0
    if not predicted:
        return 0.0
    hit = len(set(predicted) & set(gold))
    if not hit:
        return 0.0
    p, r = hit / len(predicted), hit / len(gold)
    return 2 * p * r / (p + r)
