"""core.report: the page, its figures and its JSON, written to a local lake folder."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from core.report import Report, new_figure, table_html, to_json, write_json

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.cells, self.headings = [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "td":
            self.cells.append(data)
        if self._in in ("h1", "h2"):
            self.headings.append(data)


def test_a_report_writes_its_page_and_every_figure_it_links(tmp_path):
    report = Report("train: adult <v3>")
    report.heading("Evaluation")
    report.table([{"metric": "auc", "value": 0.912345}, {"metric": "baseline", "value": 0.5}])
    fig = new_figure(4, 3)
    fig.gca().plot([0, 1], [0, 1])
    report.figure(fig, "roc", caption="ROC curve")
    written = report.write(None, f"file://{tmp_path}/r")

    assert written == [f"file://{tmp_path}/r/roc.png", f"file://{tmp_path}/r/index.html"]
    parser = _Collect()
    parser.feed((tmp_path / "r" / "index.html").read_text(encoding="utf-8"))
    assert parser.headings == ["train: adult <v3>", "Evaluation"]
    assert parser.cells == ["auc", "0.9123", "baseline", "0.5"]
    assert parser.images == ["roc.png"]
    assert (tmp_path / "r" / "roc.png").read_bytes().startswith(PNG_SIGNATURE)


def test_figure_names_are_checked_and_unique():
    report = Report("x")
    with pytest.raises(ValueError, match="figure name"):
        report.figure(new_figure(), "../escape")
    report.figure(new_figure(), "a")
    with pytest.raises(ValueError, match="added twice"):
        report.figure(new_figure(), "a")


def test_table_cells_are_escaped_and_lists_take_columns():
    assert "<td>&lt;b&gt;</td>" in table_html([["<b>", None]], columns=["x", "y"])
    assert "<td></td>" in table_html([["<b>", None]], columns=["x", "y"])
    assert "<th>x</th><th>y</th>" in table_html([{"x": 1}, {"y": 2}])


def test_json_has_stable_keys_and_plain_values(tmp_path):
    import datetime as dt

    import numpy as np

    write_json(None, f"file://{tmp_path}/a.json", {"b": np.float64(1.5), "a": dt.date(2026, 11, 20)})
    text = (tmp_path / "a.json").read_text()
    assert text == to_json({"a": "2026-11-20", "b": 1.5})
    assert json.loads(text) == {"a": "2026-11-20", "b": 1.5}


def svg_root(markup: str):
    import xml.etree.ElementTree as ET

    return ET.fromstring(markup)


def test_a_histogram_draws_one_bar_per_bin_in_proportion_and_its_marks():
    from core.svg import histogram_svg

    root = svg_root(histogram_svg([0.0, 1.0, 2.0, 4.0], [10, 5, 0], {"median": 1.5, "mean": 9.0}, "age <years>"))
    bars = root.findall("{*}rect")
    heights = [float(b.get("height")) for b in bars]
    assert len(bars) == 3 and heights[0] == 2 * heights[1] and heights[2] == 0
    xs = [float(b.get("x")) for b in bars]
    assert xs == sorted(xs)
    lines = root.findall("{*}line")
    assert [line.find("{*}title").text for line in lines[1:]] == ["median 1.5", "mean 9"]
    assert float(lines[2].get("x1")) > xs[-1]  # the mean beyond the last bin widens the axis to show it
    assert "age <years>" in [t.text for t in root.findall("{*}text")]


def test_bars_keep_their_order_escape_their_labels_and_take_a_fixed_scale():
    from core.svg import bars_svg

    root = svg_root(bars_svg(["<b>&", "x" * 40], [0.5, 0.25], "correlation", full=1.0))
    widths = [float(r.get("width")) for r in root.findall("{*}rect")]
    assert widths[0] == 2 * widths[1] and widths[0] < 0.6 * 600
    labels = [t.find("{*}title").text for t in root.findall("{*}text") if t.find("{*}title") is not None]
    assert labels == ["<b>&", "x" * 40]
    shown = [t.text for t in root.findall("{*}text")]
    assert "x" * 27 + "…" in shown


def test_an_inline_figure_adds_no_file(tmp_path):
    from core.svg import bars_svg

    report = Report("r")
    report.inline_figure(bars_svg(["a"], [1], "rows"), caption="a <caption>")
    assert report.files().keys() == {"index.html"}
    page = report.html()
    assert "<figure><svg" in page and "<figcaption>a &lt;caption&gt;</figcaption>" in page


def test_the_profile_correlation_chart_shows_the_strongest_forty_of_a_wide_input():
    from jobs.profile.render import CORRELATIONS_SHOWN, correlation_figure

    stats = [{"name": f"a{i}", "correlation": 1 - i / 100} for i in range(45)] + [{"name": "t", "correlation": None}]
    root = svg_root(correlation_figure(stats))
    names = [t.find("{*}title").text for t in root.findall("{*}text") if t.find("{*}title") is not None]
    assert CORRELATIONS_SHOWN == 40 and names == [f"a{i}" for i in range(40)]
