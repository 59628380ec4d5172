"""Reports: one self-contained HTML page with PNG (and inline SVG) figures, written to a lake folder.

    report = Report("train: adult v3")
    report.heading("Evaluation")
    report.table([{"metric": "auc", "value": 0.91}])
    fig = new_figure(6, 4)
    fig.gca().plot([0, 1], [0, 1])
    report.figure(fig, "roc", caption="ROC curve")
    report.write(spark, lake.reports("train", "2026-11-20"))   # index.html + roc.png

Figures are drawn on matplotlib's Agg canvas without pyplot, so no global state and no display
is needed; they become PNG bytes at `figure()` time and are written with the page. The page has
no scripts and no external links, so it opens from S3, a laptop or an e-mail attachment.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

from core.lake import join, write_bytes, write_text

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:72rem;
color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.25rem .6rem;
text-align:left;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
figure{margin:1rem 0}figcaption{color:#57606a;font-size:.9rem}img{max-width:100%}
.flag{color:#b35900;font-weight:600}
"""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
Rows = Sequence[Union[Dict[str, Any], Sequence[Any]]]


def new_figure(width: float = 6.0, height: float = 4.0):
    """A matplotlib Figure on the Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def format_cell(value: Any) -> str:
    """A table cell's text: floats to 4 significant digits, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_html(rows: Rows, columns: Optional[Sequence[str]] = None) -> str:
    """An HTML table from dicts (columns: their keys in first-seen order) or from lists with `columns`."""
    if rows and isinstance(rows[0], dict):
        if columns is None:
            columns = list(dict.fromkeys(key for row in rows for key in row))
        body = [[row.get(c) for c in columns] for row in rows]  # type: ignore[union-attr]
    else:
        body = [list(row) for row in rows]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns or [])
    lines = ["<table>", f"<tr>{head}</tr>" if head else ""]
    for row in body:
        lines.append("<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>")
    lines.append("</table>")
    return "\n".join(line for line in lines if line)


@dataclass
class Report:
    """An HTML page built in order: headings, paragraphs, tables, figures and links."""

    title: str
    parts: List[str] = field(default_factory=list)
    images: Dict[str, bytes] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, flag: bool = False) -> None:
        css = ' class="flag"' if flag else ""
        self.parts.append(f"<p{css}>{html.escape(text)}</p>")

    def table(self, rows: Rows, columns: Optional[Sequence[str]] = None) -> None:
        self.parts.append(table_html(rows, columns))

    def figure(self, fig, name: str, caption: str = "") -> str:
        """Add a figure as `<name>.png`; returns the file name."""
        if not _NAME.match(name):
            raise ValueError(f"figure name {name!r}: use letters, digits, '.', '_' or '-'")
        file_name = f"{name}.png"
        if file_name in self.images:
            raise ValueError(f"figure {file_name} added twice")
        self.images[file_name] = figure_png(fig)
        text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img src="{file_name}" alt="{html.escape(caption or name)}">{text}</figure>')
        return file_name

    def inline_figure(self, markup: str, caption: str = "") -> None:
        """Add a figure drawn as inline SVG markup (core.svg): no file, no image to load."""
        text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f"<figure>{markup}{text}</figure>")

    def link(self, text: str, href: str) -> None:
        self.parts.append(f'<p><a href="{html.escape(href, quote=True)}">{html.escape(text)}</a></p>')

    def html(self) -> str:
        """The whole page."""
        title = html.escape(self.title)
        body = "\n".join(self.parts)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
        )

    def files(self) -> Dict[str, bytes]:
        """The report as files by name: the figures, then index.html."""
        return {**self.images, "index.html": self.html().encode("utf-8")}

    def write(self, spark, folder_uri: str) -> List[str]:
        """Write the figures, then index.html, into the folder; returns the URIs written (page last)."""
        written = []
        for file_name, data in self.files().items():
            uri = join(folder_uri, file_name)
            write_bytes(spark, uri, data)
            written.append(uri)
        return written


def to_json(obj: Any) -> str:
    """Pretty JSON with sorted keys; values JSON cannot hold (dates, numpy numbers) as their str()."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def write_json(spark, uri: str, obj: Any) -> None:
    """Write `obj` as pretty JSON with stable keys (see to_json)."""
    write_text(spark, uri, to_json(obj))
