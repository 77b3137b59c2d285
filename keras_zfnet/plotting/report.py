"""A self-contained HTML report: sections of text, key numbers, tables and
figures (PNG, embedded so the single file can be mailed or archived).

Every section can carry a stable `id` (for links and checks); every table can
be written beside the page as CSV and JSON; every figure as PNG. All text is
HTML-escaped; the page has no external assets and scales from 400 px to
1600 px wide (figures shrink to their card).
"""

import base64
import csv
import datetime
import html
import io
import json
import os

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0; background: #f6f7f9; color: #1d2330; }
* { box-sizing: border-box; }
header { background: #1d2330; color: #fff; padding: 28px 48px; }
header h1 { margin: 0 0 6px 0; font-size: 26px; }
header p { margin: 0; color: #b8c0d0; }
main { max-width: 1180px; margin: 0 auto; padding: 12px 32px 48px; }
section { background: #fff; border-radius: 10px; padding: 18px 26px;
          margin: 22px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { margin-top: 4px; font-size: 20px; }
p.lead { color: #3b4456; max-width: 900px; line-height: 1.45; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; margin: 10px 0; }
.card { background: #eef2f8; border-radius: 8px; padding: 10px 16px;
        min-width: 150px; }
.card .value { font-size: 24px; font-weight: 600; }
.card .label { font-size: 12px; color: #56607a; }
figure { margin: 14px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e6ec;
             border-radius: 6px; }
figcaption { font-size: 13px; color: #56607a; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill,
        minmax(min(340px, 100%), 1fr)); gap: 12px; }
.grid figure { min-width: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0;
        max-width: 100%; }
td, th { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f0f2f6;
      padding: 8px 12px; border-radius: 6px; font-size: 13px; }
p.files { font-size: 12px; color: #56607a; }
@media (max-width: 640px) {
  header { padding: 18px 16px; }
  main { padding: 6px 8px 32px; }
  section { padding: 12px 12px; }
  th, td { padding: 3px 3px; font-size: 11px; }
}
th, td { border-bottom: 1px solid #e3e6ec; padding: 5px 10px;
         text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f2f6; }
footer { color: #7a8296; font-size: 12px; text-align: center; }
"""


def figure_to_png(figure, dpi=100):
    """PNG bytes of a matplotlib figure (the figure is closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    try:
        import matplotlib.pyplot as plt

        plt.close(figure)
    except ImportError:  # pragma: no cover
        pass
    return buffer.getvalue()


def _cell(value):
    """A table cell as JSON-friendly data (numpy scalars to Python)."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    return value


def write_table(folder, name, header, rows):
    """Writes `name.csv` and `name.json` (a list of `{column: value}`).

    Returns:
        The two file names.
    """
    rows = [[_cell(c) for c in row] for row in rows]
    with open(os.path.join(folder, f"{name}.csv"), "w", newline="",
              encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    with open(os.path.join(folder, f"{name}.json"), "w",
              encoding="utf-8") as f:
        json.dump([dict(zip(header, row)) for row in rows], f, indent=1)
    return f"{name}.csv", f"{name}.json"


class Report:
    """Builds an HTML report section by section.

    Args:
        title: the page title.
        subtitle: a line under the title.

    Example:

    >>> report = Report("MiniZFNet on Fashion-MNIST")
    >>> report.section("Accuracy", "Test accuracy of the preset.", id="acc")
    >>> report.cards({"test accuracy": "91.6%"})
    >>> report.table(["class", "accuracy"], [("bag", 0.97)], name="acc")
    >>> report.write("report/index.html")
    """

    def __init__(self, title, subtitle=None):
        self.title = title
        self.subtitle = subtitle
        self._sections = []
        self._figures = []
        self._tables = []

    def section(self, heading, text=None, id=None):
        """Starts a new section (`id`: the element's stable id)."""
        attribute = f' id="{html.escape(id)}"' if id else ""
        self._sections.append([f"<section{attribute}>",
                               f"<h2>{html.escape(heading)}</h2>"])
        if text:
            self.paragraph(text, lead=True)

    def _current(self):
        if not self._sections:
            self.section(self.title)
        return self._sections[-1]

    def paragraph(self, text, lead=False):
        """A paragraph of (escaped) text."""
        css = ' class="lead"' if lead else ""
        self._current().append(f"<p{css}>{html.escape(text)}</p>")

    def link(self, href, text, before=""):
        """A paragraph `before` + a link to `href` (a relative path inside
        the report's folder: no external assets); all text escaped."""
        self._current().append(
            f'<p>{html.escape(before)}<a href="{html.escape(href)}">'
            f"{html.escape(text)}</a></p>")

    def code(self, text):
        """Preformatted text (a command, a log)."""
        self._current().append(f"<pre>{html.escape(text)}</pre>")

    def cards(self, values):
        """Key numbers as large cards: `{label: value}`."""
        items = "".join(
            f'<div class="card"><div class="value">{html.escape(str(v))}'
            f'</div><div class="label">{html.escape(str(k))}</div></div>'
            for k, v in values.items()
        )
        self._current().append(f'<div class="cards">{items}</div>')

    def table(self, header, rows, caption=None, name=None):
        """A table of `rows` (sequences) under `header`.

        Args:
            header: column names.
            rows: sequences of cells (numbers are shown as given).
            caption: text under the table.
            name: also write `name.csv` and `name.json` beside the page
                (linked from the caption).
        """
        rows = [list(row) for row in rows]
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
            + "</tr>"
            for row in rows
        )
        links = ""
        if name:
            self._tables.append((name, list(header), rows))
            links = (f' (<a href="{html.escape(name)}.csv">CSV</a>, '
                     f'<a href="{html.escape(name)}.json">JSON</a>)')
        caption = (f"<figcaption>{html.escape(caption or '')}{links}"
                   "</figcaption>" if caption or links else "")
        self._current().append(
            f"<figure><table><tr>{head}</tr>{body}</table>{caption}</figure>"
        )

    def figure(self, figure, caption, name=None, grid=False):
        """Adds a matplotlib figure (or PNG bytes) with a caption.

        Args:
            figure: a matplotlib figure (closed once rendered) or PNG bytes.
            caption: text under the figure.
            name: file name for the PNG copy written next to the report.
            grid: place consecutive `grid=True` figures side by side.
        """
        png = figure if isinstance(figure, bytes) else figure_to_png(figure)
        name = name or f"figure_{len(self._figures) + 1:02d}.png"
        self._figures.append((name, png))
        data = base64.b64encode(png).decode("ascii")
        block = (f'<figure><img alt="{html.escape(caption)}" '
                 f'src="data:image/png;base64,{data}"><figcaption>'
                 f"{html.escape(caption)}</figcaption></figure>")
        current = self._current()
        if grid and current and current[-1].startswith('<div class="grid">'):
            current[-1] = current[-1][:-len("</div>")] + block + "</div>"
        elif grid:
            current.append(f'<div class="grid">{block}</div>')
        else:
            current.append(block)

    def write(self, path):
        """Writes the HTML file and, beside it, a PNG copy of every figure
        and the CSV / JSON of every named table.

        Returns:
            The HTML file's path.
        """
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        for name, png in self._figures:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(png)
        for name, header, rows in self._tables:
            write_table(folder, name, header, rows)
        sections = "".join(
            "".join(parts) + "</section>" for parts in self._sections
        )
        subtitle = (f"<p>{html.escape(self.subtitle)}</p>"
                    if self.subtitle else "")
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        page = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, "
            "initial-scale=1'><link rel='icon' href='data:,'>"
            f"<title>{html.escape(self.title)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>{subtitle}</header>"
            f"<main>{sections}<footer>keras-zfnet report, {stamp}</footer>"
            "</main></body></html>"
        )
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        return path
