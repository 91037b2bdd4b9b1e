"""Every table of the center, imported in one place for Alembic and the schema tests.

A domain that adds tables imports its models module here.
"""

from __future__ import annotations

import server.access.models
import server.audit.models
import server.auth.models
import server.bcl.models
import server.counter.models
import server.issuance.models
import server.koseki.models
import server.municipal.models
import server.settlement.models
import server.verify.models  # noqa: F401 (each import registers tables)
from server.db.models import ALL_TABLES

METADATA = ALL_TABLES
