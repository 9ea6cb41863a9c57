"""Generators of hostile input files, shared by the tests and ``bench/bench_inputs.py``.

Nothing here is committed as a file: every hostile input is made when needed (a
1 MiB instrument, a 6-million-cell workbook, a zip bomb), quickly.
"""

from __future__ import annotations

import io
import zipfile


def many_questions_instrument(questions: int = 9_000, constructs: int = 3_000) -> str:
    """A syntactically valid instrument of about 1 MiB: ``questions`` likert questions and
    ``constructs`` constructs whose items do not exist (each a "did you mean" search)."""
    out = ["id: hostile", 'version: "1.0"', "title: {en: Hostile, de: Feindlich}", "audience: employee",
           "languages: [en, de]", "scales:", "  agree5:", "    points:"]
    out += [f"      - {{value: {v}, label: {{en: P{v}, de: P{v}}}}}" for v in range(1, 6)]
    out += ["pages:", "  - id: p1", "    questions:",
            "      - {id: team, type: unit, source: invitation, text: {en: Team, de: Team}}"]
    out += [f"      - {{id: q_{i:05d}, type: likert, scale: agree5, text: {{en: Question {i}, de: Frage {i}}}}}"
            for i in range(questions)]
    out.append("constructs:")
    out += [f"  - {{id: c_{c:05d}, label: {{en: C{c}, de: K{c}}}, items: [x_{c:05d}a, y_{c:05d}b, z_{c:05d}c]}}"
            for c in range(constructs)]
    return "\n".join(out) + "\n"


def many_units_instrument(units: int = 30_000) -> str:
    """A syntactically valid instrument without aliases listing ``units`` units (about 1.8 MiB)."""
    out = ["id: hostile", 'version: "1.0"', "title: {en: Hostile, de: Feindlich}", "audience: employee",
           "languages: [en, de]", "units:"]
    out += [f"  - {{id: u_{i:05d}, label: {{en: Unit {i}, de: Einheit {i}}}}}" for i in range(units)]
    out += ["pages:", "  - id: p1", "    questions:", "      - {id: team, type: unit, text: {en: Team, de: Team}}"]
    return "\n".join(out) + "\n"


def big_xlsx(rows: int = 100_000, columns: int = 60, *, dimension: str | None = "true") -> bytes:
    """A small .xlsx file holding ``rows`` x ``columns`` numeric cells (6 million by default, ~0.5 MB).

    Written directly as SpreadsheetML with identical rows (cell references are optional),
    so it compresses about 1000:1 and is made in about a second. ``dimension``:
    ``"true"`` writes the real ``<dimension>``, ``None`` none, any other text is
    written as the (lying) dimension, e.g. ``"A1"``.
    """
    def column(index: int) -> str:
        name = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        return name

    ref = f"A1:{column(columns - 1)}{rows}" if dimension == "true" else dimension
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + (f'<dimension ref="{ref}"/>'.encode() if ref else b"") + b"<sheetData>")
    header = "".join(f'<c t="inlineStr"><is><t>v{j}</t></is></c>' for j in range(columns))
    row = ("<row>" + "".join(f"<c><v>{j % 5 + 1}</v></c>" for j in range(columns)) + "</row>").encode()
    out = io.BytesIO()
    template = _xlsx({"xl/worksheets/sheet1.xml": b""})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        with zipfile.ZipFile(io.BytesIO(template)) as base:
            for info in base.infolist():
                if info.filename != "xl/worksheets/sheet1.xml":
                    archive.writestr(info.filename, base.read(info.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(head + f"<row>{header}</row>".encode())
            chunk = row * 1_000
            for _ in range((rows - 1) // 1_000):
                member.write(chunk)
            member.write(row * ((rows - 1) % 1_000))
            member.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _xlsx(sheets: dict[str, bytes], *, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook zip around the given sheet XML parts."""
    names = list(sheets)
    content_types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                     '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                     'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.spreadsheetml.sheet.main+xml"/>'
                     + "".join(f'<Override PartName="/{n}" ContentType="application/vnd.openxmlformats-'
                               'officedocument.spreadsheetml.worksheet+xml"/>' for n in names) + "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
                'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                'relationships"><sheets>'
                + "".join(f'<sheet name="Sheet{i + 1}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                          for i in range(len(names)))
                + "</sheets></workbook>")
    workbook_rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                     'package/2006/relationships">'
                     + "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/'
                               f'2006/relationships/worksheet" Target="/{n}"/>' for i, n in enumerate(names))
                     + "</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        for name, data in sheets.items():
            archive.writestr(name, data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def zip_bomb_xlsx(uncompressed_mb: int = 1_000) -> bytes:
    """A workbook whose sheet inflates to ``uncompressed_mb`` MB (a zip bomb, about 1 MB on disk)
    while the sheet's dimension claims one cell."""
    sheet = io.BytesIO()
    prefix = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><dimension ref="A1"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
              b"</sheetData>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        small = _xlsx({"xl/worksheets/sheet1.xml": prefix + b"</worksheet>"})
        with zipfile.ZipFile(io.BytesIO(small)) as template:
            for info in template.infolist():
                if info.filename != "xl/worksheets/sheet1.xml":
                    archive.writestr(info.filename, template.read(info.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(prefix)
            block = b" " * (1024 * 1024)
            for _ in range(uncompressed_mb):
                member.write(block)
            member.write(b"</worksheet>")
    del sheet
    return out.getvalue()
