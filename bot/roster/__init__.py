"""Roster and staff import: read a CSV or XLSX file, validate its rows, and upsert places, students, guardians and
staff roles (`quanxue import-roster`, `quanxue import-staff`)."""
