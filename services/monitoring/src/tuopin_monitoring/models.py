"""Every table of the monitoring service, imported in one place for the migrations."""

from tuopin_monitoring.db import Base, audit_log

metadata = Base.metadata

__all__ = ["audit_log", "metadata"]
