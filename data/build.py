"""Assemble the corpus from the hand-written sources: data/sources/*.jsonl -> data/articles.jsonl, data/comments.jsonl.

    python data/build.py          # rewrites the two files; deterministic (fixed seed)

Article-specific comments keep their article. Pool comments (generic spam and insults that fit anywhere)
are dealt over the articles with a fixed seed; each copy-paste message is pasted under `copies` distinct
articles and marked `copy_paste: true`; SEO templates are filled with three articles' titles or topics each.
"""

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
SEED = 20261128
SEO_PER_ARTICLE = 3


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    articles = sorted(
        (a for p in sorted(SOURCES.glob("articles_*.jsonl")) for a in read_jsonl(p)), key=lambda a: a["article_id"]
    )
    ids = [a["article_id"] for a in articles]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"duplicate article ids: {[i for i, n in Counter(ids).items() if n > 1]}")
    by_article: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(SOURCES.glob("comments_*.jsonl")):
        for c in read_jsonl(path):
            if c["article_id"] not in set(ids):
                raise SystemExit(f"{path.name}: comment for unknown article {c['article_id']!r}")
            by_article[c["article_id"]].append({**c, "source": "written"})

    pool = [c for path in sorted(SOURCES.glob("pool_*.jsonl")) for c in read_jsonl(path)]
    singles = [c for c in pool if c.get("kind") != "copy_paste"]
    rng.shuffle(singles)
    for i, c in enumerate(singles):
        # Dealt round-robin over a shuffled order so every article gets a similar share of each kind.
        by_article[ids[i % len(ids)]].append({**c, "source": "pool"})
    for c in (c for c in pool if c.get("kind") == "copy_paste"):
        for article_id in rng.sample(ids, int(c["copies"])):
            by_article[article_id].append(
                {"text": c["text"], "label": "spam", "kind": "copy_paste", "source": "pool", "copy_paste": True}
            )

    templates = [t["template"] for t in read_jsonl(SOURCES / "seo_templates.jsonl")]
    for a in articles:
        for template in rng.sample(templates, SEO_PER_ARTICLE):
            text = template.format(title=a["title"], topic=a["topic"])
            by_article[a["article_id"]].append(
                {"text": text, "label": "spam", "kind": "seo_title", "source": "seo_template"}
            )

    comments = []
    for a in articles:
        rows = by_article[a["article_id"]]
        rng.shuffle(rows)
        for n, c in enumerate(rows, 1):
            comments.append(
                {
                    "id": f"{a['article_id']}-c{n:03d}",
                    "article_id": a["article_id"],
                    "text": c["text"],
                    "label": c["label"],
                    "kind": c.get("kind", ""),
                    "source": c["source"],
                    "copy_paste": bool(c.get("copy_paste", False)),
                }
            )
    out_articles = [
        {"article_id": a["article_id"], "area": a["area"], "title": a["title"], "topic": a["topic"], "body": a["body"]}
        for a in articles
    ]
    return out_articles, comments


def tables(articles: list[dict], comments: list[dict]) -> str:
    """Markdown count tables for the datasheet (data/README.md)."""
    area_of = {a["article_id"]: a["area"] for a in articles}
    labels = Counter(c["label"] for c in comments)
    lines = ["| label | comments | share |", "|---|---:|---:|"]
    lines += [f"| {label} | {n:,} | {n / len(comments):.1%} |" for label, n in labels.most_common()]
    lines += ["", "| area | articles | spam | toxic | substantive |", "|---|---:|---:|---:|---:|"]
    per_area: dict[str, Counter] = defaultdict(Counter)
    for c in comments:
        per_area[area_of[c["article_id"]]][c["label"]] += 1
    n_articles = Counter(a["area"] for a in articles)
    for area in sorted(per_area):
        k = per_area[area]
        lines.append(f"| {area} | {n_articles[area]} | {k['spam']} | {k['toxic']} | {k['substantive']} |")
    lines += ["", "| label | kind | comments |", "|---|---|---:|"]
    kinds = Counter((c["label"], c["kind"]) for c in comments)
    lines += [f"| {label} | {kind} | {n} |" for (label, kind), n in sorted(kinds.items())]
    return "\n".join(lines)


def update_datasheet(text: str) -> None:
    """Replace the counts section of data/README.md so the datasheet never drifts from the files."""
    readme = HERE / "README.md"
    content = readme.read_text(encoding="utf-8")
    start, end = "<!-- counts: written by `python data/build.py` -->", "<!-- /counts -->"
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


def main() -> None:
    articles, comments = build()
    write_jsonl(HERE / "articles.jsonl", articles)
    write_jsonl(HERE / "comments.jsonl", comments)
    summary = f"{len(articles)} articles in {len({a['area'] for a in articles})} areas, {len(comments):,} comments."
    update_datasheet(summary + "\n\n" + tables(articles, comments))
    print(summary)


if __name__ == "__main__":
    main()
