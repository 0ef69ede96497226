"""Project settings: ``letterpress.toml`` first, then ``LETTERPRESS_*`` environment variables.

A project directory holds ``letterpress.toml``, ``issues/``, ``templates/mjml/`` and the
default database ``subscribers.db``.  One project can host several publications, each with
its own name, sender, lists, theme and footer.

Every project-level key is declared once in :data:`PROJECT_SETTINGS` (name, default, help);
the CLI's ``letterpress settings`` and the README table are generated from that list.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .css import check_theme_value
from .errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "PROJECT_SETTINGS",
    "DkimConfig",
    "Footer",
    "Publication",
    "Setting",
    "Settings",
    "SubscribeForm",
    "Theme",
    "BounceThresholds",
    "TransportConfig",
    "load_settings",
]

CONFIG_FILE = "letterpress.toml"
SECRET_FILE = ".letterpress-secret"


@dataclass(frozen=True)
class Setting:
    """One project-level setting: its TOML key under ``[project]``, default and help."""

    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LETTERPRESS_" + self.name.upper()


PROJECT_SETTINGS: tuple[Setting, ...] = (
    Setting("base_url", "http://localhost:8025",
            "Public URL of the reader-facing pages (unsubscribe, archive, images)."),
    Setting("database_url", "",
            "SQLAlchemy URL of the subscriber database; empty means sqlite:///subscribers.db "
            "in the project directory. postgresql+psycopg://… for larger installs."),
    Setting("secret_key", "",
            "Secret(s) used to sign reader tokens, newest first, separated by commas "
            "(older keys keep verifying after a rotation). Empty: generated once into "
            f"{SECRET_FILE}."),
    Setting("smtp_url", "",
            "Mail server for every publication, e.g. smtp://user:pass@relay:587?tls=starttls "
            "(tls=ssl|starttls|none, pool=N, rate=N). Empty: the outbox directory."),
    Setting("issues_dir", "issues", "Folder of the editorial YAML issues."),
    Setting("templates_dir", "templates/mjml", "Folder of the MJML/Jinja2 email templates."),
    Setting("build_dir", "build", "Where `letterpress build` writes its output."),
    Setting("outbox_dir", "outbox",
            "Where the outbox transport writes .eml files when no SMTP server is configured."),
    Setting("timezone", "Europe/Paris", "Default time zone of publications."),
    Setting("max_request_body", 65536,
            "`letterpress serve`: largest request body in bytes; a larger one is refused (413) "
            "before it is read."),
    Setting("max_request_header", 16384,
            "`letterpress serve`: largest request line plus headers, in bytes (431 beyond)."),
    Setting("max_connections", 100,
            "`letterpress serve`: open client connections at most; more wait in the backlog."),
    Setting("client_timeout", 30,
            "`letterpress serve`: seconds a connection may stay silent (slow clients) before "
            "it is closed."),
    Setting("bounce_url", "",
            "Mailbox that receives bounces and complaints, read by `letterpress bounces fetch` "
            "and polled by the scheduler: imaps://user:pass@host/INBOX, "
            "pop3s://user:pass@host, or maildir:///path. Empty: not polled."),
    Setting("bounce_poll_minutes", 5, "How often the scheduler daemon reads the bounce mailbox."),
    Setting("webhook_secret", "",
            "Secret of the relay webhooks (Brevo, Mailjet): /webhooks/<relay>/<secret>, or HTTP "
            "Basic with this password. Empty: webhooks refused."),
    Setting("admin_auth_header", "",
            "Name of the reverse proxy's authenticated-user header (e.g. X-Remote-User) to "
            "trust for /admin, from loopback only; empty (default): log in with a password."),
    Setting("retention_days", 1095,
            "Days after a person's last own contact (subscribing, confirming, changing "
            "preferences, unsubscribing) before `subscribers retention` lists them for "
            "erasure (CNIL: about 3 years)."),
)


@dataclass(frozen=True)
class Theme:
    """Colours, fonts and logo of a publication's emails and pages."""

    primary_color: str = "#000091"
    accent_color: str = "#e1000f"
    text_color: str = "#1e1e1e"
    muted_color: str = "#666666"
    background_color: str = "#f5f5fe"
    content_background: str = "#ffffff"
    font_family: str = "Arial, Helvetica, sans-serif"
    heading_font_family: str = "Arial, Helvetica, sans-serif"
    logo_url: str = ""
    logo_alt: str = ""
    logo_width: int = 200


