"""plans, targets, progress reports, the registry projection, snapshots and alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:17:25.871363
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessment",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("all_met", sa.Boolean(), nullable=False),
        sa.Column("unmet", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("housing_grade", sa.CHAR(length=1), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_assessment_household_id_assessed_on"),
        "assessment",
        ["household_id", "assessed_on"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "household",
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("registered_year", sa.Integer(), nullable=True),
        sa.Column("lifted_out_year", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_household")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_household_division_code"),
        "household",
        ["division_code"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "household_income",
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("net_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("per_capita_net_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("household_id", "year", name=op.f("pk_household_income")),
        schema="monitoring",
    )
    op.create_table(
        "household_status",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_status")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_household_status_household_id_effective_on"),
        "household_status",
        ["household_id", "effective_on"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "person",
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.Column("labour_capacity", sa.String(length=20), nullable=False),
        sa.Column("employment_status", sa.String(length=20), nullable=False),
        sa.Column("months_worked", sa.SmallInteger(), nullable=False),
        sa.Column("health_status", sa.String(length=20), nullable=False),
        sa.Column("disability_grade", sa.SmallInteger(), nullable=True),
        sa.Column("school_stage", sa.String(length=30), nullable=False),
        sa.Column("school_exempt", sa.Boolean(), nullable=False),
        sa.Column("basic_medical_insured", sa.Boolean(), nullable=False),
        sa.Column("critical_illness_insured", sa.Boolean(), nullable=False),
        sa.Column("health_worsened_on", sa.Date(), nullable=True),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_person")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_person_household_id"),
        "person",
        ["household_id"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "plan",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("district_code", sa.CHAR(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "sources", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("district_code", "year", name=op.f("uq_plan_district_code_year")),
        schema="monitoring",
    )
    op.create_table(
        "sync_state",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Text(), server_default="0", nullable=False),
        sa.Column("events_applied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_sync_state")),
        schema="monitoring",
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=15), server_default="open", nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "rule IN ('income_below_line', 'income_below_monitoring_line', 'income_drop', 'medical_spending', 'new_disability_or_illness', 'school_dropout', 'unsafe_housing', 'no_employed_member')",
            name=op.f("ck_alert_rule"),
        ),
        sa.CheckConstraint("severity IN ('high', 'medium', 'low')", name=op.f("ck_alert_severity")),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'assigned', 'resolved', 'dismissed')",
            name=op.f("ck_alert_status"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["monitoring.plan.id"], name=op.f("fk_alert_plan_id_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_alert_division_code_id"),
        "alert",
        ["division_code", "id"],
        unique=False,
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_alert_household_id_rule_fingerprint"),
        "alert",
        ["household_id", "rule", "fingerprint"],
        unique=False,
        schema="monitoring",
    )
    op.create_index(
        "uq_alert_open_household_rule",
        "alert",
        ["household_id", "rule"],
        unique=True,
        schema="monitoring",
        postgresql_where=sa.text("status IN ('open', 'acknowledged', 'assigned')"),
    )
    op.create_table(
        "snapshot",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("district_code", sa.CHAR(length=12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "taken_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("taken_by", sa.String(length=200), nullable=False),
        sa.Column("feed_position", sa.Text(), nullable=False),
        sa.Column("projection_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("values_count", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["monitoring.plan.id"], name=op.f("fk_snapshot_plan_id_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_snapshot_plan_id_as_of_id"),
        "snapshot",
        ["plan_id", "as_of", "id"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "target",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("indicator", sa.String(length=80), nullable=False),
        sa.Column("measurement", sa.String(length=10), nullable=False),
        sa.Column("comparator", sa.String(length=2), nullable=False),
        sa.Column("figure", sa.Numeric(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.CHAR(length=12), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("baseline", sa.Numeric(), nullable=True),
        sa.Column("additive", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("expected_progress", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("comparator IN ('>=', '<=', '=')", name=op.f("ck_target_comparator")),
        sa.CheckConstraint(
            "measurement IN ('computed', 'reported')", name=op.f("ck_target_measurement")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["monitoring.plan.id"], name=op.f("fk_target_plan_id_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target")),
        sa.UniqueConstraint("plan_id", "code", name=op.f("uq_target_plan_id_code")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_target_plan_id"), "target", ["plan_id"], unique=False, schema="monitoring"
    )
    op.create_table(
        "alert_action",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=15), nullable=True),
        sa.Column("to_status", sa.String(length=15), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["monitoring.alert.id"], name=op.f("fk_alert_action_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_action")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_alert_action_alert_id"),
        "alert_action",
        ["alert_id"],
        unique=False,
        schema="monitoring",
    )
    op.create_table(
        "progress_report",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("reporter_name", sa.String(length=200), nullable=True),
        sa.Column("corrects", sa.BigInteger(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_progress_report_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["corrects"],
            ["monitoring.progress_report.id"],
            name=op.f("fk_progress_report_corrects_progress_report"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["monitoring.target.id"],
            name=op.f("fk_progress_report_target_id_target"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_report")),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_progress_report_target_id_division_code_reported_on_id"),
        "progress_report",
        ["target_id", "division_code", "reported_on", "id"],
        unique=False,
        schema="monitoring",
    )
    # Progress reports are history: a correction is a new report, never an edit.
    op.execute(
        """
