"""Every table of the benefits service, imported in one place for the migrations."""

from tuopin_benefits.db import Base, audit_log

metadata = Base.metadata

__all__ = ["audit_log", "metadata"]
