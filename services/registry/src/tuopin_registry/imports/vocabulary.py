"""The words a ledger may use for enumerated and yes/no cells, in one place.

Town offices fill their ledgers in Chinese, with the terms of the national
registration form (建档立卡); API clients use the English values. A cell is
accepted in either form. The first label of each value is the one the
template and the documentation show; the others are spellings found in
real ledgers (with or without the form's 之 prefix, a short form).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from tuopin_shared.contracts.enums import (
    DisabilityCategory,
    DisabilityGrade,
    EmploymentStatus,
    HealthStatus,
    LabourCapacity,
    PovertyCause,
    PovertyStatus,
    RelationToHead,
    SchoolStage,
)

__all__ = ["FALSE_WORDS", "LABELS", "TRUE_WORDS", "accepted_words", "label"]

LABELS: dict[type[Enum], dict[Enum, tuple[str, ...]]] = {
    PovertyStatus: {
        PovertyStatus.REGISTERED_POOR: ("建档立卡贫困户", "贫困户", "建档立卡户"),
        PovertyStatus.LIFTED_OUT: ("已脱贫", "脱贫户"),
        PovertyStatus.MONITORED: ("监测户", "边缘户", "监测对象"),
        PovertyStatus.RETURNED_TO_POVERTY: ("返贫户", "返贫"),
        PovertyStatus.NEWLY_IMPOVERISHED: ("新致贫户", "新致贫"),
    },
    PovertyCause: {
        PovertyCause.ILLNESS: ("因病",),
        PovertyCause.DISABILITY: ("因残",),
        PovertyCause.LACK_OF_EDUCATION: ("因学",),
        PovertyCause.DISASTER: ("因灾",),
        PovertyCause.LACK_OF_LAND: ("缺土地",),
        PovertyCause.LACK_OF_WATER: ("缺水",),
        PovertyCause.LACK_OF_SKILLS: ("缺技术",),
        PovertyCause.LACK_OF_LABOUR: ("缺劳力",),
        PovertyCause.LACK_OF_FUNDS: ("缺资金",),
        PovertyCause.POOR_TRANSPORT: ("交通条件落后", "交通落后"),
        PovertyCause.LACK_OF_MOTIVATION: ("自身发展动力不足", "缺动力"),
        PovertyCause.OTHER: ("其他",),
    },
    LabourCapacity: {
        LabourCapacity.SKILLED: ("技能劳动力",),
        LabourCapacity.ORDINARY: ("普通劳动力",),
        LabourCapacity.WEAK: ("弱劳动力或半劳动力", "弱劳动力", "半劳动力"),
        LabourCapacity.LOST: ("丧失劳动力",),
        LabourCapacity.NONE: ("无劳动力",),
    },
    EmploymentStatus: {
        EmploymentStatus.UNEMPLOYED: ("未务工",),
        EmploymentStatus.LOCAL: ("县内务工", "本地务工"),
        EmploymentStatus.MIGRANT: ("县外务工", "外出务工"),
        EmploymentStatus.SELF_EMPLOYED: ("自主创业", "个体经营"),
    },
    HealthStatus: {
        HealthStatus.HEALTHY: ("健康",),
        HealthStatus.CHRONIC_ILLNESS: ("长期慢性病", "慢性病"),
        HealthStatus.SERIOUS_ILLNESS: ("患有大病", "大病"),
        HealthStatus.DISABLED: ("残疾",),
    },
    DisabilityCategory: {
        DisabilityCategory.VISUAL: ("视力残疾", "视力"),
        DisabilityCategory.HEARING: ("听力残疾", "听力"),
        DisabilityCategory.SPEECH: ("言语残疾", "言语"),
        DisabilityCategory.PHYSICAL: ("肢体残疾", "肢体"),
        DisabilityCategory.INTELLECTUAL: ("智力残疾", "智力"),
        DisabilityCategory.MENTAL: ("精神残疾", "精神"),
        DisabilityCategory.MULTIPLE: ("多重残疾", "多重"),
    },
    DisabilityGrade: {
        DisabilityGrade.GRADE_1: ("一级", "1级"),
        DisabilityGrade.GRADE_2: ("二级", "2级"),
        DisabilityGrade.GRADE_3: ("三级", "3级"),
        DisabilityGrade.GRADE_4: ("四级", "4级"),
    },
    SchoolStage: {
        SchoolStage.PRESCHOOL: ("学前教育", "学前"),
        SchoolStage.PRIMARY: ("小学",),
        SchoolStage.JUNIOR_SECONDARY: ("初中",),
        SchoolStage.SENIOR_SECONDARY: ("普通高中", "高中"),
        SchoolStage.SECONDARY_VOCATIONAL: ("中职",),
        SchoolStage.HIGHER_VOCATIONAL: ("高职", "大专"),
        SchoolStage.UNDERGRADUATE: ("本科",),
        SchoolStage.GRADUATE: ("研究生",),
        SchoolStage.NOT_IN_SCHOOL: ("非在校生", "不在校"),
        SchoolStage.DROPPED_OUT: ("辍学",),
    },
    RelationToHead: {
        RelationToHead.HEAD: ("户主", "本人"),
        RelationToHead.SPOUSE: ("配偶", "之配偶"),
        RelationToHead.SON: ("之子", "子", "儿子"),
        RelationToHead.DAUGHTER: ("之女", "女", "女儿"),
        RelationToHead.SON_IN_LAW: ("之女婿", "女婿"),
        RelationToHead.DAUGHTER_IN_LAW: ("之儿媳", "儿媳"),
        RelationToHead.GRANDSON: ("之孙子", "孙子"),
        RelationToHead.GRANDDAUGHTER: ("之孙女", "孙女"),
        RelationToHead.FATHER: ("之父", "父亲"),
        RelationToHead.MOTHER: ("之母", "母亲"),
        RelationToHead.FATHER_IN_LAW: ("之岳父", "之公公", "岳父", "公公"),
        RelationToHead.MOTHER_IN_LAW: ("之岳母", "之婆婆", "岳母", "婆婆"),
        RelationToHead.GRANDFATHER: ("之祖父", "祖父"),
        RelationToHead.GRANDMOTHER: ("之祖母", "祖母"),
        RelationToHead.SIBLING: ("之兄弟姐妹", "兄弟姐妹"),
        RelationToHead.OTHER: ("其他",),
    },
}

# Compared after folding to lower case.
TRUE_WORDS = frozenset({"是", "y", "yes", "true", "1"})
FALSE_WORDS = frozenset({"否", "n", "no", "false", "0"})


def label(member: Enum) -> str:
    """The Chinese label a template shows for ``member``."""
    return LABELS[type(member)][member][0]


def accepted_words(enum: type[Enum]) -> Mapping[str, Enum]:
    """Every spelling of each value of ``enum``: its English value (lower case) and labels."""
    words: dict[str, Enum] = {}
    for member in enum:
        words[str(member.value).lower()] = member
        for spelling in LABELS[enum][member]:
            words[spelling] = member
    return words
