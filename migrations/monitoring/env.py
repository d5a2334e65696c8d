"""Alembic environment of the monitoring service (schema ``monitoring``)."""

from alembic import context

from tuopin_monitoring.models import metadata
from tuopin_shared.kit.migrations import run_env

run_env(context, metadata)
