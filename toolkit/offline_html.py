"""HTML copies of executed notebooks that read offline: formulas as MathML, and a note on what needs a network.

nbconvert's HTML leaves ``$...$`` for MathJax, which it loads from a CDN: offline, formulas show raw
(``BaSnO$_3$``). Here the Markdown cells' LaTeX becomes MathML (latex2mathml), which browsers draw
themselves. Interactive widgets (3D viewers, explorers) still load their JavaScript from CDNs;
:data:`NETWORK_NOTE` says so at the top of each copy, and every figure, table and formula is in the
file itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from latex2mathml.converter import convert

#: Shown at the top of every HTML copy.
NETWORK_NOTE = (
    '<div class="toolkit-offline-note" style="border:1px solid #c8a400;background:#fff8d6;padding:6px 10px;'
    'margin:8px 0;font:13px sans-serif">This is a static copy of an executed notebook. Its figures, tables and '
    "formulas are in the file and read offline. Its interactive widgets (3D viewers, explorers) load their "
    "JavaScript from the internet (cdn.jsdelivr.net, unpkg.com) and stay blank offline: open the notebook in "
    "JupyterLab (<code>make lab</code>) to use them.</div>"
)
_CODE_SPAN = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)


def latex_to_mathml(markdown: str) -> str:
    """``markdown`` with each ``$...$`` (inline) and ``$$...$$`` (display) formula replaced by MathML.

    Code spans are left alone, and so is a formula latex2mathml cannot read (it stays as written).
    """

    def formula(match: re.Match) -> str:
        display, inline = match.groups()
        try:
            return convert(display if display is not None else inline,
                           display="block" if display is not None else "inline")
        except Exception:  # latex2mathml raises many types on LaTeX it does not know; keep the text
            return match.group(0)

    parts = _CODE_SPAN.split(markdown)
    return "".join(part if k % 2 else _MATH.sub(formula, part) for k, part in enumerate(parts))


def export_html(notebook: str | Path, html: str | Path | None = None) -> Path:
    """Write ``notebook`` (an ``.ipynb``) as HTML beside it (or to ``html``): formulas as MathML and
    :data:`NETWORK_NOTE` at the top. Returns the HTML's path."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
    body, _ = HTMLExporter().from_notebook_node(nb)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + NETWORK_NOTE, body, count=1)
    html = notebook.with_suffix(".html") if html is None else Path(html)
    html.write_text(body, encoding="utf-8")
    return html
