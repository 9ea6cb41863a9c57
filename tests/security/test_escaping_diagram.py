"""The path diagram cannot be hijacked by a label: DOT and SVG escaping.

Construct labels come from instrument files that staff upload. A label such as
``Boss", URL="https://phish.example/login", target="_blank"`` must stay a label: no
link, no tooltip, no extra attribute, and the diagram must still parse.

The DOT text is checked twice: by a small parser of the DOT language written here
(always: it reads quoted strings by the DOT rules and lists every attribute), and by
Graphviz's ``dot`` when it is installed (the SVG it renders must have no link and
must show the label's text).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from reports.diagram import MAX_LABEL, dot_string, path_diagram, path_svg

PHISH = 'Boss", URL="https://phish.example/login", target="_blank'
HOSTILE_LABELS = {
    "phishing": PHISH,
    "quotes": 'Manager "support"',
    "backslashes": "C:\\temp\\ \\N \\G \\L \\l\\",
    "trailing backslash": "ends in a backslash\\",
    "angle brackets": "<b>bold</b> <a href='https://phish.example'>x</a> <<html>>",
    "braces": "} ]; digraph evil { a -> b [URL=\"https://phish.example\"] } {",
    "newlines": "line one\nline two\r\nline three\rfour",
    "ampersand and quotes": "R&D's \"best\" & <worst>",
    "semicolons and equals": 'a; b=c; node [URL="https://phish.example"];',
    "controls": "bell\x07 esc\x1b[31m nul\x00 c1\x9b bidi\u202eevil",
}
PATHS = pd.DataFrame({"lhs": ["js", "csat"], "op": ["~", "~"], "rhs": ["ms", "js"], "est": [0.55, 0.08],
                      "pvalue": [0.001, 0.40], "ci_lower": [0.3, -0.1], "ci_upper": [0.8, 0.26]})


# --------------------------------------------------------------------------- a DOT reader


TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<str>"(?:\\.|[^"\\])*")|(?P<arrow>->|--)'
                   r"|(?P<id>[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))"
                   r"|(?P<punct>[{}\[\];,=:])", re.S)


def _tokens(dot: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(dot):
        match = TOKEN.match(dot, pos)
        assert match, f"DOT does not tokenise at {pos}: {dot[pos:pos + 40]!r}"
        pos = match.end()
        kind = match.lastgroup
        if kind:
            out.append((kind, match.group(kind)))
    return out


def _unquote(token: str) -> str:
    """The value of a DOT quoted string: only \\" is an escape of the language itself."""
    return token[1:-1].replace('\\"', '"')


def parse_dot(dot: str) -> dict:
    """Statements of our DOT subset: {'nodes': {id: attrs}, 'edges': [(a, b, attrs)], 'graph': [attrs]}."""
    tokens = _tokens(dot)
    assert tokens[:2] == [("id", "digraph"), ("id", "chain")] and tokens[2] == ("punct", "{"), tokens[:3]
    result: dict = {"nodes": {}, "edges": [], "graph": []}
    i, depth = 3, 1

    def value(tok: tuple[str, str]) -> str:
        assert tok[0] in ("str", "id"), tok
        return _unquote(tok[1]) if tok[0] == "str" else tok[1]

    def attrs(j: int) -> tuple[dict, int]:
        assert tokens[j] == ("punct", "["), tokens[j]
        found, j = {}, j + 1
        while tokens[j] != ("punct", "]"):
            key, eq, val = tokens[j], tokens[j + 1], tokens[j + 2]
            assert key[0] == "id" and eq == ("punct", "="), (key, eq)
            found[key[1]] = value(val)
            j += 3
            if tokens[j] in (("punct", ","), ("punct", ";")):
                j += 1
        return found, j + 1

    while depth:
        kind, text = tokens[i]
        if (kind, text) == ("punct", "}"):
            depth, i = depth - 1, i + 1
        elif (kind, text) == ("punct", ";"):
            i += 1
        elif (kind, text) == ("id", "subgraph"):
            assert tokens[i + 2] == ("punct", "{")
            depth, i = depth + 1, i + 3
        elif kind == "id" and text in ("graph", "node", "edge"):
            found, i = attrs(i + 1)
            result["graph"].append(found)
        elif tokens[i + 1] == ("punct", "="):
            result["graph"].append({text: value(tokens[i + 2])})
            i += 3
        elif tokens[i + 1][0] == "arrow":
            source, target = value(tokens[i]), value(tokens[i + 2])
            found, i = attrs(i + 3)
            result["edges"].append((source, target, found))
        else:
            name = value((kind, text))
            found, i = attrs(i + 1)
            result["nodes"][name] = found
    assert i == len(tokens), f"text after the graph: {tokens[i:i + 5]}"
    return result


