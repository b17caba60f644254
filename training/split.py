"""Held-out split by article: a model must be measured on articles it has never seen."""

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from .data import LabelledData


def split_by_article(data: LabelledData, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test). Retries a few seeds so both sides hold every label when the data allows."""
    labels = np.array(data.labels())
    groups = np.array(data.groups())
    if len(set(groups)) < 2:
        raise ValueError("need comments from at least 2 articles (or rows without article_id) to hold some out")
    for attempt in range(20):
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed + attempt)
        train, test = next(splitter.split(labels, labels, groups))
        if all(set(labels[idx]) >= set(data.label_names) for idx in (train, test)):
            return train, test
    return train, test
