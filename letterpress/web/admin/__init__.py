"""The operations dashboard ``/admin``: runs and their reports, the schedule, lists, subscriber
search with the GDPR actions, and the audit log — behind a login."""

__all__: list[str] = []
