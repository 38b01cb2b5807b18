"""Shared platform: settings, the clock, languages, the ladder policy, the audit trail, scope and phone numbers."""
