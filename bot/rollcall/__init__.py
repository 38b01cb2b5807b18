"""The daily roll call: the service, the teacher's working view of it, and the reminders."""
