"""CommentClassifier: feature blocks + multinomial logistic regression + temperature calibration."""

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from .auxiliary import AuxiliaryDetectors
from .calibration import calibrated_proba, expected_calibration_error, fit_temperature
from .embeddings import Embedder
from .fastpath import linear_scores
from .features import (
    ARTICLE_BLOCKS,
    FeatureBlock,
    FeatureMatrix,
    make_blocks,
    normalize_all,
    stack,
    transform_blocks,
)
from .inputs import Comment, as_comments
from .labels import LABELS, check_label_set

CommentLike = Comment | str | Mapping[str, object]
# What C="auto" chooses from, by cross-validated log loss on the training comments.
AUTO_CS = (0.5, 1.0, 2.0, 4.0, 8.0)


class CommentClassifier(ClassifierMixin, BaseEstimator):
    """Labels comments spam / toxic / substantive (or the `labels` given) with probabilities that sum to 1.

    Parameters
    ----------
    labels : the classes, in predict_proba's column order; every one needs training examples.
    features : names of feature blocks (see model.features.BLOCKS), stacked in this order.
    C : inverse L2 strength of the logistic regression, or "auto": the value of AUTO_CS whose out-of-fold
        logits (the calibration folds, after temperature scaling) have the lowest log loss. The chosen value is
        `C_`, and `c_search_` maps every candidate to its log loss. Costs len(AUTO_CS) regressions per fold.
    calibration_folds : folds for the out-of-fold logits the temperature is fitted on; 0 disables it.
    random_state : seed for fold assignment when no groups are given.
    embedder : sentence embedder shared by the blocks that embed text (None: the bundled MiniLM). It pickles
        as its configuration only, and its cache means each text is embedded once across calibration folds.
    auxiliary : detectors trained on public data, required by the "public" block.
    """

    def __init__(
        self,
        features: tuple[str, ...] = ("word", "char", "signals"),
        C: float | str = 4.0,
        calibration_folds: int = 5,
        max_iter: int = 3000,
        random_state: int = 0,
        embedder: Embedder | None = None,
        auxiliary: AuxiliaryDetectors | None = None,
        labels: tuple[str, ...] = LABELS,
    ) -> None:
        self.labels = labels
        self.features = features
        self.C = C
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.embedder = embedder
        self.auxiliary = auxiliary

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[CommentLike],
        y: Sequence[str],
        groups: Sequence[str] | None = None,
        sample_weight: Sequence[float] | None = None,
        on_fold: Callable[[int, int], None] | None = None,
    ):
        """on_fold(done, total) is called after each calibration fold (training shows a progress bar with it)."""
        comments = as_comments(X)
        y_idx = self._encode(y, len(comments))
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights is not None and (weights.shape != (len(comments),) or not (weights > 0).all()):
            raise ValueError(
                f"sample_weight must hold one positive weight per comment ({len(comments)}); found {weights.shape}"
            )
        candidates = self._candidate_cs()
        self.__dict__.pop("_feature_names", None)  # names of the blocks being replaced
        normalized = normalize_all(comments)
        self.embedder_ = self.embedder if self.embedder is not None else Embedder()
        self.temperature_ = 1.0
        self.calibration_ = {}
        self.C_, self.c_search_ = candidates[0], {}
        if self.calibration_folds and self.calibration_folds >= 2:
            logits_by_c = self._out_of_fold_logits(comments, normalized, y_idx, groups, candidates, weights, on_fold)
            if len(candidates) > 1:
                self.c_search_ = {c: _log_loss_after_temperature(logits, y_idx) for c, logits in logits_by_c.items()}
                self.C_ = min(self.c_search_, key=self.c_search_.get)  # type: ignore[arg-type]  # .get never misses: keys are c_search_'s own
            logits = logits_by_c[self.C_]
            self.temperature_ = fit_temperature(logits, y_idx)
            self.calibration_ = {
                "temperature": self.temperature_,
                "oof_ece_before": expected_calibration_error(calibrated_proba(logits, 1.0), y_idx),
                "oof_ece_after": expected_calibration_error(calibrated_proba(logits, self.temperature_), y_idx),
            }
        elif len(candidates) > 1:
            raise ValueError('C="auto" chooses C on the calibration folds; set calibration_folds >= 2 or a number')
        blocks = self._fit_blocks(comments, normalized)
        self.blocks_, self.linear_ = (
            blocks,
            self._fit_linear(stack(blocks, comments, normalized), y_idx, self.C_, weights),
        )
        self.classes_ = np.array(self._labels())
        return self

    def _labels(self) -> tuple[str, ...]:
        # A pickle from before `labels` existed was trained on the rubric's labels.
        return check_label_set(getattr(self, "labels", LABELS), "CommentClassifier(labels=...)")

    def _candidate_cs(self) -> tuple[float, ...]:
        if self.C == "auto":
            return AUTO_CS
        if isinstance(self.C, bool) or not isinstance(self.C, int | float) or not self.C > 0:
            raise ValueError(f'C must be a positive number or "auto", found {self.C!r}')
        return (float(self.C),)

    def _encode(self, y: Sequence[str], n: int) -> np.ndarray:
        if len(y) != n:
            raise ValueError(f"X has {n} comments but y has {len(y)} labels; they must match")
        labels = self._labels()
        index = {label: i for i, label in enumerate(labels)}
        unknown = sorted({str(v) for v in y if v not in index})
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; expected one of {list(labels)}")
        y_idx = np.array([index[v] for v in y])
        missing = [label for i, label in enumerate(labels) if not (y_idx == i).any()]
        if missing:
            raise ValueError(f"training data has no examples of {missing}; every label in {list(labels)} needs some")
        return y_idx

    def _fit_blocks(self, comments: list[Comment], normalized: list[str]) -> list[FeatureBlock]:
        fresh = make_blocks(tuple(self.features), self.embedder_, self.auxiliary)
        return [block.fit(comments, normalized) for block in fresh]

    def _fit_linear(self, matrix, y_idx: np.ndarray, C: float, weights: np.ndarray | None = None) -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=self.max_iter).fit(matrix, y_idx, sample_weight=weights)

    def _out_of_fold_logits(
        self,
        comments: list[Comment],
        normalized: list[str],
        y_idx: np.ndarray,
        groups: Sequence[str] | None,
        candidates: tuple[float, ...],
        weights: np.ndarray | None = None,
        on_fold: Callable[[int, int], None] | None = None,
    ) -> dict[float, np.ndarray]:
        """Out-of-fold logits per candidate C; each fold's feature blocks are fitted once for all of them."""
        n_groups = len(set(groups)) if groups is not None else 0
        if groups is not None and n_groups >= self.calibration_folds:
            # Folds by article: a comment's neighbours under the same article must not vouch for it.
            splits = GroupKFold(self.calibration_folds).split(comments, y_idx, list(groups))
        else:
            folds = min(self.calibration_folds, int(np.bincount(y_idx).min()))
            if folds < 2:
                raise ValueError(
                    "too few comments per label to calibrate; give each label at least 2 or set calibration_folds=0"
                )
            splits = StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(comments, y_idx)
        fold_indices = list(splits)
        n_labels = len(self._labels())
        logits = {c: np.zeros((len(comments), n_labels)) for c in candidates}
        for done, (train, val) in enumerate(fold_indices, start=1):
            tr_c = [comments[i] for i in train]
            tr_n = [normalized[i] for i in train]
            if len(np.unique(y_idx[train])) < n_labels:
                raise ValueError("a calibration fold lacks a label; add more comments of every label or fewer folds")
            blocks = self._fit_blocks(tr_c, tr_n)
            train_matrix = stack(blocks, tr_c, tr_n)
            val_matrix = stack(blocks, [comments[i] for i in val], [normalized[i] for i in val])
            for c in candidates:
                fold_weights = None if weights is None else weights[train]
                logits[c][val] = self._fit_linear(train_matrix, y_idx[train], c, fold_weights).decision_function(
                    val_matrix
                )
            if on_fold is not None:
                on_fold(done, len(fold_indices))
        return logits

    @property
    def needs_article(self) -> bool:
        """Whether some feature reads the comment's article (it still predicts without one)."""
        return any(name in ARTICLE_BLOCKS for name in self.features)

    @property
    def embedding_threads(self) -> int:
        """Threads that embed text in this process when this model scores; 0 when no block embeds."""
        self._check_fitted()
        return self.embedder_.threads if any(getattr(b, "needs_embedder", False) for b in self.blocks_) else 0

    # -- prediction ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "linear_"):
            raise NotFittedError("This CommentClassifier is not fitted yet; call fit() before predicting.")

    def featurize(self, X: Sequence[CommentLike]) -> FeatureMatrix:
        """The features of X, computed once: pass them to predict_proba / explain as `featurized=` to reuse them."""
        self._check_fitted()
        comments = as_comments(X)
        # Input checks inside sklearn's transforms cost about 1 ms a call, which is most of a single
        # comment's n-gram time; our blocks build their inputs themselves, so the checks cannot fire.
        with config_context(assume_finite=True, skip_parameter_validation=True):
            return transform_blocks(self.blocks_, comments, normalize_all(comments))

    def decision_function(self, X: Sequence[CommentLike], featurized: FeatureMatrix | None = None) -> np.ndarray:
        matrix = (self.featurize(X) if featurized is None else featurized).matrix
        return linear_scores(self.linear_.coef_, self.linear_.intercept_, matrix)

    def predict_proba(self, X: Sequence[CommentLike], featurized: FeatureMatrix | None = None) -> np.ndarray:
        """Probabilities with columns in `classes_` order; each row sums to 1."""
        return calibrated_proba(self.decision_function(X, featurized), self.temperature_)

    def predict(self, X: Sequence[CommentLike]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    # -- explanation -----------------------------------------------------------------------------------
    def feature_names(self) -> list[str]:
        self._check_fitted()
        # Built once per loaded model: listing the n-gram vocabularies takes ~50 ms, and every explained
        # request needs the list. Not pickled (see __getstate__); the blocks can always rebuild it.
        if self.__dict__.get("_feature_names") is None:
            self.__dict__["_feature_names"] = [name for block in self.blocks_ for name in block.feature_names()]
        return self.__dict__["_feature_names"]

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_feature_names", None)
        return state

    def explain(
        self, X: Sequence[CommentLike], top_k: int = 5, featurized: FeatureMatrix | None = None
    ) -> list[dict[str, list[tuple[str, float]]]]:
        """Per comment and label, the features that pushed that label's score up most (weight x value)."""
        matrix = (self.featurize(X) if featurized is None else featurized).matrix
        names = self.feature_names()
        # Contributions relative to the mean over labels: what favours this label over the others.
        coef = self.linear_.coef_ - self.linear_.coef_.mean(axis=0, keepdims=True)
        out = []
        for row in matrix:
            cols, vals = row.indices, row.data
            per_label = {}
            for k, label in enumerate(self.classes_.tolist()):
                contrib = vals * coef[k, cols]
                order = np.argsort(-contrib)[:top_k]
                per_label[label] = [(names[cols[i]], round(float(contrib[i]), 4)) for i in order if contrib[i] > 0]
            out.append(per_label)
        return out


def _log_loss_after_temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels once the logits are temperature-scaled: what C="auto"
    compares, so a C is not preferred for being better or worse calibrated before scaling."""
    proba = calibrated_proba(logits, fit_temperature(logits, y_idx))
    return round(float(-np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], 1e-12, None)).mean()), 6)
