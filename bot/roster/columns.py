"""Column headers as schools write them → canonical field names (Chinese, English and the registry export's)."""

from __future__ import annotations

import re

# Canonical field → accepted headers (compared after `header_key`). The first alias is the Chinese label, the
# second the English one.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "county": ("县", "county", "县区", "区县", "縣"),
    "township": ("乡镇", "township", "乡镇街道", "镇", "town", "鄉鎮"),
    "school": ("学校", "school", "学校名称", "學校", "就读学校", "所在学校", "就讀學校"),
    "grade": ("年级", "grade", "年級", "所在年级"),
    "class": ("班级", "class", "班別", "班級", "所在班级", "班级名称"),
    "student_no": ("学籍号", "student_no", "全国学籍号", "学籍号码", "學籍號", "个人标识码"),
    "id_number": ("身份证件号", "id_number", "身份证号", "身份证号码", "身份证件号码", "公民身份号码", "身份證號"),
    "name": ("姓名", "name", "学生姓名", "student_name", "學生姓名"),
    "gender": ("性别", "gender", "sex", "性別"),
    "birth_date": ("出生日期", "birth_date", "出生年月日", "出生年月", "birthdate", "date_of_birth", "dob"),
    "status": ("学籍状态", "status", "学生状态", "在籍状态", "學籍狀態"),
    "guardian": (
        "监护人", "guardian", "监护人1", "监护人姓名", "guardian1", "guardian_name", "監護人", "家长姓名", "家长",
        "成员1姓名", "监护人1姓名",
    ),
    "relation": (
        "关系", "relation", "关系1", "与学生关系", "监护人关系", "relation1", "relationship", "關係", "成员1关系",
        "家长关系",
    ),
    "guardian_phone": (
        "监护人电话", "guardian_phone", "监护人1电话", "guardian1_phone", "監護人電話", "监护人联系电话", "家长电话",
        "家长联系电话", "家长手机", "成员1联系电话", "成员1电话", "监护人手机",
    ),
    "guardian_flag": ("成员1是否监护人", "guardian_flag"),
    "guardian2": ("监护人2", "guardian2", "监护人2姓名", "監護人2", "成员2姓名"),
    "relation2": ("关系2", "relation2", "监护人2关系", "關係2", "成员2关系"),
    "guardian2_phone": (
        "监护人2电话", "guardian2_phone", "監護人2電話", "成员2联系电话", "成员2电话", "监护人2联系电话",
    ),
    "guardian2_flag": ("成员2是否监护人", "guardian2_flag"),
    "homeroom_teacher": ("班主任", "homeroom_teacher", "teacher", "class_teacher", "班主任姓名"),
    "teacher_phone": ("班主任电话", "teacher_phone", "班主任電話", "class_teacher_phone", "班主任联系电话"),
    "tags": ("标签", "tags", "標籤"),
    "phone": ("电话", "phone", "手机", "手机号", "联系电话", "mobile", "電話", "手機"),
    "role": ("角色", "role", "职务", "職務"),
    "unit": ("单位", "unit", "单位名称", "單位"),
    "office_phone": ("单位电话", "office_phone", "办公电话", "办公室电话", "單位電話", "辦公電話"),
    "issuer": ("落款", "issuer", "发文机关", "落款单位", "發文機關"),
}  # fmt: skip

# Yes/no columns that become a tag when the answer is yes, and free-text columns that do when not "none".
TAG_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tag_left_behind": ("留守儿童", ("是否留守儿童", "留守儿童", "是否留守")),
    "tag_migrant": ("随迁子女", ("是否进城务工人员随迁子女", "随迁子女", "是否随迁子女")),
    "tag_orphan": ("孤儿", ("是否孤儿", "孤儿")),
    "tag_unattended": ("事实无人抚养", ("是否事实无人抚养儿童", "事实无人抚养", "是否事实无人抚养")),
    "tag_difficulty": ("困境", ("是否困境儿童", "困境儿童")),
    "tag_poverty": ("脱贫户", ("是否建档立卡贫困户", "是否脱贫户", "脱贫户", "是否建档立卡")),
    "tag_disabled": ("残疾", ("残疾类别", "残疾类型", "是否残疾", "是否残疾儿童", "残疾人类别")),
}

# Columns of the registry export and class lists that Quanxue knows and does not need: not listed as ignored.
KNOWN_UNUSED = (
    "序号", "编号", "no", "学校标识码", "学校代码", "学籍辅号", "身份证件类型", "证件类型", "民族", "国籍", "籍贯",
    "出生地", "户口所在地", "户口性质", "现住址", "家庭住址", "通信地址", "邮政编码", "备注", "入学年月", "入学方式",
    "就读方式", "港澳台侨外", "政治面貌", "健康状况", "血型", "成员1工作单位", "成员2工作单位", "成员1身份证件号",
    "成员2身份证件号", "成员1民族", "成员2民族", "成员1现住址", "成员2现住址", "成员1户口所在地", "成员2户口所在地",
    "成员1身份证件类型", "成员2身份证件类型", "成员1职务", "成员2职务", "学段", "学制", "年级代码",
)  # fmt: skip

_HEADER_NOISE = re.compile(r"[\s_\-*＊:：]|[(（][^)）]*[)）]|信息$")


def header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", text.replace("\ufeff", "")).casefold()


_ALIAS_TO_FIELD = {header_key(alias): field for field, aliases in HEADER_ALIASES.items() for alias in aliases}
_ALIAS_TO_FIELD.update({header_key(a): field for field, (_, aliases) in TAG_COLUMNS.items() for a in aliases})
_UNUSED = {header_key(alias) for alias in KNOWN_UNUSED}


def header_field(text: str) -> str | None:
    """The canonical field a header names ('学籍号', 'Student No', '出生日期(年-月-日)' …), or None."""
    return _ALIAS_TO_FIELD.get(header_key(text))


def known_unused(text: str) -> bool:
    return header_key(text) in _UNUSED


def field_label(field: str, locale: str) -> str:
    """The field's standard header: Chinese for Chinese locales, English otherwise."""
    if field in TAG_COLUMNS:
        return TAG_COLUMNS[field][1][0]
    aliases = HEADER_ALIASES.get(field, (field, field))
    return aliases[0] if locale.startswith("zh") else aliases[1]
