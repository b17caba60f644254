"""Number formatting shared by the HTML and Markdown writers, so both show the same digits as report.json."""

from typing import Any


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def ci(interval: list[float] | None, digits: int = 3) -> str:
    return "–" if interval is None else f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def pvalue(value: float) -> str:
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"