def _graphviz_label(value: str) -> str:
    """What Graphviz draws for a label string: \\n is a line break, \\\\ a backslash."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nlr" else m.group(1), value)


def _expected(label: str) -> str:
    """The label as the diagram shows it: controls and bidi characters removed, one line."""
    from surveys.text import clean_text

    return " ".join(clean_text(label, multiline=False).split())


# --------------------------------------------------------------------------- DOT


@pytest.mark.parametrize("name", HOSTILE_LABELS, ids=list(HOSTILE_LABELS))
def test_hostile_labels_stay_labels_in_every_dot_position(name):
    label = HOSTILE_LABELS[name]
    paths = PATHS.assign(lhs=["js", label], rhs=[label, "js"])  # the label as a node id as well
    dot = path_diagram(paths, labels={"js": label, "ms": label, label: label}, r2={"js": 0.3, label: 0.2},
                       side=lambda n: "employee" if n != "js" else "customer", title=label)
    assert not re.search(r"\b(URL|href|tooltip|target)\s*=", _outside_strings(dot), re.I)
    tree = parse_dot(dot)
    allowed_node, allowed_edge = {"label", "fillcolor"}, {"label", "penwidth", "style", "color", "fontcolor"}
    assert tree["nodes"] and all(set(a) <= allowed_node for a in tree["nodes"].values())
    assert len(tree["edges"]) == 2 and all(set(a) <= allowed_edge for _, _, a in tree["edges"])
    shown = {_graphviz_label(a["label"]) for a in tree["nodes"].values()}
    assert f"{_expected(label)}\nR² = 0.30" in shown  # the label's text, whole, as one string
    ids = set(tree["nodes"])
    assert {a for a, _, _ in tree["edges"]} | {b for _, b, _ in tree["edges"]} == ids  # one id per node
    assert _unquote(dot_string(label)) in ids
    titles = [g["label"] for g in tree["graph"] if "label" in g]
    assert _graphviz_label(titles[0]) == _expected(label)


def _outside_strings(dot: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', dot)


def test_dot_string_escapes_by_the_dot_rules():
    assert dot_string('a"b') == '"a\\"b"'
    assert dot_string("a\\b") == '"a\\\\b"'
    assert dot_string("a\nb") == '"a\\nb"'
    assert dot_string("a\x00\x1b\x9bb") == '"ab"'
    assert dot_string("{<x>};=") == '"{<x>};="'


def test_long_labels_are_cut():
    dot = path_diagram(PATHS, labels={"ms": "x" * 5000})
    label = next(a["label"] for n, a in parse_dot(dot)["nodes"].items() if n == "ms")
    assert len(label) == MAX_LABEL and label.endswith("...")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", HOSTILE_LABELS, ids=list(HOSTILE_LABELS))
def test_graphviz_renders_hostile_labels_as_text_without_links(name):
    label = HOSTILE_LABELS[name]
    dot = path_diagram(PATHS, labels={"js": label, "ms": "Manager"}, title=label,
                       side=lambda n: "customer" if n == "csat" else "employee")
    done = subprocess.run(["dot", "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    svg = done.stdout.decode("utf-8")
    assert "phish.example" not in re.sub(r"<text[^>]*>.*?</text>", "", svg, flags=re.S)  # only as drawn text
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.endswith("}a")]
    assert not [k for el in root.iter() for k in el.attrib if k.endswith("href") or k == "target"]
    drawn = " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text"))
    for word in _expected(label).split():
        assert word in drawn, (word, drawn)


# --------------------------------------------------------------------------- SVG


@pytest.mark.parametrize("name", HOSTILE_LABELS, ids=list(HOSTILE_LABELS))
def test_svg_is_well_formed_xml_and_keeps_the_label_text(name):
    label = HOSTILE_LABELS[name]
    paths = PATHS.assign(lhs=["js", label], rhs=[label, "js"])
    svg = path_svg(paths, labels={"js": label, label: label}, r2={"js": 0.3})
    root = ET.fromstring(svg)  # raises on any unescaped < & or an XML-invalid character
    assert root.tag == "svg"
    assert not [el for el in root.iter() if el.tag in ("a", "script", "foreignObject", "image")]
    assert not [k for el in root.iter() for k in el.attrib if k.endswith("href") or k.startswith("on")]
    titles = [el.text for el in root.iter("title")]
    assert _expected(label) in titles
    drawn = " ".join(el.text or "" for el in root.iter("text"))
    first_word = _expected(label).split()[0]
    assert first_word[:20] in drawn
