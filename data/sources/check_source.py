"""Check hand-written corpus source files: schema, labels, and near-duplicates (word 3-shingle Jaccard)."""

import json
import re
import sys
from collections import Counter

LABELS = {"spam", "toxic", "substantive"}


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def main(paths: list[str]) -> None:
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"{path}:{n}: not JSON ({e})")
                    continue
                if "template" in row or "body" in row:
                    continue
                if row.get("label") not in LABELS or not str(row.get("text", "")).strip():
                    print(f"{path}:{n}: bad label or empty text: {row}")
                rows.append((path, n, row))
    print("labels:", Counter(r["label"] for _, _, r in rows))
    print("kinds:", Counter(r.get("kind") for _, _, r in rows).most_common())
    sh = [shingles(r["text"]) for _, _, r in rows]
    near = 0
    for i in range(len(rows)):
        for j in range(i):
            a, b = sh[i], sh[j]
            if a and b and len(a & b) / len(a | b) >= 0.8:
                near += 1
                print(
                    f"near-duplicate: {rows[i][0]}:{rows[i][1]} ~ {rows[j][0]}:{rows[j][1]}: "
                    f"{rows[i][2]['text'][:60]!r} ~ {rows[j][2]['text'][:60]!r}"
                )
                break
    print(f"{len(rows)} comments, {near} near-duplicates ({near / max(len(rows), 1):.1%})")


if __name__ == "__main__":
    main(sys.argv[1:])
