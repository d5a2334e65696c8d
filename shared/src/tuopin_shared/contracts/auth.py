"""Roles and permissions carried by bearer tokens."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a caller is; each service decides what a role may do."""

    admin = "admin"
    district_officer = "district_officer"
    town_officer = "town_officer"
    village_cadre = "village_cadre"
    benefits_officer = "benefits_officer"
    medical_institution = "medical_institution"
    auditor = "auditor"
    service = "service"


class Permission(StrEnum):
    """Extra rights granted on top of a role."""

    pii = "pii"  # see resident ID numbers unmasked
