"""Fictional registry exports, generated in code: for tests, the benchmark and demonstrations. Never real people.

Names are drawn from common surnames and given-name characters; ID numbers (身份证件号) have valid check characters
and an invented area code; phones are in the 139-0000-xxxx block used for examples throughout Quanxue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "子涵欣怡梓轩浩然雨桐一诺思远佳怡俊杰宇航诗涵博文晨曦梦琪嘉懿明轩若汐天佑紫萱皓轩语嫣家豪"
GRADES = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级")
AREA = "99"  # no area code starts 99: fictional ID numbers cannot be anyone's
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

REGISTRY_HEADER = (
    "学校名称", "学校标识码", "年级", "班级", "姓名", "性别", "出生日期", "身份证件类型", "身份证件号", "全国学籍号",
    "学籍辅号", "学籍状态", "是否留守儿童", "是否进城务工人员随迁子女", "成员1姓名", "成员1关系", "成员1联系电话",
    "成员1是否监护人", "成员2姓名", "成员2关系", "成员2联系电话", "成员2是否监护人",
)  # fmt: skip


def id_number(born: date, serial: int, male: bool) -> str:
    """An 18-character ID number with a valid check character (fictional area code)."""
    sequence = serial % 500 * 2 + (1 if male else 0)
    body = f"{AREA}{serial // 500 % 10_000:04d}{born:%Y%m%d}{sequence:03d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@dataclass(frozen=True)
class Child:
    school: str
    grade: str
    class_no: int
    name: str
    male: bool
    born: date
    id_number: str
    student_no: str
    guardian: str
    guardian_phone: str
    second: str
    second_phone: str

    def registry_row(self) -> list[str]:
        gender = "1-男" if self.male else "2-女"
        return [
            self.school, f"21{sum(map(ord, self.school)):08d}", self.grade, f"({self.class_no})班", self.name,
            gender, self.born.isoformat(), "居民身份证", self.id_number, self.student_no, "", "在籍", "否", "否",
            self.guardian, "父亲", self.guardian_phone, "是", self.second, "母亲", self.second_phone, "是",
        ]  # fmt: skip


def school_rows(kids: list[Child], township: str = "青山镇") -> list[list[str]]:
    """A small roster (乡镇, 学校, 班级, 姓名, 出生日期) with one child per school: it places the schools in a
    township before the registry export, which names no township, is imported."""
    first = {kid.school: kid for kid in reversed(kids)}
    header = ["乡镇", "学校", "年级", "班级", "姓名", "出生日期", "身份证件号"]
    rows = [
        [township, k.school, k.grade, f"({k.class_no})班", k.name, k.born.isoformat(), k.id_number]
        for k in first.values()
    ]
    return [header, *rows]


def children(count: int, *, schools: int = 10, seed: int = 7, first_year: int = 2012) -> list[Child]:
    """`count` fictional children spread over `schools` schools, 9 grades and 40 to a class."""
    rng = random.Random(seed)
    result = []
    for serial in range(count):
        school = f"第{serial % schools + 1}小学"
        grade_index = serial // schools % len(GRADES)
        male = rng.random() < 0.5
        born = date(first_year + 8 - grade_index, 1, 1) + timedelta(days=rng.randrange(365))
        surname = rng.choice(SURNAMES)
        result.append(
            Child(
                school=school, grade=GRADES[grade_index], class_no=serial // (schools * len(GRADES) * 40) + 1,
                name=surname + rng.choice(GIVEN) + rng.choice(GIVEN), male=male, born=born,
                id_number=id_number(born, serial, male), student_no=f"G{born:%Y%m%d}{serial:06d}",
                guardian=surname + rng.choice(GIVEN), guardian_phone=f"139{serial:08d}",
                second=rng.choice(SURNAMES) + rng.choice(GIVEN), second_phone=f"138{serial:08d}",
            )
        )  # fmt: skip
    return result
