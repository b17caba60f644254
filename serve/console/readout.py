""" "What the model would have done": the policy's decisions per site and day, and how moderators' decisions
agreed with them, at the current thresholds and at thresholds a moderation lead tries out (the what-if).

The agreement is computed on the comments moderators decided in the console, whose audit entries keep the
model's scores beside the moderator's label. Those are the comments the queue showed, that is the ones the
policy held (or in shadow mode would have held or rejected): a comment the model let through never reached a
moderator, so "missed" counts only what a lower threshold would have caught among the decided ones.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from model.labels import LABELS, SUBSTANTIVE
from model.policy import ACTIONS, APPROVE, HOLD, REJECT, Policy, Thresholds
from storage import AuditEntry

from .charts import bars

HOLD_COLOUR, REJECT_COLOUR, CONFIRMED, OVERTURNED, MISSED = "#e0a100", "#c0392b", "#2e7d32", "#c0392b", "#7f8c8d"
FLAG_LABELS = tuple(label for label in LABELS if label != SUBSTANTIVE)
MAX_DECIDED = 20_000  # moderator decisions read for the agreement: recent ones, enough for stable rates


@dataclass
class DayRow:
    day: str
    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    shadow: int = 0  # decisions made in shadow mode (the client was told approve)
    total: int = 0


@dataclass
class SiteReadout:
    site: str
    days: list[DayRow]
    chart: Markup


def site_readouts(counts: list[tuple[str, str, str, str, bool, int]], since: date, until: date) -> list[SiteReadout]:
    per_site: dict[str, dict[str, DayRow]] = defaultdict(dict)
    for site, day, action, label, shadow, n in counts:
        row = per_site[site].setdefault(day, DayRow(day))
        row.actions[action] = row.actions.get(action, 0) + n
        row.labels[label] = row.labels.get(label, 0) + n
        row.shadow += n if shadow else 0
        row.total += n
    span = [(since + timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]
    out = []
    for site in sorted(per_site):
        days = [per_site[site].get(d, DayRow(d)) for d in span]
        chart = bars(
            f"held and rejected per day, {site or 'no site'}",
            span,
            [
                ("held", HOLD_COLOUR, [d.actions[HOLD] for d in days]),
                ("rejected", REJECT_COLOUR, [d.actions[REJECT] for d in days]),
            ],
        )
        out.append(SiteReadout(site, [d for d in reversed(days) if d.total], chart))
    return out


@dataclass
class Agreement:
    """How a policy's decisions compare with moderators' on the comments moderators decided."""

    decided: int = 0
    flagged: dict[str, int] = field(default_factory=lambda: {HOLD: 0, REJECT: 0})
    confirmed: dict[str, int] = field(default_factory=lambda: {HOLD: 0, REJECT: 0})
    by_label: dict[str, list[int]] = field(default_factory=lambda: {lab: [0, 0, 0] for lab in FLAG_LABELS})
    missed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLAG_LABELS, 0))

    def rate(self, action: str) -> str:
        return _pct(self.confirmed[action], self.flagged[action])

    def label_rows(self) -> list[tuple[str, int, str, str]]:
        """(label, flagged with it, confirmed %, same label %)."""
        return [(lab, n, _pct(ok, n), _pct(same, n)) for lab, (n, ok, same) in self.by_label.items()]

    @property
    def total_confirmed(self) -> int:
        return sum(self.confirmed.values())

    @property
    def total_flagged(self) -> int:
        return sum(self.flagged.values())


def agreement(entries: list[AuditEntry], decide: Any) -> Agreement:
    """`decide(scores, site_id)` is a policy's decision; a moderator confirms a hold or reject by labelling the
    comment anything but substantive."""
    out = Agreement()
    for entry in entries:
        out.decided += 1
        decision = decide(entry.scores, entry.site_id)
        bad = entry.label != SUBSTANTIVE
        if decision.decided == APPROVE:
            if bad and entry.label in out.missed:
                out.missed[entry.label] += 1
            continue
        action = decision.decided
        out.flagged[action] += 1
        out.confirmed[action] += bad
        flagged_label = decision.labels[0] if decision.labels else None
        if flagged_label in out.by_label:
            row = out.by_label[flagged_label]
            row[0] += 1
            row[1] += bad
            row[2] += entry.label == flagged_label
    return out


def agreement_chart(current: Agreement, what_if: Agreement) -> Markup:
    categories = ["current thresholds", "what-if thresholds"]
    return bars(
        "moderators' verdicts on the comments each policy would hold or reject",
        categories,
        [
            ("confirmed", CONFIRMED, [current.total_confirmed, what_if.total_confirmed]),
            (
                "overturned",
                OVERTURNED,
                [current.total_flagged - current.total_confirmed, what_if.total_flagged - what_if.total_confirmed],
            ),
            ("missed", MISSED, [sum(current.missed.values()), sum(what_if.missed.values())]),
        ],
        stacked=False,
    )


def what_if_policy(base: Policy, params: dict[str, str], errors: list[str]) -> Policy:
    """The base policy's thresholds with those given as `<label>_hold` / `<label>_reject` (0 to 1), one set
    for every site. A value that cannot be read is named in `errors` and the current one kept."""
    thresholds = dict(base.thresholds)
    for label in FLAG_LABELS:
        current = thresholds.get(label, Thresholds(1.0, 1.0))
        hold = _threshold(params, f"{label}_hold", current.hold, errors)
        reject = _threshold(params, f"{label}_reject", current.reject, errors)
        if hold > reject:
            errors.append(
                f"{label}_hold: {hold} is above {label}_reject {reject}; a hold threshold must not exceed the reject one"
            )
            hold, reject = current.hold, current.reject
        thresholds[label] = Thresholds(hold, reject)
    return Policy(version="what-if", thresholds=thresholds, shadow=False, duplicates_hold_at=0)


def _threshold(params: dict[str, str], name: str, default: float, errors: list[str]) -> float:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        errors.append(f"{name}: expected a number from 0 to 1 (such as 0.6); found {raw[:20]!r}")
        return default
    return value


def window(days: int) -> tuple[datetime, date, date]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC), first, today


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"
