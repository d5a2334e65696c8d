"""The registry's schema: its ORM base, audit log and change outbox."""

from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from tuopin_shared.kit.audit import audit_table
from tuopin_shared.kit.database import schema_base

SCHEMA = "registry"
Base = schema_base(SCHEMA)
audit_log = audit_table(Base.metadata)

# Every write appends here in the same transaction: the change feed consumers follow.
change_event = Table(
    "change_event",
    Base.metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("entity", String(30), nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("payload", JSONB, nullable=False),
    # The writing transaction's id lets the feed hold back events of transactions
    # still in flight, so a consumer never skips one that commits late.
    Column("txid", String(30), nullable=False, server_default=text("pg_current_xact_id()::text")),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
