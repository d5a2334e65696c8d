"""Alembic environment of the benefits service (schema ``benefits``)."""

from alembic import context

from tuopin_benefits.models import metadata
from tuopin_shared.kit.migrations import run_env

run_env(context, metadata)
