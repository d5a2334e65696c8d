"""The default parameters and where each comes from (POLICY.md)."""

from __future__ import annotations

from tuopin_shared.contracts.benefits import PolicyParameters

SOURCES: dict[str, str] = {
    "pension.amount": "seed",
    "pension.age_min": "national",
    "pension.age_max": "national",
    "pension.disability_grades": "national",
    "pension.lifted_out_keep_policy": "national",
    "disability.nursing_monthly_grade_1": "placeholder",
    "disability.nursing_monthly_grade_2": "placeholder",
    "disability.living_monthly": "placeholder",
    "disability.living_for_registered_poor": "seed",
    "medical": "placeholder",
    "medical.personal_share_cap": "seed",
}


def default_parameters() -> PolicyParameters:
    return PolicyParameters()
