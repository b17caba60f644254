"""What a run did, for the terminal and OUT/_summary.json."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from model.labels import LABELS
from model.policy import ACTIONS

from .scorer import PartStats


@dataclass
class RunSummary:
    parts: int = 0
    parts_resumed: int = 0
    rows: int = 0  # every input row: scored + rejected, this run and earlier ones
    rows_this_run: int = 0
    scored: int = 0
    rejected: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    label_names: tuple[str, ...] = LABELS  # the model's labels, in its order

    @classmethod
    def of(cls, stats: list[PartStats], seconds: float, label_names: tuple[str, ...] = LABELS) -> "RunSummary":
        s = cls(parts=len(stats), seconds=seconds, label_names=label_names)
        for p in stats:
            s.parts_resumed += p.resumed
            s.rows += p.rows
            s.rows_this_run += 0 if p.resumed else p.rows
            s.scored += p.scored
            s.rejected += p.rejected
            s.labels.update(p.labels)
            s.actions.update(p.actions)
            s.reasons.update(p.reasons)
        return s

    @property
    def rate(self) -> float:
        """Comments per second of this run (rejected rows count: they were read and checked too)."""
        return self.rows_this_run / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "parts_resumed": self.parts_resumed,
            "rows": self.rows,
            "rows_this_run": self.rows_this_run,
            "scored": self.scored,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "comments_per_second": round(self.rate, 1),
            "labels": {label: self.labels.get(label, 0) for label in self.label_names},
            "actions": {action: self.actions.get(action, 0) for action in ACTIONS},
            "rejected_reasons": dict(self.reasons.most_common()),
        }

    def format(self, out: str) -> str:
        lines = [
            f"{self.rows:,} rows in {self.parts} parts ({self.parts_resumed} already complete from an earlier run); "
            f"this run: {self.rows_this_run:,} rows in {self.seconds:.1f} s = {self.rate:,.0f} comments/s",
            "labels:  " + _counts(self.labels, self.label_names, self.scored),
            "actions: " + _counts(self.actions, ACTIONS, self.scored),
        ]
        if self.rejected:
            top = "; ".join(f"{n:,} x {reason}" for reason, n in self.reasons.most_common(5))
            lines.append(f"rejected: {self.rejected:,} rows, written with their reason to {out}/rejected/ ({top})")
        else:
            lines.append("rejected: none")
        return "\n".join(lines)


def _counts(counter: Counter, keys: tuple[str, ...], total: int) -> str:
    return ", ".join(f"{k} {counter.get(k, 0):,} ({100 * counter.get(k, 0) / max(total, 1):.1f}%)" for k in keys)
