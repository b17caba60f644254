"""The evaluation report: its arithmetic on a hand-computed case, the bias metrics, the paired test, and the
`python -m training.evaluate` command end to end on the tiny model (including a planted regression)."""

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from model.artifact import load_model
from model.policy import load_policy
from tests.conftest import FIXTURES, ROOT, TINY
from training.data import Row, load_labelled
from training.evaluate import main
from training.metrics import classification_metrics
from training.report.build import build_report
from training.report.fairness import bias_aucs, fairness_section, final_metric, power_mean
from training.report.stats import mcnemar_exact

EVAL_SMALL = FIXTURES / "eval_small.jsonl"

# Eight comments with fixed probabilities (columns spam, toxic, substantive). Every expected number in
# the tests below is worked out by hand from this table.
#   true         scores            top      source  article
#   spam     .8  .1  .1           spam ok   a       yes
#   spam     .6  .3  .1           spam ok   a       yes
#   spam     .2  .1  .7           subst X   a       yes
#   toxic    .1  .7  .2           toxic ok  a       yes
#   toxic    .5  .4  .1           spam  X   b       yes
#   subst    .1  .1  .8           subst ok  b       yes
#   subst    .2  .2  .6           subst ok  b       no
#   subst    .1  .6  .3           toxic X   b       no   (a 200+ character comment)
HAND = [
    ("spam", (0.8, 0.1, 0.1), "a", True),
    ("spam", (0.6, 0.3, 0.1), "a", True),
    ("spam", (0.2, 0.1, 0.7), "a", True),
    ("toxic", (0.1, 0.7, 0.2), "a", True),
    ("toxic", (0.5, 0.4, 0.1), "b", True),
    ("substantive", (0.1, 0.1, 0.8), "b", True),
    ("substantive", (0.2, 0.2, 0.6), "b", False),
    ("substantive", (0.1, 0.6, 0.3), "b", False),
]


def hand_rows() -> tuple[list[Row], np.ndarray]:
    rows = []
    for i, (label, _, source, has_article) in enumerate(HAND, 1):
        text = f"comment number {i}" + (" and a long tail" * 14 if i == 8 else "")
        rows.append(
            Row(
                text=text,
                label=label,
                id=f"h{i}",
                article_id="art" if has_article else "",
                article_title="An article" if has_article else "",
                source=source,
            )
        )
    return rows, np.array([p for _, p, _, _ in HAND])


@pytest.fixture(scope="module")
def hand_report() -> dict:
    rows, proba = hand_rows()
    return build_report(rows, proba, load_policy(), "default", n_boot=300, seed=7)


