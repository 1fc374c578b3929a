"""Audit views: entity counts per job, per type and per status, without a key.

Everything here but ``summarize`` is pure: it works on ``JobInfo`` lists (the plaintext
metadata the custodian keeps for audit on purpose) and, for the deep cross-check, on one
decrypted ``JobContent`` at a time. ``summarize`` asks the store for the same totals added up
inside SQLite, so a totals-only audit of a large vault builds no object per job. The CLI
fetches the rows and renders; a pipeline can call the same functions.

Design choices (documented for users in ``docs/audit.md``):

- A job's *audit time* is when it entered the archive: ``archived_at``, else (never archived:
  pending, failed, expired) ``fetched_at``, ``submitted_at`` or ``created_at``, the first known.
  ``--since`` is inclusive, ``--until`` exclusive; a date without a time given to ``--until``
  covers that whole day. Times are UTC; relative times (``30d``, ``12h``, ``2w``, ``45m``)
  count back from now.
- Reports name placeholders and counts, never an original value: the cross-check lists
  placeholders such as ``[PERSON_NAME_1]``, which the service made and which carry no PII.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use: listing jobs must not load the deep check's document readers.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CSV_FIXED_COLUMNS": "vault.audit._render",
        "Column": "vault.audit._table",
        "Table": "vault.audit._table",
        "TEXT_FILE_TYPES": "vault.audit._crosscheck",
        "audit_time": "vault.audit._times",
        "build_audit": "vault.audit._totals",
        "cross_check": "vault.audit._crosscheck",
        "cross_check_lines": "vault.audit._crosscheck",
        "cross_check_to_dict": "vault.audit._crosscheck",
        "csv_rows": "vault.audit._render",
        "csv_text": "vault.audit._render",
        "fast_listing": "vault.audit._listing",
        "html_report": "vault.audit._html",
        "iso_time": "vault.audit._times",
        "job_to_dict": "vault.audit._render",
        "json_document": "vault.audit._render",
        "list_audit": "vault.audit._totals",
        "load_audit": "vault.audit._totals",
        "parse_when": "vault.audit._times",
        "time_window": "vault.audit._times",
        "placeholder_type": "vault.placeholders",
        "report_to_dict": "vault.audit._render",
        "short_time": "vault.audit._times",
        "summarize": "vault.audit._totals",
        "table_lines": "vault.audit._render",
        "totals_from_rows": "vault.audit._totals",
        "AuditListing": "vault.audit._totals",
        "AuditQuery": "vault.audit._totals",
        "AuditReport": "vault.audit._totals",
        "AuditTotals": "vault.audit._totals",
        "CrossCheck": "vault.audit._crosscheck",
    },
)

if TYPE_CHECKING:
    from vault.audit._crosscheck import (
        TEXT_FILE_TYPES,
        CrossCheck,
        cross_check,
        cross_check_lines,
        cross_check_to_dict,
    )
    from vault.audit._html import html_report
    from vault.audit._listing import fast_listing
    from vault.audit._render import (
        CSV_FIXED_COLUMNS,
        csv_rows,
        csv_text,
        job_to_dict,
        json_document,
        report_to_dict,
        table_lines,
    )
    from vault.audit._table import Column, Table
    from vault.audit._times import audit_time, iso_time, parse_when, short_time, time_window
    from vault.audit._totals import (
        AuditListing,
        AuditQuery,
        AuditReport,
        AuditTotals,
        build_audit,
        list_audit,
        load_audit,
        summarize,
        totals_from_rows,
    )
    from vault.placeholders import placeholder_type

__all__ = [
    "CSV_FIXED_COLUMNS",
    "TEXT_FILE_TYPES",
    "AuditListing",
    "AuditQuery",
    "AuditReport",
    "AuditTotals",
    "Column",
    "CrossCheck",
    "Table",
    "audit_time",
    "build_audit",
    "cross_check",
    "cross_check_lines",
    "cross_check_to_dict",
    "csv_rows",
    "csv_text",
    "fast_listing",
    "html_report",
    "iso_time",
    "job_to_dict",
    "json_document",
    "list_audit",
    "load_audit",
    "parse_when",
    "placeholder_type",
    "report_to_dict",
    "short_time",
    "summarize",
    "table_lines",
    "time_window",
    "totals_from_rows",
]
