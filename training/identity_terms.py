"""The documented identity-term list the fairness section uses to find comments that mention a group.

Each subgroup belongs to one of six categories (religion, ethnicity, nationality, gender, sexual
orientation, disability), following the identity columns of the Jigsaw Unintended Bias data. A comment is
in a subgroup when any of its terms appears as a whole word (case-insensitive; a trailing plural "s" is
allowed). A word list finds mentions, not targets: "gay" in "a gay couple moved in" and in an insult both
count, which is exactly what the bias metrics need (does a mention alone raise the toxic score?).
"""

import re
from functools import cache
from typing import Final

CATEGORIES: Final[tuple[str, ...]] = (
    "religion",
    "ethnicity",
    "nationality",
    "gender",
    "sexual orientation",
    "disability",
)

# subgroup -> (category, terms). Keep terms lower-case and singular; matching adds an optional plural "s".
SUBGROUPS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "muslim": ("religion", ("muslim", "islam", "islamic", "moslem")),
    "christian": ("religion", ("christian", "christianity", "catholic", "protestant", "evangelical")),
    "jewish": ("religion", ("jew", "jewish", "judaism")),
    "hindu": ("religion", ("hindu", "hinduism", "sikh", "buddhist")),
    "atheist": ("religion", ("atheist", "atheism")),
    "black": ("ethnicity", ("black", "african american", "african-american")),
    "white": ("ethnicity", ("white",)),
    "asian": ("ethnicity", ("asian",)),
    "latino": ("ethnicity", ("latino", "latina", "latinx", "hispanic")),
    "arab": ("ethnicity", ("arab",)),
    "immigrant": ("nationality", ("immigrant", "migrant", "refugee", "foreigner", "asylum seeker")),
    "national origin": (
        "nationality",
        ("mexican", "chinese", "indian", "pakistani", "polish", "romanian", "nigerian", "syrian", "russian"),
    ),
    "women": ("gender", ("woman", "women", "female", "girl", "feminist")),
    "men": ("gender", ("man", "men", "male", "boy")),
    "transgender": ("gender", ("transgender", "trans", "nonbinary", "non-binary")),
    "gay or lesbian": ("sexual orientation", ("gay", "lesbian", "homosexual", "queer", "lgbt", "lgbtq")),
    "bisexual": ("sexual orientation", ("bisexual",)),
    "heterosexual": ("sexual orientation", ("heterosexual", "straight")),
    "physical disability": ("disability", ("disabled", "disability", "wheelchair", "blind", "deaf")),
    "mental illness": (
        "disability",
        ("mental illness", "mentally ill", "autistic", "autism", "schizophrenic", "psychiatric", "depression"),
    ),
}


@cache
def _pattern(subgroup: str) -> re.Pattern[str]:
    terms = sorted(SUBGROUPS[subgroup][1], key=len, reverse=True)
    alternatives = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in terms)
    return re.compile(rf"(?<![\w-])(?:{alternatives})s?(?![\w-])", re.IGNORECASE)


def mentions(text: str) -> list[str]:
    """The subgroups whose terms `text` mentions, in SUBGROUPS order."""
    return [name for name in SUBGROUPS if _pattern(name).search(text)]


def category_of(subgroup: str) -> str:
    return SUBGROUPS[subgroup][0]