@dataclass(frozen=True)
class Footer:
    """The foot of every issue; an issue may override any field."""

    organisation: str = ""
    contact_label: str = ""
    contact_email: str = ""
    colophon: tuple[tuple[str, str], ...] = ()
    legal_mention: str = ""
    copyright: str = ""
    share_text: str = ""


@dataclass(frozen=True)
class DkimConfig:
    """DKIM signing key for a publication's mail."""

    selector: str
    domain: str
    key_file: Path


@dataclass(frozen=True)
class TransportConfig:
    """How a publication's mail leaves: an SMTP URL, or empty for the outbox directory."""

    url: str = ""
    pool: int = 2
    rate: float = 0.0  # messages per second, 0 = unlimited


@dataclass(frozen=True)
class BounceThresholds:
    """When soft bounces stop a subscription (Mailman's bounce score, see docs/bounces.md)."""

    score_threshold: float = 5.0  # score at which the subscription becomes bounced
    decay_days: float = 7.0  # a score older than this starts again from zero
    warnings: int = 0  # further bouncing days past the threshold before stopping
    soft_score: float = 1.0  # what one soft bounce adds (at most once a day)


@dataclass(frozen=True)
class SubscribeForm:
    """What the public subscription form asks and shows."""

    attributes: tuple[tuple[str, str], ...] = ()  # (attribute name, label shown)
    consent_text: str = ""
    notice: str = ""  # the information notice required at the point of collection
    # Abuse resistance without a third party (letterpress.web.antiabuse):
    proof_of_work: bool = False  # a self-hosted proof-of-work challenge (ALTCHA protocol)
    proof_of_work_max: int = 50_000  # the challenge's search space: ~0.5 s in a browser
    nojs_wait_seconds: int = 20  # without JavaScript: the form is accepted once this old
    refuse_disposable: bool = False  # refuse throw-away address domains


@dataclass(frozen=True)
class Publication:
    """One newsletter hosted by the project."""

    slug: str
    name: str
    language: str = "fr"
    timezone: str = "Europe/Paris"
    sender_name: str = ""
    sender_email: str = ""
    reply_to: str = ""
    list_id_domain: str = ""  # List-Id: <slug.list_id_domain>
    lists: tuple[str, ...] = ()
    editors_email: str = ""
    feedback_id_sender: str = ""
    unsubscribe_mailto: str = ""
    schedule: str = ""  # e.g. "third tuesday 10:00"
    grace_period_hours: float = 4.0
    tracking: bool = False
    click_stats: bool = False  # count clicks per link and per day (never per reader)
    open_stats: bool = False  # an aggregate open pixel without identifier (rough indicator)
    theme: Theme = field(default_factory=Theme)
    footer: Footer = field(default_factory=Footer)
    dkim: DkimConfig | None = None
    transport: TransportConfig = field(default_factory=TransportConfig)
    subscribe: SubscribeForm = field(default_factory=SubscribeForm)
    default_sections: tuple[str, ...] = ()
    bounce_address: str = ""  # VERP return path base, e.g. bounces@lettres.example.org
    bounces: BounceThresholds = field(default_factory=BounceThresholds)
    # Section types declared without Python (type → {title, fields}): letterpress.content.custom
    section_types: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Named segments of the lists: (name, expression) — see letterpress.audience.segments.
    segments: tuple[tuple[str, str], ...] = ()
    confirm_reminder_hours: float = 48.0  # one reminder to pending subscribers after this
    pending_expiry_days: float = 30.0  # pending subscriptions older than this are removed

    @property
    def default_list(self) -> str:
        return self.lists[0]

    @property
    def sender(self) -> str:
        return f"{self.sender_name} <{self.sender_email}>" if self.sender_name else self.sender_email

    @property
    def sender_domain(self) -> str:
        return self.sender_email.rpartition("@")[2]

    @property
    def list_id(self) -> str:
        """The RFC 2919 List-Id label, e.g. ``pvd.lettre.example.org``."""
        domain = self.list_id_domain or self.sender_domain
        return f"{self.slug}.{domain}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Settings:
    """Everything letterpress needs to know about one project directory."""

    project_dir: Path
    base_url: str
    database_url: str
    secret_keys: tuple[str, ...]
    smtp_url: str
    issues_dir: Path
    templates_dir: Path
    build_dir: Path
    outbox_dir: Path
    timezone: str
    publications: Mapping[str, Publication]
    max_request_body: int = 65536
    max_request_header: int = 16384
    max_connections: int = 100
    client_timeout: int = 30
    bounce_url: str = ""
    bounce_poll_minutes: float = 5.0
    webhook_secret: str = ""
    admin_auth_header: str = ""
    retention_days: int = 1095
    # The key file was missing and a new key was written by this load (see Project.engine).
    secret_key_generated: bool = False

    def publication(self, slug: str | None = None) -> Publication:
        """The named publication, or the only/first one when no name is given."""
        if slug is None:
            return next(iter(self.publications.values()))
        try:
            return self.publications[slug]
        except KeyError:
            known = ", ".join(self.publications) or "none"
            raise ConfigError(f"unknown publication {slug!r} (known: {known})") from None

    def transport_for(self, publication: Publication) -> TransportConfig:
        """The transport of a publication; ``LETTERPRESS_SMTP_URL`` overrides the file."""
        if self.smtp_url:
            return replace(publication.transport, url=self.smtp_url)
        return publication.transport

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str, source: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} in [{where}] (allowed: {', '.join(sorted(allowed))})",
            source=source,
        )


