"""Perspective's trained attributes and spans (issue 21, items 4 and 5) against a real server on loopback: the
shipped model with its attributes/, a copy of it without, and copies with a damaged attributes/ folder."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from model.attribute_files import ARRAYS_FILE, CHECKSUMS_FILE, FOLDER, SPEC_FILE, read_attributes
from model.modeldir import ArtifactError

from .live import Live, spawn, start

KEY = "persp-attrs-key-0123456789abcdef"
KEYS = {KEY: {"scopes": ["predict"], "name": "site-form"}}
ANALYZE = "/v1alpha1/comments:analyze"
HEADS = ("SEVERE_TOXICITY", "INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK")
CALM = "Thanks, the section on export controls answered my question about the licences."


@pytest.fixture(scope="module")
def live(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start(default_model_dir, tmp_path_factory.mktemp("attrs"), env={"MODERATION_API_KEYS": json.dumps(KEYS)})
    try:
        yield server
    finally:
        server.stop()


def analyze(live: Live, text: str, *attributes: str, **extra: Any) -> httpx.Response:
    body = {"comment": {"text": text}, "requestedAttributes": {a: {} for a in attributes}, **extra}
    return httpx.post(live.url + ANALYZE, json=body, params={"key": KEY}, timeout=60)


def values(live: Live, text: str) -> dict[str, float]:
    r = analyze(live, text, "TOXICITY", *HEADS)
    assert r.status_code == 200, r.text
    out = {}
    for name, answer in r.json()["attributeScores"].items():
        assert answer["summaryScore"]["type"] == "PROBABILITY"
        out[name] = answer["summaryScore"]["value"]
        assert isinstance(out[name], float) and 0.0 <= out[name] <= 1.0
    return out


def test_the_shipped_model_answers_every_attribute_with_a_probability(live: Live):
    calm = values(live, CALM)
    assert set(calm) == {"TOXICITY", *HEADS}
    # Each head reads the comment: the attribute it is about scores above the calm comment.
    cases = {
        "INSULT": "You are an idiot and a moron.",
        "PROFANITY": "This is fucking bullshit, what a shit show.",
        "THREAT": "I know where you live and I will kill you.",
        "IDENTITY_ATTACK": "All Muslims are terrorists and should be thrown out of the country.",
        "SEVERE_TOXICITY": "Shut up you fucking retarded piece of shit, go kill yourself.",
    }
    for name, text in cases.items():
        scored = values(live, text)
        assert scored[name] > calm[name] + 0.2, (name, scored[name], calm[name])


def spans_of(r: httpx.Response, attribute: str) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    spans = r.json()["attributeScores"][attribute]["spanScores"]
    for s in spans:
        assert set(s) == {"begin", "end", "score"} and s["score"]["type"] == "PROBABILITY"
        assert 0 <= s["begin"] < s["end"] and 0.0 <= s["score"]["value"] <= 1.0
    return spans


def marked(text: str, spans: list[dict[str, Any]]) -> list[str]:
    return [text[s["begin"] : s["end"]] for s in spans]


@pytest.mark.parametrize(
    ("text", "attribute", "word"),
    [
        ("You are an idiot.", "INSULT", "idiot"),
        ("You are an idiot.", "TOXICITY", "idiot"),
        ("Honestly the mayor is a complete moron and everyone knows it.", "INSULT", "moron"),
        ("What a load of bullshit from the council.", "TOXICITY", "bullshit"),
        ("This is fucking bullshit, what a shit show.", "PROFANITY", "fucking"),
    ],
)
def test_spans_point_at_the_words_that_make_it_toxic(live: Live, text: str, attribute: str, word: str):
    r = analyze(live, text, attribute, spanAnnotations=True)
    found = marked(text, spans_of(r, attribute))
    assert any(word in m for m in found), found
    assert all(len(m) < len(text) // 2 + len(word) for m in found), found  # the word, not the whole comment


def test_a_calm_comment_gets_no_spans_and_spans_only_when_asked(live: Live):
    r = analyze(live, CALM, "TOXICITY", "INSULT", spanAnnotations=True)
    assert spans_of(r, "TOXICITY") == [] and spans_of(r, "INSULT") == []
    plain = analyze(live, "You are an idiot.", "INSULT")
    assert set(plain.json()["attributeScores"]["INSULT"]) == {"summaryScore"}


def test_span_offsets_index_the_text_as_sent_even_with_hostile_unicode(live: Live):
    # Cyrillic "і" and a zero-width space inside the insult, an emoji and a combining accent before it: the
    # service reads "idiot" after normalising, but the offsets must point into the original string.
    text = "Caf\u0065\u0301 \U0001f600 you are an \u0456d\u200biot!!"
    spans = spans_of(analyze(live, text, "INSULT", spanAnnotations=True), "INSULT")
    assert marked(text, spans) == ["\u0456d\u200biot"]


def test_spam_and_unsubstantial_are_answered_without_spans(live: Live):
    r = analyze(live, "You are an idiot.", "SPAM", "UNSUBSTANTIAL", spanAnnotations=True)
    assert r.status_code == 200, r.text
    assert all(set(a) == {"summaryScore"} for a in r.json()["attributeScores"].values())


def copy_model(source: Path, dest: Path, attributes: bool) -> Path:
    dest.mkdir()
    for p in source.iterdir():
        if p.is_file():
            shutil.copy2(p, dest / p.name)
    if attributes:
        shutil.copytree(source / FOLDER, dest / FOLDER)
    return dest


def test_a_model_without_attributes_answers_400_naming_what_it_has(default_model_dir: Path, tmp_path: Path):
    model = copy_model(default_model_dir, tmp_path / "model", attributes=False)
    server = start(model, tmp_path, env={"MODERATION_API_KEYS": json.dumps(KEYS)})
    try:
        r = analyze(server, CALM, "TOXICITY", "INSULT")
        assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT", r.text
        message = r.json()["error"]["message"]
        assert "INSULT" in message and "attributes/" in message and "training.attributes" in message, message
        assert "['TOXICITY', 'SPAM', 'UNSUBSTANTIAL']" in message, message
        assert analyze(server, CALM, "TOXICITY").status_code == 200  # what it has still works
    finally:
        server.stop()


@pytest.mark.parametrize("damaged", [ARRAYS_FILE, SPEC_FILE, CHECKSUMS_FILE])
def test_a_damaged_attributes_folder_is_refused_naming_the_file(default_model_dir: Path, tmp_path: Path, damaged: str):
    model = copy_model(default_model_dir, tmp_path / "model", attributes=True)
    path = model / FOLDER / damaged
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01  # inside the first recorded digest, for checksums.txt
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=damaged):
        read_attributes(model)


def test_the_server_does_not_start_with_a_damaged_attributes_folder(default_model_dir: Path, tmp_path: Path):
    model = copy_model(default_model_dir, tmp_path / "model", attributes=True)
    path = model / FOLDER / ARRAYS_FILE
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    server = spawn(model, tmp_path)
    try:
        server.proc.wait(timeout=180)
    finally:
        server.stop()
    log = server.log()
    assert server.proc.returncode == 1, log
    assert "cannot start, the model is not usable" in log and f"{FOLDER}/{ARRAYS_FILE}" in log, log
    assert "Uvicorn running" not in log and "Traceback" not in log


def test_the_shipped_attributes_are_small_data_only_and_say_how_they_were_made(default_model_dir: Path):
    folder = default_model_dir / FOLDER
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted([SPEC_FILE, ARRAYS_FILE, CHECKSUMS_FILE])
    assert sum(p.stat().st_size for p in folder.iterdir()) < 512 * 1024
    attributes = read_attributes(default_model_dir)
    assert attributes is not None and set(attributes.names) == {"TOXICITY", *HEADS}
    held_out = attributes.metadata["held_out"]["test"]["roc_auc"]
    assert set(held_out) == set(attributes.names)


HOSTILE = [
    "\u202eYou are an idiot\u202c and a m\u043er\u043en",  # bidi override, Cyrillic look-alikes
    "f\u200bu\u200bc\u200bk you, i.d.i.o.t",  # zero-width spaces inside the word
    "\U0001f595\U0001f595 " * 200,  # emoji only, outside the BMP
    "idiot" * 300,  # one 1,500-character word
    "You \u0000are\u0007 an\u001b idiot\ufeff.",  # control characters
    "\u0301\u0301\u0301 \u200d \ufe0f",  # marks and joiners with nothing to join
    "ＹＯＵ ＡＲＥ ＡＮ ＩＤＩＯＴ",  # fullwidth letters
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_gets_spans_inside_the_text_as_sent(live: Live, text: str):
    r = analyze(live, text, "TOXICITY", *HEADS, spanAnnotations=True)
    assert r.status_code == 200, r.text
    for name, answer in r.json()["attributeScores"].items():
        for s in answer["spanScores"]:
            assert 0 <= s["begin"] < s["end"] <= len(text), (name, s)
            assert text[s["begin"] : s["end"]].strip(), (name, s)  # never a span of white space alone


def test_look_alike_letters_are_marked_where_they_stand():
    # Fullwidth letters normalise to "YOU ARE AN IDIOT": the span is the fullwidth word, at its own offsets.
    from model.spans import words

    text = "ＹＯＵ ＡＲＥ ＡＮ ＩＤＩＯＴ"
    assert [(w.begin, w.end, w.key) for w in words(text)][-1] == (11, 16, "idiot")
