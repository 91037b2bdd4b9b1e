"""The audit log: an append-only, hash-chained record of who did what (see docs/audit.md)."""
