"""Import presets: the contact exports of Brevo, Mailchimp, Mailjet and listmonk.

Each preset reads the tool's own export and rewrites every row into the columns
:mod:`.csv_import` understands (``email``, ``name``, attributes, ``status``, ``consent_at``,
``consent_source``, ``consent_text``, ``consent_ip``, ``confirmed_at``, ``unsubscribed_at``,
``unsubscribe_channel``), then imports that.  The rules every preset follows:

* people the tool stopped mailing — unsubscribed, bounced / cleaned, blocklisted, complained —
  are recorded with that status and a suppression entry, **never active**;
* an export that cannot say who stopped (its status column is missing) is refused as a whole,
  rather than imported with everybody active;
* the tool's opt-in / confirmation dates and IP become the consent proof (source ``import``,
  wording naming the tool); without a date, the import's time;
* every other column becomes an attribute named after its header (``Département`` →
  ``departement``); the tool's technical columns (ids, ratings, geolocation) are dropped.

Formats, and where each is documented (docs/audience.md, "Coming from another tool", has the
same table for users):

* **brevo** — the contact export: ``EMAIL``, the default name attributes ``FIRSTNAME`` /
  ``LASTNAME`` (named after the account's language, ``PRENOM`` / ``NOM`` in French), ``SMS``,
  your attributes, the mandatory ``ADDED_TIME`` / ``MODIFIED_TIME``, and the email blocklist
  flag.  ``;``, ``,`` or tab separated.  Sources: help.brevo.com "Create a file to import your
  contacts" (default attributes, separators), developers.brevo.com "Export contacts"
  (``POST /contacts/export``: ``EMAIL``, ``ADDED_TIME``, ``MODIFIED_TIME``, ``_listIds``;
  dates are *not* UTC unless ``exportDateInUTC`` — so naive dates are read in the project's
  time zone), the contact object's ``emailBlacklisted``, and help.brevo.com "Blocklist,
  unblock, or resubscribe contacts" (a blocklisted contact gets no campaign at all).  The
  header of the blocklist column in a file exported from the web app is not documented
  there: ``EMAIL_BLACKLISTED``, ``BLACKLISTED``, ``emailBlacklisted`` (and the
  ``…BLOCKLISTED`` spellings) are read; a file with none of them is refused.
* **mailchimp** — the three files of an audience export (``subscribed_members_export_*.csv``,
  ``unsubscribed_…``, ``cleaned_…``): ``Email Address``, ``First Name``, ``Last Name``, merge
  fields, ``MEMBER_RATING``, ``OPTIN_TIME``, ``OPTIN_IP``, ``CONFIRM_TIME``, ``CONFIRM_IP``,
  geolocation, then ``UNSUB_TIME``, ``UNSUB_CAMPAIGN_TITLE``, ``UNSUB_CAMPAIGN_ID``,
  ``UNSUB_REASON``, ``UNSUB_REASON_OTHER`` (unsubscribed file) or ``CLEAN_TIME``,
  ``CLEAN_CAMPAIGN_TITLE``, ``CLEAN_CAMPAIGN_ID`` (cleaned file), then ``LAST_CHANGED``,
  ``LEID``, ``EUID``, ``NOTES``, ``TAGS``.  Sources: mailchimp.com/help "About cleaned
  contacts" (cleaned = hard bounced or repeatedly soft bounced, never mailed again) and the
  Marketing API list member (``ip_signup``/``timestamp_signup``, ``ip_opt``/``timestamp_opt``,
  status ``subscribed``/``unsubscribed``/``cleaned``).  The CSV header itself is not on a
  Mailchimp page the documentation search reaches; it is taken from real exports quoted in
  public code, and its naive times are read as UTC.  The non-subscribed contacts (shop
  customers and other contacts who never opted in, a fourth file
  ``nonsubscribed_members_export_*.csv`` with the subscribed file's columns) are refused by
  the file's name: they would arrive active, mailed without consent.
* **mailjet** — one row per contact with the fields of the ``/contact`` resource (``ID``,
  ``Email``, ``Name``, ``CreatedAt``, ``DeliveredCount``, ``ExclusionFromCampaignsUpdatedAt``,
  ``IsExcludedFromCampaigns``, ``IsOptInPending``, ``IsSpamComplaining``, ``LastActivityAt``,
  ``LastUpdateAt``, ``UnsubscribedAt``, ``UnsubscribedBy``), optionally the list subscription
  of ``/contact/{id}/getcontactslists`` (``ListID``, ``IsActive``, ``IsUnsub``,
  ``SubscribedAt``), then contact properties.  Source: github.com/mailjet/api-documentation,
  guides/_exclusionlist.md, _contacts-delete.md, _contacts_bulk.md.  The CSV of the web app's
  list export is not documented there.  A row is unsubscribed when ``UnsubscribedAt`` is set
  or ``IsUnsub`` (``IsUnsubscribed``) is true; an excluded contact (the exclusion list: no
  marketing mail from any list) is suppressed on every list.
* **listmonk** — *Subscribers → Export*: ``uuid,email,name,attributes,status,created_at,
  updated_at``, ``attributes`` a JSON object, ``status`` the subscriber status ``enabled`` /
  ``disabled`` / ``blocklisted``, dates written by Go's ``time.Time.String``
  (``2023-02-03 10:00:00.123456 +0000 UTC``).  Source: knadh/listmonk cmd/subscribers.go
  (``ExportSubscribers``) and schema.sql (``subscriber_status``, ``subscription_status``).
  The file does not carry the *list* subscription status (``unconfirmed`` / ``confirmed`` /
  ``unsubscribed``): export each list filtered on it and import the unsubscribed and the
  unconfirmed files with ``listmonk-unsubscribed`` and ``listmonk-unconfirmed``.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from .csv_import import (
    CsvLayout,
    ImportFileError,
    Rejection,
    _first_undefined_byte,
    _header_key,
    _rows,
    read_layout,
)

__all__ = ["PRESETS", "Conversion", "convert", "recognise"]

OUT_COLUMNS = ("email", "name", "status", "consent_at", "consent_source", "consent_text",
               "consent_ip", "confirmed_at", "unsubscribed_at", "unsubscribe_channel")
NO = {"", "no", "non", "false", "0", "n", "f", "faux"}
# Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST" (listmonk's export).
_GO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{2})(\d{2})"
                      r"(?: \S+)?$")


def _time(value: str, tz: tzinfo = UTC) -> str:
    """A tool's date-time → ISO 8601 in UTC, or "" when empty or unreadable.

    A date-time without an offset is read in ``tz`` (UTC unless the tool writes local time).
    """
    value = (value or "").strip()
    if not value:
        return ""
    go = _GO_TIME.match(value)
    if go:
        day, clock, fraction, hours, minutes = go.groups()
        value = f"{day}T{clock}{(fraction or '')[:7]}{hours}:{minutes}"
    text = value.replace(" UTC", "").replace("Z", "+00:00")
    for candidate in (text, text.replace(" +", "+")):
        try:
            when = datetime.fromisoformat(candidate)
            break
        except ValueError:
            continue
    else:
        for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%d-%m-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S",
                    "%d-%m-%Y", "%d/%m/%Y"):
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _rest(row: dict[str, str], used: set[str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k and _header_key(k) not in used and v}


def _keys(row: dict[str, str]) -> dict[str, str]:
    return {_header_key(k): v for k, v in row.items() if k}


def _not_no(value: str | None) -> bool:
    """A flag that stops mail is set unless it plainly says no: a value this code does not
    know must not make someone the tool stopped mailing an active subscriber."""
    return (value or "").strip().lower() not in NO


class _UnreadableRow(ValueError):
    """A row whose status the tool's file does not say in a way this code knows: refused
    (reported like any rejected row), never imported as active."""


BREVO_BLOCKLIST = ("email_blacklisted", "emailblacklisted", "email_blocklisted",
                   "emailblocklisted", "blacklisted", "blocklisted")
BREVO_TECHNICAL = {"email", "firstname", "prenom", "lastname", "nom", "contact_id", "id",
                   "added_time", "modified_time", "createdat", "modifiedat", "sms_blacklisted",
                   "smsblacklisted", "sms_blocklisted", "double_opt_in", "opt_in", "list_ids",
                   "listids", "listunsubscribed", *BREVO_BLOCKLIST}


def _brevo(row: dict[str, str], tz: tzinfo) -> dict[str, Any]:
    get = _keys(row)
    flag = next((get[k] for k in BREVO_BLOCKLIST if k in get), "")
    # Anything but a plain "no" keeps the contact off every list: a value this code does not
    # know must not make someone Brevo may have blocklisted an active subscriber.
    blocked = flag.strip().lower() not in NO
    return {
        "email": get.get("email", ""),
        "name": _join(get.get("firstname") or get.get("prenom", ""),
                      get.get("lastname") or get.get("nom", "")),
        "status": "blocklisted" if blocked else "active",
        "consent_at": _time(get.get("added_time", ""), tz),
        "consent_text": "liste importée de Brevo",
        # Brevo keeps no blocklisting date; the last change is the closest there is.
        "unsubscribed_at": _time(get.get("modified_time", ""), tz) if blocked else "",
        "unsubscribe_channel": "import" if blocked else "",
        "attributes": _rest(row, BREVO_TECHNICAL),
    }


MAILCHIMP_TECHNICAL = {"member_rating", "optin_time", "optin_ip", "confirm_time", "confirm_ip",
                       "latitude", "longitude", "gmtoff", "dstoff", "timezone", "cc", "region",
                       "last_changed", "leid", "euid", "notes", "unsub_time",
                       "unsub_campaign_title", "unsub_campaign_id", "unsub_reason",
                       "unsub_reason_other", "clean_time", "clean_campaign_title",
                       "clean_campaign_id", "email_address", "first_name", "last_name"}


def _mailchimp(row: dict[str, str], tz: tzinfo) -> dict[str, Any]:
    get = _keys(row)
    # The file says which section of the audience it holds: its columns, not a status cell.
    if "clean_time" in get:
        status, stopped_at = "bounced", _time(get["clean_time"])
    elif "unsub_time" in get:
        status, stopped_at = "unsubscribed", _time(get["unsub_time"])
    else:
        status, stopped_at = "active", ""
    confirmed = _time(get.get("confirm_time", ""))
    return {
        "email": get.get("email_address", ""),
        "name": _join(get.get("first_name", ""), get.get("last_name", "")),
        "status": status,
        "consent_at": confirmed or _time(get.get("optin_time", "")),
        "consent_text": "liste importée de Mailchimp (opt-in)",
        "consent_ip": (get.get("confirm_ip") or get.get("optin_ip") or "").strip(),
        "confirmed_at": confirmed,
        "unsubscribed_at": stopped_at,
        "unsubscribe_channel": "import" if status != "active" else "",
        "attributes": _rest(row, MAILCHIMP_TECHNICAL),
    }


MAILJET_STATUS = ("isexcludedfromcampaigns", "unsubscribedat", "isunsub", "isunsubscribed")
MAILJET_TECHNICAL = {"id", "email", "name", "createdat", "deliveredcount",
                     "exclusionfromcampaignsupdatedat", "isexcludedfromcampaigns",
                     "isoptinpending", "isspamcomplaining", "lastactivityat", "lastupdateat",
                     "unsubscribedat", "unsubscribedby", "listid", "contactid", "isactive",
                     "isunsub", "isunsubscribed", "subscribedat"}


def _mailjet(row: dict[str, str], tz: tzinfo) -> dict[str, Any]:
    get = _keys(row)
    unsubscribed_at = _time(get.get("unsubscribedat", ""))
    if _not_no(get.get("isspamcomplaining")):
        status, stopped_at = "complained", unsubscribed_at
    elif _not_no(get.get("isexcludedfromcampaigns")):
        # The exclusion list: no marketing mail from any list (_exclusionlist.md).
        status = "blocklisted"
        stopped_at = _time(get.get("exclusionfromcampaignsupdatedat", "")) or unsubscribed_at
    elif (unsubscribed_at or _not_no(get.get("isunsub"))
          or _not_no(get.get("isunsubscribed"))):
        status, stopped_at = "unsubscribed", unsubscribed_at
    elif _not_no(get.get("isoptinpending")):
        status, stopped_at = "pending", ""
    else:
        status, stopped_at = "active", ""
    return {
        "email": get.get("email", ""),
        "name": get.get("name", ""),
        "status": status,
        "consent_at": _time(get.get("subscribedat", "")) or _time(get.get("createdat", "")),
        "consent_text": "liste importée de Mailjet",
        "unsubscribed_at": stopped_at,
        "unsubscribe_channel": "import" if status not in ("active", "pending") else "",
        "attributes": _rest(row, MAILJET_TECHNICAL),
    }


# listmonk's subscription_status of the list the file was exported for -> our status.
LISTMONK_SUBSCRIPTION = {"confirmed": "active", "unconfirmed": "pending",
                         "unsubscribed": "unsubscribed"}


def _listmonk(row: dict[str, str], tz: tzinfo, *, subscription: str = "confirmed"
              ) -> dict[str, Any]:
    get = _keys(row)
    cell = get.get("status", "").strip().lower()
    # blocklisted: never mailed (campaigns.sql skips it); disabled is not documented and
    # listmonk still mails it, but nothing proves consent goes on: not active here either.
    statuses = {"blocklisted": "blocklisted", "disabled": "unsubscribed",
                "enabled": LISTMONK_SUBSCRIPTION[subscription]}
    if cell not in statuses:
        raise _UnreadableRow(f"listmonk status {get.get('status', '')!r} is none of "
                             "enabled, disabled, blocklisted")
    status = statuses[cell]
    try:
        attributes = json.loads(get.get("attributes") or "{}")
    except ValueError:
        attributes = {}
    flat = {str(k): (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            for k, v in (attributes if isinstance(attributes, dict) else {}).items()
            if v not in (None, "")}
    # updated_at dates the subscriber's own status change, not a list unsubscription.
    own_change = cell in ("blocklisted", "disabled")
    stopped = status in ("unsubscribed", "blocklisted")
    return {
        "email": get.get("email", ""),
        "name": get.get("name", ""),
        "status": status,
        "consent_at": _time(get.get("created_at", "")),
        "consent_text": "liste importée de listmonk",
        "unsubscribed_at": _time(get.get("updated_at", "")) if own_change else "",
        "unsubscribe_channel": "import" if stopped else "",
        "attributes": flat,
    }


Mapper = Callable[[dict[str, str], tzinfo], dict[str, Any]]
PRESETS: dict[str, Mapper] = {
    "brevo": _brevo, "mailchimp": _mailchimp, "mailjet": _mailjet, "listmonk": _listmonk,
    "listmonk-unconfirmed": functools.partial(_listmonk, subscription="unconfirmed"),
    "listmonk-unsubscribed": functools.partial(_listmonk, subscription="unsubscribed")}
# The columns that say who stopped: an export with none of them is refused (Mailchimp says it
# with the file's own columns, so its subscribed file has none and is fine).
STATUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "brevo": BREVO_BLOCKLIST, "mailjet": MAILJET_STATUS, "listmonk": ("status",),
    "listmonk-unconfirmed": ("status",), "listmonk-unsubscribed": ("status",)}
# Mailchimp's fourth file, of contacts who never subscribed (shop customers, transactional
# mail), has the subscribed file's columns: only its name tells them apart.
_NON_SUBSCRIBED = re.compile(r"non[-_ ]?subscribed", re.IGNORECASE)
# What to tell the user when the status column is missing.
STATUS_HINT = {
    "brevo": "export the contacts with their email blocklist status (a column named "
             "EMAIL_BLACKLISTED, Yes/No)",
    "mailjet": "export the contacts with IsExcludedFromCampaigns and UnsubscribedAt "
               "(or the list's IsUnsub)",
}


# Columns only another tool's export has, by preset: a plain import of such a file would read
# none of its statuses and make its unsubscribed, cleaned and blocklisted people active.
_MARKS: dict[str, tuple[set[str], set[str]]] = {  # preset: (all of these, and one of these)
    "mailchimp": ({"email_address"}, {"leid", "euid", "member_rating", "optin_time",
                                      "unsub_time", "clean_time"}),
    "brevo": (set(), set(BREVO_BLOCKLIST)),
    "mailjet": (set(), {"isexcludedfromcampaigns", "isunsub", "isunsubscribed",
                        "unsubscribedat", "isoptinpending", "isspamcomplaining"}),
    "listmonk": ({"uuid", "attributes", "status"}, {"email"}),
}


def recognise(headers: Iterable[str]) -> str | None:
    """The preset whose export has these header cells, or None (a file of one's own)."""
    keys = {_header_key(h) for h in headers}
    for preset, (every, some) in _MARKS.items():
        if every <= keys and keys & some:
            return preset
    return None


@dataclass(frozen=True)
class Conversion:
    """A tool's export rewritten for :func:`~.csv_import.import_csv`.

    ``path``: the rewritten CSV, each row on the line where it starts in the tool's file (so
    an import's line numbers are the file's); ``layout``: how the tool's file is written
    (encoding, delimiter); ``rejected``: its rows that could not be read (a double quote
    left open), reported as an import reports a row.
    """

    path: Path
    layout: CsvLayout
    rejected: tuple[Rejection, ...] = ()


def convert(preset: str, path: str | Path, out_dir: str | Path | None = None, *,
            tz: tzinfo = UTC) -> Conversion:
    """Rewrite a tool's export into a CSV :func:`~.csv_import.import_csv` reads.

    ``tz`` is the zone of the tool's naive date-times where the tool writes local time
    (Brevo's export: the account's zone).  The rows are read as a plain import reads them: a
    double quote left open refuses its line alone, never the rows after it.  Raises
    :class:`~.csv_import.ImportFileError` for an unknown preset, an unreadable file, or an
    export without the column that says who stopped receiving mail (importing it would make
    them active).
    """
    if preset not in PRESETS:
        raise ImportFileError(str(path), f"unknown preset {preset!r} "
                                         f"(one of {', '.join(sorted(PRESETS))})")
    path = Path(path)
    layout = read_layout(path)
    if layout.encoding in ("cp1252", "utf-8-sig") and (
            why := _first_undefined_byte(path, layout.encoding)):
        # The rewritten file is UTF-8: the byte would become a replacement character.
        raise ImportFileError(str(path), why)
    if preset == "mailchimp" and _NON_SUBSCRIBED.search(path.name):
        raise ImportFileError(str(path), "Mailchimp's non-subscribed contacts never opted in "
                                         "to the newsletter (shop customers, transactional "
                                         "mail): importing them would mail them without "
                                         "consent; import the subscribed, unsubscribed and "
                                         "cleaned files")
    if not layout.has_header:
        raise ImportFileError(str(path), f"not a {preset} export: its first row is no header "
                                         "(see docs/audience.md, Coming from another tool)")
    header = {_header_key(h) for h in layout.headers}
    needed = STATUS_COLUMNS.get(preset, ())
    if needed and "email" in header and not header & set(needed):
        hint = STATUS_HINT.get(preset, "export it again with its status column")
        raise ImportFileError(str(path), f"this {preset} export does not say who "
                                         "unsubscribed or was blocklisted: they would be "
                                         f"imported as active; {hint} (see "
                                         "docs/audience.md, Coming from another tool)")
    mapper = PRESETS[preset]
    rows: list[tuple[int, dict[str, Any]]] = []
    rejected: list[Rejection] = []
    attribute_names: dict[str, None] = {}
    for line, cells, why in _rows(path, layout, [0]):
        try:
            if why is not None:
                raise _UnreadableRow(why)
            mapped = mapper({name: cells[i] if i < len(cells) else ""
                             for i, name in enumerate(layout.headers) if name}, tz)
        except _UnreadableRow as exc:
            value = next((c.strip() for c in cells if "@" in c), cells[0].strip())
            rejected.append(Rejection(line, value, str(exc), tuple(cells)))
            continue
        mapped["consent_source"] = "import"
        attrs = {_header_key(k): v for k, v in mapped.pop("attributes").items()}
        attrs = {k: v for k, v in attrs.items() if k and k not in OUT_COLUMNS}
        attribute_names.update(dict.fromkeys(attrs))
        mapped["attributes"] = attrs
        rows.append((line, mapped))
    if rows and not any((r.get("email") or "").strip() for _line, r in rows):
        # Every row without an address: the file is some other export, not this tool's.
        raise ImportFileError(str(path), f"not a {preset} export: none of its "
                                         f"{len(rows)} row(s) has an address where {preset} "
                                         "puts it (see docs/audience.md, Coming from another "
                                         "tool)")
    directory = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="letterpress-"))
    out = directory / f"{path.stem}.{preset}.csv"
    columns = [*OUT_COLUMNS, *attribute_names]
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        written = 1
        for line, r in rows:
            # Each row on the line where it starts in the tool's file (blank lines between;
            # a value's line breaks become spaces, as they do when values enter anyway).
            fh.write("\n" * (line - 1 - written))
            written = line
            writer.writerow([_one_line(r.get(c, "")) for c in OUT_COLUMNS]
                            + [_one_line(r["attributes"].get(a, "")) for a in attribute_names])
    return Conversion(out, layout, tuple(rejected))


def _one_line(value: Any) -> Any:
    return " ".join(value.splitlines()) if isinstance(value, str) else value
