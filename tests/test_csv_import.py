"""CSV import and export on both databases: dialects, validation, idempotence, interruption."""

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from letterpress.audience import (
    Consent,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    count_recipients,
    find_subscriber,
    mark_bounced,
    subscribe,
    unsubscribe,
)
from letterpress.audience.csv_export import export_csv
from letterpress.audience.csv_import import (
    ImportFileError,
    import_csv,
    read_layout,
    write_rejects,
)
from letterpress.audience.emails import email_hash
from letterpress.audience.gdpr import forget
from letterpress.audience.suppression import ALL_LISTS, suppression_for

from .fixtures_audience import *  # noqa: F403 - fixtures


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- dialects

def test_french_excel_export_cp1252_semicolon(session, clock, csv_dir):
    layout = read_layout(csv_dir / "excel_fr_cp1252.csv")
    assert (layout.encoding, layout.delimiter, layout.has_header) == ("cp1252", ";", True)
    report = import_csv(session, csv_dir / "excel_fr_cp1252.csv", list_name="pvd", clock=clock)
    assert (report.rows, report.added, report.duplicates) == (6, 4, 1)
    assert [(r.line, r.value) for r in report.rejected] == [(5, "pas-une-adresse")]
    assert "@" in report.rejected[0].reason
    helene = find_subscriber(session, "HELENE.DUPRE@mairie-quimperle.fr")
    assert helene.name == "Hélène Dupré"
    assert helene.attributes == {"commune": "Quimperlé", "departement": "29",
                                 "fonction": "Chargée de mission"}
    # the duplicate (line 7, other case) was merged into line 4: later values complete it
    marc = find_subscriber(session, "marc.oger@example.org")
    assert marc.email == "MARC.OGER@example.org"
    assert marc.attributes == {"commune": "Châteaulin", "departement": "29",
                               "fonction": "Adjoint"}
    assert find_subscriber(session, "cecile+lettre@example.org").name == "Cécile Noël"
    assert count_recipients(session, "pvd") == 4


def test_utf8_bom_comma_quoted_and_idn(session, clock, csv_dir):
    report = import_csv(session, csv_dir / "utf8_bom_comma.csv", list_name="pvd", clock=clock)
    assert report.layout.encoding == "utf-8-sig" and report.layout.delimiter == ","
    assert (report.added, len(report.rejected)) == (3, 1)
    assert report.rejected[0].line == 5 and report.rejected[0].value == ""
    assert find_subscriber(session, "anne.martin@example.org").name == "Martin, Anne"
    zoe = find_subscriber(session, "zoe@xn--bcher-kva.de")
    assert zoe.email == "zoe@bücher.de" and zoe.name == "Zoé Müller"
    assert find_subscriber(session, "yves@example.org").attributes == {}


def test_no_header(session, clock, csv_dir):
    layout = read_layout(csv_dir / "no_header.csv")
    assert not layout.has_header and layout.email_column == 0
    report = import_csv(session, csv_dir / "no_header.csv", list_name="pvd", clock=clock)
    assert (report.rows, report.added, report.rejected) == (3, 3, [])
    assert find_subscriber(session, "lea@example.org").name == "Léa Petit"


