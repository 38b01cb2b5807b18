"""School days: the official calendar, terms and closures, and the calendar file."""
