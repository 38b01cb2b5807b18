"""A small, fixed world for tests: one township, one school, one class, its teacher, three pupils, their guardians,
a school officer and a township officer. Nobody is linked to Telegram yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.onboarding.service import CONSENT_VERSIONS, ConsentKind, needs_consent, record_consent
from storage.models import (
    Channel,
    Consent,
    ContactPoint,
    County,
    Guardianship,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)


@dataclass
class World:
    township: Township
    school: School
    school_class: SchoolClass
    other_class: SchoolClass
    teacher: Person
    officer: Person
    township_officer: Person
    li_ming: Student
    li_hua: Student
    zhang_xiaohong: Student
    father_li: Person
    grandma_zhang: Person
    father_zhang: Person


async def seed_world(session: AsyncSession, now: datetime) -> World:
    county = County(name="示范县")
    township = Township(name="青山镇")
    session.add(county)
    await session.flush()
    township.county_id = county.id
    session.add(township)
    await session.flush()
    school = School(township_id=township.id, name="青山镇中心小学")
    session.add(school)
    await session.flush()
    klass = SchoolClass(school_id=school.id, name="三年级1班")
    other = SchoolClass(school_id=school.id, name="五年级2班")
    session.add_all([klass, other])
    await session.flush()

    def person(name: str, phone: str) -> Person:
        return Person(name=name, phone=phone, created_at=now, updated_at=now)

    def student(name: str, born: date, class_id: int) -> Student:
        return Student(class_id=class_id, name=name, gender="M", birth_date=born, created_at=now, updated_at=now)

    people = [
        person("王丽", "13900000101"),
        person("赵强", "13900000201"),
        person("孙敏", "13900000301"),
        person("李建国", "13900001001"),
        person("张奶奶", "13900001003"),
        person("张伟", "13900001004"),
    ]
    teacher, officer, township_officer, father_li, grandma, father_zhang = people
    pupils = [student("李明", date(2017, 5, 3), klass.id), student("李华", date(2018, 2, 11), klass.id),
              student("张小红", date(2017, 9, 20), klass.id)]
    session.add_all(people + pupils)
    await session.flush()
    li_ming, li_hua, xiaohong = pupils
    session.add_all([
        StaffRole(person_id=teacher.id, role=Role.CLASS_TEACHER, class_id=klass.id),
        StaffRole(person_id=officer.id, role=Role.SCHOOL_ADMIN, school_id=school.id),
        StaffRole(person_id=township_officer.id, role=Role.TOWNSHIP_OFFICER, township_id=township.id),
        Guardianship(student_id=li_ming.id, person_id=father_li.id, relation="父亲", rank=1),
        Guardianship(student_id=li_hua.id, person_id=father_li.id, relation="父亲", rank=1),
        Guardianship(student_id=xiaohong.id, person_id=grandma.id, relation="奶奶", rank=1),
        Guardianship(student_id=xiaohong.id, person_id=father_zhang.id, relation="父亲", rank=2),
    ])
    await session.flush()
    return World(township, school, klass, other, teacher, officer, township_officer, li_ming, li_hua, xiaohong,
                 father_li, grandma, father_zhang)


async def link(
    session: AsyncSession, person: Person, telegram_id: int, now: datetime, *, consented: bool = True
) -> ContactPoint:
    """Link a person to a Telegram account as onboarding would, a guardian having given both consents (sensitive
    information, transfer abroad) unless `consented` is False (for tests about what comes after onboarding)."""
    contact = ContactPoint(person_id=person.id, channel=Channel.TELEGRAM, address=str(telegram_id), linked_at=now)
    session.add(contact)
    if consented and await needs_consent(session, person.id):
        session.add_all([Consent(person_id=person.id, text_version=version, locale="zh_Hans",
                                 channel=Channel.TELEGRAM, accepted_at=now) for version in CONSENT_VERSIONS])
    await session.flush()
    return contact


async def give_consents(session: AsyncSession, now: datetime, person_id: int, locale: str = "zh_Hans") -> None:
    """Both consents through the service, one after the other, as a guardian tapping 同意 on each screen."""
    for kind in ConsentKind:
        await record_consent(session, now, person_id, locale, Channel.TELEGRAM, kind)