def test_no_header_email_not_first(session, clock, tmp_path):
    path = _write(tmp_path / "x.csv", "Dupont,dupont@example.org,Brest\n"
                                      "Durand,durand@example.org,Rennes\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 2
    s = find_subscriber(session, "durand@example.org")
    assert s.name == "Durand" and s.attributes == {"column_3": "Rennes"}


def test_every_bad_row_is_reported_and_good_rows_imported(session, clock, csv_dir, tmp_path):
    report = import_csv(session, csv_dir / "bad_rows.csv", list_name="pvd", clock=clock)
    assert report.added == 2
    assert [(r.line, r.value) for r in report.rejected] == [
        (3, "deux@@example.org"), (4, "espace dans@example.org"), (5, "sans-domaine@"),
        (6, "a@b")]
    assert all(r.reason for r in report.rejected)
    rejects = tmp_path / "rejects.csv"
    assert write_rejects(report, rejects) == 4
    rows = list(csv.reader(io.StringIO(rejects.read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["line", "reason", "value", "email", "nom"]
    assert rows[1][0] == "3" and rows[1][2] == "deux@@example.org" and rows[1][4] == "Double arobase"


def test_file_without_an_email_column_is_refused_whole(session, clock, csv_dir):
    with pytest.raises(ImportFileError, match="no email column"):
        import_csv(session, csv_dir / "no_email_column.csv", list_name="pvd", clock=clock)
    assert _count(session, Subscriber) == 0


def test_empty_file(session, clock, tmp_path):
    with pytest.raises(ImportFileError, match="empty"):
        import_csv(session, _write(tmp_path / "e.csv", "\n\n"), list_name="pvd", clock=clock)


def test_windows_1252_undefined_byte_reports_the_row(session, clock, tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes(b"email;nom\r\nok@example.org;Andr\xe9\r\nbad\x81@example.org;X\r\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1 and [r.line for r in report.rejected] == [3]
    assert find_subscriber(session, "ok@example.org").name == "André"


def test_windows_1252_undefined_byte_in_a_name_is_refused_with_its_position(session, clock,
                                                                             tmp_path):
    # Neither UTF-8 nor Windows-1252: the row is refused, never stored with U+FFFD.
    path = tmp_path / "w.csv"
    path.write_bytes(b"email;nom\r\nok@example.org;Andr\xe9\r\n"
                     b"ko@example.org;Ma\x81\x8dx\r\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1 and [(r.line, r.value) for r in report.rejected] == [
        (3, "ko@example.org")]
    reason = report.rejected[0].reason
    assert "0x81 at line 3, column 18 (byte offset 50)" in reason
    assert "UTF-8" in reason and "Windows-1252" in reason and "save the file as CSV UTF-8" in reason
    assert find_subscriber(session, "ko@example.org") is None
    assert not any("\ufffd" in (s.name or "") for s in session.scalars(select(Subscriber)))
    rejects = tmp_path / "rejects.csv"
    write_rejects(report, rejects)  # the byte shown as U+FFFD, not a crash on a surrogate
    assert "ko@example.org;Ma\ufffd\ufffdx" in rejects.read_text("utf-8-sig")


def test_windows_1252_undefined_byte_on_a_later_line_of_a_quoted_field(session, clock, tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes(b'email;note\na@example.org;"one\ntw\x9do"\nb@example.org;x\n')
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1 and report.rejected[0].line == 2
    assert "0x9D at line 3, column 3 (byte offset 32)" in report.rejected[0].reason


def test_windows_1252_undefined_byte_in_the_header_refuses_the_file(session, clock, tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes(b"email;pr\xe9nom;fonc\x90tion\na@example.org;\xc9lise;x\n")
    with pytest.raises(ImportFileError, match=r"header row: byte 0x90 at line 1, column 18 \(byte offset 17\)"):
        import_csv(session, path, list_name="pvd", clock=clock)
    assert _count(session, Subscriber) == 0


def test_a_stray_quote_refuses_its_line_and_never_swallows_the_rows_after_it(session, clock,
                                                                            tmp_path):
    # A double quote typed in a name opens a quoted value that the next quote closes, lines
    # later: the rows between would become one person's name — their addresses in the To:
    # header of that person's copy — and silently not be imported.
    path = _write(tmp_path / "stray.csv",
                  "email;nom;commune\n"
                  "a1@example.org;Ana;Paris\n"
                  'a2@example.org;"Lou Martin;Lyon\n'
                  "a3@example.org;Bob;Nice\n"
                  "a4@example.org;Carla;Metz\n"
                  'a5@example.org;"Dan";Caen\n'
                  "a6@example.org;Eve;Brest\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 5 and report.rows == 6
    [rejected] = report.rejected
    assert (rejected.line, rejected.value) == (3, "a2@example.org")
    assert "double quote opened on line 3" in rejected.reason and "lines 3 to 6" in rejected.reason
    names = {s.email: s.name for s in session.scalars(select(Subscriber))}
    assert names == {"a1@example.org": "Ana", "a3@example.org": "Bob",
                     "a4@example.org": "Carla", "a5@example.org": "Dan",
                     "a6@example.org": "Eve"}
    rejects = tmp_path / "rejects.csv"
    write_rejects(report, rejects)
    assert 'a2@example.org;"""Lou Martin";Lyon\n' in rejects.read_text("utf-8-sig")


@pytest.mark.parametrize("text, lines", [
    # Never closed: the quote runs to the end of the file.
    ('email;nom\na1@example.org;Ana\na2@example.org;"Lou\na3@example.org;Bob\n'
     "a4@example.org;Carla\n", "lines 3 to 5"),
    ('email;nom\na1@example.org;Ana\na2@example.org;"Lou\na3@example.org;Bob\n'
     "a4@example.org;Carla", "lines 3 to 5"),
    # A file of addresses alone: no delimiter on the rows swallowed.
    ('email\na1@example.org\n"a2@example.org\na3@example.org\na4@example.org\n',
     "lines 3 to 5"),
    ('a1@example.org\n"a2@example.org\na3@example.org\na4@example.org\n', "lines 2 to 4"),
    # On the last line, with or without its line break: the quote takes the rest of it.
    ('email;nom;commune\na1@example.org;Ana;Metz\na3@example.org;Bob;Nice\n'
     'a4@example.org;Carla;Caen\na2@example.org;"Lou;Lyon\n', "the rest of the line"),
    ('email;nom;commune\na1@example.org;Ana;Metz\na3@example.org;Bob;Nice\n'
     'a4@example.org;Carla;Caen\na2@example.org;"Lou;Lyon', "the rest of the line"),
    ('email\na1@example.org\na3@example.org\na4@example.org\n"a2@example.org\n',
     "the rest of the line"),
])
def test_a_quote_left_open_to_the_end_of_the_file_refuses_only_its_line(
        session, clock, tmp_path, text, lines):
    path = _write(tmp_path / "open.csv", text)
    report = import_csv(session, path, list_name="pvd", clock=clock)
    [rejected] = report.rejected
    assert "a2@example.org" in rejected.value and lines in rejected.reason
    assert report.added == 3
    assert {s.email for s in session.scalars(select(Subscriber))} == {
        "a1@example.org", "a3@example.org", "a4@example.org"}


def test_a_header_with_a_quote_left_open_refuses_the_file(session, clock, tmp_path):
    path = _write(tmp_path / "h.csv", 'email,"name,commune\na@example.org,Ana,Metz\n')
    with pytest.raises(ImportFileError, match="header row: a double quote is opened and not "
                                              "closed"):
        import_csv(session, path, list_name="pvd", clock=clock)
    assert _count(session, Subscriber) == 0


def test_a_quoted_value_over_several_lines_is_still_one_value(session, clock, tmp_path):
    path = _write(tmp_path / "notes.csv", 'email;nom;note\na@example.org;Ana;"ligne un\n'
                                          'ligne deux; suite"\nb@example.org;Bob;x\n')
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 2 and not report.rejected
    assert find_subscriber(session, "a@example.org").attributes["note"] == (
        "ligne un ligne deux; suite")  # line breaks become spaces where values enter


def test_utf8_with_one_damaged_byte_keeps_its_accents_and_refuses_that_row(session, clock,
                                                                           tmp_path):
    # An editor or a transfer damaged one byte: read as Windows-1252, every accent of the
    # file would be garbled ("HÃ©lÃ¨ne"); read as UTF-8, only that row is refused.
    path = tmp_path / "u.csv"
    path.write_bytes("email;nom;commune\n"
                     "helene@example.org;Hélène Dupré;Quimperlé\n".encode()
                     + b"ko@example.org;Andr\xe9;X\n"
                     + "zoe@example.org;Zoé Lefèvre;Pontivy\n".encode())
    layout = read_layout(path)
    assert layout.encoding == "utf-8-sig"
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 2
    assert [(r.line, r.value) for r in report.rejected] == [(3, "ko@example.org")]
    reason = report.rejected[0].reason
    assert "byte 0xE9 at line 3, column 20 is not UTF-8" in reason and "retype" in reason
    assert find_subscriber(session, "helene@example.org").name == "Hélène Dupré"
    assert find_subscriber(session, "zoe@example.org").name == "Zoé Lefèvre"
    assert find_subscriber(session, "ko@example.org") is None


def test_windows_1252_with_a_few_utf8_lookalikes_stays_windows_1252(session, clock, tmp_path):
    # "Ã©" in Windows-1252 is bytes C3 A9 — valid UTF-8 for "é" — but the file's many
    # accented letters are not UTF-8: it is read as Windows-1252, as written.
    path = tmp_path / "w.csv"
    path.write_bytes(b"email;nom\na@example.org;Andr\xe9 \xc3\xa9\nb@example.org;Ren\xe9e\n"
                     b"c@example.org;H\xe9l\xe8ne\n")
    assert read_layout(path).encoding == "cp1252"
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 3 and find_subscriber(session, "c@example.org").name == "Hélène"


def test_a_damaged_byte_in_a_utf8_header_refuses_the_file(session, clock, tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes("email;prénom;fonction\na@example.org;Élise;élue\n".encode()
                     .replace(b"fonction", b"fonc\xe9tion"))
    with pytest.raises(ImportFileError, match=r"header row: byte 0xE9 at line 1, column 18 is "
                                              r"not UTF-8"):
        import_csv(session, path, list_name="pvd", clock=clock)
    assert _count(session, Subscriber) == 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_as_excel_writes_it(session, clock, tmp_path, encoding):
    # Excel's "Unicode text": UTF-16 little-endian with a BOM, tab delimited.
    bom = "\ufeff"
    path = _write(tmp_path / "u.txt", f"{bom}email\tnom\tcommune\r\n"
                                      "helene@example.org\tHélène Dupré\tQuimperlé\r\n"
                                      "pas-une-adresse\tX\tY\r\n", encoding)
    layout = read_layout(path)
    assert (layout.encoding, layout.delimiter, layout.headers) == (
        "utf-16", "\t", ("email", "nom", "commune"))
    progress = []
    report = import_csv(session, path, list_name="pvd", clock=clock, progress=progress.append)
    assert report.added == 1 and [r.line for r in report.rejected] == [3]
    helene = find_subscriber(session, "helene@example.org")
    assert helene.name == "Hélène Dupré" and helene.attributes == {"commune": "Quimperlé"}
    assert progress[-1].fraction > 0.95  # characters against bytes / 2, not bytes


def test_utf16_with_a_broken_byte_is_refused_with_its_position(session, clock, tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes("\ufeffemail,nom\na@example.org,A\n".encode("utf-16-le")
                     + b"\x00\xdc" + "b@example.org\n".encode("utf-16-le"))
    with pytest.raises(ImportFileError, match=r"UTF-16 byte-order mark but byte offset 54 "
                                              r"\(line 3\).*save the file as CSV UTF-8"):
        import_csv(session, path, list_name="pvd", clock=clock)
    assert _count(session, Subscriber) == 0


def test_utf16_without_bom_is_refused(session, clock, tmp_path):
    path = _write(tmp_path / "u.csv", "email,nom\na@example.org,A\n", "utf-16-le")
    with pytest.raises(ImportFileError, match="NUL bytes: UTF-16 without a byte-order mark"):
        import_csv(session, path, list_name="pvd", clock=clock)


def test_fixed_rejects_file_reimports_without_its_own_columns(session, clock, csv_dir,
                                                              tmp_path):
    report = import_csv(session, csv_dir / "bad_rows.csv", list_name="pvd", clock=clock)
    rejects = tmp_path / "rejects.csv"
    write_rejects(report, rejects)
    fixed = rejects.read_text("utf-8-sig").replace("deux@@example.org", "deux@example.org")
    _write(rejects, fixed, "utf-8-sig")
    layout = read_layout(rejects)
    assert [name for _i, name in layout.attribute_columns] == []
    again = import_csv(session, rejects, list_name="pvd", clock=clock)
    assert again.added == 1 and len(again.rejected) == 3
    assert find_subscriber(session, "deux@example.org").attributes == {}
    assert all(not ({"line", "reason", "value"} & set(s.attributes or {}))
               for s in session.scalars(select(Subscriber)))
    # The rejects of a rejects file carry one prefix, not two.
    twice = tmp_path / "rejects2.csv"
    assert write_rejects(again, twice) == 3
    rows = list(csv.reader(io.StringIO(twice.read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["line", "reason", "value", "email", "nom"]
    assert rows[1][3] == "espace dans@example.org"


def test_rejects_of_a_file_without_header_reimport_with_the_same_mapping(session, clock,
                                                                         tmp_path):
    path = _write(tmp_path / "x.csv", "Dupont,dupont@example.org,Brest\n"
                                      "Durand,durand@@example.org,Rennes\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    rejects = tmp_path / "rejects.csv"
    write_rejects(report, rejects)
    rows = list(csv.reader(io.StringIO(rejects.read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["line", "reason", "value", "name", "email", "column_3"]
    _write(rejects, rejects.read_text("utf-8-sig").replace("@@", "@"), "utf-8-sig")
    assert import_csv(session, rejects, list_name="pvd", clock=clock).added == 1
    s = find_subscriber(session, "durand@example.org")
    assert s.name == "Durand" and s.attributes == {"column_3": "Rennes"}


def test_suppressed_rows_in_the_rejects_file_keep_their_address(session, clock, tmp_path):
    sub = subscribe(session, "gone@example.org", list_name="pvd", consent=Consent("admin"),
                    clock=clock)
    unsubscribe(session, sub.id, channel="page", clock=clock)
    session.commit()
    path = _write(tmp_path / "s.csv", "email;nom\ngone@example.org;G\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    rejects = tmp_path / "rejects.csv"
    write_rejects(report, rejects)
    again = import_csv(session, rejects, list_name="pvd", clock=clock)
    assert [s.email for s in again.suppressed] == ["gone@example.org"] and again.rejected == []


def test_multiline_quoted_field_keeps_line_numbers(session, clock, tmp_path):
    path = _write(tmp_path / "m.csv", 'email,name,note\na@example.org,A,"two\nlines"\n'
                                      "bad,B,x\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1 and report.rejected[0].line == 4


def test_status_column_from_an_export_is_respected(session, clock, tmp_path):
    # Without consent proof columns, a stopped row adds nobody: its objection is kept as a
    # suppression entry, and the row is counted as suppressed, not as an error.
    path = _write(tmp_path / "s.csv", "email,status\na@example.org,active\n"
                                      "b@example.org,unsubscribed\nc@example.org,blocklisted\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1 and report.rejected == []
    assert [(s.line, s.email, s.reason) for s in report.suppressed] == [
        (3, "b@example.org", "unsubscribed in the file"),
        (4, "c@example.org", "blocklisted in the file")]
    assert "rejected 0, suppressed 2" in report.summary()
    assert find_subscriber(session, "b@example.org") is None
    assert suppression_for(session, email_hash("b@example.org"), "pvd").scope == "pvd"
    assert suppression_for(session, email_hash("c@example.org"), "pvd").scope == ALL_LISTS
    again = import_csv(session, path, list_name="pvd", clock=clock)  # idempotent
    assert (again.unchanged, again.suppressed, again.rejected) == (3, [], [])


def test_a_blocklisted_row_stops_the_person_on_every_list(session, clock, tmp_path):
    """A tool's blocklist is an objection to all mail: the person's other subscriptions
    stop too, with a history entry naming the file, and a dry run only counts them."""
    for list_name in ("pvd", "acv", "acv-elus"):
        subscribe(session, "bloque@example.org", list_name=list_name,
                  consent=Consent("admin"), clock=clock)
    subscribe(session, "autre@example.org", list_name="acv", consent=Consent("admin"),
              clock=clock)
    session.commit()
    path = _write(tmp_path / "brevo.csv", "email,status\nbloque@example.org,blocklisted\n")
    dry = import_csv(session, path, list_name="pvd", clock=clock, dry_run=True)
    assert dry.stopped_elsewhere == 2 and "2 subscription(s) on other lists would be stopped" in (
        dry.summary())
    assert {s.status for s in session.scalars(select(Subscription))} == {"active"}
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert (report.updated, report.stopped_elsewhere) == (1, 2)
    statuses = {(s.mailing_list.name, s.subscriber.email): s.status
                for s in session.scalars(select(Subscription))}
    assert statuses == {("pvd", "bloque@example.org"): "unsubscribed",
                        ("acv", "bloque@example.org"): "unsubscribed",
                        ("acv-elus", "bloque@example.org"): "unsubscribed",
                        ("acv", "autre@example.org"): "active"}
    details = set(session.scalars(select(SubscriptionEvent.detail).where(
        SubscriptionEvent.new_status == "unsubscribed")))
    assert details == {"brevo.csv line 2: blocklisted in the file"}
    assert suppression_for(session, email_hash("bloque@example.org"), "acv").scope == ALL_LISTS


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_a_bounced_or_complained_row_stops_the_person_on_every_list(session, clock, tmp_path,
                                                                     status):
    """An address that does not exist, or whose owner reported the mail as spam, is mailed
    from no list any more."""
    for list_name in ("pvd", "acv"):
        subscribe(session, "stop@example.org", list_name=list_name, consent=Consent("admin"),
                  clock=clock)
    session.commit()
    path = _write(tmp_path / "cleaned.csv", f"email,status\nstop@example.org,{status}\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert (report.updated, report.stopped_elsewhere) == (1, 1)
    assert {s.status for s in find_subscriber(session, "stop@example.org").subscriptions} == {
        status}
    assert suppression_for(session, email_hash("stop@example.org"), "acv").scope == ALL_LISTS


def test_a_status_only_stop_of_someone_active_here_is_applied(session, clock, tmp_path):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=Consent("admin"),
                    clock=clock)
    session.commit()
    path = _write(tmp_path / "s.csv", "email,status\na@example.org,unsubscribed\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert (report.updated, report.suppressed, report.rejected) == (1, [], [])
    session.refresh(sub)
    assert (sub.status, sub.unsubscribe_channel) == ("unsubscribed", "import")
    assert suppression_for(session, email_hash("a@example.org"), "pvd") is not None


# --------------------------------------------------------------------------- consent & events

def test_import_records_consent_and_an_event_per_subscription(session, clock, csv_dir):
    consent = Consent("import", text="Fichier des participants au club PVD 2024")
    import_csv(session, csv_dir / "no_header.csv", list_name="pvd", clock=clock, consent=consent)
    sub = session.scalars(select(Subscription).order_by(Subscription.id)).first()
    assert (sub.consent_source, sub.consent_text, sub.consent_at) == (
        "import", "Fichier des participants au club PVD 2024", clock.now())
    ev = session.scalars(select(SubscriptionEvent).where(
        SubscriptionEvent.subscription_id == sub.id)).one()
    assert (ev.old_status, ev.new_status, ev.actor, ev.detail) == (
        None, "active", "import", "no_header.csv line 1")


# --------------------------------------------------------------------------- idempotence

def test_second_import_changes_nothing(session, clock, csv_dir):
    first = import_csv(session, csv_dir / "excel_fr_cp1252.csv", list_name="pvd", clock=clock)
    counts = [_count(session, m) for m in (Subscriber, Subscription, SubscriptionEvent)]
    clock.advance(days=1)
    second = import_csv(session, csv_dir / "excel_fr_cp1252.csv", list_name="pvd", clock=clock)
    assert first.added == 4
    assert (second.added, second.updated, second.unchanged) == (0, 0, 4)
    assert second.duplicates == 1 and len(second.rejected) == 1
    assert [_count(session, m) for m in (Subscriber, Subscription, SubscriptionEvent)] == counts


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_conflicting_duplicates_first_wins_and_reimport_is_unchanged(session, clock, tmp_path,
                                                                     batch_size):
    path = _write(tmp_path / "d.csv", "email;nom;commune;role\n"
                                      "a@example.org;Anne;Brest;\n"
                                      "b@example.org;Bob;Vannes;maire\n"
                                      "c@example.org;Carl;Lorient;\n"
                                      "A@EXAMPLE.ORG;Annie;Morlaix;adjointe\n")
    first = import_csv(session, path, list_name="pvd", clock=clock, batch_size=batch_size)
    assert (first.added, first.duplicates) == (3, 1)
    anne = find_subscriber(session, "a@example.org")
    assert anne.name == "Anne"
    assert anne.attributes == {"commune": "Brest", "role": "adjointe"}  # blanks filled only
    second = import_csv(session, path, list_name="pvd", clock=clock, batch_size=batch_size)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)


def test_changed_row_is_an_update(session, clock, tmp_path):
    path = _write(tmp_path / "a.csv", "email;nom;commune\na@example.org;Anne;Brest\n")
    import_csv(session, path, list_name="pvd", clock=clock)
    path = _write(tmp_path / "a.csv", "email;nom;commune\na@example.org;Anne;Morlaix\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
    assert find_subscriber(session, "a@example.org").attributes == {"commune": "Morlaix"}


def test_same_people_on_a_second_list(session, clock, csv_dir):
    import_csv(session, csv_dir / "no_header.csv", list_name="pvd", clock=clock)
    report = import_csv(session, csv_dir / "no_header.csv", list_name="acv", clock=clock)
    assert report.added == 3
    assert _count(session, Subscriber) == 3 and _count(session, Subscription) == 6


def test_dry_run_writes_nothing(session, clock, csv_dir):
    report = import_csv(session, csv_dir / "excel_fr_cp1252.csv", list_name="pvd", clock=clock,
                        dry_run=True, batch_size=2)
    assert report.dry_run and (report.added, report.duplicates) == (4, 1)
    assert "would be added 4" in report.summary()
    assert _count(session, Subscriber) == 0 and _count(session, Subscription) == 0


# --------------------------------------------------------------------------- suppression

def test_suppressed_addresses_are_reported_never_resubscribed(session, clock, tmp_path):
    admin = Consent("admin")
    a = subscribe(session, "a@example.org", list_name="pvd", consent=admin, clock=clock)
    b = subscribe(session, "b@example.org", list_name="pvd", consent=admin, clock=clock)
    subscribe(session, "c@example.org", list_name="pvd", consent=admin, clock=clock)
    unsubscribe(session, a.id, channel="one-click", clock=clock)
    mark_bounced(session, b.id, clock=clock, detail="550")
    forget(session, "c@example.org", clock=clock)
    session.commit()
    path = _write(tmp_path / "p.csv", "email\nA@example.org\nb@example.org\nc@example.org\n"
                                      "d@example.org\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1
    assert [(s.line, s.email, s.reason) for s in report.suppressed] == [
        (2, "A@example.org", "unsubscribed"), (3, "b@example.org", "bounced"),
        (4, "c@example.org", "erased")]
    assert a.status == "unsubscribed" and b.status == "bounced"
    assert find_subscriber(session, "c@example.org") is None
    # a bounce suppresses on every list, an unsubscribe only on its own list
    other = import_csv(session, path, list_name="acv", clock=clock)
    assert {s.email for s in other.suppressed} == {"b@example.org", "c@example.org"}
    assert other.added == 1 + 1  # A@ (unsubscribed from pvd only) and d@ (already known)


# --------------------------------------------------------------------------- interruption

class Interrupted(Exception):
    pass


def test_interrupted_import_leaves_a_consistent_database_and_rerun_finishes(
        session, clock, tmp_path):
    lines = ["email;nom"] + [f"p{i:04}@example.org;Personne {i}" for i in range(95)]
    lines.insert(40, "invalide;Pas bon")
    path = _write(tmp_path / "big.csv", "\n".join(lines) + "\n")
    calls = []

    def stop_after_three_batches(progress):
        calls.append(progress)
        if len(calls) == 3:
            raise Interrupted()

    with pytest.raises(Interrupted):
        import_csv(session, path, list_name="pvd", clock=clock, batch_size=10,
                   progress=stop_after_three_batches)
    session.rollback()
    # exactly the three committed batches, each subscriber complete with its subscription
    assert _count(session, Subscriber) == 30
    assert _count(session, Subscription) == 30 and _count(session, SubscriptionEvent) == 30
    assert calls[-1].rows == 30 and 0 < calls[-1].fraction < 1

    seen = []
    report = import_csv(session, path, list_name="pvd", clock=clock, batch_size=10,
                        progress=seen.append)
    assert (report.added, report.unchanged, len(report.rejected)) == (65, 30, 1)
    assert _count(session, Subscriber) == 95
    assert seen[-1].fraction == 1.0 and seen[-1].rows == 96


def test_failure_inside_a_batch_rolls_that_batch_back(session, clock, tmp_path, monkeypatch):
    from letterpress.audience import csv_import

    lines = ["email"] + [f"q{i}@example.org" for i in range(25)]
    path = _write(tmp_path / "f.csv", "\n".join(lines) + "\n")
    real_apply = csv_import._apply
    batches = []

    def failing_apply(session, batch, *args):
        batches.append(len(batch))
        real_apply(session, batch, *args)  # written and flushed, not yet committed...
        if len(batches) == 2:
            raise OSError("disk full")  # ...then the process fails

    monkeypatch.setattr(csv_import, "_apply", failing_apply)
    with pytest.raises(OSError):
        import_csv(session, path, list_name="pvd", clock=clock, batch_size=10)
    assert _count(session, Subscriber) == 10 and _count(session, Subscription) == 10


# --------------------------------------------------------------------------- export

def test_export_round_trips_with_import(session, clock, csv_dir, tmp_path, engine, settings):
    import_csv(session, csv_dir / "excel_fr_cp1252.csv", list_name="pvd", clock=clock)
    import_csv(session, csv_dir / "utf8_bom_comma.csv", list_name="pvd", clock=clock)
    gone = find_subscriber(session, "yves@example.org").subscriptions[0]
    unsubscribe(session, gone.id, channel="page", clock=clock)
    session.commit()
    buffer = io.StringIO()
    n = export_csv(session, buffer, list_name="pvd")
    assert n == 6
    text = buffer.getvalue()
    assert text.splitlines()[0] == "email,name,commune,departement,fonction,status,consent_at,consent_source"
    assert "yves@example.org" not in text
    assert 'Martin, Anne' in text

    def people():
        return sorted((s.email, s.name, s.attributes) for s in session.scalars(
            select(Subscriber).join(Subscription).where(Subscription.status == "active")))

    before = people()
    exported = tmp_path / "export.csv"
    exported.write_text(text, encoding="utf-8")
    again = import_csv(session, exported, list_name="pvd", clock=clock)
    assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, 6, [])

    # into an empty list, the same people come back with the same data
    for sub in session.scalars(select(Subscription)):
        session.delete(sub)
    session.commit()
    restored = import_csv(session, exported, list_name="pvd", clock=clock)
    assert restored.added == 6
    assert people() == before


def test_export_filters_and_all_statuses(session, clock):
    admin = Consent("admin")
    subscribe(session, "a@example.org", list_name="pvd", consent=admin, clock=clock,
              attributes={"departement": "29"})
    subscribe(session, "b@example.org", list_name="pvd", consent=admin, clock=clock,
              attributes={"departement": "56"})
    c = subscribe(session, "c@example.org", list_name="pvd", consent=admin, clock=clock,
                  attributes={"departement": "29"})
    unsubscribe(session, c.id, channel="page", clock=clock)
    session.commit()
    out = io.StringIO()
    assert export_csv(session, out, list_name="pvd", attributes={"departement": "29"}) == 1
    out = io.StringIO()
    assert export_csv(session, out, list_name="pvd", status=None, delimiter=";") == 3
    assert "c@example.org;;29;unsubscribed" in out.getvalue()


def test_batch_lookups_and_inserts_keep_a_few_statement_texts(session, clock, tmp_path):
    """A statement whose text changes with the batch is prepared again and kept in the
    driver's statement cache: on SQLite that was the import's memory growth."""
    from letterpress.audience.bulk import among

    dialect = session.get_bind().dialect
    texts = {str(select(Subscriber.id).where(among(Subscriber.email_key, keys, dialect.name))
                 .compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))
             for keys in (["a"], ["a", "b", "c"], ["x"] * 700)}
    assert len(texts) == 1
    lines = ["email;nom"] + [f"s{i:04}@example.org;Personne {i}" for i in range(1234)]
    path = _write(tmp_path / "s.csv", "\n".join(lines) + "\n")
    statements = []
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if dialect.name == "sqlite":
        raw.set_trace_callback(statements.append)
    try:
        report = import_csv(session, path, list_name="pvd", clock=clock, batch_size=617)
    finally:
        if dialect.name == "sqlite":
            raw.set_trace_callback(None)
    assert report.added == 1234 and _count(session, Subscriber) == 1234
    keys = [f"s{i:04}@example.org" for i in (0, 5, 1233)] + ["absent@example.org"]
    found = session.scalars(select(Subscriber.email_key)
                            .where(among(Subscriber.email_key, keys, dialect.name))).all()
    assert sorted(found) == keys[:3]
    if dialect.name == "sqlite":
        inserts = {s.split(" VALUES ")[0] + str(s.count("), (")) for s in statements
                   if s.startswith("INSERT INTO subscribers")}
        # 617 rows in power-of-two chunks (512 + 64 + 32 + 8 + 1): at most 9 distinct texts
        assert inserts and len(inserts) <= 9


def test_a_proof_date_in_the_future_refuses_its_row(session, clock, tmp_path):
    """A consent date years ahead (a typing error) would keep the person out of the
    retention period's reach; a day ahead is a clock or time zone slip."""
    soon = (clock.now() + timedelta(hours=20)).isoformat()
    later = (clock.now() + timedelta(days=3)).isoformat()
    path = _write(tmp_path / "f.csv", f"email,consent_at\nsoon@example.org,{soon}\n"
                                      f"later@example.org,{later}\n")
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.added == 1
    [rejected] = report.rejected
    assert (rejected.line, rejected.reason) == (3, f"consent_at: {later} is in the future")


def test_an_unknown_status_is_quoted_as_written_with_every_accepted_value(session, clock,
                                                                          tmp_path):
    path = _write(tmp_path / "s.csv", "email,status\na@example.org,Désabonnée\n")
    [rejected] = import_csv(session, path, list_name="pvd", clock=clock).rejected
    assert rejected.reason == ("unknown status 'Désabonnée' (expected pending, active, "
                               "unsubscribed, bounced, complained or blocklisted)")


@pytest.mark.parametrize("batch_size", [5000, 1])
def test_a_stop_later_in_the_file_wins_over_an_earlier_active_row(session, clock, tmp_path,
                                                                   batch_size):
    """Same batch or not, an objection is never lost, and a re-import changes nothing."""
    path = _write(tmp_path / "d.csv", "email,status\ndup@example.org,active\n"
                                      "autre@example.org,active\nDUP@example.org,unsubscribed\n")
    report = import_csv(session, path, list_name="pvd", clock=clock, batch_size=batch_size)
    assert report.duplicates == 1 and report.rejected == []
    assert find_subscriber(session, "autre@example.org") is not None
    assert suppression_for(session, email_hash("dup@example.org"), "pvd") is not None
    # Merged in one batch, the person is never added (a bare stop proves no consent); the
    # first row written in an earlier batch is stopped by the later one.
    expected = None if batch_size > 1 else {"unsubscribed"}

    def statuses():
        dup = find_subscriber(session, "dup@example.org")
        return None if dup is None else {s.status for s in dup.subscriptions}

    assert statuses() == expected
    again = import_csv(session, path, list_name="pvd", clock=clock, batch_size=batch_size)
    assert (again.added, again.updated) == (0, 0)
    assert statuses() == expected


def test_utf8_lines_in_a_windows_1252_file_keep_their_accents(session, clock, tmp_path):
    """A file pasted together from two sources: most lines Windows-1252, one UTF-8."""
    path = tmp_path / "mix.csv"
    path.write_bytes(b"email;nom;commune\n"
                     + "a@example.org;René;Privas\n".encode("cp1252")
                     + "b@example.org;Renée;Orléans\n".encode()
                     + "c@example.org;Hélène;Sète\n".encode("cp1252"))
    report = import_csv(session, path, list_name="pvd", clock=clock)
    assert report.layout.encoding == "cp1252" and report.added == 3
    names = {s.email: (s.name, s.attributes["commune"])
             for s in session.scalars(select(Subscriber))}
    assert names == {"a@example.org": ("René", "Privas"), "b@example.org": ("Renée", "Orléans"),
                     "c@example.org": ("Hélène", "Sète")}


def test_a_stop_with_proof_columns_takes_the_row_profile_and_a_reimport_is_unchanged(
        session, clock, tmp_path):
    for email in ("j1@example.org", "j2@example.org"):
        subscribe(session, email, list_name="pvd", consent=Consent("admin"), clock=clock)
    session.commit()
    path = _write(tmp_path / "j.csv",
                  "email,name,commune,status,consent_at,consent_source,unsubscribed_at\n"
                  "j1@example.org,Jeanne Un,Digne,unsubscribed,2023-01-01T10:00:00+00:00,form,"
                  "2024-01-01T10:00:00+00:00\n"
                  "j2@example.org,Jean Deux,Riez,blocklisted,2023-01-01T10:00:00+00:00,form,"
                  "2024-01-01T10:00:00+00:00\n")
    first = import_csv(session, path, list_name="pvd", clock=clock)
    assert (first.updated, first.unchanged) == (2, 0)
    j1 = find_subscriber(session, "j1@example.org")
    assert (j1.name, j1.attributes) == ("Jeanne Un", {"commune": "Digne"})
    again = import_csv(session, path, list_name="pvd", clock=clock)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
