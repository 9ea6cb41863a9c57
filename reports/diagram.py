"""The service-profit-chain path diagram as Graphviz DOT text (for ``st.graphviz_chart``).

The diagram draws the fitted unit-level paths of :class:`analysis.linkage.StudyResult`:
employee constructs on the left, customer outcomes and business KPIs on the right, each arrow labelled
with its standardized coefficient. Paths whose p-value is below ``alpha`` (or whose
interval excludes 0) are drawn solid and thick, the others thin and dashed, so a reader
sees at a glance which links the data support.

Every text put into the output is escaped for it: node labels come from instrument
files (construct labels), which staff may upload, so a label is data, never markup.

* DOT (:func:`path_diagram`): every id and label is one double-quoted DOT string
  (:func:`dot_string`): ``"`` and ``\\`` are backslash-escaped, so a label can neither
  end the string (``Boss", URL="https://..."`` stays text) nor use Graphviz's escape
  sequences (``\\N``, ``\\G``, ``\\l``); line breaks become the centred break ``\\n``.
  Braces, brackets, ``;``, ``=``, ``<`` and ``>`` need no escaping inside a quoted
  string. No ``URL``, ``href`` or ``tooltip`` attribute is ever written.
* SVG (:func:`path_svg`): text nodes and attribute values are XML-escaped
  (``& < > " '``), so the report's inline SVG stays well-formed XML.

Before escaping, labels are cleaned by :func:`surveys.text.clean_text` (one line: no
control, bidi or zero-width characters, which XML 1.0 forbids or which reorder what a
reader sees) and cut to :data:`MAX_LABEL` characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape as _xml_escape

import numpy as np
import pandas as pd

from surveys.text import clean_text

__all__ = ["MAX_LABEL", "dot_string", "path_diagram", "path_svg", "significant", "xml_text"]

SIDE_COLOURS = {"employee": "#dbe9f6", "customer": "#fdebd0", "business": "#dff0d8"}

#: Longest label drawn (longer ones end in "..."); construct labels are a few words.
MAX_LABEL = 120


def _label_text(text: object) -> str:
    """A label as one clean line of at most :data:`MAX_LABEL` characters."""
    line = " ".join(clean_text(str(text), multiline=False).split())
    return line if len(line) <= MAX_LABEL else line[:MAX_LABEL - 3].rstrip() + "..."


def dot_string(text: object) -> str:
    """``text`` as one double-quoted DOT string (the quotes included).

    Backslashes and double quotes are escaped (so Graphviz's ``\\N``-style escapes and
    the end of the string cannot be reached from the text); a newline becomes ``\\n``
    (Graphviz's centred line break); carriage returns and other control characters are
    dropped. Nothing else needs escaping inside a DOT quoted string.
    """
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            continue
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def xml_text(text: object) -> str:
    """``text`` escaped for an XML text node or a quoted attribute value (``& < > " '``)."""
    return _xml_escape(str(text), quote=True)




def significant(row: Mapping | pd.Series, *, alpha: float = 0.05) -> bool:
    """Whether a path is supported: p < alpha, or (without a p-value) its interval excludes 0."""
    p = row.get("pvalue", np.nan)
    if p is not None and np.isfinite(p):
        return bool(p < alpha)
    lo, hi = row.get("ci_lower", np.nan), row.get("ci_upper", np.nan)
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def path_diagram(paths: pd.DataFrame, *, r2: Mapping[str, float] | pd.Series | None = None,
                 side: Callable[[str], str] | None = None, labels: Mapping[str, str] | None = None,
                 alpha: float = 0.05, title: str = "") -> str:
    """Graphviz DOT source of a path model.

    Parameters
    ----------
    paths
        Regression paths in lavaan layout: ``lhs, op, rhs, est, pvalue`` (optionally
        ``ci_lower, ci_upper``); only ``op == "~"`` rows are drawn, as ``rhs -> lhs``.
        ``est`` should be the standardized coefficient.
    r2
        R² per endogenous node, printed under its name.
    side
        Maps a node to ``"employee"``, ``"customer"`` or ``"business"`` (``Study.side``); nodes are
        grouped and coloured by side.
    labels
        Display names of the nodes.
    alpha
        Significance level for drawing a path solid.

    Returns
    -------
    str
        DOT text (``digraph``), left to right.
    """
    edges = paths[paths["op"] == "~"] if "op" in paths else paths
    nodes = list(dict.fromkeys([*edges["rhs"], *edges["lhs"]]))
    r2 = dict(r2) if r2 is not None else {}
    lines = ["digraph chain {", "  rankdir=LR;", '  graph [fontname="Helvetica", nodesep=0.35, ranksep=0.9];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#eeeeee"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    if title:
        lines.append(f"  label={dot_string(_label_text(title))}; labelloc=t;")

    def node_line(node: str) -> str:
        name = _label_text(labels.get(node, node) if labels else node)
        value = r2.get(node)
        text = f"{name}\nR² = {value:.2f}" if value is not None and np.isfinite(value) else name
        colour = SIDE_COLOURS.get(side(node), "#eeeeee") if side else "#eeeeee"
        return f'    {dot_string(node)} [label={dot_string(text)}, fillcolor={dot_string(colour)}];'

    if side:
        clusters = {"employee": "Employees", "customer": "Customers", "business": "Business results"}
        for which, title in clusters.items():
            members = [n for n in nodes if side(n) == which]
            if members:
                lines.append(f"  subgraph cluster_{which} {{")
                lines.append(f'    label="{title}"; style=dashed; color="#999999";')
                lines.extend(node_line(n) for n in members)
                lines.append("  }")
        lines.extend("  " + node_line(n).strip() for n in nodes if side(n) not in clusters)
    else:
        lines.extend("  " + node_line(n).strip() for n in nodes)
    for _, row in edges.iterrows():
        est = float(row["est"])
        strong = significant(row, alpha=alpha)
        width = 1.0 + 3.0 * min(abs(est), 1.0) if strong else 1.0
        style = "solid" if strong else "dashed"
        colour = "#1f5f99" if strong else "#9aa5b1"
        stars = "*" if strong else ""
        label = dot_string(f"{est:.2f}{stars}")
        lines.append(f'  {dot_string(row["rhs"])} -> {dot_string(row["lhs"])} [label={label}, '
                     f'penwidth={width:.1f}, style={style}, color="{colour}", fontcolor="{colour}"];')
    lines.append("}")
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """Split a label into at most two lines at a space near ``width`` characters
    (each line cut with "..." beyond ``width + 6``; the box's tooltip has the whole label)."""
    def cut_to(line: str) -> str:
        return line if len(line) <= width + 6 else line[:width + 3].rstrip() + "..."

    if len(text) <= width or " " not in text:
        return [cut_to(text)]
    cut = max((i for i, ch in enumerate(text) if ch == " " and i <= width), default=text.index(" "))
    return [cut_to(text[:cut]), cut_to(text[cut + 1:])]


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of each node from the sources (the path model is acyclic)."""
    depth = dict.fromkeys(nodes, 0)
    for _ in nodes:
        changed = False
        for source, target in edges:
            if depth[target] < depth[source] + 1:
                depth[target] = depth[source] + 1
                changed = True
        if not changed:
            break
    return depth


def path_svg(paths: pd.DataFrame, *, r2: Mapping[str, float] | pd.Series | None = None,
             side: Callable[[str], str] | None = None, labels: Mapping[str, str] | None = None,
             alpha: float = 0.05) -> str:
    """The same diagram as :func:`path_diagram`, laid out in layers as inline SVG.

    For the self-contained HTML report, which cannot run Graphviz: nodes are placed in
    columns by their longest distance from an exogenous node, edges are straight
    arrows; significant paths solid and thick, the others thin and dashed.
    """
    edges = paths[paths["op"] == "~"] if "op" in paths else paths
    nodes = list(dict.fromkeys([*edges["rhs"], *edges["lhs"]]))
    depth = _layers(nodes, list(zip(edges["rhs"], edges["lhs"], strict=True)))
    columns: dict[int, list[str]] = {}
    for node in nodes:
        columns.setdefault(depth[node], []).append(node)
    r2 = dict(r2) if r2 is not None else {}
    box_w, box_h, gap_x, gap_y = 132, 50, 58, 24
    height = max(len(c) for c in columns.values()) * (box_h + gap_y) + gap_y
    width = len(columns) * (box_w + gap_x) + gap_x // 2
    pos = {}
    for d, members in columns.items():
        top = (height - len(members) * (box_h + gap_y) + gap_y) / 2
        for k, node in enumerate(members):
            pos[node] = (gap_x // 4 + d * (box_w + gap_x), top + k * (box_h + gap_y))
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="Path diagram of the service-profit chain" font-family="Helvetica, Arial, '
           'sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
           'markerUnits="userSpaceOnUse" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for _, row in edges.iterrows():
        (x1, y1), (x2, y2) = pos[row["rhs"]], pos[row["lhs"]]
        x1, y1, x2, y2 = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
        strong = significant(row, alpha=alpha)
        est = float(row["est"])
        stroke = "#1f5f99" if strong else "#9aa5b1"
        width_px = 1.0 + 3.0 * min(abs(est), 1.0) if strong else 1.0
        dash = "" if strong else ' stroke-dasharray="5,4"'
        out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{stroke}" '
                   f'stroke-width="{width_px:.1f}"{dash} marker-end="url(#arrow)"/>')
        mx, my = x1 + 0.5 * (x2 - x1), y1 + 0.5 * (y2 - y1) - 3
        out.append(f'<text x="{mx:.0f}" y="{my:.0f}" fill="{stroke}" text-anchor="middle" stroke="white" '
                   'stroke-width="3" paint-order="stroke" '
                   f'font-weight="{"bold" if strong else "normal"}">{est:.2f}{"*" if strong else ""}</text>')
    for node, (x, y) in pos.items():
        fill = SIDE_COLOURS.get(side(node), "#eeeeee") if side else "#eeeeee"
        name = _label_text(labels.get(node, node) if labels else node)
        value = r2.get(node)
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="8" fill="{xml_text(fill)}" '
                   'stroke="#777"><title>' + xml_text(name) + '</title></rect>')
        lines = _wrap(name, 19)
        if value is not None and np.isfinite(value):
            lines.append(f"R² = {value:.2f}")
        top = y + box_h / 2 - 7 * (len(lines) - 1) + 4
        for k, line in enumerate(lines):
            colour = ' fill="#555"' if line.startswith("R² = ") else ""
            out.append(f'<text x="{x + box_w / 2:.0f}" y="{top + 14 * k:.0f}" text-anchor="middle"{colour}>'
                       f"{xml_text(line)}</text>")
    out.append("</svg>")
    return "\n".join(out)
