"""Write report.html (self-contained: inline CSS, charts as data: URIs, no script, no external URL),
report.md (charts as PNG files beside it) and report.json (every number the other two show)."""

import html
import json
import re
from pathlib import Path
from typing import Any

from .charts import render_charts
from .layout import Block, Section, sections

HTML_FILE, MD_FILE, JSON_FILE = "report.html", "report.md", "report.json"
CHART_FILES = {
    "confusion": "confusion_matrix.png",
    "curves": "pr_roc_curves.png",
    "reliability": "reliability.png",
    "thresholds": "thresholds.png",
}

TEXT_TD, TEXT_TH = '<td class="text">', '<th class="text">'
NUMERIC = re.compile(r"^[-+–0-9.,%\[\] ]+$")
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1150px;
padding:1rem 1.5rem;color:#1d1d1f;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
nav{background:#f5f5f7;padding:.5rem .8rem;border-radius:6px}nav a{margin-right:1rem}
table{border-collapse:collapse;margin:.4rem 0 1.2rem;font-size:.88rem}caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #d8d8d8;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f0f0f3}td:first-child,th:first-child{text-align:left}td.text,th.text{text-align:left}td.text{max-width:30rem}
figure{margin:.6rem 0 1.2rem}figcaption{font-size:.85rem;color:#555}img{max-width:100%;height:auto}
"""


def _html_table(block: Block) -> str:
    header, rows = block.content
    # a column of numbers and intervals aligns right, words left; the header follows its column
    numeric = [bool(rows) and all(NUMERIC.match(row[i]) for row in rows) for i in range(len(header))]
    head = "".join(("<th>" if numeric[i] else TEXT_TH) + html.escape(h) + "</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>"
        + "".join(("<td>" if numeric[i] else TEXT_TD) + html.escape(cell) + "</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(header)}">none</td></tr>'
    return f"<table><caption>{html.escape(block.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_block(block: Block, charts: dict[str, str]) -> str:
    if block.kind == "text":
        return f"<p>{html.escape(block.content)}</p>"
    if block.kind == "table":
        return _html_table(block)
    alt = html.escape(block.caption)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{charts[block.content]}">'
        f"<figcaption>{alt}</figcaption></figure>"
    )


def render_html(report: dict[str, Any], charts: dict[str, str]) -> str:
    parts = sections(report)
    model = report.get("model", {})
    title = f"Evaluation report: {model.get('name', 'model')} {model.get('version', '')}".strip()
    nav = "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in parts)
    body = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{"".join(_html_block(b, charts) for b in s.blocks)}</section>'
        for s in parts
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Generated {html.escape(report['created'])}; every number here is in report.json.</p>"
        f"<nav>{nav}</nav>{body}</body></html>\n"
    )


def _md_cell(cell: str) -> str:
    # comment text is untrusted: keep Markdown viewers from rendering HTML in it
    return html.escape(cell, quote=False).replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if block.kind == "text":
        return block.content
    if block.kind == "table":
        header, rows = block.content
        lines = [f"**{block.caption}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows] or ["| none |"]
        return "\n".join(lines)
    return f"![{block.caption}]({CHART_FILES[block.content]})"


def render_markdown(report: dict[str, Any]) -> str:
    parts: list[Section] = sections(report)
    model = report.get("model", {})
    out = [f"# Evaluation report: {model.get('name', 'model')} {model.get('version', '')}".strip(), ""]
    for s in parts:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            out += [_md_block(b), ""]
    return "\n".join(out)


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write all files into out_dir (created if needed); returns the paths written."""
    import base64

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = render_charts(report)
    written = {}
    for name, b64 in charts.items():
        path = out_dir / CHART_FILES[name]
        path.write_bytes(base64.b64decode(b64))
        written[name] = path
    files = {
        HTML_FILE: render_html(report, charts),
        MD_FILE: render_markdown(report),
        JSON_FILE: json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
    }
    for name, content in files.items():
        (out_dir / name).write_text(content, encoding="utf-8")
        written[name] = out_dir / name
    return written
