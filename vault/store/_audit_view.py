"""``db.audit``: the read-only aggregates (``_audit``) and listings (``_listing``) behind
``vault.audit``, as one query object. Its own module so that ``Database`` loads it on first
use only (a restore never does)."""

from __future__ import annotations

from vault.store._audit import AuditQueries
from vault.store._listing import ListingQueries


class Audit(AuditQueries, ListingQueries):
    """``db.audit``: the aggregates and the listings."""
