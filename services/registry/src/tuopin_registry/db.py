"""The registry's schema: its ORM base, audit log and change outbox."""

from sqlalchemy import (
    CHAR,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    func,
    text,
)
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
    # The household's division, so the feed is scoped like every other read.
    Column("division_code", CHAR(12), nullable=False),
    Column("entity", String(30), nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("payload", JSONB, nullable=False),
    # The writing transaction's id. The feed is ordered by (txid, seq) and serves
    # only transactions older than every one still running, so an event that
    # commits late can never land behind a consumer's position.
    Column(
        "txid",
        BigInteger,
        nullable=False,
        server_default=text("(pg_current_xact_id()::text)::bigint"),
    ),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_change_event_txid_seq", "txid", "seq"),
)
