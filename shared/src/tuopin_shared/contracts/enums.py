"""Enumerations that travel on the wire.

Values are lower snake_case English so that API clients, the database and
exported files all agree on one spelling; the Chinese form terms live in the
docstrings so that people reconciling against the national registration form
(建档立卡) can find the matching category.
"""

from enum import IntEnum, StrEnum

__all__ = [
    "DisabilityCategory",
    "DisabilityGrade",
    "DivisionLevel",
    "EmploymentStatus",
    "HealthStatus",
    "HousingGrade",
    "LabourCapacity",
    "PovertyCause",
    "PovertyStatus",
    "RelationToHead",
    "SchoolStage",
    "Sex",
]


class Sex(StrEnum):
    """Sex as encoded in the resident ID number (性别)."""

    MALE = "male"
    FEMALE = "female"


class DivisionLevel(StrEnum):
    """Level of a statistical administrative division (行政区划层级)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWN = "town"
    VILLAGE = "village"


class PovertyStatus(StrEnum):
    """Where a household stands in the programme (贫困户状态)."""

    REGISTERED_POOR = "registered_poor"  # 建档立卡贫困户
    LIFTED_OUT = "lifted_out"  # 已脱贫
    MONITORED = "monitored"  # 监测户 (at risk of falling back)
    RETURNED_TO_POVERTY = "returned_to_poverty"  # 返贫
    NEWLY_IMPOVERISHED = "newly_impoverished"  # 新致贫


class PovertyCause(StrEnum):
    """Main cause of poverty as recorded on the national form (主要致贫原因)."""

    ILLNESS = "illness"  # 因病
    DISABILITY = "disability"  # 因残
    # 因学: the cost of keeping children in school, not the adults' schooling.
    LACK_OF_EDUCATION = "lack_of_education"
    DISASTER = "disaster"  # 因灾
    LACK_OF_LAND = "lack_of_land"  # 缺土地
    LACK_OF_WATER = "lack_of_water"  # 缺水
    LACK_OF_SKILLS = "lack_of_skills"  # 缺技术
    LACK_OF_LABOUR = "lack_of_labour"  # 缺劳力
    LACK_OF_FUNDS = "lack_of_funds"  # 缺资金
    POOR_TRANSPORT = "poor_transport"  # 交通条件落后
    LACK_OF_MOTIVATION = "lack_of_motivation"  # 自身发展动力不足
    OTHER = "other"  # 其他


class LabourCapacity(StrEnum):
    """Labour capacity of a household member, as on the national form (劳动技能)."""

    SKILLED = "skilled"  # 技能劳动力
    ORDINARY = "ordinary"  # 普通劳动力
    WEAK = "weak"  # 弱劳动力或半劳动力
    LOST = "lost"  # 丧失劳动力 (of working age but no longer able to work)
    NONE = "none"  # 无劳动力 (children, students, the elderly)


class EmploymentStatus(StrEnum):
    """Whether and where a household member works (务工状况)."""

    UNEMPLOYED = "unemployed"  # 未务工
    LOCAL = "local"  # 县内务工
    MIGRANT = "migrant"  # 县外务工: working away from the county
    SELF_EMPLOYED = "self_employed"  # 自主创业 / 个体经营


class HealthStatus(StrEnum):
    """Health of a household member (健康状况)."""

    HEALTHY = "healthy"  # 健康
    CHRONIC_ILLNESS = "chronic_illness"  # 长期慢性病
    SERIOUS_ILLNESS = "serious_illness"  # 患有大病
    DISABLED = "disabled"  # 残疾


class DisabilityCategory(StrEnum):
    """Category on the disability certificate (残疾类别)."""

    VISUAL = "visual"  # 视力残疾
    HEARING = "hearing"  # 听力残疾
    SPEECH = "speech"  # 言语残疾
    PHYSICAL = "physical"  # 肢体残疾
    INTELLECTUAL = "intellectual"  # 智力残疾
    MENTAL = "mental"  # 精神残疾
    MULTIPLE = "multiple"  # 多重残疾


class DisabilityGrade(IntEnum):
    """Grade on the disability certificate, 1 being the most severe (残疾等级)."""

    GRADE_1 = 1
    GRADE_2 = 2
    GRADE_3 = 3
    GRADE_4 = 4


class SchoolStage(StrEnum):
    """Current schooling of a household member (在校生状况)."""

    PRESCHOOL = "preschool"  # 学前教育
    PRIMARY = "primary"  # 小学
    JUNIOR_SECONDARY = "junior_secondary"  # 初中
    SENIOR_SECONDARY = "senior_secondary"  # 普通高中
    SECONDARY_VOCATIONAL = "secondary_vocational"  # 中职
    HIGHER_VOCATIONAL = "higher_vocational"  # 高职 / 大专
    UNDERGRADUATE = "undergraduate"  # 本科
    GRADUATE = "graduate"  # 研究生
    NOT_IN_SCHOOL = "not_in_school"  # 非在校生
    DROPPED_OUT = "dropped_out"  # 辍学


class HousingGrade(StrEnum):
    """Dwelling safety grade from a housing appraisal, D most dangerous (房屋安全等级)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class RelationToHead(StrEnum):
    """A member's relation to the head of the household (与户主关系)."""

    HEAD = "head"  # 户主
    SPOUSE = "spouse"  # 配偶
    SON = "son"  # 之子
    DAUGHTER = "daughter"  # 之女
    SON_IN_LAW = "son_in_law"  # 之女婿
    DAUGHTER_IN_LAW = "daughter_in_law"  # 之儿媳
    GRANDSON = "grandson"  # 之孙子
    GRANDDAUGHTER = "granddaughter"  # 之孙女
    FATHER = "father"  # 之父
    MOTHER = "mother"  # 之母
    FATHER_IN_LAW = "father_in_law"  # 之岳父 / 之公公
    MOTHER_IN_LAW = "mother_in_law"  # 之岳母 / 之婆婆
    GRANDFATHER = "grandfather"  # 之祖父
    GRANDMOTHER = "grandmother"  # 之祖母
    SIBLING = "sibling"  # 之兄弟姐妹
    OTHER = "other"  # 其他
