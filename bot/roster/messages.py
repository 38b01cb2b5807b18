"""The import's message ids, marked for extraction and translated at render time (see bot.roster.report)."""

from __future__ import annotations


def _(message: str) -> str:
    """Extraction marker only: the text is translated where it is shown, in the reader's locale."""
    return message


ROW_ERROR = _("row {row}, {field}: {message}")
ROW_ERROR_VALUE = _("row {row}, {field} “{value}”: {message}")
IN_SHEET = _("sheet {sheet}, {line}")
WARNING = _("Warning: {line}")
IGNORED_COLUMNS = _("Columns not used: {columns}")
MOVES = _("{count} students would move to another class:")
MOVE = _("  row {row}: {name}, {old} → {new}")
CONFIRM_MOVES = _(
    "Nothing was written: {count} students would change class. Check the list above; if it is right, import again "
    "with --yes."
)
DRY_RUN = _("Dry run: rows read: {rows}. Nothing was written.")
NO_ROWS = _("Warning: the file has no student rows under its header: nothing was imported.")
CANNOT_READ = _("Cannot read {path}: {reason}")

ERRORS = {
    "missing_column": _("required column is missing"),
    "duplicate_column": _("this column appears more than once"),
    "required": _("a value is required"),
    "too_long": _("longer than {max} characters"),
    "bad_date": _("not a valid date (write it like 2015-03-04)"),
    "future_date": _("the date is in the future"),
    "age_out_of_range": _("age {age} is outside {min}–{max}"),
    "bad_gender": _("gender must be 男 or 女 (M or F), or left blank"),
    "bad_phone": _("not a phone number"),
    "bad_role": _("unknown role (use 控辍专干, 校长, 乡镇专干 or 县教育局控辍专干)"),
    "unknown_county": _("no county named {unit}: import its roster first"),
    "issuer_not_township": _("an issuer name (落款) belongs on a 乡镇专干 row"),
    "no_identity": _("give the student number (学籍号) or the birth date"),
    "name_missing": _("a name is needed with this phone number or relation"),
    "teacher_phone_missing": _("the homeroom teacher needs a phone number"),
    "same_guardian_twice": _("guardian 2 has the same phone number as guardian 1"),
    "duplicate_student_no": _("the same student number as row {other}"),
    "duplicate_id_number": _("the same ID number as row {other}"),
    "duplicate_student": _("the same student (school, name, birth date) as row {other}"),
    "phone_name_conflict": _("this phone number is under a different name in row {other}"),
    "teacher_conflict": _("row {other} names a different homeroom teacher for this class"),
    "phone_name_conflict_db": _("this phone number is already registered under a different name"),
    "ambiguous_student": _(
        "several students in the database have this school, name and birth date: add the student number (学籍号)"
    ),
    "unknown_school": _("no school named {unit} in {county}"),
    "ambiguous_school": _("schools named {unit} exist in several townships: add a 乡镇 (township) column"),
    "unknown_township": _("no township named {unit} in {county}"),
    "missing_identity_column": _(
        "add a birth date (出生日期), ID number (身份证件号) or student number (学籍号) column"
    ),
    "garbled_name": _(
        "the name contains “?” where a character was lost: the file was saved as GBK CSV. Save it as XLSX or "
        "“CSV UTF-8” and import again"
    ),
    "lost_digits": _(
        "this long number was stored as a number and lost its last digits: format the column as text, type the "
        "numbers again and import again"
    ),
    "bad_id_number": _("not an 18-character ID number (身份证件号)"),
    "bad_id_checksum": _("the ID number's last character does not match the others: one of them is mistyped"),
    "id_birth_mismatch": _("the birth date differs from the one in the ID number"),
    "bad_status": _("unknown status (use 在籍, 休学, 延缓入学, 送教上门, 转出 or 毕业)"),
    "new_school_needs_township": _("{unit} is a new school: add a 乡镇 (township) column"),
    "no_guardian": _("{name} has no guardian on file: absence notices go nowhere, so the teacher must phone or visit"),
    "extra_phones": _("{count} more phone numbers in this cell are not kept (one number per person)"),
}

UNREADABLE = {
    "not_found": _("the file does not exist"),
    "os_error": _("the file cannot be opened ({reason})"),
    "xls": _("not a valid Excel .xls file"),
    "no_sheet": _("there is no sheet named {sheet} (the sheets are: {sheets})"),
    "encoding": _("the text is neither UTF-8 nor GBK"),
    "csv": _("not a valid CSV file ({reason})"),
    "xlsx": _("not a valid XLSX or ODS file"),
    "empty": _("the file is empty"),
}

SUMMARY = {
    "roster": (
        ("student", _("Students: {created} new, {updated} changed, {unchanged} unchanged")),
        ("guardian", _("Guardians: {created} new, {updated} changed, {unchanged} unchanged")),
        ("teacher", _("Homeroom teachers: {created} new, {updated} changed, {unchanged} unchanged")),
    ),
    "staff": (
        ("staff", _("Staff: {created} new, {updated} changed, {unchanged} unchanged")),
        ("role", _("Staff roles: {created} new, {removed} removed, {unchanged} unchanged")),
    ),
}
NEW_PLACES = _("New places: {township} townships, {school} schools, {class} classes")
DONE = _("Import finished. Rows read: {rows}.")
NOTHING_WRITTEN = _(
    "Rows with errors: {count}. Nothing was written: fix them and import again, "
    "or use --skip-invalid to import the other rows."
)
NOTHING_WRITTEN_FIX = _("Rows with errors: {count}. Nothing was written: fix them and import again.")
SKIPPED = _("Rows with errors: {count}. They were skipped; the other rows were imported.")
