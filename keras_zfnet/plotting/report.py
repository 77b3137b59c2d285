"""A self-contained HTML report: sections of text, key numbers, tables and
figures (PNG, embedded so the single file can be mailed or archived)."""

import base64
import datetime
import html
import io
import os

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0; background: #f6f7f9; color: #1d2330; }
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
figure img { max-width: 100%; border: 1px solid #e3e6ec; border-radius: 6px; }
figcaption { font-size: 13px; color: #56607a; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill,
        minmax(340px, 1fr)); gap: 12px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e3e6ec; padding: 5px 10px;
         text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f2f6; }
footer { color: #7a8296; font-size: 12px; text-align: center; }
"""


def figure_to_png(figure, dpi=100):
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class Report:
    """Builds an HTML report section by section.

    Args:
        title: the page title.
        subtitle: a line under the title.

    Example:

    >>> report = Report("MiniZFNet on Fashion-MNIST")
    >>> report.section("Accuracy", "Test accuracy of the preset.")
    >>> report.cards({"test accuracy": "91.6%"})
    >>> report.write("report/index.html")
    """

    def __init__(self, title, subtitle=None):
        self.title = title
        self.subtitle = subtitle
        self._sections = []
        self._figures = []

    def section(self, heading, text=None):
        """Starts a new section."""
        self._sections.append([f"<h2>{html.escape(heading)}</h2>"])
        if text:
            self._sections[-1].append(f'<p class="lead">{html.escape(text)}</p>')

    def _current(self):
        if not self._sections:
            self.section(self.title)
        return self._sections[-1]

    def cards(self, values):
        """Key numbers as large cards: `{label: value}`."""
        items = "".join(
            f'<div class="card"><div class="value">{html.escape(str(v))}'
            f'</div><div class="label">{html.escape(str(k))}</div></div>'
            for k, v in values.items()
        )
        self._current().append(f'<div class="cards">{items}</div>')

    def table(self, header, rows, caption=None):
        """A table of `rows` (sequences) under `header`."""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
            + "</tr>"
            for row in rows
        )
        caption = (f"<figcaption>{html.escape(caption)}</figcaption>"
                   if caption else "")
        self._current().append(
            f"<figure><table><tr>{head}</tr>{body}</table>{caption}</figure>"
        )

    def figure(self, figure, caption, name=None, grid=False):
        """Adds a matplotlib figure (or PNG bytes) with a caption.

        Args:
            figure: a matplotlib figure or PNG bytes.
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
        """Writes the HTML file and a PNG copy of every figure beside it.

        Returns:
            The HTML file's path.
        """
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        for name, png in self._figures:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(png)
        sections = "".join(
            "<section>" + "".join(parts) + "</section>"
            for parts in self._sections
        )
        subtitle = (f"<p>{html.escape(self.subtitle)}</p>"
                    if self.subtitle else "")
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>{subtitle}</header>"
            f"<main>{sections}<footer>keras-zfnet report, {stamp}</footer>"
            "</main></body></html>"
        )
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        return path
