"""Charts drawn from the report's own numbers, as base64 PNG strings for data: URIs (no files, no network)."""

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: CI and servers have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from model.labels import LABELS  # noqa: E402

COLORS = {"spam": "#c77c02", "toxic": "#c0392b", "substantive": "#1f77b4"}
DPI = 100


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_chart(matrix: list[list[int]]) -> str:
    counts = np.array(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, values, title, fmt in (
        (axes[0], counts, "Counts", "{:.0f}"),
        (axes[1], normalised, "Row-normalised (share of each true label)", "{:.2f}"),
    ):
        ax.imshow(values / max(values.max(), 1e-9), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xticks(range(len(LABELS)), LABELS)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        top = values.max()
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                color = "white" if top and values[i, j] / top > 0.6 else "black"
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", color=color, fontsize=12)
    axes[0].set_ylabel("true")
    return _png(fig)


def curves_chart(curves: dict[str, Any]) -> str:
    """Precision-recall (left) and ROC (right) per label, one-vs-rest."""
    fig, (ax_pr, ax_roc) = plt.subplots(1, 2, figsize=(11, 4.5))
    for label in LABELS:
        c = curves["per_label"].get(label)
        if c is None:
            continue
        pr, roc = np.array(c["pr"]), np.array(c["roc"])
        ax_pr.plot(pr[:, 0], pr[:, 1], color=COLORS[label], label=label, linewidth=2)
        ax_pr.axhline(c["base_rate"], color=COLORS[label], linestyle=":", linewidth=1)
        ax_roc.plot(roc[:, 0], roc[:, 1], color=COLORS[label], label=label, linewidth=2)
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall (dotted: base rate)")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    drawn = any(c is not None for c in curves["per_label"].values())
    for ax, where in ((ax_pr, "lower left"), (ax_roc, "lower right")):
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(loc=where)
        else:
            ax.text(0.5, 0.5, "no label has both positive and\nnegative comments here", ha="center", va="center")
    return _png(fig)


def reliability_chart(calibration: dict[str, Any]) -> str:
    fig, axes = plt.subplots(1, len(LABELS), figsize=(12, 4), sharey=True)
    for ax, label in zip(axes, LABELS, strict=True):
        section = calibration["per_label"][label]
        bins = [b for b in section["bins"] if b["count"]]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
        # one bar per score bin (its height: how often the label is true there), one dot at the bin's mean score
        ax.bar(
            [(b["lo"] + b["hi"]) / 2 for b in bins],
            [b["observed"] for b in bins],
            width=0.09,
            color=COLORS[label],
            alpha=0.45,
            label="share true, per score bin",
        )
        ax.plot(
            [b["mean_score"] for b in bins],
            [b["observed"] for b in bins],
            "o-",
            color=COLORS[label],
            markersize=4,
            label="at the bin's mean score",
        )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"{label} score", title=f"{label}: ECE {section['ece']:.3f}")
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.grid(alpha=0.3)
        for b in bins:  # how many comments each bar stands on: a bar over 3 comments is noise
            ax.text((b["lo"] + b["hi"]) / 2, 0.01, str(b["count"]), ha="center", va="bottom", fontsize=7, rotation=90)
    axes[0].set_ylabel("share truly this label")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.13), frameon=False)
    return _png(fig)


def threshold_chart(table: dict[str, list[dict[str, Any]]], policy: dict[str, dict[str, float]]) -> str:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, rows in table.items():
        if label in policy:  # where the policy file holds this label now
            ax.axvline(policy[label]["hold"], color=COLORS[label], linestyle=":", linewidth=1.2)
        t = [r["threshold"] for r in rows]
        ax.plot(
            t,
            [np.nan if r["precision"] is None else r["precision"] for r in rows],
            color=COLORS[label],
            label=f"{label} precision",
        )
        ax.plot(
            t,
            [np.nan if r["recall"] is None else r["recall"] for r in rows],
            color=COLORS[label],
            linestyle="--",
            label=f"{label} recall",
        )
    ax.set(
        xlabel="threshold on the label's score",
        ylim=(0, 1.02),
        title="Flagging at a threshold (dotted: the policy's hold thresholds)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def render_charts(report: dict[str, Any]) -> dict[str, str]:
    return {
        "confusion": confusion_chart(report["confusion_matrix"]["matrix"]),
        "curves": curves_chart(report["curves"]),
        "reliability": reliability_chart(report["calibration"]),
        "thresholds": threshold_chart(report["policy"]["threshold_table"], report["policy"]["thresholds"]),
    }
