"""Comment texts of the shapes that make backtracking patterns quadratic, for tests and bench/adversarial.py.

Each shape is a function of a length n that returns a text of exactly n characters.
"""

from collections.abc import Callable

_ORDINARY = (
    "The council voted to delay the bridge repairs again, which means another winter of detours for "
    "everyone who lives east of the river. Has anyone asked what the delay will cost? "
)


def ordinary(n: int) -> str:
    return (_ORDINARY * (n // len(_ORDINARY) + 1))[:n]


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


SHAPES: dict[str, Callable[[int], str]] = {
    "ab.": _repeat("ab."),
    "words.": _repeat("council.bridge.repairs.winter."),
    "a-": _repeat("a-"),
    "ab-": _repeat("ab-"),
    "a@": _repeat("a@"),
    "a.@": _repeat("a.@"),
    "a/": _repeat("a/"),
    "<": _repeat("<"),
    "<a": _repeat("<a "),
    "1 ": _repeat("1 "),
    "1.": _repeat("1."),
    "1-": _repeat("1-"),
    "a_": _repeat("a_"),
    "a*": _repeat("a*"),
    "a ": _repeat("a "),
    "www.": _repeat("www."),
    "w w w ": _repeat("w w w "),
    "a dot ": _repeat("a dot "),
    "x(at)": _repeat("x(at)"),
    "http://": _repeat("http://a"),
    "aa": _repeat("a"),
    "a1": _repeat("a1"),
    "mixed scripts": _repeat("aа1ο"),
    "a🤡": _repeat("a🤡"),
    "zero-width": _repeat("a\u200b"),
    "f.u.": _repeat("f.u.c.k "),
}
