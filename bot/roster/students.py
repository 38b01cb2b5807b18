"""Roster rows against the database: find each student, check phones against known people, then upsert the
student, their guardianships and their class's homeroom teacher, auditing every change (field names only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster.people import People, chunks
from bot.roster.places import Places
from bot.roster.report import ImportReport
from bot.roster.rows import GuardianEntry, RowError, StudentRow
from bot.roster.trail import Trail
from storage.models import Guardianship, Person, Role, SchoolClass, StaffRole, Student

_PHONE_FIELDS = {1: "guardian_phone", 2: "guardian2_phone"}
_RELATION_FIELDS = {1: "relation", 2: "relation2"}


class RosterImport:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, report: ImportReport) -> None:
        self.session, self.now, self.report = session, now, report
        self.trail = Trail(session, now=now, actor=actor, source="roster")
        self.places = Places(self.trail, report)
        self.people = People(self.trail)
        self.by_no: dict[str, Student] = {}
        self.by_identity: dict[tuple, list[Student]] = {}  # (school id, name, birth date) → students
        self.guardianships: dict[int, dict[int, Guardianship]] = {}  # student id → rank → guardianship
        self.guardians: dict[int, Person] = {}  # person id → person, for every loaded guardianship
        self.teacher_roles: dict[int | None, list[StaffRole]] = {}  # class id → its CLASS_TEACHER roles
        self.file_phones: set[str] = set()
        self.matched: dict[int, Student] = {}  # row number → existing student

    # --- loading -------------------------------------------------------------------------------------------------

    async def load(self, rows: list[StudentRow]) -> None:
        """Everything the rows can touch, in a few set-based queries."""
        await self.places.load({row.county for row in rows})
        self.file_phones = {g.phone for row in rows for g in row.guardians if g.phone}
        self.file_phones |= {row.teacher.phone for row in rows if row.teacher}
        await self.people.load(self.file_phones)
        await self._load_students(rows)
        await self._load_guardianships()
        await self._load_teacher_roles(rows)

    async def _load_students(self, rows: list[StudentRow]) -> None:
        students: dict[int, Student] = {}
        for chunk in chunks({row.student_no for row in rows if row.student_no}):
            students.update(
                (s.id, s) for s in await self.session.scalars(select(Student).where(Student.student_no.in_(chunk)))
            )
        school_ids = {school.id for row in rows if (school := self.places.school(row.county, row.township, row.school))}
        for chunk in chunks(school_ids):
            stmt = select(Student).join(SchoolClass).where(SchoolClass.school_id.in_(chunk))
            students.update((s.id, s) for s in await self.session.scalars(stmt))
        for student in students.values():
            if student.student_no:
                self.by_no[student.student_no] = student
            key = (student.school_class.school_id, student.name, student.birth_date)
            self.by_identity.setdefault(key, []).append(student)

    async def _load_guardianships(self) -> None:
        student_ids = {s.id for group in self.by_identity.values() for s in group}
        for chunk in chunks(student_ids):
            stmt = select(Guardianship, Person).join(Person).where(Guardianship.student_id.in_(chunk))
            for guardianship, person in await self.session.execute(stmt):
                self.guardianships.setdefault(guardianship.student_id, {})[guardianship.rank] = guardianship
                self.guardians[person.id] = person

    async def _load_teacher_roles(self, rows: list[StudentRow]) -> None:
        class_ids = {c.id for row in rows if (c := self.places.school_class(*row.class_key))}
        for chunk in chunks(class_ids):
            stmt = select(StaffRole).where(StaffRole.role == Role.CLASS_TEACHER, StaffRole.class_id.in_(chunk))
            for role in await self.session.scalars(stmt.order_by(StaffRole.id)):
                self.teacher_roles.setdefault(role.class_id, []).append(role)

    # --- checks against the database -----------------------------------------------------------------------------

    def check(self, rows: list[StudentRow]) -> list[RowError]:
        """Phones already registered under other names; students matched ambiguously or by two rows."""
        errors: list[RowError] = []
        matched_by: dict[int, int] = {}  # student id → row number
        for row in rows:
            errors += self._phone_errors(row)
            candidates = self._candidates(row)
            if len(candidates) > 1:
                errors.append(RowError(row.row, "name", "ambiguous_student"))
            elif candidates:
                student = candidates[0]
                if student.id in matched_by:
                    errors.append(RowError(row.row, "name", "duplicate_student", {"other": matched_by[student.id]}))
                else:
                    matched_by[student.id] = row.row
                    self.matched[row.row] = student
        return errors

    def _phone_errors(self, row: StudentRow) -> list[RowError]:
        entries = [(_PHONE_FIELDS[g.rank], g.phone, g.name) for g in row.guardians if g.phone]
        if row.teacher:
            entries.append(("teacher_phone", row.teacher.phone, row.teacher.name))
        return [
            RowError(row.row, field, "phone_name_conflict_db")
            for field, phone, name in entries
            if self.people.name_conflict(phone, name)
        ]

    def _candidates(self, row: StudentRow) -> list[Student]:
        """By 学籍号 when given; else (or when the 学籍号 is new) by school, name and birth date."""
        if row.student_no and row.student_no in self.by_no:
            return [self.by_no[row.student_no]]
        school = self.places.school(row.county, row.township, row.school)
        if school is None:
            return []
        candidates = self.by_identity.get((school.id, row.name, row.birth_date), [])
        return [s for s in candidates if s.student_no is None] if row.student_no else candidates

    # --- writing -------------------------------------------------------------------------------------------------
    # Two passes, so that new rows are inserted in a few batches: first students and people (no ids needed), then,
    # once they have ids, guardianships and class-teacher roles.

    async def apply(self, rows: list[StudentRow]) -> None:
        placed: list[_Placed] = []
        teachers: dict[int, tuple[SchoolClass, Person]] = {}
        for row in rows:
            school_class = await self.places.get_class(*row.class_key)
            student, outcome = self._upsert_student(row, school_class)
            wanted = {g.rank: (self._guardian_person(g, student), g) for g in row.guardians}
            placed.append(_Placed(row, student, outcome, wanted))
            if row.teacher and school_class.id not in teachers:
                teachers[school_class.id] = (
                    school_class,
                    self.people.get_or_create(row.teacher.name, row.teacher.phone)[0],
                )
        await self.trail.flush()
        for item in placed:
            if await self._sync_guardians(item) and item.outcome == "unchanged":
                item.outcome = "updated"
            self.report.count("student", item.outcome)
        for school_class, person in teachers.values():
            await self._set_teacher(school_class, person)
        await self.trail.flush()
        self.people.tally(self.report)

    def _upsert_student(self, row: StudentRow, school_class: SchoolClass) -> tuple[Student, str]:
        student = self.matched.get(row.row)
        if student is None:
            student = Student(
                class_id=school_class.id, name=row.name, gender=row.gender, birth_date=row.birth_date,
                student_no=row.student_no, tags=list(row.tags), created_at=self.now, updated_at=self.now,
            )  # fmt: skip
            self.session.add(student)
            self.trail.created("student.created", "student", student, class_id=school_class.id)
            return student, "created"
        return student, "updated" if self._update_student(student, row, school_class) else "unchanged"

    def _update_student(self, student: Student, row: StudentRow, school_class: SchoolClass) -> bool:
        wanted = {"class_id": school_class.id, "name": row.name}
        if row.birth_date is not None:
            wanted["birth_date"] = row.birth_date
        if row.student_no:
            wanted["student_no"] = row.student_no
        if "gender" in row.columns:
            wanted["gender"] = row.gender
        if "tags" in row.columns:
            wanted["tags"] = list(row.tags)
        changed = sorted(name for name, value in wanted.items() if getattr(student, name) != value)
        for name in changed:
            setattr(student, name, wanted[name])
        if changed:
            student.updated_at = self.now
            self.trail.record("student.updated", "student", student.id, fields=changed)
        return bool(changed)

    def _guardian_person(self, entry: GuardianEntry, student: Student) -> Person:
        """By phone; else the person already at this rank when the name matches (a changed number is updated on
        them when the old number is nowhere in the file); else a new person."""
        current = self.guardianships.get(student.id, {}).get(entry.rank) if student.id else None
        person = self.guardians.get(current.person_id) if current else None
        if person is not None and person.name != entry.name:
            person = None
        if entry.phone:
            known = self.people.by_phone.get(entry.phone)
            if known is not None:
                self.people.note("guardian", known, "unchanged")
                return known
            if person is not None and person.phone not in self.file_phones:
                self.people.change_phone(person, entry.phone)
                self.people.note("guardian", person, "updated")
                return person
        elif person is not None:
            self.people.note("guardian", person, "unchanged")
            return person
        person = self.people.create(entry.name, entry.phone)
        self.people.note("guardian", person, "created")
        return person

    async def _sync_guardians(self, item: _Placed) -> bool:
        """Make the student's guardianships what the row says; rank 2 only when the file has a 监护人2 column."""
        student, wanted = item.student, item.wanted
        existing = self.guardianships.setdefault(student.id, {})
        managed = {1, 2} if "guardian2" in item.row.columns else {1}
        wanted_people = {person.id for person, _ in wanted.values()}
        stale = [
            g for rank, g in existing.items()
            if (rank in managed and (rank not in wanted or wanted[rank][0].id != g.person_id))
            or (rank not in managed and g.person_id in wanted_people)
        ]  # fmt: skip
        for guardianship in stale:
            await self.session.delete(guardianship)
            del existing[guardianship.rank]
            self.trail.record("guardianship.deleted", "guardianship", guardianship.id, student_id=student.id)
        if stale:
            await self.session.flush()  # before re-adding: (student, person) and (student, rank) are unique
        changed = bool(stale)
        for rank, (person, entry) in wanted.items():
            changed |= self._link(student, rank, person, entry, item.row)
        return changed

    def _link(self, student: Student, rank: int, person: Person, entry: GuardianEntry, row: StudentRow) -> bool:
        existing = self.guardianships[student.id]
        current = existing.get(rank)
        if current is None:
            current = Guardianship(student_id=student.id, person_id=person.id, rank=rank, relation=entry.relation)
            self.session.add(current)
            existing[rank] = current
            self.guardians[person.id] = person
            details = {"student_id": student.id, "person_id": person.id}
            self.trail.created("guardianship.created", "guardianship", current, **details)
            return True
        if _RELATION_FIELDS[rank] in row.columns and current.relation != entry.relation:
            current.relation = entry.relation
            self.trail.record("guardianship.updated", "guardianship", current.id, student_id=student.id,
                              fields=["relation"])
            return True
        return False

    async def _set_teacher(self, school_class: SchoolClass, person: Person) -> None:
        """One homeroom teacher per class: a different teacher takes over the class's role row."""
        roles = self.teacher_roles.get(school_class.id, [])
        keep = next((r for r in roles if r.person_id == person.id), roles[0] if roles else None)
        if keep is None:
            keep = StaffRole(person_id=person.id, role=Role.CLASS_TEACHER, class_id=school_class.id)
            self.session.add(keep)
            details = {"person_id": person.id, "class_id": school_class.id}
            self.trail.created("staff_role.created", "staff_role", keep, **details)
            self.report.count("teacher", "created")
            return
        outcome = "unchanged"
        for extra in (r for r in roles if r is not keep):
            await self.session.delete(extra)
            self.trail.record("staff_role.deleted", "staff_role", extra.id, class_id=school_class.id)
            outcome = "updated"
        if keep.person_id != person.id:
            keep.person_id = person.id
            self.trail.record("staff_role.updated", "staff_role", keep.id, class_id=school_class.id,
                              fields=["person_id"])
            outcome = "updated"
        self.report.count("teacher", outcome)


@dataclass
class _Placed:
    """A row on its way in: its student (maybe new) and the guardians it wants, by rank."""

    row: StudentRow
    student: Student
    outcome: str
    wanted: dict[int, tuple[Person, GuardianEntry]]
