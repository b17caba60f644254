"""Text normalisation: undo the tricks people use to slip past filters, and mark contact details.

`normalize` keeps case (capitals are a signal); the n-gram features lowercase on their own.
It is idempotent: normalize(normalize(t)) == normalize(t), so it is safe to apply twice.
"""

import re
import unicodedata
from functools import lru_cache

URL_TOKEN = "xxurl"
EMAIL_TOKEN = "xxemail"
PHONE_TOKEN = "xxphone"
MARKERS = (URL_TOKEN, EMAIL_TOKEN, PHONE_TOKEN)

# Zero-width, bidi and other invisible format characters: used to split words like "id\u200biot".
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)

# Look-alike letters from Cyrillic and Greek that NFKC leaves alone ("іdіоt" with Cyrillic і and о).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "һ": "h",
        "ӏ": "l",
        "ԛ": "q",
        "ԝ": "w",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "І": "I",
        "Ј": "J",
        "Ѕ": "S",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
    }
)
_CYRILLIC_OR_GREEK = re.compile("[\u0370-\u03ff\u0400-\u04ff\u0500-\u052f\u0261]")
_LATIN = re.compile("[A-Za-z]")

# Every pattern below reads comment text anyone can send, so each must run in time linear in its length.
# Python's `re` backtracks: a pattern that may start at many places and scan far from each ("ab.ab.ab...",
# "a-a-a-...") is quadratic. So each scanning pattern starts only at the beginning of a run (look-behinds),
# and a dotted host name is found by one pass over the run, not by backtracking over its labels.
_TLDS = frozenset(
    {"com", "net", "org", "info", "biz", "xyz", "online", "site", "shop", "store", "club", "top", "io", "co"}
    | {"me", "ly", "link", "live", "app", "ru", "cn", "uk", "de", "in", "us", "tk", "ml", "ga", "cf", "gq"}
    | {"pro", "vip", "win", "bet", "cc", "tv"}
)
_SCHEME_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
# A run of dot-separated labels, begun where no label or "label." stands before it, with an optional path.
_HOST_RUN = re.compile(r"(?i)(?<![a-z0-9-])(?<![a-z0-9-]\.)[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/\S*)?")
# "w w w . cheap-loans . site" and "example dot com": spelled-out links that dodge link filters.
_SPACED_URL = re.compile(r"(?i)\bw\s*w\s*w\s*(?:\.|dot)\s*\S+(?:\s*(?:\.|dot)\s*[a-z]{2,8})?")
_DOT_WORD = re.compile(
    r"(?i)(?<![a-z0-9-])[a-z0-9-]{2,}\s*(?:\(dot\)|\[dot\]| dot )\s*(?:com|net|org|xyz|online|site|info)\b"
)
_EMAIL = re.compile(r"(?i)(?<![a-z0-9._%+-])[a-z0-9._%+-]+\s*(?:@|\(at\)|\[at\])\s*[a-z0-9-]+(?:\s*\.\s*[a-z0-9-]+)+\b")
# Seven or more digits with the usual separators: phone numbers, but not years or prices.
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d(?:[\s().-]{0,3}\d){6,14}(?![\w])")