CREATE OR REPLACE FUNCTION monitoring.refuse_report_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'progress reports are never changed; file a correcting report';
END;
$$ LANGUAGE plpgsql
"""
    )
    op.execute(
        """
CREATE TRIGGER progress_report_append_only BEFORE UPDATE OR DELETE ON monitoring.progress_report
FOR EACH ROW EXECUTE FUNCTION monitoring.refuse_report_change()
"""
    )
    op.create_table(
        "snapshot_value",
        sa.Column("snapshot_id", sa.BigInteger(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("indicator", sa.String(length=80), nullable=False),
        sa.Column("parent_code", sa.CHAR(length=12), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("numerator", sa.Numeric(), nullable=False),
        sa.Column("denominator", sa.Numeric(), nullable=True),
        sa.Column("value", sa.Numeric(), nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["monitoring.snapshot.id"],
            name=op.f("fk_snapshot_value_snapshot_id_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "division_code", "indicator", name=op.f("pk_snapshot_value")
        ),
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_snapshot_value_division_code_indicator_snapshot_id"),
        "snapshot_value",
        ["division_code", "indicator", "snapshot_id"],
        unique=False,
        schema="monitoring",
    )
    op.create_index(
        op.f("ix_snapshot_value_snapshot_id_parent_code_indicator"),
        "snapshot_value",
        ["snapshot_id", "parent_code", "indicator"],
        unique=False,
        schema="monitoring",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_snapshot_value_snapshot_id_parent_code_indicator"),
        table_name="snapshot_value",
        schema="monitoring",
    )
    op.drop_index(
        op.f("ix_snapshot_value_division_code_indicator_snapshot_id"),
        table_name="snapshot_value",
        schema="monitoring",
    )
    op.drop_table("snapshot_value", schema="monitoring")
    op.drop_index(
        op.f("ix_progress_report_target_id_division_code_reported_on_id"),
        table_name="progress_report",
        schema="monitoring",
    )
    op.drop_table("progress_report", schema="monitoring")
    op.execute("DROP FUNCTION monitoring.refuse_report_change()")
    op.drop_index(op.f("ix_alert_action_alert_id"), table_name="alert_action", schema="monitoring")
    op.drop_table("alert_action", schema="monitoring")
    op.drop_index(op.f("ix_target_plan_id"), table_name="target", schema="monitoring")
    op.drop_table("target", schema="monitoring")
    op.drop_index(op.f("ix_snapshot_plan_id_as_of_id"), table_name="snapshot", schema="monitoring")
    op.drop_table("snapshot", schema="monitoring")
    op.drop_index(
        "uq_alert_open_household_rule",
        table_name="alert",
        schema="monitoring",
        postgresql_where=sa.text("status IN ('open', 'acknowledged', 'assigned')"),
    )
    op.drop_index(
        op.f("ix_alert_household_id_rule_fingerprint"), table_name="alert", schema="monitoring"
    )
    op.drop_index(op.f("ix_alert_division_code_id"), table_name="alert", schema="monitoring")
    op.drop_table("alert", schema="monitoring")
    op.drop_table("sync_state", schema="monitoring")
    op.drop_table("plan", schema="monitoring")
    op.drop_index(op.f("ix_person_household_id"), table_name="person", schema="monitoring")
    op.drop_table("person", schema="monitoring")
    op.drop_index(
        op.f("ix_household_status_household_id_effective_on"),
        table_name="household_status",
        schema="monitoring",
    )
    op.drop_table("household_status", schema="monitoring")
    op.drop_table("household_income", schema="monitoring")
    op.drop_index(op.f("ix_household_division_code"), table_name="household", schema="monitoring")
    op.drop_table("household", schema="monitoring")
    op.drop_index(
        op.f("ix_assessment_household_id_assessed_on"), table_name="assessment", schema="monitoring"
    )
    op.drop_table("assessment", schema="monitoring")
