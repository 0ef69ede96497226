"""Errors raised by letterpress.

Every error the library raises on purpose derives from :class:`LetterpressError` and carries
the data a caller needs; the CLI and the web layer turn them into messages or HTTP answers.

    LetterpressError
    ├── ConfigError                 letterpress.toml / environment is wrong
    ├── ContentError                an issue file has problems (all of them, with positions)
    ├── RenderError                 a template failed to render or MJML failed to compile
    ├── AudienceError
    │   ├── InvalidEmail            an address is not valid (value, reason)
    │   ├── SubscriberNotFound      no subscriber with that address / id
    │   ├── UnknownList             the list does not exist
    │   ├── Suppressed              the address is on the suppression list
    │   ├── InvalidTransition       a subscription status change that is not allowed
    │   └── SegmentError            a segment expression is wrong (position, reason)
    ├── TokenError                  a signed token is forged, altered, expired or of another kind
    │   └── TokenExpired
    ├── TransportError              a mail transport failed (code, text, permanent?)
    ├── DeliveryError
    │   ├── SendRunLocked           another process holds the lease on this send run
    │   ├── AlreadySent             this issue already went to this list (use --again)
    │   ├── SendRunNotFound
    │   ├── SendRunPaused           the server refused everything: the run was paused
    │   └── StateTransitionError    a run/delivery state change the lifecycle forbids
    ├── ScheduleError
    │   ├── ContentChanged          the issue changed after it was approved for scheduling
    │   ├── ScheduleNotFound
    │   └── ScheduleTransitionError a schedule/occurrence state change the lifecycle forbids
    │                               (also a StateTransitionError)
    ├── BounceError
    │   ├── BounceSourceError       a bounce mailbox cannot be opened or read
    │   ├── BounceNotFound
    │   ├── AlreadyRecorded         another process recorded the same message meanwhile
    │   └── WebhookPayloadError     a webhook body is not the relay's JSON
    └── AdminError
        ├── AdminAccountExists      an account with that user name exists
        ├── AdminAccountNotFound
        └── InvalidAdminAccount     bad user name, role or password (reason)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DatabaseUnavailable",
    "AdminAccountExists",
    "AdminAccountNotFound",
    "AdminError",
    "AlreadyRecorded",
    "AlreadySent",
    "AudienceError",
    "BounceError",
    "BounceNotFound",
    "BounceSourceError",
    "ConfigError",
    "ContentChanged",
    "ContentError",
    "DeliveryError",
    "InvalidAdminAccount",
    "InvalidEmail",
    "InvalidTransition",
    "LetterpressError",
    "Problem",
    "RenderError",
    "ScheduleError",
    "ScheduleNotFound",
    "ScheduleTransitionError",
    "SegmentError",
    "SendRunLocked",
    "SendRunNotFound",
    "SendRunPaused",
    "StateTransitionError",
    "SubscriberNotFound",
    "Suppressed",
    "TokenError",
    "TokenExpired",
    "TransportError",
    "UnknownList",
    "WebhookPayloadError",
]


class LetterpressError(Exception):
    """Root of every error letterpress raises on purpose."""


class ConfigError(LetterpressError):
    """The project configuration (letterpress.toml or environment) is invalid."""

    def __init__(self, message: str, *, source: str | None = None):
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class DatabaseUnavailable(ConfigError):
    """The database URL cannot be used: unknown scheme, a driver that is not installed, a
    server that does not answer, a file that cannot be opened.  ``url`` has no password."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"cannot open the database {url}: {reason}",
                         source="LETTERPRESS_DATABASE_URL / [project] database_url")


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a file, with its position and the field path it concerns."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = field(default="error", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ContentError(LetterpressError):
    """An issue file could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RenderError(LetterpressError):
    """A template could not be rendered, or the MJML could not be compiled."""

    def __init__(self, message: str, *, template: str | None = None, line: int | None = None):
        self.message = message
        self.template = template
        self.line = line
        where = f"{template}:{line}: " if template and line else (f"{template}: " if template else "")
        super().__init__(f"{where}{message}")


class AudienceError(LetterpressError):
    """Base class for subscriber-list errors."""


class InvalidEmail(AudienceError):
    """An address failed validation."""

    def __init__(self, value: str, reason: str):
        self.value = value
        self.reason = reason
        super().__init__(f"invalid address {value!r}: {reason}")


class SubscriberNotFound(AudienceError):
    """No subscriber matches."""

    def __init__(self, key: object):
        self.key = key
        super().__init__(f"no subscriber {key}")


class UnknownList(AudienceError):
    """The named list does not exist."""

    def __init__(self, name: str, known: list[str] | None = None):
        self.name = name
        self.known = known or []
        hint = f" (known lists: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"unknown list {name!r}{hint}")


class Suppressed(AudienceError):
    """The address unsubscribed, bounced or complained; it is not re-activated silently."""

    def __init__(self, email: str, reason: str):
        self.email = email
        self.reason = reason
        super().__init__(f"{email} is suppressed ({reason}); use --resubscribe with new consent")


class InvalidTransition(AudienceError):
    """A subscription cannot move from one status to another."""

    def __init__(self, current: str, wanted: str):
        self.current = current
        self.wanted = wanted
        super().__init__(f"cannot change a subscription from {current} to {wanted}")


class TokenError(LetterpressError):
    """A token is not valid. Deliberately says nothing about why, beyond its kind."""

    def __init__(self, message: str = "invalid token"):
        super().__init__(message)


class TokenExpired(TokenError):
    """A correctly signed token that is older than its allowed age."""

    def __init__(self, message: str = "expired token"):
        super().__init__(message)


class TransportError(LetterpressError):
    """A transport could not hand a message over.

    ``code`` is the SMTP reply code when there is one (0 for connection problems);
    ``permanent`` is True for 5xx answers, which retrying will not fix; ``uncertain`` is True
    when the whole message had been handed over and its answer never came (the server may
    have accepted it: sending it again may deliver it twice); ``stage`` is the SMTP command
    answered (``MAIL FROM``, ``RCPT TO``, ``DATA``) or "" for the connection.
    """

    def __init__(self, message: str, *, code: int = 0, permanent: bool = False,
                 enhanced: str | None = None, uncertain: bool = False, stage: str = ""):
        self.message = message
        self.code = code
        self.permanent = permanent
        self.enhanced = enhanced
        self.uncertain = uncertain
        self.stage = stage
        super().__init__(f"{code} {message}" if code else message)


class DeliveryError(LetterpressError):
    """Base class for send-run errors."""


class SendRunLocked(DeliveryError):
    """Another process is sending this run."""

    def __init__(self, run_id: int, holder: str, until: object):
        self.run_id = run_id
        self.holder = holder
        self.until = until
        super().__init__(f"send run {run_id} is being sent by {holder} (lease until {until})")


class AlreadySent(DeliveryError):
    """The same issue already has a send run to the same list."""

    def __init__(self, run_id: int, issue: str, list_name: str):
        self.run_id = run_id
        self.issue = issue
        self.list_name = list_name
        super().__init__(
            f"{issue} was already sent to list {list_name!r} (run {run_id}); "
            "use --resume to continue it or --again to send it a second time"
        )


class SendRunNotFound(DeliveryError):
    """No send run with that id."""

    def __init__(self, run_id: object):
        self.run_id = run_id
        super().__init__(f"no send run {run_id}")


class SendRunPaused(DeliveryError):
    """The run was paused because the server refused every message."""

    def __init__(self, run_id: int, reason: str):
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"send run {run_id} paused: {reason}")


class ScheduleError(LetterpressError):
    """Base class for scheduling errors."""


class ContentChanged(ScheduleError):
    """The issue file changed after it was approved; the send is refused."""

    def __init__(self, path: str, approved_hash: str, current_hash: str):
        self.path = path
        self.approved_hash = approved_hash
        self.current_hash = current_hash
        super().__init__(
            f"{path} changed after it was scheduled (approved {approved_hash[:12]}, "
            f"now {current_hash[:12]}); check it and reschedule with --replace"
        )


class ScheduleNotFound(ScheduleError):
    """No scheduled send with that id."""

    def __init__(self, schedule_id: object):
        self.schedule_id = schedule_id
        super().__init__(f"no scheduled send {schedule_id}")


class StateTransitionError(DeliveryError):
    """A send run or delivery state change that the send lifecycle does not allow."""

    def __init__(self, kind: str, current: str, wanted: str):
        self.kind = kind
        self.current = current
        self.wanted = wanted
        super().__init__(f"a {kind} cannot go from {current!r} to {wanted!r}")


class ScheduleTransitionError(StateTransitionError, ScheduleError):
    """A scheduled send or rule occurrence state change that the schedule lifecycle does not
    allow (letterpress.schedule.lifecycle); ``current`` is "(new)" for a row's first state."""