def _dataclass_from(cls: type, data: Mapping[str, Any], where: str, source: str) -> Any:
    names = {f.name for f in fields(cls)}
    _check_keys(data, names, where, source)
    values = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{where}]: {exc}", source=source) from None


def _publication(slug: str, data: Mapping[str, Any], defaults: Mapping[str, Any],
                 project_dir: Path, source: str) -> Publication:
    data = dict(data)
    where = f"publications.{slug}"
    nested = {}
    for key, cls in (("theme", Theme), ("footer", Footer), ("transport", TransportConfig),
                     ("subscribe", SubscribeForm),
                     ("bounces", BounceThresholds)):
        if key in data:
            nested[key] = _dataclass_from(cls, data.pop(key), f"{where}.{key}", source)
    if "segments" in data:
        nested["segments"] = _segments(data.pop("segments"), f"{where}.segments", source)
    if "dkim" in data:
        dkim = dict(data.pop("dkim"))
        _check_keys(dkim, {"selector", "domain", "key_file"}, f"{where}.dkim", source)
        key_file = Path(dkim.get("key_file", ""))
        if not key_file.is_absolute():
            key_file = project_dir / key_file
        nested["dkim"] = DkimConfig(dkim.get("selector", ""), dkim.get("domain", ""), key_file)
    if "theme" in nested:
        nested["theme"] = _checked_theme(nested["theme"], f"{where}.theme", source)
    if "footer" in nested:
        colophon = tuple(tuple(pair) for pair in nested["footer"].colophon)
        nested["footer"] = replace(nested["footer"], colophon=colophon)
    values = {"timezone": defaults.get("timezone", "Europe/Paris")}
    values.update(data)
    values.update(nested)
    values.setdefault("name", slug)
    allowed = {f.name for f in fields(Publication)} - {"slug"}
    _check_keys(values, allowed, where, source)
    for key in ("lists", "default_sections"):
        if key in values:
            values[key] = tuple(values[key])
    if "section_types" in values:
        from .content.custom import check_declarations

        if not isinstance(values["section_types"], Mapping):
            raise ConfigError(f"[{where}.section_types] expected a table of section types",
                              source=source)
        check_declarations(slug, values["section_types"])  # ConfigError naming the table
    pub = Publication(slug=slug, **values)
    if not pub.lists:
        pub = replace(pub, lists=(slug,))
    if not pub.sender_email:
        raise ConfigError(f"[{where}] needs sender_email", source=source)
    try:
        pub.tz  # noqa: B018 - validate the zone name now, not at send time
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[{where}] unknown timezone {pub.timezone!r}", source=source) from None
    return pub


def _checked_theme(theme: Theme, where: str, source: str) -> Theme:
    """Every theme value checked and put in its canonical CSS form (see letterpress.css)."""
    changes = {}
    for item in fields(Theme):
        try:
            changes[item.name] = check_theme_value(item.name, getattr(theme, item.name))
        except ValueError as exc:
            raise ConfigError(f"[{where}] {item.name}: {exc}", source=source) from None
    return replace(theme, **changes)
