"""A realistic demo register for Gongjing District, generated deterministically.

Pure: no I/O and no global state. Every random draw comes from one
``random.Random(seed)``, so a seed always gives the same rows, UUIDs included.
Rows are produced a batch of households at a time, as tuples in the column
order of the registry's tables (the ``*_COLUMNS`` constants), ready for
asyncpg's ``copy_records_to_table``; a million persons never sit in memory
at once.

What is realistic here: households of one to six people around a head, ages
and relations that fit (spouses, children, the head's parents, left-behind
grandchildren), an old rural population, valid and unique resident ID
numbers, disability and illness at plausible rates, schooling by age, work
and insurance by age and health, a status history that only makes moves the
lifecycle allows, incomes spread around the income line and computed by the
registry's own income rule, and assessments evaluated by its own guarantee
rule.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from tuopin_registry.assessments.rules import (
    IN_SCHOOL,
    Findings,
    GuaranteeParameters,
    MemberFacts,
    age_on,
    evaluate,
)
from tuopin_registry.demo.district import (
    AREA_CODE,
    DemoDivision,
    DemoParameterSet,
    demo_divisions,
    demo_parameter_set,
)
from tuopin_registry.incomes.rules import IncomeParts, compute_income
from tuopin_shared.contracts.enums import (
    DisabilityCategory,
    DivisionLevel,
    EmploymentStatus,
    HealthStatus,
    HousingGrade,
    LabourCapacity,
    PovertyCause,
    PovertyStatus,
    RelationToHead,
    SchoolStage,
)
from tuopin_shared.contracts.identity import make_resident_id

__all__ = [
    "ACTOR",
    "ASSESSMENT_COLUMNS",
    "DEFAULT_PERSONS",
    "HOUSEHOLD_COLUMNS",
    "INCOME_COLUMNS",
    "MEMBER_COLUMNS",
    "STATUS_CHANGE_COLUMNS",
    "Batch",
    "DemoDistrict",
    "Record",
    "ResidentIdAllocator",
    "generate",
]

# Gongjing's people lifted out of poverty whose gains the 2020 plan consolidates
# (seed document, goal G2 in FACTS.md): the demo register is that big by default.
DEFAULT_PERSONS = 11_226

# Who the history, income and assessment rows name as their author.
ACTOR = "seed-demo"

# Registration of poor households (建档立卡) began in 2014.
FIRST_REGISTRATION_YEAR = 2014

HOUSEHOLD_COLUMNS = (
    "id",
    "division_code",
    "address",
    "phone",
    "status",
    "main_poverty_cause",
    "registered_year",
    "lifted_out_year",
    "water_short_area",
    "version",
)
MEMBER_COLUMNS = (
    "id",
    "household_id",
    "resident_id",
    "name",
    "sex",
    "birth_date",
    "relation_to_head",
    "labour_capacity",
    "employment_status",
    "months_worked",
    "employment_place",
    "health_status",
    "disability_category",
    "disability_grade",
    "disability_certificate_no",
    "disability_certified_on",
    "school_stage",
    "school_exempt",
    "basic_medical_insured",
    "critical_illness_insured",
    "resident_pension_enrolled",
    "employee_pension_enrolled",
    "dibao",
    "tekun",
    "work_injury_care_allowance",
    "deceased_on",
    "version",
)
INCOME_COLUMNS = (
    "household_id",
    "year",
    "wage_income",
    "business_income",
    "property_income",
    "transfer_income",
    "business_costs",
    "net_income",
    "household_size",
    "per_capita_net_income",
    "needs_review",
    "review_reasons",
    "recorded_by",
)
ASSESSMENT_COLUMNS = (
    "id",
    "household_id",
    "assessed_on",
    "food_secure",
    "clothing_secure",
    "education_secure",
    "education_derived",
    "medical_secure",
    "medical_derived",
    "housing_grade",
    "relocated",
    "reinforced",
    "housing_secure",
    "water_litres_per_person_day",
    "water_quality_ok",
    "water_fetch_minutes",
    "water_outage_days",
    "water_secure",
    "all_met",
    "unmet",
    "notes",
    "assessor",
)
# The id is an identity column: the database numbers the events in load order.
STATUS_CHANGE_COLUMNS = (
    "household_id",
    "from_status",
    "to_status",
    "effective_on",
    "reason",
    "actor",
    "lifted_out_year",
)

Record = tuple[Any, ...]

T = TypeVar("T")

R = RelationToHead
S = PovertyStatus


class _Weights(Generic[T]):
    """Values with weights, for weighted draws without rebuilding lists each time."""

    def __init__(self, weights: Mapping[T, float]) -> None:
        self.values = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def pick(self, rng: random.Random) -> T:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


# Household sizes: many old people living alone or as couples, few large
# households; the mean is a little over three, as in rural Sichuan.
_SIZES = _Weights({1: 15, 2: 25, 3: 20, 4: 20, 5: 13, 6: 7})

# Where households stand at the end of the year. Nearly all have been lifted
# out by 2020; the rest exist so that every part of the programme has work.
_STATUSES = _Weights(
    {
        S.LIFTED_OUT: 82,
        S.MONITORED: 8,
        S.REGISTERED_POOR: 6,
        S.RETURNED_TO_POVERTY: 2,
        S.NEWLY_IMPOVERISHED: 2,
    }
)

# Years from 2014 to a household's registration: most were registered in the
# first campaign, the rest in the reviews of later years.
_REGISTRATION_DELAY = _Weights({0: 55, 1: 15, 2: 12, 3: 10, 4: 5, 5: 3})
# Years from registration to lifting out, decided at a year-end review.
_YEARS_TO_LIFT_OUT = _Weights({0: 10, 1: 30, 2: 25, 3: 18, 4: 10, 5: 7})

# Illness and disability are the leading recorded causes in Sichuan's register.
_CAUSE_WEIGHTS = {
    PovertyCause.ILLNESS: 30,
    PovertyCause.DISABILITY: 12,
    PovertyCause.LACK_OF_SKILLS: 12,
    PovertyCause.LACK_OF_LABOUR: 10,
    PovertyCause.LACK_OF_FUNDS: 9,
    PovertyCause.LACK_OF_EDUCATION: 6,
    PovertyCause.DISASTER: 3,
    PovertyCause.LACK_OF_LAND: 3,
    PovertyCause.LACK_OF_WATER: 2,
    PovertyCause.POOR_TRANSPORT: 3,
    PovertyCause.LACK_OF_MOTIVATION: 4,
    PovertyCause.OTHER: 3,
}

# Per-capita income targets as a multiple of the income line: (median, spread
# of the log). Lifted-out households sit well above the line with a thin tail
# below it; the others straddle or sit under it.
_INCOME_TARGET = {
    S.LIFTED_OUT: (2.0, 0.35),
    S.MONITORED: (1.2, 0.2),
    S.REGISTERED_POOR: (0.95, 0.25),
    S.RETURNED_TO_POVERTY: (0.8, 0.2),
    S.NEWLY_IMPOVERISHED: (0.75, 0.2),
}

_DISABILITY_CATEGORIES = _Weights(
    {
        DisabilityCategory.PHYSICAL: 45,
        DisabilityCategory.VISUAL: 12,
        DisabilityCategory.HEARING: 12,
        DisabilityCategory.SPEECH: 3,
        DisabilityCategory.INTELLECTUAL: 10,
        DisabilityCategory.MENTAL: 10,
        DisabilityCategory.MULTIPLE: 8,
    }
)
# The digit a category has in a second-generation certificate number (the
# holder's ID number followed by category and grade).
_CATEGORY_DIGIT = {
    DisabilityCategory.VISUAL: 1,
    DisabilityCategory.HEARING: 2,
    DisabilityCategory.SPEECH: 3,
    DisabilityCategory.PHYSICAL: 4,
    DisabilityCategory.INTELLECTUAL: 5,
    DisabilityCategory.MENTAL: 6,
    DisabilityCategory.MULTIPLE: 7,
}
_DISABILITY_GRADES = _Weights({1: 12, 2: 23, 3: 30, 4: 35})
# Second-generation certificates were issued from 2008.
_FIRST_CERTIFICATE = date(2008, 1, 1)

_HOUSING_GRADES = _Weights(
    {HousingGrade.A: 38, HousingGrade.B: 48, HousingGrade.C: 10, HousingGrade.D: 4}
)

# Common surnames, the most frequent in Sichuan listed twice to weigh them.
_SURNAMES = (
    "李王张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜"
    "叶程魏苏吕丁任沈姚卢钟谭廖邹熊龚万严赖"
    "李王张刘陈杨黄吴周罗何邓曾"
)
_MALE_CHARACTERS = "伟强军平刚勇杰涛明超华建国志文斌辉磊鹏波俊峰林德福贵富成祥荣兴发海山云飞宇浩"
_FEMALE_CHARACTERS = "芳秀英华玉兰桂珍丽敏静燕娟红霞琴梅莉艳萍凤琼芬春菊蓉婷雪娜慧"

_LOCAL_WORK = (
    "industrial park, Gongjing District",
    "poverty-alleviation workshop, Gongjing District",
    "farmers' cooperative, Gongjing District",
    "construction site, Gongjing District",
    "public-welfare post, Gongjing District",
)
_MIGRANT_WORK = (
    "Chengdu, Sichuan",
    "Zigong urban area, Sichuan",
    "Chongqing",
    "Shenzhen, Guangdong",
    "Dongguan, Guangdong",
    "Guangzhou, Guangdong",
    "Xiamen, Fujian",
    "Ningbo, Zhejiang",
    "Suzhou, Jiangsu",
    "Shanghai",
)
_OWN_BUSINESS = (
    "own livestock farm",
    "own orchard",
    "village shop",
    "own transport van",
    "rural e-commerce stall",
)


@dataclass(frozen=True)
class Batch:
    """The rows of a run of consecutive households, one list per table."""

    households: list[Record] = field(default_factory=list)
    members: list[Record] = field(default_factory=list)
    incomes: list[Record] = field(default_factory=list)
    assessments: list[Record] = field(default_factory=list)
    status_changes: list[Record] = field(default_factory=list)


@dataclass(frozen=True)
class DemoDistrict:
    """A demo register, described by its size and seed; rows are made on demand.

    Each call to ``batches`` starts again from the seed, so it yields the same
    rows every time, whatever the batch size.
    """

    persons: int
    seed: int
    year: int
    divisions: tuple[DemoDivision, ...]
    parameters: DemoParameterSet

    def batches(self, households_per_batch: int = 5_000) -> Iterator[Batch]:
        if households_per_batch < 1:
            raise ValueError("a batch holds at least one household")
        return _Builder(self).batches(households_per_batch)

    # Convenience views of one table each (every call generates the district again).
    def households(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch.households

    def members(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch.members

    def incomes(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch.incomes

    def assessments(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch.assessments

    def status_changes(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch.status_changes


def generate(persons: int, seed: int, year: int = 2020) -> DemoDistrict:
    """The demo district of ``persons`` people for ``year``, reproducible from ``seed``."""
    if persons < 1:
        raise ValueError(f"the demo district needs at least one person, got {persons}")
    # Households need a few years of history between the first registration and the year.
    if year < FIRST_REGISTRATION_YEAR + 2:
        raise ValueError(f"the demo year must be {FIRST_REGISTRATION_YEAR + 2} or later")
    return DemoDistrict(
        persons=persons,
        seed=seed,
        year=year,
        divisions=demo_divisions(),
        parameters=demo_parameter_set(year),
    )


class ResidentIdAllocator:
    """Hands out resident ID numbers, never the same one twice.

    A number is unique by its birth date and 3-digit sequence, the sequence's
    parity being the sex, so each (date, sex) has 499 numbers. They are dealt
    from a random starting point; when a date's are used up, the birth date
    moves a day earlier, which at a million people happens only on the few most
    crowded dates.
    """

    _SLOTS = 499  # 001-997 odd for men, 002-998 even for women

    def __init__(self, rng: random.Random, area_code: str = AREA_CODE) -> None:
        self._rng = rng
        self._area_code = area_code
        # (ordinal * 2 + parity) -> start * 1024 + used: ints keep a million entries small.
        self._used: dict[int, int] = {}

    def allocate(self, birth_date: date, male: bool) -> tuple[str, date]:
        """A fresh number for someone born on (or, if need be, just before) ``birth_date``."""
        parity = 1 if male else 0
        day = birth_date
        while True:
            key = day.toordinal() * 2 + parity
            state = self._used.get(key)
            start, used = (
                (self._rng.randrange(self._SLOTS), 0) if state is None else divmod(state, 1024)
            )
            if used < self._SLOTS:
                self._used[key] = start * 1024 + used + 1
                slot = (start + used) % self._SLOTS
                sequence = 2 * slot + 1 if male else 2 * slot + 2
                return make_resident_id(self._area_code, day, sequence), day
            day -= timedelta(days=1)


_NO_ID = uuid.UUID(int=0)  # until the member is given theirs


@dataclass(slots=True)
class _Person:
    """A member while their household is being made up."""

    relation: RelationToHead
    male: bool
    age: int
    surname: str
    id: uuid.UUID = _NO_ID
    resident_id: str = ""
    birth_date: date = date.min
    labour: LabourCapacity = LabourCapacity.NONE
    employment: EmploymentStatus = EmploymentStatus.UNEMPLOYED
    months_worked: int = 0
    employment_place: str | None = None
    health: HealthStatus = HealthStatus.HEALTHY
    disability: DisabilityCategory | None = None
    disability_grade: int | None = None
    certificate_no: str | None = None
    certified_on: date | None = None
    school: SchoolStage = SchoolStage.NOT_IN_SCHOOL
    school_exempt: bool = False
    basic_medical: bool = True
    resident_pension: bool = False
    employee_pension: bool = False
    dibao: bool = False
    tekun: bool = False
    work_injury: bool = False
    deceased_on: date | None = None


def _fen(amount: int) -> Decimal:
    """An amount held in fen, as yuan with exactly two decimal places."""
    return Decimal(amount).scaleb(-2)


class _Builder:
    def __init__(self, district: DemoDistrict) -> None:
        self.district = district
        self.year = district.year
        # Reproducible by design: demo data, not secrets.
        self.rng = random.Random(district.seed)  # noqa: S311
        self.ids = ResidentIdAllocator(self.rng)
        params = district.parameters
        self.line_fen = int(params.income_line * 100)
        self.review_ceiling = params.per_capita_review_ceiling
        self.guarantees = GuaranteeParameters(
            school_age_min=params.school_age_min,
            school_age_max=params.school_age_max,
            water_min_litres=params.water_min_litres,
            water_min_litres_short_area=params.water_min_litres_short_area,
            water_max_fetch_minutes=params.water_max_fetch_minutes,
            water_max_outage_days=params.water_max_outage_days,
        )
        # Ages are reckoned on 1 September, when the school year starts.
        self.school_day = date(self.year, 9, 1)
        self.villages = [d for d in district.divisions if d.level is DivisionLevel.VILLAGE]
        if not self.villages:
            raise ValueError("the demo district has no villages to put households in")
        # Villages differ in size, and about one in eight lies in a water-short area.
        weights = [self.rng.uniform(0.6, 1.6) for _ in self.villages]
        self.village_cumulative = list(itertools.accumulate(weights))
        self.water_short = {v.code: self.rng.random() < 0.125 for v in self.villages}

    # ------------------------------------------------------------------ driving

    def batches(self, size: int) -> Iterator[Batch]:
        remaining = self.district.persons
        # The first households take each status in turn, so that even a small
        # district shows every status; the rest are drawn.
        forced = list(S)
        batch = Batch()
        count = 0
        while remaining > 0:
            status = forced.pop(0) if forced else _STATUSES.pick(self.rng)
            members = self._household(batch, status, remaining)
            remaining -= members
            count += 1
            if count == size:
                yield batch
                batch, count = Batch(), 0
        if count:
            yield batch

    def _household(self, batch: Batch, status: PovertyStatus, remaining: int) -> int:
        rng = self.rng
        household_id = self._uuid()
        size = min(_SIZES.pick(rng), remaining)
        people = self._composition(size)
        for person in people:
            person.id = self._uuid()
            self._identity(person)
            self._health(person)
            self._schooling(person)
            self._work(person)
            self._insurance(person)
        self._deaths(people)
        cause = self._cause(people)
        self._allowances(people, status)

        village = rng.choices(self.villages, cum_weights=self.village_cumulative)[0]
        water_short = self.water_short[village.code]
        history, registered_year, lifted_out_year = self._history(status, cause)

        batch.households.append(
            (
                household_id,
                village.code,
                f"{village.name}, group {rng.randint(1, 12)}, No. {rng.randint(1, 150)}",
                # No phone numbers: made-up ones could reach real people.
                None,
                status.value,
                cause.value,
                registered_year,
                lifted_out_year,
                water_short,
                1,
            )
        )
        batch.members.extend(self._member_record(household_id, p) for p in people)
        batch.incomes.extend(self._incomes(household_id, people, status, lifted_out_year))
        batch.assessments.append(self._assessment(household_id, people, status, water_short))
        batch.status_changes.extend(
            (household_id, from_, to, on, reason, ACTOR, year)
            for from_, to, on, reason, year in history
        )
        return len(people)

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # ---------------------------------------------------------------- who lives here

    def _composition(self, size: int) -> list[_Person]:
        """The household's members: relations, sexes and ages that fit together."""
        rng = self.rng
        family = rng.choice(_SURNAMES)
        people: list[_Person] = []

        def add(relation: RelationToHead, male: bool, age: int, surname: str | None) -> None:
            # Children take their father's surname; people who married in keep their own.
            surname = surname or rng.choice(_SURNAMES)
            people.append(_Person(relation, male, max(0, min(age, 99)), surname))

        def head(low: int, high: int, mode: int) -> int:
            age = round(rng.triangular(low, high, mode))
            # Women head a household mostly when they live alone or are widowed.
            add(R.HEAD, rng.random() < 0.82, age, family)
            return age

        def spouse(head_age: int) -> None:
            male = not people[0].male
            gap = rng.randint(0, 5)
            if male:
                # A woman heads the household: the family name is her husband's.
                people[0].surname = rng.choice(_SURNAMES)
            add(R.SPOUSE, male, head_age + (gap if male else -gap), family if male else None)

        def children(parent_age: int, count: int) -> None:
            # Mothers aged 21 to 40 at the births, a few years between children.
            age = rng.randint(max(0, parent_age - 40), max(0, parent_age - 21))
            for _ in range(count):
                male = rng.random() < 0.52
                add(R.SON if male else R.DAUGHTER, male, age, family)
                age = max(0, age - rng.randint(1, 6))

        def parents(head_age: int, count: int) -> None:
            in_law = not people[0].male and rng.random() < 0.5
            first_male = count == 2 or rng.random() < 0.4
            for index in range(count):
                male = first_male and index == 0
                relation = (
                    (R.FATHER_IN_LAW if male else R.MOTHER_IN_LAW)
                    if in_law
                    else (R.FATHER if male else R.MOTHER)
                )
                father_name = family if in_law else people[0].surname
                add(relation, male, head_age + rng.randint(22, 34), father_name if male else None)

        def grandchildren(grandparent_age: int, count: int) -> None:
            # Left-behind children whose parents work away from home.
            age = rng.randint(0, max(0, min(grandparent_age - 42, 16)))
            for _ in range(count):
                male = rng.random() < 0.52
                add(R.GRANDSON if male else R.GRANDDAUGHTER, male, age, family)
                age = max(0, age - rng.randint(1, 5))

        def son_and_wife(head_age: int) -> int:
            age = rng.randint(max(20, head_age - 34), max(20, head_age - 22))
            add(R.SON, True, age, family)
            add(R.DAUGHTER_IN_LAW, False, age - rng.randint(0, 4), None)
            return age

        template = rng.random()
        if size == 1:
            if template < 0.62:
                head(60, 95, 74)
            else:
                head(28, 60, 50)
        elif size == 2:
            if template < 0.5:
                spouse(head(58, 90, 70))
            elif template < 0.65:
                parents(head(30, 58, 48), 1)
            elif template < 0.8:
                grandchildren(head(55, 82, 66), 1)
            else:
                children(head(32, 58, 45), 1)
        elif size == 3:
            if template < 0.45:
                age = head(28, 58, 42)
                spouse(age)
                children(age, 1)
            elif template < 0.57:
                age = head(30, 58, 46)
                spouse(age)
                parents(age, 1)
            elif template < 0.82:
                age = head(55, 80, 65)
                spouse(age)
                grandchildren(age, 1)
            elif template < 0.9:
                children(head(34, 56, 44), 2)
            else:
                age = head(55, 76, 62)
                spouse(age)
                son = rng.randint(age - 35, age - 22)
                add(R.SON, True, son, family)
        elif size == 4:
            age = head(28, 72, 42) if template < 0.7 else head(52, 78, 62)
            spouse(age)
            if template < 0.45:
                children(age, 2)
            elif template < 0.7:
                children(age, 1)
                parents(age, 1)
            elif template < 0.9:
                grandchildren(age, 2)
            else:
                son_and_wife(age)
        elif size == 5:
            if template < 0.3:
                age = head(50, 74, 58)
                spouse(age)
                grandchildren(son_and_wife(age) + 22, 1)
            else:
                age = head(30, 56, 42)
                spouse(age)
                if template < 0.65:
                    children(age, 2)
                    parents(age, 1)
                elif template < 0.75:
                    children(age, 3)
                else:
                    children(age, 1)
                    parents(age, 2)
        else:
            if template < 0.45:
                age = head(50, 74, 60)
                spouse(age)
                grandchildren(son_and_wife(age) + 22, 2)
            else:
                age = head(30, 56, 42)
                spouse(age)
                if template < 0.85:
                    children(age, 2)
                    parents(age, 2)
                else:
                    children(age, 3)
                    parents(age, 1)
        return people

    def _identity(self, person: _Person) -> None:
        rng = self.rng
        # Born within the year before the school day on which they are ``age``.
        latest = self.school_day.replace(year=self.year - person.age).toordinal()
        earliest = self.school_day.replace(year=self.year - person.age - 1).toordinal() + 1
        wanted = date.fromordinal(rng.randint(earliest, latest))
        person.resident_id, person.birth_date = self.ids.allocate(wanted, person.male)
        person.age = age_on(person.birth_date, self.school_day)

    def _health(self, person: _Person) -> None:
        rng = self.rng
        age = person.age
        # Rates rise with age. About 8% are disabled overall, above the 6.3% of the
        # 2006 national disability survey, as befits a register of poor households.
        disabled, serious, chronic = (
            (0.03, 0.004, 0.01)
            if age < 16
            else (0.07, 0.015, 0.08)
            if age < 60
            else (0.125, 0.04, 0.28)
        )
        draw = rng.random()
        if age >= 2 and draw < disabled:
            category = _DISABILITY_CATEGORIES.pick(rng)
            grade = _DISABILITY_GRADES.pick(rng)
            person.health = HealthStatus.DISABLED
            person.disability = category
            person.disability_grade = grade
            person.certificate_no = f"{person.resident_id}{_CATEGORY_DIGIT[category]}{grade}"
            first = max(person.birth_date + timedelta(days=365), _FIRST_CERTIFICATE)
            person.certified_on = _between(rng, first, date(self.year, 8, 31))
            # Work-injury care allowances are rare among rural disabled people.
            person.work_injury = age >= 25 and rng.random() < 0.01
        elif draw < disabled + serious:
            person.health = HealthStatus.SERIOUS_ILLNESS
        elif draw < disabled + serious + chronic:
            person.health = HealthStatus.CHRONIC_ILLNESS

    def _schooling(self, person: _Person) -> None:
        rng = self.rng
        age = person.age
        severe = person.disability_grade is not None and person.disability_grade <= 2
        if age <= 2:
            stage = SchoolStage.NOT_IN_SCHOOL
        elif age <= 5:
            # Five-year-olds may turn six before the autumn visit, so all are in preschool.
            stage = (
                SchoolStage.PRESCHOOL
                if age == 5 or rng.random() < 0.85
                else SchoolStage.NOT_IN_SCHOOL
            )
        elif age <= 15:
            stage = (
                SchoolStage.PRIMARY
                if age <= 11
                else SchoolStage.JUNIOR_SECONDARY
                if age <= 14 or rng.random() < 0.3
                else rng.choice((SchoolStage.SENIOR_SECONDARY, SchoolStage.SECONDARY_VOCATIONAL))
            )
            if severe and rng.random() < 0.6:
                # Exempt for health or disability (taught at home, or not at all).
                stage = SchoolStage.NOT_IN_SCHOOL
                person.school_exempt = True
            elif rng.random() < (0.002 if age <= 11 else 0.01):
                stage = SchoolStage.DROPPED_OUT
        elif age <= 18:
            draw = rng.random()
            stage = (
                SchoolStage.SENIOR_SECONDARY
                if draw < 0.45
                else SchoolStage.SECONDARY_VOCATIONAL
                if draw < 0.8
                else SchoolStage.NOT_IN_SCHOOL
            )
        elif age <= 22:
            draw = rng.random()
            stage = (
                SchoolStage.UNDERGRADUATE
                if draw < 0.12
                else SchoolStage.HIGHER_VOCATIONAL
                if draw < 0.27
                else SchoolStage.NOT_IN_SCHOOL
            )
        elif age <= 26 and rng.random() < 0.005:
            stage = SchoolStage.GRADUATE
        else:
            stage = SchoolStage.NOT_IN_SCHOOL
        person.school = stage

    def _work(self, person: _Person) -> None:
        rng = self.rng
        age = person.age
        student = person.school is not SchoolStage.NOT_IN_SCHOOL and age >= 16
        grade = person.disability_grade
        if age < 16 or student:
            labour = LabourCapacity.NONE
        elif age < 60:
            if grade is not None and grade <= 2:
                labour = LabourCapacity.LOST
            elif person.health is HealthStatus.SERIOUS_ILLNESS:
                labour = LabourCapacity.LOST if rng.random() < 0.5 else LabourCapacity.WEAK
            elif grade is not None or person.health is HealthStatus.CHRONIC_ILLNESS:
                labour = LabourCapacity.WEAK if rng.random() < 0.6 else LabourCapacity.ORDINARY
            else:
                draw = rng.random()
                labour = (
                    LabourCapacity.SKILLED
                    if draw < 0.22
                    else LabourCapacity.ORDINARY
                    if draw < 0.92
                    else LabourCapacity.WEAK
                )
        elif age < 65 and person.health is HealthStatus.HEALTHY:
            draw = rng.random()
            labour = (
                LabourCapacity.ORDINARY
                if draw < 0.35
                else LabourCapacity.WEAK
                if draw < 0.9
                else LabourCapacity.NONE
            )
        elif age < 75 and grade is None:
            labour = LabourCapacity.WEAK if rng.random() < 0.35 else LabourCapacity.NONE
        else:
            labour = LabourCapacity.WEAK if rng.random() < 0.08 else LabourCapacity.NONE
        person.labour = labour

        if labour in (LabourCapacity.SKILLED, LabourCapacity.ORDINARY) and age < 60:
            draw = rng.random()
            if draw < 0.42:
                person.employment = EmploymentStatus.MIGRANT
                person.months_worked = round(rng.triangular(4, 12, 11))
                person.employment_place = rng.choice(_MIGRANT_WORK)
            elif draw < 0.66:
                person.employment = EmploymentStatus.LOCAL
                person.months_worked = rng.randint(3, 12)
                person.employment_place = rng.choice(_LOCAL_WORK)
            elif draw < 0.73:
                person.employment = EmploymentStatus.SELF_EMPLOYED
                person.months_worked = rng.randint(8, 12)
                person.employment_place = rng.choice(_OWN_BUSINESS)
        elif (
            labour in (LabourCapacity.WEAK, LabourCapacity.ORDINARY)
            and age < 65
            and rng.random() < 0.22
        ):
            # Public-welfare posts and seasonal farm work near home.
            person.employment = EmploymentStatus.LOCAL
            person.months_worked = rng.randint(2, 8)
            person.employment_place = rng.choice(_LOCAL_WORK)

    def _insurance(self, person: _Person) -> None:
        rng = self.rng
        age = person.age
        # Critical-illness insurance comes with basic medical insurance for residents.
        person.basic_medical = rng.random() < 0.993
        student = person.school is not SchoolStage.NOT_IN_SCHOOL
        if age >= 60:
            person.resident_pension = rng.random() < 0.96
        elif age >= 16 and not student:
            employed = person.employment in (EmploymentStatus.LOCAL, EmploymentStatus.MIGRANT)
            if employed and rng.random() < 0.06:
                person.employee_pension = True
            else:
                person.resident_pension = rng.random() < 0.92

    def _deaths(self, people: list[_Person]) -> None:
        # A few old members die during the year; the head, who answers for the
        # household, stays alive so the household keeps a living head.
        for person in people[1:]:
            if person.age >= 65 and self.rng.random() < 0.035:
                person.deceased_on = _between(
                    self.rng, date(self.year, 1, 1), date(self.year, 12, 31)
                )

    def _cause(self, people: list[_Person]) -> PovertyCause:
        weights = dict(_CAUSE_WEIGHTS)
        if any(p.disability is not None for p in people):
            weights[PovertyCause.DISABILITY] *= 5
        if any(
            p.health in (HealthStatus.SERIOUS_ILLNESS, HealthStatus.CHRONIC_ILLNESS) for p in people
        ):
            weights[PovertyCause.ILLNESS] *= 2
        if not any(p.labour in (LabourCapacity.SKILLED, LabourCapacity.ORDINARY) for p in people):
            weights[PovertyCause.LACK_OF_LABOUR] *= 4
        if sum(p.school in IN_SCHOOL and p.age >= 6 for p in people) >= 2:
            weights[PovertyCause.LACK_OF_EDUCATION] *= 2
        return _pick(self.rng, weights)

    def _allowances(self, people: list[_Person], status: PovertyStatus) -> None:
        rng = self.rng
        head = people[0]
        if (
            len(people) == 1
            and head.age >= 60
            and head.labour in (LabourCapacity.WEAK, LabourCapacity.NONE)
            and rng.random() < 0.25
        ):
            # Extreme-poverty support (特困) is for old people with no one to support them.
            head.tekun = True
            return
        share = {
            S.LIFTED_OUT: 0.1,
            S.MONITORED: 0.18,
            S.REGISTERED_POOR: 0.32,
            S.RETURNED_TO_POVERTY: 0.38,
            S.NEWLY_IMPOVERISHED: 0.38,
        }[status]
        if any(p.disability_grade is not None and p.disability_grade <= 2 for p in people) or any(
            p.health is HealthStatus.SERIOUS_ILLNESS for p in people
        ):
            share *= 2
        # The minimum living allowance is granted to the household as a whole.
        if rng.random() < share:
            for person in people:
                person.dibao = True

    def _member_record(self, household_id: uuid.UUID, p: _Person) -> Record:
        return (
            p.id,
            household_id,
            p.resident_id,
            p.surname + _given_name(self.rng, p.male),
            "male" if p.male else "female",
            p.birth_date,
            p.relation.value,
            p.labour.value,
            p.employment.value,
            p.months_worked,
            p.employment_place,
            p.health.value,
            p.disability.value if p.disability is not None else None,
            p.disability_grade,
            p.certificate_no,
            p.certified_on,
            p.school.value,
            p.school_exempt,
            p.basic_medical,
            p.basic_medical,
            p.resident_pension,
            p.employee_pension,
            p.dibao,
            p.tekun,
            p.work_injury,
            p.deceased_on,
            1,
        )

    # ------------------------------------------------------------------ status

    def _history(
        self, status: PovertyStatus, cause: PovertyCause
    ) -> tuple[list[tuple[str | None, str, date, str, int | None]], int | None, int | None]:
        """Status changes that lead to ``status`` by allowed moves, in date order."""
        rng = self.rng
        year = self.year
        why = cause.value.replace("_", " ")
        changes: list[tuple[str | None, str, date, str, int | None]] = []
        registered_year: int | None = None
        lifted_out_year: int | None = None

        def move(from_: PovertyStatus | None, to: PovertyStatus, on: date, reason: str) -> date:
            lifted = on.year if to is S.LIFTED_OUT else None
            changes.append((from_.value if from_ else None, to.value, on, reason, lifted))
            return on

        def registered(last_year: int) -> date:
            nonlocal registered_year
            offset = _REGISTRATION_DELAY.pick(rng)
            registered_year = min(FIRST_REGISTRATION_YEAR + offset, last_year)
            # The registration campaigns ran from spring to autumn.
            on = _between(rng, date(registered_year, 4, 1), date(registered_year, 10, 31))
            return move(None, S.REGISTERED_POOR, on, f"registered: poor household ({why})")

        def lifted(after: date) -> date:
            nonlocal lifted_out_year
            # Exits are decided at a year-end review, within five years of registering.
            lifted_out_year = min(after.year + _YEARS_TO_LIFT_OUT.pick(rng), year - 1)
            on = _between(rng, date(lifted_out_year, 11, 1), date(lifted_out_year, 12, 28))
            return move(
                S.REGISTERED_POOR,
                S.LIFTED_OUT,
                on,
                "lifted out: income above the line and all guarantees met",
            )

        def later(after: date, first: date, last: date) -> date:
            return _between(rng, max(after + timedelta(days=1), first), last)

        if status is S.REGISTERED_POOR:
            registered(year)
        elif status is S.LIFTED_OUT:
            lifted(registered(year - 1))
        elif status is S.MONITORED and rng.random() < 0.75:
            on = lifted(registered(year - 1))
            on = later(on, date(year - 1, 1, 1), date(year, 6, 30))
            move(S.LIFTED_OUT, S.MONITORED, on, f"unstable after lifting out: {why}")
        elif status is S.MONITORED:
            on = _between(rng, date(year - 1, 3, 1), date(year, 6, 30))
            move(None, S.MONITORED, on, f"edge household at risk of poverty: {why}")
        elif status is S.RETURNED_TO_POVERTY:
            on = lifted(registered(year - 1))
            if rng.random() < 0.5:
                on = later(on, date(year - 1, 1, 1), date(year, 4, 30))
                move(S.LIFTED_OUT, S.MONITORED, on, f"unstable after lifting out: {why}")
                previous = S.MONITORED
            else:
                previous = S.LIFTED_OUT
            on = later(on, date(year, 1, 1), date(year, 10, 31))
            move(previous, S.RETURNED_TO_POVERTY, on, f"returned to poverty: {why}")
        else:
            if rng.random() < 0.5:
                on = _between(rng, date(year - 1, 3, 1), date(year, 4, 30))
                move(None, S.MONITORED, on, f"edge household at risk of poverty: {why}")
                on = later(on, date(year, 1, 1), date(year, 10, 31))
                move(S.MONITORED, S.NEWLY_IMPOVERISHED, on, f"newly impoverished: {why}")
            else:
                on = _between(rng, date(year, 1, 1), date(year, 10, 31))
                move(None, S.NEWLY_IMPOVERISHED, on, f"newly impoverished: {why}")
        return changes, registered_year, lifted_out_year

    # ------------------------------------------------------------------ income

    def _incomes(
        self,
        household_id: uuid.UUID,
        people: list[_Person],
        status: PovertyStatus,
        lifted_out_year: int | None,
    ) -> list[Record]:
        rng = self.rng
        year = self.year
        size = _household_size(people, year)
        previous_size = _household_size(people, year - 1)
        transfers = self._transfers(people)
        property_fen = rng.randint(0, 60_000) if rng.random() < 0.6 else 0
        worker = any(p.months_worked > 0 for p in people)

        median, spread = _INCOME_TARGET[status]
        per_capita = self.line_fen * median * math.exp(rng.gauss(0, spread))
        current = self._parts(round(per_capita * size), transfers, property_fen, worker)

        # Last year: a little less for most; markedly more for households that
        # have just fallen (back) into poverty, whose income dropped this year.
        if status in (S.RETURNED_TO_POVERTY, S.NEWLY_IMPOVERISHED):
            growth = rng.uniform(0.45, 0.7)
        elif status is S.MONITORED:
            growth = rng.uniform(0.85, 1.1)
        else:
            growth = rng.uniform(0.98, 1.18)
        previous_net = per_capita * previous_size / growth
        if lifted_out_year == year - 1:
            # Lifting out last year needed last year's income above the line.
            previous_net = max(previous_net, self.line_fen * previous_size * rng.uniform(1.03, 1.3))
        previous = self._parts(
            round(previous_net), round(transfers * rng.uniform(0.9, 1.0)), property_fen, worker
        )
        return [
            self._income_record(household_id, year, current, size),
            self._income_record(household_id, year - 1, previous, previous_size),
        ]

    def _transfers(self, people: list[_Person]) -> int:
        """Public transfers in fen: pensions, allowances, subsidies."""
        rng = self.rng
        total = rng.randint(5_000, 40_000)  # farmland and ecological subsidies
        for p in people:
            if p.age >= 60 and p.resident_pension:
                total += rng.randint(120_000, 180_000)  # basic pension, about 100 a month
            if p.dibao:
                total += rng.randint(240_000, 360_000)
            if p.tekun:
                total += rng.randint(600_000, 750_000)
            if p.disability_grade is not None:
                total += 72_000 + (96_000 if p.disability_grade <= 2 else 0)
        return total

    def _parts(self, net: int, transfers: int, property_fen: int, worker: bool) -> IncomeParts:
        """Split a net income (fen) into the form's parts; transfers are what they are."""
        rng = self.rng
        earned = max(0, net - transfers - property_fen)
        wage = round(earned * rng.uniform(0.55, 0.9)) if worker else 0
        business_net = earned - wage
        # Farming and small business: gross takings less what they cost.
        costs = round(business_net * rng.uniform(0.25, 0.8)) if business_net else 0
        return IncomeParts(
            wage_income=_fen(wage),
            business_income=_fen(business_net + costs),
            property_income=_fen(property_fen),
            transfer_income=_fen(transfers),
            business_costs=_fen(costs),
        )

    def _income_record(
        self, household_id: uuid.UUID, year: int, parts: IncomeParts, size: int
    ) -> Record:
        figures = compute_income(parts, size, self.review_ceiling)
        return (
            household_id,
            year,
            parts.wage_income,
            parts.business_income,
            parts.property_income,
            parts.transfer_income,
            parts.business_costs,
            figures.net_income,
            size,
            figures.per_capita_net_income,
            figures.needs_review,
            list(figures.review_reasons),
            ACTOR,
        )

    # ------------------------------------------------------------------ guarantees

    def _assessment(
        self,
        household_id: uuid.UUID,
        people: list[_Person],
        status: PovertyStatus,
        water_short: bool,
    ) -> Record:
        rng = self.rng
        # The annual verification visits run through the autumn.
        assessed_on = _between(rng, date(self.year, 9, 1), date(self.year, 11, 30))
        grade = _HOUSING_GRADES.pick(rng)
        relocated = reinforced = False
        if grade in (HousingGrade.C, HousingGrade.D):
            # Most unsafe houses were rebuilt in place or the family relocated;
            # households still poor are likelier to be waiting.
            waiting = 0.15 if status in (S.LIFTED_OUT, S.MONITORED) else 0.35
            draw = rng.random()
            relocated = draw < (1 - waiting) * 0.3
            reinforced = not relocated and draw < 1 - waiting

        minimum = float(
            self.guarantees.water_min_litres_short_area
            if water_short
            else self.guarantees.water_min_litres
        )
        if rng.random() < 0.015:
            litres = rng.uniform(minimum * 0.5, minimum - 0.1)
        else:
            litres = rng.uniform(minimum, minimum * (1.6 if water_short else 2.5))
        fetch_draw = rng.random()
        fetch = (
            0
            if fetch_draw < 0.8
            else rng.randint(2, 20)
            if fetch_draw < 0.99
            else rng.randint(21, 45)
        )
        outage_draw = rng.random()
        outage = (
            rng.randint(0, 10)
            if outage_draw < 0.85
            else rng.randint(11, 36)
            if outage_draw < 0.992
            else rng.randint(37, 60)
        )
        findings = Findings(
            food_secure=rng.random() < 0.996,
            clothing_secure=rng.random() < 0.998,
            # Education and medical care are derived from the members.
            education_secure=None,
            medical_secure=None,
            housing_grade=grade,
            relocated=relocated,
            reinforced=reinforced,
            water_litres_per_person_day=Decimal(math.floor(litres * 10)).scaleb(-1),
            water_quality_ok=rng.random() < 0.99,
            water_fetch_minutes=fetch,
            water_outage_days=outage,
        )
        facts = [
            MemberFacts(
                birth_date=p.birth_date,
                deceased_on=p.deceased_on,
                school_stage=p.school,
                school_exempt=p.school_exempt,
                basic_medical_insured=p.basic_medical,
            )
            for p in people
        ]
        result = evaluate(
            findings, facts, self.guarantees, on=assessed_on, water_short_area=water_short
        )
        return (
            self._uuid(),
            household_id,
            assessed_on,
            findings.food_secure,
            findings.clothing_secure,
            result.education_secure,
            result.education_derived,
            result.medical_secure,
            result.medical_derived,
            grade.value,
            relocated,
            reinforced,
            result.housing_secure,
            findings.water_litres_per_person_day,
            findings.water_quality_ok,
            fetch,
            outage,
            result.water_secure,
            result.all_met,
            list(result.unmet),
            "; ".join(result.explanations) or None,
            ACTOR,
        )


def _household_size(people: list[_Person], year: int) -> int:
    """Members registered during the year: born by its end and alive at its start,
    the definition the registry's income service counts by."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return sum(
        1
        for p in people
        if p.birth_date <= last and (p.deceased_on is None or p.deceased_on >= first)
    )


def _given_name(rng: random.Random, male: bool) -> str:
    characters = _MALE_CHARACTERS if male else _FEMALE_CHARACTERS
    if rng.random() < 0.4:
        return rng.choice(characters)
    return rng.choice(characters) + rng.choice(characters)


def _pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _between(rng: random.Random, first: date, last: date) -> date:
    """A day from ``first`` to ``last`` inclusive (``first`` if the range is empty)."""
    if last <= first:
        return first
    return date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))
