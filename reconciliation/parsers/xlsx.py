"""Rows of an XLSX workbook's first sheet, read as a stream (no dependency: an XLSX is a
ZIP of XML). Only the shared-strings table is held in memory; rows come one at a time.
Cells are strings or None (empty); a number cell comes as a NumberCell (its text, never
a float) so the caller can refuse it: spreadsheets keep numbers as binary floats."""

import zipfile
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import iterparse

from reconciliation.parsers.base import StatementInvalid


class NumberCell(str):
    """A cell the spreadsheet stored as a number."""


NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def is_zip(stream: BinaryIO) -> bool:
    start = stream.read(4)
    stream.seek(0)
    return start == b"PK\x03\x04"


def _column(ref: str) -> int:
    index = 0
    for char in ref:
        if not char.isalpha():
            break
        index = index * 26 + ord(char.upper()) - 64
    return index - 1


def _shared(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings = []
    with archive.open("xl/sharedStrings.xml") as xml:
        for _, node in iterparse(xml):  # noqa: S314 (expat ≥ 2.4 refuses entity bombs; no external entities)
            if node.tag == f"{NS}si":
                strings.append("".join(t.text or "" for t in node.iter(f"{NS}t")))
                node.clear()
    return strings


def rows(stream: BinaryIO) -> Iterator[tuple[int, list[str | None]]]:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise StatementInvalid("The file is neither CSV nor a readable XLSX workbook.") from None
    with archive:
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            raise StatementInvalid("The workbook has no sheet.")
        shared = _shared(archive)
        with archive.open(sheets[0]) as xml:
            for _, node in iterparse(xml):  # noqa: S314 (expat ≥ 2.4 refuses entity bombs; no external entities)
                if node.tag != f"{NS}row":
                    continue
                cells: list[str | None] = []
                for c in node.iter(f"{NS}c"):
                    position = _column(c.get("r", "")) if c.get("r") else len(cells)
                    cells.extend([None] * (position - len(cells)))
                    kind, value = c.get("t"), c.find(f"{NS}v")
                    if kind == "s" and value is not None:
                        cells.append(shared[int(value.text or 0)])
                    elif kind == "inlineStr":
                        cells.append("".join(t.text or "" for t in c.iter(f"{NS}t")))
                    elif kind == "str" or kind == "b":
                        cells.append(value.text if value is not None else None)
                    elif value is not None and value.text:
                        cells.append(NumberCell(value.text))
                    else:
                        cells.append(None)
                yield int(node.get("r", "0")), cells
                node.clear()
