"""Families: guardians' answers to notices and their leave requests."""
