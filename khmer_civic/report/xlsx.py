"""The report's tables as an XLSX workbook: one sheet per table, the same figures as the page.

Cells follow the rules of ``label``'s XLSX output (:func:`khmer_civic.io.writers.xlsx_cell`):
text is stored as text, never as a formula (a comment that starts with ``=`` stays a string),
control characters are dropped and over-long cells cut with a mark. Shares stay numbers in
[0, 1] with a percentage format; headings are in the report's language.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from khmer_civic.io.checkpoint import write_atomically
from khmer_civic.io.writers import xlsx_cell, xlsx_text_cell
from khmer_civic.report.i18n import header
from khmer_civic.report.tables import Report, Table

SHEET_NAME_LIMIT = 31  # Excel's limit on a sheet name


def _cell(sheet: Any, value: Any, column: str) -> Any:
    value = xlsx_cell(value)
    if isinstance(value, float) and column.endswith(("_share", "_rate")):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "0.0%"
        return cell
    return xlsx_text_cell(sheet, value)  # '=...' and '#N/A' stay text, as in label's XLSX output


def _sheet_title(table: Table, used: set[str]) -> str:
    base = table.name[:SHEET_NAME_LIMIT]
    title, k = base, 1
    while title in used:
        k += 1
        suffix = f"_{k}"
        title = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix
    used.add(title)
    return title


def write_xlsx(report: Report, path: str | Path, lang: str = "en") -> list[str]:
    """Write every table of ``report`` to ``path`` (through a temporary file); returns the sheet names."""
    from openpyxl import Workbook

    path = Path(path)
    book = Workbook(write_only=True)
    used: set[str] = set()
    titles: list[str] = []
    for table in report.tables():
        titles.append(_sheet_title(table, used))
        sheet = book.create_sheet(titles[-1])
        sheet.append([_cell(sheet, header(c, lang), "") for c in table.columns])
        for row in table.rows:
            sheet.append([_cell(sheet, value, column) for column, value in zip(table.columns, row)])
    buffer = io.BytesIO()  # a few small tables: built in memory, written as the page is
    book.save(buffer)
    write_atomically(path, buffer.getvalue())
    return titles
