"""The demo district: Gongjing District and its divisions, with the 2020 parameters.

Gongjing District (510303) and Aiye Town (510303100) are real divisions named
in the seed document; every other town and every village is made up, labelled
"(synthetic)" in its name and flagged ``synthetic`` so that nobody mistakes demo
data for the real register. The district is the root of the demo tree: its
real parents (Zigong City, Sichuan) are not needed to run the programme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tuopin_shared.contracts.enums import DivisionLevel

__all__ = [
    "AIYE_TOWN_CODE",
    "AREA_CODE",
    "DISTRICT_CODE",
    "DemoDivision",
    "DemoParameterSet",
    "demo_divisions",
    "demo_parameter_set",
    "demo_villages",
]

AREA_CODE = "510303"  # the county part of every code, and of residents' ID numbers
DISTRICT_CODE = "510303000000"
AIYE_TOWN_CODE = "510303100000"

# (code, name, synthetic, villages): Aiye Town is real, its villages are not.
# The village counts differ so that the towns do not all look alike.
_TOWNS: tuple[tuple[str, str, bool, int], ...] = (
    (AIYE_TOWN_CODE, "艾叶镇 Aiye Town", False, 9),
    ("510303101000", "Demo Town 2 (synthetic)", True, 7),
    ("510303102000", "Demo Town 3 (synthetic)", True, 8),
    ("510303103000", "Demo Town 4 (synthetic)", True, 6),
    ("510303104000", "Demo Town 5 (synthetic)", True, 7),
    ("510303105000", "Demo Town 6 (synthetic)", True, 5),
)


@dataclass(frozen=True)
class DemoDivision:
    code: str
    name: str
    level: DivisionLevel
    parent_code: str | None
    synthetic: bool

    def record(self) -> tuple[str, str, str, str | None, bool]:
        """The row in the column order of ``registry.division``."""
        return (self.code, self.name, self.level.value, self.parent_code, self.synthetic)


def demo_divisions() -> tuple[DemoDivision, ...]:
    """Every division of the demo district, each parent before its children."""
    divisions = [
        DemoDivision(DISTRICT_CODE, "贡井区 Gongjing District", DivisionLevel.COUNTY, None, False)
    ]
    for code, name, synthetic, villages in _TOWNS:
        divisions.append(DemoDivision(code, name, DivisionLevel.TOWN, DISTRICT_CODE, synthetic))
        town_label = "Aiye" if code == AIYE_TOWN_CODE else name.removesuffix(" (synthetic)")
        for number in range(1, villages + 1):
            divisions.append(
                DemoDivision(
                    code=f"{code[:9]}{number:03d}",
                    name=f"{town_label} Village {number} (synthetic)",
                    level=DivisionLevel.VILLAGE,
                    parent_code=code,
                    synthetic=True,
                )
            )
    return tuple(divisions)


def demo_villages() -> tuple[DemoDivision, ...]:
    """The villages: households are registered in a village, never in a town."""
    return tuple(d for d in demo_divisions() if d.level is DivisionLevel.VILLAGE)


def _national_sources() -> dict[str, str]:
    return {
        "income_line": "seed",
        "school_age_min": "national",
        "school_age_max": "national",
        "water_min_litres": "national",
        "water_min_litres_short_area": "national",
        "water_max_fetch_minutes": "national",
        "water_max_outage_days": "national",
        "per_capita_review_ceiling": "national",
    }


@dataclass(frozen=True)
class DemoParameterSet:
    """One row of ``registry.parameter_set``: the figures the registry's rules use."""

    district_code: str
    year: int
    income_line: Decimal
    school_age_min: int
    school_age_max: int
    water_min_litres: Decimal
    water_min_litres_short_area: Decimal
    water_max_fetch_minutes: int
    water_max_outage_days: int
    per_capita_review_ceiling: Decimal
    sources: dict[str, str] = field(default_factory=_national_sources)


def demo_parameter_set(year: int = 2020) -> DemoParameterSet:
    """The district's parameters: the seed's 4,300-yuan line and the national criteria.

    The seed document states the line for 2020 only; for another year the same
    figure is shipped but labelled a placeholder, for an operator to set.
    """
    sources = _national_sources()
    if year != 2020:
        sources["income_line"] = "placeholder"
    return DemoParameterSet(
        district_code=DISTRICT_CODE,
        year=year,
        income_line=Decimal("4300.00"),
        school_age_min=6,
        school_age_max=15,
        water_min_litres=Decimal("35.0"),
        water_min_litres_short_area=Decimal("20.0"),
        water_max_fetch_minutes=20,
        water_max_outage_days=36,
        per_capita_review_ceiling=Decimal("100000.00"),
        sources=sources,
    )
