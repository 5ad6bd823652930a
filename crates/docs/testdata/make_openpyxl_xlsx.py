"""Writes openpyxl.xlsx, the fixture of xlsx_io's interop test: a workbook written by
another library (openpyxl, PyPI), with text, numbers, a formula, a gap and a second sheet.
Run once with `python3 make_openpyxl_xlsx.py`; the test reads the committed file."""

from openpyxl import Workbook

wb = Workbook()
ws = wb.active
ws.title = "Prices"
ws["A1"] = "item"
ws["B1"] = "price"
ws["A2"] = "tea"
ws["B2"] = 2.5
ws["A3"] = "cake"
ws["B3"] = 4
ws["A5"] = "total"
ws["B5"] = "=SUM(B2:B3)*2"
ws["D1"] = "note, with comma"
other = wb.create_sheet("Other")
other["A1"] = "ignored"
wb.save("openpyxl.xlsx")
