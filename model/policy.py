"""Moderation policy: turn a comment's scores into an action (approve / hold / reject) with reasons.

Pure logic over a TOML file (see policies/default.toml): serving, batch scoring and evaluation reports
all decide the same way from the same file. Thresholds name the model's labels; whoever pairs a policy
with a model calls `check_labels`, so a threshold for a label the model lacks is refused, not ignored.
"""

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from .labels import LABEL_PATTERN, LABEL_RULE, SUBSTANTIVE

APPROVE, HOLD, REJECT = "approve", "hold", "reject"
ACTIONS = (APPROVE, HOLD, REJECT)
# Shipped in the `policies` package: found beside the installed code, not in the current directory.
DEFAULT_POLICY_FILE = Path(str(files("policies").joinpath("default.toml")))


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, key and fix."""


@dataclass(frozen=True)
class Thresholds:
    hold: float
    reject: float


@dataclass(frozen=True)
class Decision:
    action: str  # what the caller should do (always approve in shadow mode)
    decided: str  # what the policy decided, shadow or not
    reasons: list[str]
    shadow: bool
    # Labels whose thresholds decided a hold/reject ("spam" for a copy-paste hold); empty on approve.
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    version: str
    thresholds: dict[str, Thresholds]
    shadow: bool = False
    sites: dict[str, "Policy"] = field(default_factory=dict)
    # Hold a comment that near-repeats this many earlier comments under other articles (0: never).
    # 2 means the third paste of the same text is held, whatever its scores say.
    duplicates_hold_at: int = 2

    def threshold_labels(self) -> set[str]:
        """Every label a threshold names, in the base policy or a site's."""
        return set(self.thresholds).union(*(site.thresholds for site in self.sites.values()))

    def check_labels(self, model_labels: Sequence[str], model_name: str = "the model", origin: str = "policy") -> None:
        """Refuse (PolicyError) a policy with thresholds for labels the model does not predict: they would
        never fire, and the comments they were meant to hold would be approved without a word."""
        missing = sorted(self.threshold_labels() - set(model_labels))
        if missing:
            raise PolicyError(
                f"{origin} (version {self.version!r}) has thresholds for {missing}, but {model_name} predicts "
                f"{list(model_labels)}; remove those thresholds (or rename them to the model's labels), "
                "or serve a model trained with those labels"
            )

    def for_site(self, site_id: str | None) -> "Policy":
        return self.sites.get(site_id, self) if site_id else self

    def decide(self, scores: dict[str, float], site_id: str | None = None, near_duplicates: int = 0) -> Decision:
        policy = self.for_site(site_id)
        reasons: list[str] = []
        labels: tuple[str, ...] = ()
        decided = APPROVE
        for level, name in ((REJECT, "reject"), (HOLD, "hold")):
            hits = [
                (label, scores[label], getattr(t, name))
                for label, t in policy.thresholds.items()
                if scores.get(label, 0.0) >= getattr(t, name)
            ]
            if hits:
                decided = level
                reasons = [f"{label} score {s:.2f} >= {name} threshold {th:.2f}" for label, s, th in hits]
                labels = tuple(label for label, _, _ in sorted(hits, key=lambda h: -h[1]))
                break
        if policy.duplicates_hold_at and near_duplicates >= policy.duplicates_hold_at:
            # Pasted praise scores as harmless text; the repetition across articles is the evidence.
            reasons.append(
                f"near-duplicate of {near_duplicates} earlier comments under other articles "
                f"(hold at {policy.duplicates_hold_at})"
            )
            if decided == APPROVE:
                decided, labels = HOLD, ("spam",)
        if decided == APPROVE:
            reasons = ["no label reached a hold threshold"]
        action = APPROVE if policy.shadow else decided
        if policy.shadow and decided != APPROVE:
            reasons = [*reasons, f"shadow mode: would {decided}, reported as approve"]
        return Decision(action=action, decided=decided, reasons=reasons, shadow=policy.shadow, labels=labels)


def load_policy(path: Path | None = None) -> Policy:
    path = Path(path) if path else DEFAULT_POLICY_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise PolicyError(f"policy file {path} does not exist; point the setting at a TOML policy file") from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"policy file {path} is not valid TOML: {e}") from e
    return parse_policy(raw, str(path))


def parse_policy(raw: dict[str, Any], origin: str = "policy") -> Policy:
    base = _parse_level(raw, origin, parent=None)
    sites = raw.get("sites", {})
    if not isinstance(sites, dict):
        raise PolicyError(f"{origin}: [sites] must be a table of site ids")
    parsed = {str(site): _parse_level(conf, f"{origin} [sites.{site}]", parent=base) for site, conf in sites.items()}
    return Policy(
        version=base.version,
        thresholds=base.thresholds,
        shadow=base.shadow,
        sites=parsed,
        duplicates_hold_at=base.duplicates_hold_at,
    )


def _parse_level(raw: dict[str, Any], origin: str, parent: Policy | None) -> Policy:
    allowed = {"version", "shadow", "thresholds", "copypaste"} | (set() if parent else {"sites"})
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PolicyError(f"{origin}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    version = raw.get("version", parent.version if parent else None)
    if not isinstance(version, str) or not version:
        raise PolicyError(f"{origin}: `version` must be a non-empty string; it is recorded with every decision")
    shadow = raw.get("shadow", parent.shadow if parent else False)
    if not isinstance(shadow, bool):
        raise PolicyError(f"{origin}: `shadow` must be true or false, found {shadow!r}")
    thresholds = dict(parent.thresholds) if parent else {}
    for label, conf in raw.get("thresholds", {}).items():
        if not LABEL_PATTERN.fullmatch(label) or label == SUBSTANTIVE:
            raise PolicyError(
                f"{origin}: thresholds for {label!r}; expected a label the model predicts ({LABEL_RULE}), "
                f"other than {SUBSTANTIVE!r}, which is the label comments are kept under"
            )
        merged = {**(thresholds[label].__dict__ if label in thresholds else {}), **conf}
        bad = {
            k: v
            for k, v in merged.items()
            if k not in ("hold", "reject") or not isinstance(v, int | float) or not 0.0 <= v <= 1.0
        }
        if bad or set(merged) != {"hold", "reject"}:
            raise PolicyError(f"{origin}: thresholds.{label} needs numbers `hold` and `reject` in [0, 1]; found {conf}")
        if merged["hold"] > merged["reject"]:
            raise PolicyError(
                f"{origin}: thresholds.{label}.hold ({merged['hold']}) is above reject ({merged['reject']})"
            )
        thresholds[label] = Thresholds(float(merged["hold"]), float(merged["reject"]))
    if not thresholds:
        raise PolicyError(f"{origin}: no [thresholds.<label>] tables; add at least one for spam or toxic")
    hold_at = _parse_copypaste(raw.get("copypaste", {}), origin, parent.duplicates_hold_at if parent else 2)
    return Policy(version=str(version), thresholds=thresholds, shadow=shadow, duplicates_hold_at=hold_at)


def _parse_copypaste(conf: Any, origin: str, inherited: int) -> int:
    if not isinstance(conf, dict) or set(conf) - {"hold_at"}:
        raise PolicyError(f"{origin}: [copypaste] takes only `hold_at` (an integer >= 0); found {conf!r}")
    hold_at = conf.get("hold_at", inherited)
    if isinstance(hold_at, bool) or not isinstance(hold_at, int) or hold_at < 0:
        raise PolicyError(
            f"{origin}: copypaste.hold_at must be an integer >= 0 (0 turns the rule off); found {hold_at!r}"
        )
    return hold_at