def test_headline_matches_hand_computation(hand_report: dict) -> None:
    h = hand_report["headline"]
    assert h["accuracy"] == pytest.approx(5 / 8)
    # F1: spam 2/3, toxic 1/2, substantive 2/3
    assert h["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    spam, toxic, sub = (h["per_label"][k] for k in ("spam", "toxic", "substantive"))
    assert (spam["precision"], spam["recall"], spam["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (toxic["precision"], toxic["recall"], toxic["f1"]) == pytest.approx((1 / 2, 1 / 2, 1 / 2))
    assert (sub["precision"], sub["recall"], sub["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # ROC-AUC by counting positive/negative pairs (ties count half): spam 13.5/15, toxic 11/12, subst 13/15
    assert spam["roc_auc"] == pytest.approx(13.5 / 15)
    assert toxic["roc_auc"] == pytest.approx(11 / 12)
    assert sub["roc_auc"] == pytest.approx(13 / 15)
    # spam average precision: recall steps of 1/3 at precision 1, 1, 3/5
    assert spam["pr_auc"] == pytest.approx(1 / 3 + 1 / 3 + 1 / 3 * 3 / 5)
    assert hand_report["confusion_matrix"]["matrix"] == [[2, 0, 1], [1, 1, 0], [0, 1, 2]]


def test_intervals_are_seeded_and_bracket_the_estimate(hand_report: dict) -> None:
    rows, proba = hand_rows()
    again = build_report(rows, proba, load_policy(), "default", n_boot=300, seed=7)
    assert again["headline"]["macro_f1_ci"] == hand_report["headline"]["macro_f1_ci"]
    lo, hi = hand_report["headline"]["macro_f1_ci"]
    assert 0 <= lo < hand_report["headline"]["macro_f1"] < hi <= 1
    for label, m in hand_report["headline"]["per_label"].items():
        for name in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
            lo, hi = m[f"{name}_ci"]
            assert lo <= m[name] + 1e-9 and m[name] - 1e-9 <= hi, (label, name)


def test_per_label_calibration_error(hand_report: dict) -> None:
    # toxic scores .1 .3 .1 .7 .4 .1 .2 .6, toxic rows 4 and 5; bins (lo, hi]:
    # [0,.1]: 3 x |.1-0|; (.1,.2]: |.2-0|; (.2,.3]: |.3-0|; (.3,.4]: |.4-1|; (.5,.6]: |.6-0|; (.6,.7]: |.7-1|
    expected = (3 * 0.1 + 0.2 + 0.3 + 0.6 + 0.6 + 0.3) / 8
    assert hand_report["calibration"]["per_label"]["toxic"]["ece"] == pytest.approx(expected)


def test_policy_view(hand_report: dict) -> None:
    # default policy: spam hold .60, toxic hold .50; nothing reaches a reject threshold
    actions = hand_report["policy"]["actions"]
    assert {a: actions[a]["count"] for a in actions} == {"approve": 4, "hold": 4, "reject": 0}
    assert actions["hold"]["precision"] == pytest.approx(3 / 4)  # rows 1, 2, 4 are not substantive; row 8 is
    assert actions["approve"]["precision"] == pytest.approx(2 / 4)  # rows 6, 7 of 3, 5, 6, 7
    assert actions["reject"]["precision"] is None
    at_half = next(r for r in hand_report["policy"]["threshold_table"]["spam"] if r["threshold"] == 0.5)
    assert (at_half["flagged"], at_half["precision"], at_half["recall"]) == (
        3,
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
    )


def test_slices(hand_report: dict) -> None:
    s = hand_report["slices"]
    by_source = {x["slice"]: x for x in s["source"]}
    assert by_source["a"]["accuracy"] == pytest.approx(3 / 4)
    assert by_source["b"]["accuracy"] == pytest.approx(2 / 4)
    context = {x["slice"]: x for x in s["article_context"]}
    assert (context["with article"]["n"], context["without article"]["n"]) == (6, 2)
    assert context["without article"]["accuracy"] == pytest.approx(1 / 2)
    # rows 7-8: substantive F1 2/3 (P 1, R 1/2), toxic 0 (predicted once, never true); no spam at all, so
    # spam does not count: macro-F1 1/3, not 2/9
    assert context["without article"]["macro_f1"] == pytest.approx(1 / 3)
    # source b: spam F1 0 (row 5 wrongly spam), toxic 0, substantive 0.8 (P 1, R 2/3)
    assert by_source["b"]["macro_f1"] == pytest.approx(0.8 / 3)
    lengths = {x["slice"]: x["n"] for x in s["length"]}
    assert lengths == {"under 50 chars": 7, "200-499 chars": 1}


def test_most_confident_mistakes(hand_report: dict) -> None:
    e = hand_report["errors"]
    assert e["count"] == 3
    assert [x["id"] for x in e["most_confident"]] == ["h3", "h8", "h5"]  # confidence .7, .6, .5
    assert [x["id"] for x in e["per_label"]["spam"]["false_positives"]] == ["h5"]
    assert [x["id"] for x in e["per_label"]["spam"]["false_negatives"]] == ["h3"]


def test_bias_metrics_match_hand_case() -> None:
    # in the subgroup: toxic .9 .4, non-toxic .75 .2; background: toxic .8 .7, non-toxic .3 .1
    toxic = np.array([1, 1, 0, 0, 1, 1, 0, 0], dtype=bool)
    scores = np.array([0.9, 0.4, 0.75, 0.2, 0.8, 0.7, 0.3, 0.1])
    in_group = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    got = bias_aucs(toxic, scores, in_group)
    assert got["subgroup_auc"] == pytest.approx(3 / 4)  # .9 > .75,.2; .4 > .2; .4 < .75
    assert got["bpsn_auc"] == pytest.approx(3 / 4)  # .8 > .75,.2; .7 > .2; .7 < .75
    assert got["bnsp_auc"] == pytest.approx(1.0)  # .9 and .4 both above .3 and .1
    # the same through the report, finding the subgroup by its identity term
    texts = [f"muslim neighbours {i}" for i in range(4)] + [f"the neighbours {i}" for i in range(4)]
    y = np.where(toxic, 1, 2)
    proba = np.column_stack([(1 - scores) / 2, scores, (1 - scores) / 2])
    section = fairness_section(texts, y, proba)
    [muslim] = section["subgroups"]
    assert (muslim["subgroup"], muslim["n"], muslim["toxic"]) == ("muslim", 4, 2)
    assert section["overall_auc"] == pytest.approx(14 / 16)
    # Jigsaw 2019: 0.25 * overall AUC + 0.25 * each generalised mean (one subgroup: the mean is the value)
    assert section["final_metric"] == pytest.approx(0.25 * 14 / 16 + 0.25 * (3 / 4 + 3 / 4 + 1.0))


def test_generalised_mean_leans_to_the_worst_subgroup() -> None:
    assert power_mean([0.75, 0.5]) == pytest.approx(((0.75**-5 + 0.5**-5) / 2) ** (-1 / 5))
    assert power_mean([0.75, 0.5]) == pytest.approx(0.5603, abs=1e-4)  # the arithmetic mean would be 0.625
    two = [
        {"subgroup_auc": 0.75, "bpsn_auc": 0.9, "bnsp_auc": 1.0},
        {"subgroup_auc": 0.5, "bpsn_auc": None, "bnsp_auc": 1.0},
    ]
    got = final_metric(0.8, two)
    assert got["generalised_means"]["bpsn_auc"] == pytest.approx(0.9)  # undefined subgroup left out
    expected = 0.25 * 0.8 + 0.25 * power_mean([0.75, 0.5]) + 0.25 * 0.9 + 0.25 * 1.0
    assert got["final_metric"] == pytest.approx(expected)


def test_mcnemar_exact_hand_case() -> None:
    # 1 comment only the baseline gets right, 5 only the candidate: p = 2 * (C(6,0) + C(6,1)) / 2**6
    base = np.array([1, 0, 0, 0, 0, 0, 1, 1], dtype=bool)
    model = np.array([0, 1, 1, 1, 1, 1, 1, 1], dtype=bool)
    got = mcnemar_exact(base, model)
    assert (got["only_baseline_right"], got["only_model_right"]) == (1, 5)
    assert got["p_value"] == pytest.approx(14 / 64)


def test_report_rejects_misshapen_probabilities() -> None:
    rows, proba = hand_rows()
    with pytest.raises(ValueError, match=re.escape("expected (8, 3) in LABELS order")):
        build_report(rows, proba[:, :2], load_policy(), "default")


# -- end to end -----------------------------------------------------------------------------------------


def test_command_writes_a_self_contained_report(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "training.evaluate", "--model", str(tiny_model_dir), "--data", str(EVAL_SMALL)]
    done = subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr and "28/28" in done.stderr  # the progress bar
    assert f"report: {out / 'report.html'}" in done.stdout
    for name in ("report.html", "report.md", "report.json", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    # the report's numbers are the shared metrics of the real model's scores on the real file
    data = load_labelled([EVAL_SMALL])
    proba = load_model(tiny_model_dir).estimator.predict_proba(data.comments())
    expected = classification_metrics(data.labels(), proba)
    assert report["data"]["n"] == 28
    assert report["headline"]["macro_f1"] == pytest.approx(expected["macro_f1"])
    assert report["confusion_matrix"]["matrix"] == expected["confusion_matrix"]["matrix"]
    for label, m in expected["per_label"].items():
        assert report["headline"]["per_label"][label]["f1"] == pytest.approx(m["f1"])
        assert report["headline"]["per_label"][label]["roc_auc"] == pytest.approx(m["roc_auc"])
    assert {s["slice"] for s in report["slices"]["source"]} == {"site-a", "site-b"}
    assert {s["subgroup"] for s in report["fairness"]["subgroups"]} >= {"muslim", "immigrant", "gay or lesbian"}
    page = (out / "report.html").read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the report must not load anything"
    assert page.count('src="data:image/png;base64,') == 4
    assert_every_number_is_in_json(page, report)
    md = (out / "report.md").read_text()
    assert "![Confusion matrix" in md and f"{report['headline']['macro_f1']:.3f}" in md


class Cells(HTMLParser):
    """The text of every table cell in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def json_numbers(obj: object) -> set[str]:
    """Every number in report.json in each way the HTML may print it."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for v in obj.values():
            out |= json_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= json_numbers(v)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        out |= {f"{obj:.3f}", f"{obj:.2f}", f"{100 * obj:.1f}", f"{obj:.2g}", f"{obj:.1e}"}
        if isinstance(obj, int):
            out.add(f"{obj:,}")
    return out


def assert_every_number_is_in_json(page: str, report: dict) -> None:
    parser = Cells()
    parser.feed(page)
    known = json_numbers(report)
    numeric = [c for c in parser.cells if re.fullmatch(r"[-+–0-9.,%\[\] ]+", c) and c != "–"]
    assert len(numeric) > 100
    for cell in numeric:
        for token in re.findall(r"-?\d[\d,]*(?:\.\d+)?", cell):
            assert token in known or token.lstrip("-") in known, f"{token!r} (cell {cell!r}) is not in report.json"


def write_corrupted(path: Path) -> Path:
    """tiny.jsonl with every label rotated (spam -> toxic -> substantive -> spam): a model that learns wrong."""
    rotate = {"spam": "toxic", "toxic": "substantive", "substantive": "spam"}
    lines = [json.loads(line) for line in TINY.read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps({**r, "label": rotate[r["label"]]}) + "\n" for r in lines))
    return path


def test_baseline_comparison_detects_planted_regression(tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.config import TrainConfig
    from training.evaluate import evaluate
    from training.fit import train

    bad_data = write_corrupted(tmp_path / "corrupted.jsonl")
    train(TrainConfig(real="", data=[str(bad_data)], out=str(tmp_path / "bad"), calibration_folds=3))
    report = evaluate(tmp_path / "bad" / "current", [str(EVAL_SMALL)], tmp_path / "out", baseline_dir=tiny_model_dir)
    c = report["comparison"]
    assert c["verdict"].startswith("candidate is significantly worse")
    assert c["mcnemar"]["p_value"] < 0.05
    assert c["mcnemar"]["only_baseline_right"] > c["mcnemar"]["only_model_right"]
    macro = next(h for h in c["headline"] if h["metric"] == "macro_f1")
    assert macro["delta"] < -0.3
    assert c["paired_bootstrap"]["interval"][1] < 0
    assert c["changed_count"] > 0 and c["changed_broken"] > 0
    assert len(c["changed"]) == c["changed_count"]
    assert c["changed"][0]["change"] == "broken"  # regressions are listed first
    assert sum(x["change"] == "broken" for x in c["changed"]) == c["changed_broken"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Comparison with the baseline" in page and "significantly worse" in page
    assert_every_number_is_in_json(page, json.loads((tmp_path / "out" / "report.json").read_text()))


def test_model_against_itself_changes_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.evaluate import evaluate

    report = evaluate(tiny_model_dir, [str(EVAL_SMALL)], tmp_path, baseline_dir=tiny_model_dir, n_boot=200)
    c = report["comparison"]
    assert c["changed_count"] == 0 and c["mcnemar"]["p_value"] == 1.0
    assert all(h["delta"] in (0.0, None) for h in c["headline"])


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--model", str(tmp_path / "nope"), "--data", str(EVAL_SMALL), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "nope" in err
    assert not (tmp_path / "r").exists()


def test_bad_data_row_names_file_and_line(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "spam"}\n{"text": "odd", "label": "rude"}\n')
    code = main(["--model", str(tiny_model_dir), "--data", str(bad), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}, line 2" in err and "unknown label 'rude'" in err


def test_bad_policy_file_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('version = "x"\n[thresholds.spam]\nhold = 0.9\nreject = 0.5\n')
    args = ["--model", str(tiny_model_dir), "--data", str(EVAL_SMALL), "--out", str(tmp_path / "r")]
    assert main([*args, "--policy", str(policy)]) == 2
    assert "hold (0.9) is above reject (0.5)" in capsys.readouterr().err


def test_one_label_data_still_reports(tmp_path: Path) -> None:
    from training.report.writers import write_report

    hostile = '<img src="http://tracker.example/x.png"><script>alert(1)</script>'
    rows = [Row(text=f"buy now {i} {hostile}", label="spam", id=f"s{i}") for i in range(3)]
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.1, 0.5], [0.7, 0.2, 0.1]])
    report = build_report(rows, proba, load_policy(), "default", n_boot=100)
    spam = report["headline"]["per_label"]["spam"]
    assert spam["roc_auc"] is None and spam["roc_auc_ci"] is None  # undefined with one class, not a crash
    assert spam["recall"] == pytest.approx(2 / 3)
    written = write_report(report, tmp_path)
    page = written["report.html"].read_text()
    assert "–" in page
    # comment text is shown, escaped: it can neither load anything nor run
    assert "&lt;script&gt;alert(1)" in page and "<script" not in page and 'tracker.example/x.png"><' not in page
    assert '<img src="http' not in written["report.md"].read_text()
    json.loads(written["report.json"].read_text())  # strict JSON: no NaN