class BounceError(LetterpressError):
    """Base class for bounce-processing errors."""


class BounceSourceError(BounceError):
    """A bounce mailbox cannot be opened or read (URL with its password hidden, reason)."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}" if source else reason)


class BounceNotFound(BounceError):
    """No bounce record with this id."""

    def __init__(self, record_id: int):
        self.record_id = record_id
        super().__init__(f"no bounce record {record_id}")


class AlreadyRecorded(BounceError):
    """The same returned message was recorded concurrently by another process (fingerprint)."""

    def __init__(self, fingerprint: str):
        self.fingerprint = fingerprint
        super().__init__(f"message {fingerprint[:16]} was recorded by another process")


class WebhookPayloadError(BounceError):
    """A relay webhook's body is not an event of that relay (HTTP 400)."""


class AdminError(LetterpressError):
    """Base class for errors of the dashboard's accounts."""


class AdminAccountExists(AdminError):
    """An admin account with that user name already exists."""

    def __init__(self, username: str):
        self.username = username
        super().__init__(f"admin account {username!r} already exists (use --reset-password)")


class AdminAccountNotFound(AdminError):
    """No admin account with that user name."""

    def __init__(self, username: str):
        self.username = username
        super().__init__(f"no admin account {username!r}")


class InvalidAdminAccount(AdminError):
    """A user name, role or password that cannot be accepted (``reason`` says why)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
class SegmentError(AudienceError):
    """A segment expression does not parse, or names an unknown segment.

    ``position`` is the 0-based character offset of the problem in ``expression`` (None when
    the whole name is unknown); ``str()`` shows the expression with a caret under it.
    """

    def __init__(self, expression: str, position: int | None, reason: str):
        self.expression = expression
        self.position = position
        self.reason = reason
        if position is None:
            super().__init__(reason)
        else:
            super().__init__(f"{reason} (column {position + 1})\n  {expression}\n"
                             f"  {' ' * position}^")
