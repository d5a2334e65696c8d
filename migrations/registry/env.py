"""Alembic environment of the registry service (schema ``registry``)."""

from alembic import context

from tuopin_registry.models import metadata
from tuopin_shared.kit.migrations import run_env

run_env(context, metadata)
