"""Import presets: the contact exports of Brevo, Mailchimp, Mailjet and listmonk.

Each preset reads the tool's own export and rewrites every row into the columns
:mod:`.csv_import` understands (``email``, ``name``, attributes, ``status``, ``consent_at``,
``consent_source``, ``consent_text``, ``consent_ip``, ``confirmed_at``, ``unsubscribed_at``,
``unsubscribe_channel``), then imports that.  The rules every preset follows:

* people the tool stopped mailing — unsubscribed, bounced / cleaned, blocklisted, complained —
  are recorded with that status and a suppression entry, **never active**;
* the tool's opt-in / confirmation dates and IP become the consent proof (source ``import``,
  wording naming the tool); without a date, the import's time;
* every other column becomes an attribute named after its header (``Département`` →
  ``departement``); the tool's technical columns (ids, ratings, geolocation) are dropped.

Formats (as each tool documents or writes them):

* **brevo** — ``;``-separated; ``EMAIL``, ``FIRSTNAME``/``PRENOM``, ``LASTNAME``/``NOM``, your
  attributes, ``ADDED_TIME``, ``MODIFIED_TIME``, ``EMAIL_BLACKLISTED`` (``Yes``/``No``, also
  ``true``/``1``); a blocklisted contact is suppressed on every list.
* **mailchimp** — the three files of an audience export (``subscribed_members_export_*.csv``,
  ``unsubscribed_…``, ``cleaned_…``): ``Email Address``, ``First Name``, ``Last Name``, merge
  fields, ``MEMBER_RATING``, ``OPTIN_TIME``, ``OPTIN_IP``, ``CONFIRM_TIME``, ``CONFIRM_IP``, …,
  ``LAST_CHANGED``, ``LEID``, ``EUID``, ``NOTES``, ``TAGS``; the unsubscribed file adds
  ``UNSUB_TIME``…, the cleaned file ``CLEAN_TIME``… (cleaned = hard bounce).
* **mailjet** — the contact fields of its API: ``Email``, ``Name``, ``CreatedAt``,
  ``IsExcludedFromCampaigns``, ``IsOptInPending``, ``IsSpamComplaining``, ``IsUnsubscribed``,
  ``UnsubscribedAt``, then contact properties.
* **listmonk** — ``uuid,email,name,attributes,status,created_at,updated_at`` with
  ``attributes`` a JSON object and ``status`` ``enabled`` / ``disabled`` / ``blocklisted``.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .csv_import import ImportFileError, _header_key, _open_text, read_layout

__all__ = ["PRESETS", "convert"]

OUT_COLUMNS = ("email", "name", "status", "consent_at", "consent_source", "consent_text",
               "consent_ip", "confirmed_at", "unsubscribed_at", "unsubscribe_channel")
YES = {"yes", "oui", "true", "1", "y", "t"}


def _time(value: str) -> str:
    """A tool's date-time (UTC) → ISO 8601, or "" when empty or unreadable."""
    value = (value or "").strip()
    if not value:
        return ""
    text = value.replace(" UTC", "").replace("Z", "+00:00")
    for candidate in (text, text.replace(" +", "+")):
        try:
            when = datetime.fromisoformat(candidate)
            break
        except ValueError:
            continue
    else:
        for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%d-%m-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S",
                    "%d/%m/%Y"):
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _rest(row: dict[str, str], used: set[str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k and _header_key(k) not in used and v}


def _brevo(row: dict[str, str]) -> dict[str, Any]:
    get = {_header_key(k): v for k, v in row.items() if k}
    blocked = get.get("email_blacklisted", get.get("blacklisted", "")).strip().lower() in YES
    used = {"email", "firstname", "prenom", "lastname", "nom", "contact_id", "added_time",
            "modified_time", "email_blacklisted", "blacklisted", "sms_blacklisted",
            "double_opt_in", "opt_in", "list_ids"}
    return {
        "email": get.get("email", ""),
        "name": _join(get.get("firstname") or get.get("prenom", ""),
                      get.get("lastname") or get.get("nom", "")),
        "status": "blocklisted" if blocked else "active",
        "consent_at": _time(get.get("added_time", "")),
        "consent_text": "liste importée de Brevo",
        "unsubscribed_at": _time(get.get("modified_time", "")) if blocked else "",
        "unsubscribe_channel": "import" if blocked else "",
        "attributes": _rest(row, used),
    }


MAILCHIMP_TECHNICAL = {"member_rating", "optin_time", "optin_ip", "confirm_time", "confirm_ip",
                       "latitude", "longitude", "gmtoff", "dstoff", "timezone", "cc", "region",
                       "last_changed", "leid", "euid", "notes", "unsub_time",
                       "unsub_campaign_title", "unsub_campaign_id", "unsub_reason",
                       "unsub_reason_other", "clean_time", "clean_campaign_title",
                       "clean_campaign_id", "email_address", "first_name", "last_name"}


def _mailchimp(row: dict[str, str]) -> dict[str, Any]:
    get = {_header_key(k): v for k, v in row.items() if k}
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


def _mailjet(row: dict[str, str]) -> dict[str, Any]:
    get = {_header_key(k): v for k, v in row.items() if k}

    def yes(key: str) -> bool:
        return get.get(key, "").strip().lower() in YES

    if yes("isspamcomplaining"):
        status = "complained"
    elif yes("isunsubscribed"):
        status = "unsubscribed"
    elif yes("isexcludedfromcampaigns"):
        status = "blocklisted"
    elif yes("isoptinpending"):
        status = "pending"
    else:
        status = "active"
    stopped = status in ("unsubscribed", "complained", "blocklisted")
    used = {"email", "name", "createdat", "isexcludedfromcampaigns", "isoptinpending",
            "isspamcomplaining", "isunsubscribed", "unsubscribedat", "id",
            "exclusionfromcampaignsupdatedat", "lastactivityat", "deliveredcount"}
    return {
        "email": get.get("email", ""),
        "name": get.get("name", ""),
        "status": status,
        "consent_at": _time(get.get("createdat", "")),
        "consent_text": "liste importée de Mailjet",
        "unsubscribed_at": _time(get.get("unsubscribedat", "")) if stopped else "",
        "unsubscribe_channel": "import" if stopped else "",
        "attributes": _rest(row, used),
    }


def _listmonk(row: dict[str, str]) -> dict[str, Any]:
    get = {_header_key(k): v for k, v in row.items() if k}
    status = {"enabled": "active", "disabled": "unsubscribed",
              "blocklisted": "blocklisted"}.get(get.get("status", "").strip().lower(), "")
    try:
        attributes = json.loads(get.get("attributes") or "{}")
    except ValueError:
        attributes = {}
    flat = {str(k): (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            for k, v in (attributes if isinstance(attributes, dict) else {}).items()
            if v not in (None, "")}
    stopped = status in ("unsubscribed", "blocklisted")
    return {
        "email": get.get("email", ""),
        "name": get.get("name", ""),
        "status": status or get.get("status", ""),
        "consent_at": _time(get.get("created_at", "")),
        "consent_text": "liste importée de listmonk",
        "unsubscribed_at": _time(get.get("updated_at", "")) if stopped else "",
        "unsubscribe_channel": "import" if stopped else "",
        "attributes": flat,
    }


PRESETS: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "brevo": _brevo, "mailchimp": _mailchimp, "mailjet": _mailjet, "listmonk": _listmonk}


def convert(preset: str, path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Rewrite a tool's export into a CSV :func:`~.csv_import.import_csv` reads; its path.

    Raises :class:`~.csv_import.ImportFileError` for an unknown preset or unreadable file.
    """
    if preset not in PRESETS:
        raise ImportFileError(str(path), f"unknown preset {preset!r} "
                                         f"(one of {', '.join(sorted(PRESETS))})")
    path = Path(path)
    layout = read_layout(path)
    mapper = PRESETS[preset]
    rows = []
    attribute_names: dict[str, None] = {}
    with _open_text(path, layout.encoding) as fh:
        for source in csv.DictReader(fh, delimiter=layout.delimiter):
            if not any((v or "").strip() for v in source.values() if isinstance(v, str)):
                continue
            mapped = mapper({(k or "").strip().lstrip("\ufeff"): (v or "")
                             for k, v in source.items() if isinstance(v, str)})
            mapped["consent_source"] = "import"
            attrs = {_header_key(k): v for k, v in mapped.pop("attributes").items()}
            attrs = {k: v for k, v in attrs.items() if k and k not in OUT_COLUMNS}
            attribute_names.update(dict.fromkeys(attrs))
            mapped["attributes"] = attrs
            rows.append(mapped)
    if rows and not any((r.get("email") or "").strip() for r in rows):
        # Every row without an address: the file is some other export, not this tool's.
        raise ImportFileError(str(path), f"not a {preset} export: none of its "
                                         f"{len(rows)} row(s) has an address where {preset} "
                                         "puts it (see docs/audience.md, Coming from another "
                                         "tool)")
    directory = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="letterpress-"))
    out = directory / f"{path.stem}.{preset}.csv"
    columns = [*OUT_COLUMNS, *attribute_names]
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([r.get(c, "") for c in OUT_COLUMNS]
                            + [r["attributes"].get(a, "") for a in attribute_names])
    return out
