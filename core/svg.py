"""Small bar charts as inline SVG markup, drawn from the numbers alone (no matplotlib, no files).

A page with hundreds of them (a profile of 500 attributes) stays one HTML file that renders at once;
matplotlib costs ~0.2 s and one PNG file per figure.

    histogram_svg([0, 1, 2], [5, 3], marks={"median": 0.8}, xlabel="age")
    bars_svg(["a", "b"], [10, 4], xlabel="rows")
"""

from __future__ import annotations

import html
from typing import Dict, List, Optional, Sequence

WIDTH = 600
BAR = "#4c72b0"
HBAR = "#55a868"
MARK = "#c44e52"
FONT = 'font-family="system-ui,Helvetica,Arial,sans-serif" font-size="11"'


def number(value: float) -> str:
    """An axis label: 4 significant digits."""
    return f"{value:.4g}"


def label(value: str, width: int = 28) -> str:
    """A bar's label, cut to width characters."""
    return value if len(value) <= width else value[: width - 1] + "…"


def svg_element(height: int, body: List[str], title: str) -> str:
    """The outer <svg> element (role img, its title for screen readers and tooltips)."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" {FONT}><title>{html.escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def histogram_svg(edges: Sequence[float], counts: Sequence[int], marks: Dict[str, float], xlabel: str) -> str:
    """Vertical bars over [edges[i], edges[i+1]) with `marks` (e.g. median, mean) as dashed lines."""
    left, right, top, bottom, height = 50, 10, 10, 36, 200
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    lo, hi = (edges[0], edges[-1]) if len(edges) > 1 else (0.0, 1.0)
    lo = min([lo, *marks.values()])
    hi = max([hi, *marks.values()])
    span = (hi - lo) or 1.0
    peak = max(counts, default=0) or 1

    def x(value: float) -> float:
        return left + (value - lo) / span * plot_w

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#57606a"/>']
    for a, b, n in zip(edges, edges[1:], counts):
        h = n / peak * plot_h
        width = max(x(b) - x(a) - 1, 1)
        body.append(
            f'<rect x="{x(a):.1f}" y="{top + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{BAR}">'
            f"<title>{number(a)} to {number(b)}: {n} rows</title></rect>"
        )
    for i, (name, value) in enumerate(marks.items()):
        dash = "6,3" if i == 0 else "2,2"
        body.append(
            f'<line x1="{x(value):.1f}" y1="{top}" x2="{x(value):.1f}" y2="{top + plot_h}" stroke="{MARK}" '
            f'stroke-dasharray="{dash}"><title>{name} {number(value)}</title></line>'
        )
        body.append(
            f'<text x="{left + plot_w}" y="{top + 12 + 13 * i}" text-anchor="end" fill="{MARK}">'
            f"{name} {number(value)}</text>"
        )
    body += [
        f'<text x="{left}" y="{top + plot_h + 14}" text-anchor="middle">{number(lo)}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 14}" text-anchor="end">{number(hi)}</text>',
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">{html.escape(xlabel)}</text>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
        'text-anchor="middle">rows</text>',
    ]
    return svg_element(height, body, f"histogram of {xlabel}")


def bars_svg(
    labels: Sequence[str], counts: Sequence[float], xlabel: str, color: str = HBAR, full: Optional[float] = None
) -> str:
    """Horizontal bars, one per label, in the order given, each value written beside its bar; a bar of `full`
    (default: the largest value) spans the plot."""
    left, right, row, top = 190, 60, 20, 4
    plot_w = WIDTH - left - right
    height = top + row * max(len(labels), 1) + 22
    peak = full or max((abs(c) for c in counts), default=0) or 1
    body = []
    for i, (name, value) in enumerate(zip(labels, counts)):
        y = top + i * row
        width = abs(value) / peak * plot_w
        body += [
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{html.escape(label(str(name)))}'
            f"<title>{html.escape(str(name))}</title></text>",
            f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" fill="{color}"/>',
            f'<text x="{left + width + 4:.1f}" y="{y + 14}">{number(value)}</text>',
        ]
    body.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{html.escape(xlabel)}</text>')
    return svg_element(height, body, xlabel)
