"""The words of the reports (sheet names, column headers, statuses, stages), as msgids translated per recipient."""

from __future__ import annotations

from bot.core.i18n import gettext


def _(message: str) -> str:
    """Extraction marker: the msgid is translated when the report is built."""
    return message


SHEETS = {
    "summary": _("Summary"),
    "children": _("School-age children"),
    "suspected": _("Suspected dropouts"),
    "dropouts": _("Dropouts"),
}
CHILD_COLUMNS = (_("Township"), _("School"), _("Class"), _("Name"), _("Gender"), _("Status"),
                 _("Priority groups"), _("Days absent"), _("Days absent without leave"), _("Enrolment changes"))
CASE_COLUMNS = (_("Township"), _("School"), _("Class"), _("Name"), _("First day absent"), _("Case opened"),
                _("Stage"), _("Days absent since"), _("Notices to the family"), _("Answers from the family"),
                _("Home visits"), _("Other persuasion attempts"), _("Reason found"), _("Reported in writing"),
                _("Order to return issued"), _("Order deadline"), _("Legal steps"), _("Outcome"), _("Struck off"))
SUMMARY_COLUMNS = (_("Level"), _("Unit"), _("Group"), _("Students on the roll"), _("Expected student-days"),
                   _("Present student-days"), _("Attendance rate"), _("New suspected dropouts"),
                   _("New confirmed dropouts"), _("Returns"), _("Open suspected at month end"),
                   _("Open confirmed at month end"), _("Dropouts this school year"),
                   _("Enrolment at the start of the year"), _("Dropout rate"), _("Transfers in"), _("Transfers out"),
                   _("Retention rate"))
LEVELS = {"class": _("Class"), "school": _("School"), "township": _("Township"), "county": _("County")}
EVERYONE = _("All students")
ANY_GROUP = _("Any priority group")
STATUSES = {
    "enrolled": _("Enrolled"),
    "suspended": _("Suspended (approved)"),
    "deferred": _("Deferred entry (approved)"),
    "home_teaching": _("Home teaching"),
    "transferred": _("Transferred out"),
    "graduated": _("Graduated"),
    "deceased": _("Deceased"),
}
CHANGES = {
    "transfer_out": _("Transfer out"),
    "transfer_in": _("Transfer in"),
    "suspension": _("Suspension"),
    "resumption": _("Back from suspension"),
    "home_teaching": _("Home teaching"),
    "graduation": _("Graduation"),
    "death": _("Death"),
}
STAGES = {
    "open": _("Suspected dropout"),
    "reported": _("Reported in writing"),
    "ordered": _("Ordered to return"),
    "legal": _("Legal steps"),
    "closed": _("Struck off"),
}
OUTCOMES = {
    "returned": _("Back at school"),
    "transferred": _("Transferred"),
    "lawful_absence": _("Lawful absence approved"),
    "other": _("Other"),
}
REASONS = {
    "learning_difficulty": _("Learning difficulty or disaffection"),
    "family_hardship": _("Family hardship"),
    "gone_to_work": _("Gone to work"),
    "following_parents": _("Following migrant parents"),
    "illness_disability": _("Illness or disability"),
    "early_marriage": _("Early marriage"),
    "other": _("Other"),
}
GROUPS = {
    "孤儿": _("Orphans"),
    "事实无人抚养": _("Children with no one caring for them"),
    "残疾": _("Disabled children"),
    "留守儿童": _("Left-behind children"),
    "困境": _("Children in difficulty"),
    "随迁子女": _("Migrant children"),
    "脱贫户": _("Children of formerly poor households"),
}
CHART_ATTENDANCE = _("Attendance by class and week")
CHART_CASES = _("Open cases by stage")
CHART_WEEK = _("Week of")
CHART_NO_DATA = _("No roll calls this month")


def label(table: dict[str, str], key: str | None, locale: str) -> str:
    """The translated word for `key` in `table`, or the key itself when the table does not know it."""
    if key is None:
        return ""
    return gettext(table[key], locale) if key in table else key


def words(messages: tuple[str, ...], locale: str) -> list[str]:
    return [gettext(message, locale) for message in messages]