def _segments(data: Any, where: str, source: str) -> tuple[tuple[str, str], ...]:
    """``name = "expression"`` pairs, each expression parsed now so a typo stops the load."""
    from .audience.segments import NAME, Segment
    from .errors import SegmentError

    if not isinstance(data, Mapping):
        raise ConfigError(f"[{where}] must be a table of name = \"expression\"", source=source)
    out = []
    for name, expression in data.items():
        if not NAME.fullmatch(name) or not isinstance(expression, str):
            raise ConfigError(f"[{where}] {name}: a segment is name = \"expression\" "
                              "(name: letters, digits, _)", source=source)
        try:
            Segment.parse(expression, name)
        except SegmentError as exc:
            raise ConfigError(f"[{where}] {name}: {exc}", source=source) from None
        out.append((name, expression))
    return tuple(out)


def _secret_keys(configured: str, project_dir: Path) -> tuple[tuple[str, ...], bool]:
    """Configured keys (comma-separated, newest first), else the key file's, else one
    generated and kept; and whether it was generated now."""
    keys = tuple(k.strip() for k in configured.split(",") if k.strip())
    if keys:
        return keys, False
    path = project_dir / SECRET_FILE
    if path.exists():
        return tuple(k.strip() for k in path.read_text().split("\n") if k.strip()), False
    # Generated once and kept beside the project, so links in mail already sent keep working.
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return (key,), True


def load_settings(project_dir: str | Path = ".", env: Mapping[str, str] | None = None) -> Settings:
    """Read ``letterpress.toml`` in ``project_dir``, then apply ``LETTERPRESS_*`` variables."""
    env = os.environ if env is None else env
    project_dir = Path(project_dir).resolve()
    path = project_dir / CONFIG_FILE
    source = str(path)
    if not path.exists():
        raise ConfigError(f"no {CONFIG_FILE} here; run letterpress from a project directory "
                          "or pass --project DIR", source=str(project_dir))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(exc), source=source) from None

    _check_keys(raw, {"project", "publications"}, "top level", source)
    project = dict(raw.get("project", {}))
    _check_keys(project, {s.name for s in PROJECT_SETTINGS}, "project", source)
    values: dict[str, Any] = {}
    for setting in PROJECT_SETTINGS:
        value = project.get(setting.name, setting.default)
        if setting.env in env:
            value = env[setting.env]
        values[setting.name] = value

    def origin(name: str) -> str:
        """Where a value came from, for error messages: its variable, or the file."""
        env_name = next(s.env for s in PROJECT_SETTINGS if s.name == name)
        return f"${env_name}" if env_name in env else source

    def resolve(p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else project_dir / q

    database_url = values["database_url"] or f"sqlite:///{project_dir / 'subscribers.db'}"
    publications_raw = raw.get("publications", {})
    if not publications_raw:
        raise ConfigError("no [publications.<slug>] table", source=source)
    publications = {
        slug: _publication(slug, data, values, project_dir, source)
        for slug, data in publications_raw.items()
    }
    secret_keys, secret_generated = _secret_keys(str(values["secret_key"]), project_dir)
    return Settings(
        project_dir=project_dir,
        base_url=str(values["base_url"]).rstrip("/"),
        database_url=database_url,
        secret_keys=secret_keys,
        secret_key_generated=secret_generated,
        smtp_url=str(values["smtp_url"]),
        issues_dir=resolve(values["issues_dir"]),
        templates_dir=resolve(values["templates_dir"]),
        build_dir=resolve(values["build_dir"]),
        outbox_dir=resolve(values["outbox_dir"]),
        timezone=str(values["timezone"]),
        publications=publications,
        **{name: _positive_int(name, values[name], origin(name)) for name in _SERVER_LIMITS},
        bounce_url=str(values["bounce_url"]),
        bounce_poll_minutes=float(values["bounce_poll_minutes"]),
        webhook_secret=str(values["webhook_secret"]),
        admin_auth_header=str(values["admin_auth_header"]).strip(),
        retention_days=_positive_int("retention_days", values["retention_days"],
                                     origin("retention_days")),
    )


_SERVER_LIMITS = ("max_request_body", "max_request_header", "max_connections", "client_timeout")


def _positive_int(name: str, value: Any, source: str) -> int:
    """``value`` as a whole number above 0, or ConfigError naming the ``[project]`` key."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or isinstance(value, bool | float):
        raise ConfigError(f"[project] {name} must be a positive whole number, not {value!r}",
                          source=source)
    return number