# Single characters joined by separators: "f.u.c.k", "i d i o t", "s-t-u-p-i-d".
# One separator throughout a run, so "f.u.c.k i d i o t" stays two words; spaces need four letters
# ("I a m" is English, "i d i o t" is not).
_SPACED_LETTERS = re.compile(
    r"(?<![\w@$*])(?:[A-Za-z0-9@$](?P<sep>[._\-*]{1,2})(?:[A-Za-z0-9@$](?P=sep)){1,}"
    r"|[A-Za-z0-9@$](?P<sp> {1,2})(?:[A-Za-z0-9@$](?P=sp)){2,})[A-Za-z0-9@$](?![\w@$*])"
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# A leet digit or symbol with letters on both sides somewhere in the word: "1d10t", "r3tard", "f@g",
# "a55hole"; not "covid19", "mp3", "3rd" or "10km", whose digits only lead or trail.
_LEET_WORD = re.compile(
    r"(?<![\w@$])(?=[\w@$]*[A-Za-z][013457@$])(?=[\w@$]*[013457@$][A-Za-z])[A-Za-z0-9@$]{3,}(?![\w@$])"
)
_REPEATS = re.compile(r"(\w)\1{2,}")
_EMOJI_IN_WORD = re.compile(r"(?<=[A-Za-z])[\U0001F000-\U0001FAFF\u2600-\u27BF]+(?=[A-Za-z])")
_SPACES = re.compile(r"[^\S\n]+")


def _strip_controls(text: str) -> str:
    text = _INVISIBLE.sub("", text)
    # Other control characters become spaces so words on either side stay apart.
    return "".join(" " if unicodedata.category(c) == "Cc" and c != "\n" else c for c in text)


def _fold_homoglyphs(text: str) -> str:
    # Only words that mix scripts are folded: real Russian or Greek text stays as written.
    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        if _CYRILLIC_OR_GREEK.search(word) and _LATIN.search(word):
            return word.translate(_HOMOGLYPHS)
        return word

    return re.sub(r"\w+", fold, text)


def _join_spaced(match: re.Match[str]) -> str:
    return re.sub(r"[ ._\-*]", "", match.group(0))


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(_LEET) if any(c.isalpha() for c in word) else word


def canonical_chars(text: str) -> str:
    """Only the character-level repairs (NFKC, invisible characters, mixed-script look-alikes).

    For signals read off the comment as written (capitals, emoji, scripts): full-width "ｕｓｎａｋｅ" must
    not look like a foreign-language comment, while its punctuation and casing stay as they were.
    """
    return _fold_homoglyphs(_strip_controls(unicodedata.normalize("NFKC", text)))


def _mark_host(match: re.Match[str]) -> str:
    """ "shop.example.com/x" -> the URL token: the labels up to the last one that is a known top-level domain.

    The first label needs two characters ("a.com" is more often a typo than a link). Labels after the last
    top-level domain stay text, and so does the path then, since it hangs off them.
    """
    whole = match.group(0)
    run, slash, path = whole.partition("/")
    labels = run.split(".")
    start = 0 if len(labels[0]) >= 2 else 1
    last = max((i for i in range(start + 1, len(labels)) if labels[i].lower() in _TLDS), default=-1)
    if last < 0 or any(not 1 <= len(label) <= 63 for label in labels[start : last + 1]):
        return whole
    before = "".join(f"{label}." for label in labels[:start])
    after = "".join(f".{label}" for label in labels[last + 1 :])
    return f"{before} {URL_TOKEN} {after + slash + path if after else ''}"


def mark_contacts(text: str) -> str:
    """Replace e-mails, links and phone numbers with marker tokens (order matters: e-mails contain dots)."""
    text = _EMAIL.sub(f" {EMAIL_TOKEN} ", text)
    text = _SPACED_URL.sub(f" {URL_TOKEN} ", text)
    text = _DOT_WORD.sub(f" {URL_TOKEN} ", text)
    text = _SCHEME_URL.sub(f" {URL_TOKEN} ", text)
    text = _HOST_RUN.sub(_mark_host, text)
    return _PHONE.sub(f" {PHONE_TOKEN} ", text)


def normalize(text: str) -> str:
    """Canonical form of a comment for feature extraction. Never raises on any str.

    One pass can expose a new evasion (un-leeting "0W0" puts letters either side of an emoji), so the
    pass repeats until nothing changes; that is what makes the function idempotent.
    """
    # The service normalises each comment three or four times (features, copy-paste fingerprint, the
    # explanation's phrases); remembering recent comments makes the repeats free. Long texts (articles,
    # pasted essays) are rare and not worth the memory.
    if len(text) <= _CACHED_MAX_CHARS:
        return _normalize_cached(text)
    return _normalize(text)


_CACHED_MAX_CHARS = 2_000


@lru_cache(maxsize=4096)
def _normalize_cached(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    for _ in range(_MAX_PASSES):
        changed = _normalize_once(text)
        if changed == text:
            break
        text = changed
    return text


_MAX_PASSES = 8


def _normalize_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _strip_controls(text)
    text = _fold_homoglyphs(text)
    text = mark_contacts(text)
    text = _EMOJI_IN_WORD.sub("", text)
    text = _SPACED_LETTERS.sub(_join_spaced, text)
    text = _LEET_WORD.sub(_unleet, text)
    text = _REPEATS.sub(r"\1\1", text)
    text = _SPACES.sub(" ", text).strip()
    return unicodedata.normalize("NFKC", text)
