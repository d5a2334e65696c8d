"""The settlement rules' parameters from a policy set's ``medical`` section.

The wire model (``tuopin_shared.contracts.benefits.MedicalParameters``) is what
officers save; the rules take their own frozen dataclass, which checks the
figures as a whole (tiers increasing, amounts in whole fen). Policy set
versions never change once saved, so a conversion is kept by version id.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from tuopin_benefits.settlement import rules
from tuopin_shared.contracts.benefits import ByLevel, MedicalParameters

_CACHE_SIZE = 256
_cache: OrderedDict[uuid.UUID, rules.MedicalParameters] = OrderedDict()


def _by_level(value: ByLevel) -> rules.ByLevel:
    return rules.ByLevel(
        township=value.township,
        county=value.county,
        municipal=value.municipal,
        provincial=value.provincial,
    )


def to_rules(parameters: MedicalParameters) -> rules.MedicalParameters:
    """The dataclass the rules take; ValueError when the figures do not hold together."""
    return rules.MedicalParameters(
        inpatient_deductible=_by_level(parameters.inpatient_deductible),
        basic_ratio=_by_level(parameters.basic_ratio),
        poor_in_county_deductible_factor=parameters.poor_in_county_deductible_factor,
        poor_in_county_extra_ratio=parameters.poor_in_county_extra_ratio,
        basic_annual_cap=parameters.basic_annual_cap,
        general_outpatient_ratio=parameters.general_outpatient_ratio,
        critical_illness_deductible=parameters.critical_illness_deductible,
        critical_illness_poor_deductible_factor=parameters.critical_illness_poor_deductible_factor,
        critical_illness_tiers=tuple(
            rules.CriticalIllnessTier(up_to=tier.up_to, ratio=tier.ratio)
            for tier in parameters.critical_illness_tiers
        ),
        critical_illness_poor_extra_ratio=parameters.critical_illness_poor_extra_ratio,
        critical_illness_annual_cap=parameters.critical_illness_annual_cap,
        critical_illness_poor_annual_cap=parameters.critical_illness_poor_annual_cap,
        assistance_ratio=parameters.assistance_ratio,
        assistance_annual_cap=parameters.assistance_annual_cap,
        personal_share_cap=parameters.personal_share_cap,
    )


def for_policy_set(
    policy_set_id: uuid.UUID, medical: str | dict[str, Any] | None
) -> rules.MedicalParameters:
    """The rules' parameters of one policy set version (its ``parameters.medical``,
    as JSON text or parsed; the text is parsed only the first time a version is seen).

    A set saved before the medical section existed has none: the defaults apply,
    as they would have when it was saved.
    """
    cached = _cache.get(policy_set_id)
    if cached is not None:
        _cache.move_to_end(policy_set_id)
        return cached
    if isinstance(medical, str):
        parsed = MedicalParameters.model_validate_json(medical)
    else:
        parsed = MedicalParameters.model_validate(medical or {})
    converted = to_rules(parsed)
    _cache[policy_set_id] = converted
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return converted
