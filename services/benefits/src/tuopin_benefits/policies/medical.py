"""The medical section of a policy set, checked as the settlement rules will take it.

The wire model checks each figure alone; the rules also check them together (critical
illness tiers increasing and ending with one open tier, ratios by institution level at
most 1, amounts in whole fen). A set they would refuse is refused when it is saved,
not at the first claim settled under it.
"""

from __future__ import annotations

import re

from tuopin_benefits.settlement.parameters import to_rules
from tuopin_shared.contracts.benefits import MedicalParameters, PolicyParameters
from tuopin_shared.kit.errors import FieldError, Unprocessable, field_error

_SECTION = "parameters.medical"
# The rules name the figure at the start of their complaint: "basic_ratio.township
# must be between 0 and 1, got 1.5", "critical_illness_tiers[1].ratio must …".
_FIGURE = re.compile(r"([a-z_]+)((?:\[[0-9]+\])?(?:\.[a-z_]+)*)\s")


def field_of(message: str) -> str:
    """The request field a complaint of the rules is about; the section when unsure."""
    found = _FIGURE.match(message)
    if found is None or found[1] not in MedicalParameters.model_fields:
        return _SECTION
    rest = re.sub(r"\[([0-9]+)\]", r".\1", found[2])
    return f"{_SECTION}.{found[1]}{rest}"


def problems(parameters: PolicyParameters) -> list[FieldError]:
    try:
        to_rules(parameters.medical)
    except ValueError as refused:
        message = str(refused)
        return [field_error(field_of(message), message, "medical_parameters_invalid")]
    return []


def check(parameters: PolicyParameters) -> None:
    errors = problems(parameters)
    if errors:
        raise Unprocessable(
            "the settlement rules would refuse these medical parameters", errors=errors
        )
