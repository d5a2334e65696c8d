"""The monitoring schema: its ORM base and audit log."""

from tuopin_shared.kit.audit import audit_table
from tuopin_shared.kit.database import schema_base

SCHEMA = "monitoring"
Base = schema_base(SCHEMA)
audit_log = audit_table(Base.metadata)
