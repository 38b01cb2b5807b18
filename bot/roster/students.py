"""Roster rows against the database: find each student, check phones against known people, then upsert the
student, their guardianships and their class's homeroom teacher, auditing every change (field names only)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster.people import People, as_dicts, chunks
from bot.roster.places import Places
from bot.roster.progress import Progress
from bot.roster.report import ImportReport
from bot.roster.rows import GuardianEntry, RowError, StudentRow
from bot.roster.trail import Trail, Values
from storage.models import Guardianship, Person, Role, SchoolClass, StaffRole, Student

_PHONE_FIELDS = {1: "guardian_phone", 2: "guardian2_phone"}
_RELATION_FIELDS = {1: "relation", 2: "relation2"}
# What an import compares and changes of a student (the timestamps are written, never read).
_STUDENT_COLUMNS = (
    Student.id, Student.class_id, Student.name, Student.gender, Student.birth_date, Student.student_no,
    Student.id_number, Student.status, Student.tags,
)  # fmt: skip
_GUARDIANSHIP_COLUMNS = (
    Guardianship.id,
    Guardianship.student_id,
    Guardianship.person_id,
    Guardianship.rank,
    Guardianship.relation,
)


class RosterImport:
    """Students, people and guardianships are dicts of column values (see bot.roster.trail); places and
    class-teacher roles, a few hundred per file, are ORM objects."""

    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, report: ImportReport) -> None:
        self.session, self.now, self.report = session, now, report
        self.trail = Trail(session, now=now, actor=actor, source="roster")
        self.places = Places(self.trail, report)
        self.people = People(self.trail)
        self.by_no: dict[str, Values] = {}
        self.by_id_number: dict[str, Values] = {}
        self.class_of: dict[int, tuple[int, str]] = {}  # student id → their class's (school id, name)
        self.by_identity: dict[tuple, list[Values]] = {}  # (school id, name, birth date) → students
        self.guardianships: dict[int, dict[int, Values]] = {}  # student id → rank → guardianship
        self.guardians: dict[int, Values] = {}  # person id → person, for every loaded guardianship
        self.teacher_roles: dict[int | None, list[StaffRole]] = {}  # class id → its CLASS_TEACHER roles
        self.file_phones: set[str] = set()
        self.matched: dict[int, Values] = {}  # row number → existing student

    # --- loading -------------------------------------------------------------------------------------------------

    async def load_places(self, rows: list[StudentRow]) -> tuple[list[StudentRow], list[RowError]]:
        """The counties' places; rows without a 乡镇 get their school's township (errors when none or several)."""
        await self.places.load({row.county for row in rows})
        resolved: list[StudentRow] = []
        errors: list[RowError] = []
        township_of = lru_cache(maxsize=None)(self.places.township_of)  # a file has a few schools on many rows
        for row in rows:
            if row.township is not None:
                resolved.append(row)
                continue
            townships = township_of(row.county, row.school)
            if len(townships) == 1:
                resolved.append(replace(row, township=townships[0]))
            else:
                code = "ambiguous_school" if townships else "new_school_needs_township"
                errors.append(RowError(row.row, "school", code, {"unit": row.school, "county": row.county}))
        return resolved, errors

    async def load(self, rows: list[StudentRow]) -> None:
        """Everything the rows can touch, in a few set-based queries (after `load_places`)."""
        self.file_phones = {g.phone for row in rows for g in row.guardians if g.phone}
        self.file_phones |= {row.teacher.phone for row in rows if row.teacher}
        await self.people.load(self.file_phones)
        await self._load_students(rows)
        await self._load_guardianships()
        await self._load_teacher_roles(rows)

    async def _load_students(self, rows: list[StudentRow]) -> None:
        """The students of the file's schools, then those of its 学籍号 and ID numbers in other schools."""
        students: dict[int, Values] = {}
        school_ids = {school.id for row in rows if (school := self.places.school(row.county, row.township, row.school))}
        for chunk in chunks(school_ids):
            await self._students_where(students, SchoolClass.school_id.in_(chunk))
        numbers = {row.student_no for row in rows if row.student_no} - {s["student_no"] for s in students.values()}
        for chunk in chunks(numbers):
            await self._students_where(students, Student.student_no.in_(chunk))
        id_numbers = {row.id_number for row in rows if row.id_number} - {s["id_number"] for s in students.values()}
        for chunk in chunks(id_numbers):
            await self._students_where(students, Student.id_number.in_(chunk))
        for student in students.values():
            if student["student_no"]:
                self.by_no[student["student_no"]] = student
            if student["id_number"]:
                self.by_id_number[student["id_number"]] = student
            key = (self.class_of[student["id"]][0], student["name"], student["birth_date"])
            self.by_identity.setdefault(key, []).append(student)

    async def _students_where(self, students: dict[int, Values], condition: ColumnElement[bool]) -> None:
        """Students with their class's school and name (a file's worth of students is tens of thousands)."""
        stmt = select(*_STUDENT_COLUMNS, SchoolClass.school_id, SchoolClass.name.label("class_name")).join(SchoolClass)
        for student in as_dicts(await self.session.execute(stmt.where(condition))):
            self.class_of[student["id"]] = (student.pop("school_id"), student.pop("class_name"))
            students[student["id"]] = student

    async def _load_guardianships(self) -> None:
        student_ids = {s["id"] for group in self.by_identity.values() for s in group}
        for chunk in chunks(student_ids):
            stmt = select(*_GUARDIANSHIP_COLUMNS).where(Guardianship.student_id.in_(chunk))
            for row in as_dicts(await self.session.execute(stmt)):
                self.guardianships.setdefault(row["student_id"], {})[row["rank"]] = row
        self.guardians = {person["id"]: person for person in self.people.by_phone.values()}
        others = {g["person_id"] for ranks in self.guardianships.values() for g in ranks.values()}
        # guardians whose number is not in the file (changed, or none)
        for person in await self.people.select(Person.id, others - self.guardians.keys()):
            self.guardians[person["id"]] = person

    async def _load_teacher_roles(self, rows: list[StudentRow]) -> None:
        class_ids = {c.id for row in rows if (c := self.places.school_class(*row.class_key))}
        for chunk in chunks(class_ids):
            stmt = select(StaffRole).where(StaffRole.role == Role.CLASS_TEACHER, StaffRole.class_id.in_(chunk))
            for role in await self.session.scalars(stmt.order_by(StaffRole.id)):
                self.teacher_roles.setdefault(role.class_id or 0, []).append(role)

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
                if student["id"] in matched_by:
                    errors.append(RowError(row.row, "name", "duplicate_student", {"other": matched_by[student["id"]]}))
                else:
                    matched_by[student["id"]] = row.row
                    self.matched[row.row] = student
                    self._note_move(row, student)
        return errors

    def _note_move(self, row: StudentRow, student: Values) -> None:
        school_class = self.places.school_class(*row.class_key)
        if school_class is None or school_class.id != student["class_id"]:
            self.report.moves.append((row.row, row.name, self.class_of[student["id"]][1], row.class_name))

    def _phone_errors(self, row: StudentRow) -> list[RowError]:
        entries = [(_PHONE_FIELDS[g.rank], g.phone, g.name) for g in row.guardians if g.phone]
        if row.teacher:
            entries.append(("teacher_phone", row.teacher.phone, row.teacher.name))
        return [
            RowError(row.row, field, "phone_name_conflict_db")
            for field, phone, name in entries
            if self.people.name_conflict(phone, name)
        ]

    def _candidates(self, row: StudentRow) -> list[Values]:
        """By 学籍号 when given; else by ID number; else (or when they are new) by school, name and birth date."""
        if row.student_no and row.student_no in self.by_no:
            return [self.by_no[row.student_no]]
        if row.id_number and row.id_number in self.by_id_number:
            return [self.by_id_number[row.id_number]]
        school = self.places.school(row.county, row.township, row.school)
        if school is None:
            return []
        candidates = self.by_identity.get((school.id, row.name, row.birth_date), [])
        if row.student_no:
            candidates = [s for s in candidates if s["student_no"] is None]
        return [s for s in candidates if s["id_number"] is None] if row.id_number else candidates

    # --- writing -------------------------------------------------------------------------------------------------
    # Two passes, so that new rows are inserted in a few batches: first students and people (no ids needed), then,
    # once they have ids, guardianships and class-teacher roles.

    async def apply(self, rows: list[StudentRow], *, progress: Progress | None = None) -> None:
        await self.trail.number_new_rows(Student, Person, Guardianship, StaffRole)
        placed: list[_Placed] = []
        teachers: dict[int, tuple[SchoolClass, Values]] = {}
        classes = {key: await self.places.get_class(*key) for key in dict.fromkeys(row.class_key for row in rows)}
        for row in progress.rows(rows) if progress else rows:
            school_class = classes[row.class_key]
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
            if self._sync_guardians(item) and item.outcome == "unchanged":
                item.outcome = "updated"
            self.report.count("student", item.outcome)
        for school_class, person in teachers.values():
            await self._set_teacher(school_class, person)
        await self.trail.flush()
        self.people.tally(self.report)

    def _upsert_student(self, row: StudentRow, school_class: SchoolClass) -> tuple[Values, str]:
        student = self.matched.get(row.row)
        if student is None:
            student = self.trail.add(Student, {
                "class_id": school_class.id, "name": row.name, "gender": row.gender, "birth_date": row.birth_date,
                "student_no": row.student_no, "id_number": row.id_number, "tags": list(row.tags),
                "created_at": self.now, "updated_at": self.now, **({"status": row.status} if row.status else {}),
            })  # fmt: skip
            self.trail.created("student.created", "student", student, class_id=school_class.id)
            return student, "created"
        return student, "updated" if self._update_student(student, row, school_class) else "unchanged"

    def _update_student(self, student: Values, row: StudentRow, school_class: SchoolClass) -> bool:
        wanted = {"class_id": school_class.id, "name": row.name}
        if row.birth_date is not None:
            wanted["birth_date"] = row.birth_date
        if row.student_no:
            wanted["student_no"] = row.student_no
        if row.id_number:
            wanted["id_number"] = row.id_number
        if row.status:
            wanted["status"] = row.status
        if "gender" in row.columns:
            wanted["gender"] = row.gender
        if "tags" in row.columns:
            wanted["tags"] = list(row.tags)
        changed = sorted(name for name, value in wanted.items() if student[name] != value)
        if changed:
            changes = {name: wanted[name] for name in changed}
            student.update(changes)
            self.trail.change(Student, student["id"], {**changes, "updated_at": self.now})
            self.trail.record("student.updated", "student", student["id"], fields=changed)
        return bool(changed)

    def _guardian_person(self, entry: GuardianEntry, student: Values) -> Values:
        """By phone; else the person already at this rank when the name matches (a changed number is updated on
        them when the old number is nowhere in the file); else a new person."""
        current = self.guardianships.get(student["id"], {}).get(entry.rank) if "id" in student else None
        person = self.guardians.get(current["person_id"]) if current else None
        if person is not None and person["name"] != entry.name:
            person = None
        if entry.phone:
            known = self.people.by_phone.get(entry.phone)
            if known is not None:
                self.people.note("guardian", known, "unchanged")
                return known
            if person is not None and person["phone"] not in self.file_phones:
                self.people.change_phone(person, entry.phone)
                self.people.note("guardian", person, "updated")
                return person
        elif person is not None:
            self.people.note("guardian", person, "unchanged")
            return person
        person = self.people.create(entry.name, entry.phone)
        self.people.note("guardian", person, "created")
        return person

    def _sync_guardians(self, item: _Placed) -> bool:
        """Make the student's guardianships what the row says; rank 2 only when the file has a 监护人2 column."""
        student_id, wanted = item.student["id"], item.wanted
        existing = self.guardianships.setdefault(student_id, {})
        managed = {1, 2} if "guardian2" in item.row.columns else {1}
        wanted_people = {person["id"] for person, _ in wanted.values()}
        stale = [
            g for rank, g in existing.items()
            if (rank in managed and (rank not in wanted or wanted[rank][0]["id"] != g["person_id"]))
            or (rank not in managed and g["person_id"] in wanted_people)
        ]  # fmt: skip
        for guardianship in stale:  # deleted at the flush, before the new ones go in: (student, person) and
            self.trail.delete(Guardianship, guardianship["id"])  # (student, rank) are unique
            del existing[guardianship["rank"]]
            self.trail.record("guardianship.deleted", "guardianship", guardianship["id"], student_id=student_id)
        changed = bool(stale)
        for rank, (person, entry) in wanted.items():
            changed |= self._link(student_id, rank, person, entry, item.row)
        return changed

    def _link(self, student_id: int, rank: int, person: Values, entry: GuardianEntry, row: StudentRow) -> bool:
        existing = self.guardianships[student_id]
        current = existing.get(rank)
        if current is None:
            existing[rank] = current = self.trail.add(Guardianship, {
                "student_id": student_id, "person_id": person["id"], "rank": rank, "relation": entry.relation,
            })  # fmt: skip
            self.guardians[person["id"]] = person
            details: dict[str, object] = {"student_id": student_id, "person_id": person["id"]}
            self.trail.created("guardianship.created", "guardianship", current, **details)
            return True
        if _RELATION_FIELDS[rank] in row.columns and current["relation"] != entry.relation:
            current["relation"] = entry.relation
            self.trail.change(Guardianship, current["id"], {"relation": entry.relation})
            self.trail.record(
                "guardianship.updated", "guardianship", current["id"], student_id=student_id, fields=["relation"]
            )
            return True
        return False

    async def _set_teacher(self, school_class: SchoolClass, person: Values) -> None:
        """One homeroom teacher per class: a different teacher takes over the class's role row."""
        roles = self.teacher_roles.get(school_class.id, [])
        keep = next((r for r in roles if r.person_id == person["id"]), roles[0] if roles else None)
        if keep is None:
            details: dict[str, object] = {"person_id": person["id"], "class_id": school_class.id}
            new = self.trail.add(StaffRole, {**details, "role": Role.CLASS_TEACHER})
            self.trail.created("staff_role.created", "staff_role", new, **details)
            self.report.count("teacher", "created")
            return
        outcome = "unchanged"
        for extra in (r for r in roles if r is not keep):
            await self.session.delete(extra)
            self.trail.record("staff_role.deleted", "staff_role", extra.id, class_id=school_class.id)
            outcome = "updated"
        if keep.person_id != person["id"]:
            keep.person_id = person["id"]
            self.trail.record(
                "staff_role.updated", "staff_role", keep.id, class_id=school_class.id, fields=["person_id"]
            )
            outcome = "updated"
        self.report.count("teacher", outcome)


@dataclass
class _Placed:
    """A row on its way in: its student (maybe new) and the guardians it wants, by rank."""

    row: StudentRow
    student: Values
    outcome: str
    wanted: dict[int, tuple[Values, GuardianEntry]]
