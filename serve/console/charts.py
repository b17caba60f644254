"""Bar charts as inline SVG, drawn on the server: no script, no image files, readable at phone width (the
viewBox scales). Every text that reaches the SVG is escaped: site ids come from API clients."""

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 44, 40, 24


def bars(title: str, categories: list[str], series: list[tuple[str, str, list[float]]], stacked: bool = True) -> Markup:
    """One bar (stacked) or one group of bars per category; series are (name, colour, values)."""
    n = max(len(categories), 1)
    totals = (
        [sum(s[2][i] for s in series) if stacked else max((s[2][i] for s in series), default=0) for i in range(n)]
        if categories
        else [0]
    )
    top = max(max(totals, default=0), 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / n
    bar_w = slot * 0.7 / (1 if stacked else max(len(series), 1))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" stroke="#888"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11">{_num(top)}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, category in enumerate(categories):
        x0 = LEFT + i * slot + slot * 0.15
        base = TOP + plot_h
        for j, (name, colour, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            x = x0 if stacked else x0 + j * bar_w
            y = base - h if stacked else TOP + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(category)}: {escape(name)} {_num(value)}</title></rect>"
            )
            if stacked:
                base -= h
        if n <= 16 or i % max(n // 8, 1) == 0:
            parts.append(
                f'<text x="{x0 + (bar_w if stacked else bar_w * len(series)) / 2:.1f}" y="{TOP + plot_h + 14}" '
                f'text-anchor="middle" font-size="10">{escape(category[-5:] if len(category) == 10 else category)}</text>'
            )
    lx = LEFT
    for name, colour, _ in series:
        parts.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 14}" y="{HEIGHT - 5}" font-size="11">{escape(name)}</text>')
        lx += 14 + 8 * len(name) + 16
    parts.append("</svg>")
    return Markup("".join(parts))


def _num(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or float(value).is_integer() else f"{value:.2f}"
