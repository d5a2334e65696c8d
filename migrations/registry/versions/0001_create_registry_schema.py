"""create the registry schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 19:13:34.149638
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="registry",
    )
    # The audit log is append-only, enforced by the database.
    op.execute(
        """
CREATE OR REPLACE FUNCTION registry.refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql
"""
    )
    op.execute(
        """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON registry.audit_log
FOR EACH ROW EXECUTE FUNCTION registry.refuse_change()
"""
    )
    op.create_table(
        "change_event",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change_event")),
        schema="registry",
    )
    op.create_index(
        "ix_change_event_txid_seq", "change_event", ["txid", "seq"], unique=False, schema="registry"
    )
    op.create_table(
        "division",
        sa.Column("code", sa.CHAR(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.CHAR(length=12), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f("ck_division_code_digits")),
        sa.CheckConstraint(
            "level IN ('province', 'city', 'county', 'town', 'village')",
            name=op.f("ck_division_level"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["registry.division.code"],
            name=op.f("fk_division_parent_code_division"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_division")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_division_parent_code"),
        "division",
        ["parent_code"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "household",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("main_poverty_cause", sa.String(length=30), nullable=True),
        sa.Column("registered_year", sa.Integer(), nullable=True),
        sa.Column("lifted_out_year", sa.Integer(), nullable=True),
        sa.Column("water_short_area", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "main_poverty_cause IS NULL OR main_poverty_cause IN ('illness', 'disability', 'lack_of_education', 'disaster', 'lack_of_land', 'lack_of_water', 'lack_of_skills', 'lack_of_labour', 'lack_of_funds', 'poor_transport', 'lack_of_motivation', 'other')",
            name=op.f("ck_household_main_poverty_cause"),
        ),
        sa.CheckConstraint(
            "status IN ('registered_poor', 'lifted_out', 'monitored', 'returned_to_poverty', 'newly_impoverished')",
            name=op.f("ck_household_status"),
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_household_version_positive")),
        sa.ForeignKeyConstraint(
            ["division_code"],
            ["registry.division.code"],
            name=op.f("fk_household_division_code_division"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_household_division_code"),
        "household",
        ["division_code"],
        unique=False,
        schema="registry",
    )
    op.create_index(
        op.f("ix_household_status"), "household", ["status"], unique=False, schema="registry"
    )
    op.create_table(
        "parameter_set",
        sa.Column("district_code", sa.CHAR(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("income_line", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("school_age_min", sa.Integer(), nullable=False),
        sa.Column("school_age_max", sa.Integer(), nullable=False),
        sa.Column("water_min_litres", sa.Numeric(precision=7, scale=1), nullable=False),
        sa.Column("water_min_litres_short_area", sa.Numeric(precision=7, scale=1), nullable=False),
        sa.Column("water_max_fetch_minutes", sa.Integer(), nullable=False),
        sa.Column("water_max_outage_days", sa.Integer(), nullable=False),
        sa.Column("per_capita_review_ceiling", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "sources", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "income_line >= 0", name=op.f("ck_parameter_set_income_line_non_negative")
        ),
        sa.CheckConstraint(
            "school_age_min <= school_age_max", name=op.f("ck_parameter_set_school_ages_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["registry.division.code"],
            name=op.f("fk_parameter_set_district_code_division"),
        ),
        sa.PrimaryKeyConstraint("district_code", "year", name=op.f("pk_parameter_set")),
        schema="registry",
    )
    op.create_table(
        "guarantee_assessment",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("food_secure", sa.Boolean(), nullable=False),
        sa.Column("clothing_secure", sa.Boolean(), nullable=False),
        sa.Column("education_secure", sa.Boolean(), nullable=False),
        sa.Column("education_derived", sa.Boolean(), nullable=False),
        sa.Column("medical_secure", sa.Boolean(), nullable=False),
        sa.Column("medical_derived", sa.Boolean(), nullable=False),
        sa.Column("housing_grade", sa.String(length=1), nullable=False),
        sa.Column("relocated", sa.Boolean(), nullable=False),
        sa.Column("reinforced", sa.Boolean(), nullable=False),
        sa.Column("housing_secure", sa.Boolean(), nullable=False),
        sa.Column("water_litres_per_person_day", sa.Numeric(precision=7, scale=1), nullable=False),
        sa.Column("water_quality_ok", sa.Boolean(), nullable=False),
        sa.Column("water_fetch_minutes", sa.Integer(), nullable=False),
        sa.Column("water_outage_days", sa.Integer(), nullable=False),
        sa.Column("water_secure", sa.Boolean(), nullable=False),
        sa.Column("all_met", sa.Boolean(), nullable=False),
        sa.Column("unmet", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("assessor", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "housing_grade IN ('A', 'B', 'C', 'D')",
            name=op.f("ck_guarantee_assessment_housing_grade"),
        ),
        sa.CheckConstraint(
            "water_litres_per_person_day >= 0 AND water_fetch_minutes >= 0 AND water_outage_days BETWEEN 0 AND 366",
            name=op.f("ck_guarantee_assessment_water_figures"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_guarantee_assessment_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_assessment")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_guarantee_assessment_household_id"),
        "guarantee_assessment",
        ["household_id"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "household_income",
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("wage_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("business_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("property_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("transfer_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("business_costs", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("net_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("per_capita_net_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_reasons", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "household_size > 0", name=op.f("ck_household_income_household_size_positive")
        ),
        sa.CheckConstraint(
            "net_income = wage_income + business_income + property_income + transfer_income - business_costs",
            name=op.f("ck_household_income_net_income_sum"),
        ),
        sa.CheckConstraint(
            "wage_income >= 0 AND business_income >= 0 AND property_income >= 0 AND transfer_income >= 0 AND business_costs >= 0",
            name=op.f("ck_household_income_parts_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_household_income_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("household_id", "year", name=op.f("pk_household_income")),
        schema="registry",
    )
    op.create_table(
        "member",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("resident_id", sa.CHAR(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("relation_to_head", sa.String(length=20), nullable=False),
        sa.Column("labour_capacity", sa.String(length=20), nullable=False),
        sa.Column("employment_status", sa.String(length=20), nullable=False),
        sa.Column("months_worked", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("employment_place", sa.String(length=200), nullable=True),
        sa.Column("health_status", sa.String(length=20), nullable=False),
        sa.Column("disability_category", sa.String(length=20), nullable=True),
        sa.Column("disability_grade", sa.SmallInteger(), nullable=True),
        sa.Column("disability_certificate_no", sa.String(length=40), nullable=True),
        sa.Column("disability_certified_on", sa.Date(), nullable=True),
        sa.Column("school_stage", sa.String(length=30), nullable=False),
        sa.Column("school_exempt", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("basic_medical_insured", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("critical_illness_insured", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "resident_pension_enrolled", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column(
            "employee_pension_enrolled", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column("dibao", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("tekun", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "work_injury_care_allowance", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "disability_category IS NULL OR disability_category IN ('visual', 'hearing', 'speech', 'physical', 'intellectual', 'mental', 'multiple')",
            name=op.f("ck_member_disability_category"),
        ),
        sa.CheckConstraint(
            "employment_status IN ('unemployed', 'local', 'migrant', 'self_employed')",
            name=op.f("ck_member_employment_status"),
        ),
        sa.CheckConstraint(
            "health_status IN ('healthy', 'chronic_illness', 'serious_illness', 'disabled')",
            name=op.f("ck_member_health_status"),
        ),
        sa.CheckConstraint(
            "labour_capacity IN ('skilled', 'ordinary', 'weak', 'lost', 'none')",
            name=op.f("ck_member_labour_capacity"),
        ),
        sa.CheckConstraint(
            "relation_to_head IN ('head', 'spouse', 'son', 'daughter', 'son_in_law', 'daughter_in_law', 'grandson', 'granddaughter', 'father', 'mother', 'father_in_law', 'mother_in_law', 'grandfather', 'grandmother', 'sibling', 'other')",
            name=op.f("ck_member_relation_to_head"),
        ),
        sa.CheckConstraint(
            "resident_id ~ '^[0-9]{17}[0-9X]$'", name=op.f("ck_member_resident_id_format")
        ),
        sa.CheckConstraint(
            "school_stage IN ('preschool', 'primary', 'junior_secondary', 'senior_secondary', 'secondary_vocational', 'higher_vocational', 'undergraduate', 'graduate', 'not_in_school', 'dropped_out')",
            name=op.f("ck_member_school_stage"),
        ),
        sa.CheckConstraint("sex IN ('male', 'female')", name=op.f("ck_member_sex")),
        sa.CheckConstraint(
            "(disability_grade IS NULL) = (disability_category IS NULL) AND (disability_grade IS NULL OR disability_grade BETWEEN 1 AND 4)",
            name=op.f("ck_member_disability_grade"),
        ),
        sa.CheckConstraint("months_worked BETWEEN 0 AND 12", name=op.f("ck_member_months_worked")),
        sa.CheckConstraint("version > 0", name=op.f("ck_member_version_positive")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_member_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_member_resident_id")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_member_household_id"), "member", ["household_id"], unique=False, schema="registry"
    )
    op.create_table(
        "status_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("lifted_out_year", sa.Integer(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "from_status IS NULL OR from_status IN ('registered_poor', 'lifted_out', 'monitored', 'returned_to_poverty', 'newly_impoverished')",
            name=op.f("ck_status_change_from_status"),
        ),
        sa.CheckConstraint(
            "to_status IN ('registered_poor', 'lifted_out', 'monitored', 'returned_to_poverty', 'newly_impoverished')",
            name=op.f("ck_status_change_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_status_change_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_change")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_status_change_household_id"),
        "status_change",
        ["household_id"],
        unique=False,
        schema="registry",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_status_change_household_id"), table_name="status_change", schema="registry"
    )
    op.drop_table("status_change", schema="registry")
    op.drop_index(op.f("ix_member_household_id"), table_name="member", schema="registry")
    op.drop_table("member", schema="registry")
    op.drop_table("household_income", schema="registry")
    op.drop_index(
        op.f("ix_guarantee_assessment_household_id"),
        table_name="guarantee_assessment",
        schema="registry",
    )
    op.drop_table("guarantee_assessment", schema="registry")
    op.drop_table("parameter_set", schema="registry")
    op.drop_index(op.f("ix_household_status"), table_name="household", schema="registry")
    op.drop_index(op.f("ix_household_division_code"), table_name="household", schema="registry")
    op.drop_table("household", schema="registry")
    op.drop_index(op.f("ix_division_parent_code"), table_name="division", schema="registry")
    op.drop_table("division", schema="registry")
    op.drop_index("ix_change_event_txid_seq", table_name="change_event", schema="registry")
    op.drop_table("change_event", schema="registry")
    op.drop_table("audit_log", schema="registry")
    op.execute("DROP FUNCTION registry.refuse_change()")
