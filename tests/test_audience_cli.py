"""``letterpress subscribers …`` end to end, on both databases."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from letterpress.cli import main

from .fixtures_audience import *  # noqa: F403 - fixtures


@pytest.fixture
def lp(project_dir, project_env):
    """Run ``letterpress -C project_dir …`` against the test database."""
    runner = CliRunner(env=project_env)

    def run(*args, input=None, ok=True):
        result = runner.invoke(main, ["-C", str(project_dir), *args], input=input,
                               catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run


def test_add_show_unsubscribe(lp):
    out = lp("subscribers", "add", "Jean.Dupont@Example.org", "--name", "Jean Dupont",
             "--attr", "commune=Brest", "--attr", "departement=29").output
    assert "Jean.Dupont@example.org: active on pvd" in out
    lp("subscribers", "add", "jean.dupont@example.org", "--list", "acv-elus")
    shown = lp("subscribers", "show", "JEAN.DUPONT@example.org").output
    assert "Jean.Dupont@example.org  Jean Dupont" in shown
    assert "commune: Brest" in shown and "list pvd: active" in shown
    assert "list acv-elus: active" in shown and "via admin" in shown
    out = lp("subscribers", "unsubscribe", "jean.dupont@example.org").output
    assert "unsubscribed (pvd)" in out
    out = lp("subscribers", "unsubscribe", "jean.dupont@example.org").output
    assert "already unsubscribed (pvd)" in out
    shown = lp("subscribers", "show", "jean.dupont@example.org").output
    assert "active -> unsubscribed  by admin via admin" in shown
    # The suppression entry that now blocks the address is shown with the person.
    assert "suppression list:\n  suppressed on pvd (unsubscribed) since " in shown


def test_add_refuses_suppressed_address_without_resubscribe(lp):
    lp("subscribers", "add", "a@example.org")
    lp("subscribers", "unsubscribe", "a@example.org")
    result = lp("subscribers", "add", "a@example.org", ok=False)
    assert result.exit_code == 1
    assert "suppressed (unsubscribed)" in result.stderr and "--resubscribe" in result.stderr
    out = lp("subscribers", "add", "a@example.org", "--resubscribe",
             "--consent-text", "asked by phone on 3 March").output
    assert "active on pvd" in out
    assert "wording: asked by phone on 3 March" in lp("subscribers", "show", "a@example.org").output


def test_errors_are_messages_not_tracebacks(lp):
    result = lp("subscribers", "add", "not-an-address", ok=False)
    assert result.exit_code == 1 and "invalid address 'not-an-address'" in result.stderr
    result = lp("subscribers", "add", "a@example.org", "--list", "nope", ok=False)
    assert result.exit_code == 1 and "unknown list 'nope'" in result.stderr
    result = lp("subscribers", "show", "ghost@example.org", ok=False)
    assert result.exit_code == 1 and "no subscriber" in result.stderr
    result = lp("subscribers", "add", "a@example.org", "--attr", "oops", ok=False)
    assert result.exit_code == 2


def test_import_of_excel_unicode_text_then_of_the_fixed_rejects(lp, tmp_path):
    # Excel's "Unicode text" (UTF-16 with a BOM, tabs); its rejects fixed and imported back.
    source = tmp_path / "contacts.txt"
    source.write_bytes("\ufeffemail\tnom\r\nanne@example.org\tAnne\r\n"
                       "yves.example.org\tYves\r\n".encode("utf-16-le"))
    rejects = tmp_path / "rejects.csv"
    result = lp("subscribers", "import", str(source), "--rejects", str(rejects))
    assert "utf-16, delimiter 'tab', header row" in result.stderr
    assert "added 1" in result.output and "rejected 1" in result.output
    fixed = rejects.read_text("utf-8-sig").replace("yves.example.org", "yves@example.org")
    rejects.write_text(fixed, encoding="utf-8-sig")
    again = lp("subscribers", "import", str(rejects))
    assert "attributes: none" in again.stderr and "added 1" in again.output
    yves = json.loads(lp("subscribers", "export-person", "yves@example.org").output)
    assert yves["name"] == "Yves" and yves["attributes"] == {}


def test_import_refuses_a_row_with_an_undefined_windows_1252_byte(lp, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes(b"email;nom\r\nanne@example.org;Ren\xe9e\r\nyves@example.org;Y\x81\r\n")
    result = lp("subscribers", "import", str(source))
    assert "line 3: rejected 'yves@example.org': byte 0x81 at line 3, column 19" in result.stderr
    assert "save the file as CSV UTF-8" in result.stderr and "added 1" in result.output


def test_import_reports_and_is_idempotent(lp, csv_dir, tmp_path):
    rejects = tmp_path / "rejects.csv"
    result = lp("subscribers", "import", str(csv_dir / "excel_fr_cp1252.csv"),
                "--rejects", str(rejects))
    assert "6 rows: added 4, updated 0, unchanged 0, rejected 1, suppressed 0, duplicates 1" in result.output
    assert "line 5: rejected 'pas-une-adresse'" in result.stderr
    assert "cp1252, delimiter ';', header row" in result.stderr
    assert "pas-une-adresse" in rejects.read_text("utf-8-sig")
    again = lp("subscribers", "import", str(csv_dir / "excel_fr_cp1252.csv"))
    assert "added 0, updated 0, unchanged 4" in again.output
    assert lp("subscribers", "count").output.strip() == "4"
    assert lp("subscribers", "count", "--attr", "fonction=Maire").output.strip() == "1"


def test_import_dry_run_and_other_list(lp, csv_dir):
    quiet = lp("subscribers", "import", str(csv_dir / "no_header.csv"), "--dry-run", "-q")
    out = quiet.stdout
    assert out.startswith("Dry run, nothing written.") and "would be added 3" in out
    # -q silences progress and per-row lines, not the column mapping.
    assert quiet.stderr.startswith(f"Read {csv_dir / 'no_header.csv'}: ")
    assert lp("subscribers", "count").output.strip() == "0"
    lp("subscribers", "import", str(csv_dir / "no_header.csv"), "-p", "acv", "-q")
    assert lp("subscribers", "count", "-p", "acv").output.strip() == "3"
    lp("subscribers", "add", "lea@example.org")
    assert lp("subscribers", "count", "--all-lists").output.strip() == "4"
    listing = lp("subscribers", "list", "--all-lists").output.splitlines()
    assert [line.split("\t")[2] for line in listing] == ["acv", "acv", "acv", "pvd"]
    assert lp("subscribers", "count", "--list", "acv-elus").output.strip() == "0"
    lists = lp("subscribers", "lists").output.splitlines()
    assert lists[0].split("\t") == ["list", "publication", "pending", "active", "unsubscribed",
                                    "bounced", "complained"]
    assert "acv\tacv\t0\t3\t0\t0\t0" in lists and "pvd\tpvd\t0\t1\t0\t0\t0" in lists


def test_import_progress_when_not_a_terminal(lp, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("email\n" + "".join(f"p{i}@example.org\n" for i in range(50)))
    result = lp("subscribers", "import", str(path), "--batch-size", "10")
    assert "… 50 rows read (100%)" in result.stderr
    assert "added 50" in result.output


def test_list_export_round_trip(lp, csv_dir, tmp_path):
    lp("subscribers", "import", str(csv_dir / "utf8_bom_comma.csv"), "-q")
    lp("subscribers", "unsubscribe", "yves@example.org")
    listing = lp("subscribers", "list").output.splitlines()
    assert "anne.martin@example.org\tMartin, Anne\tpvd\tactive\tcommune=Lorient" in listing
    assert any(line.startswith("yves@example.org\t") and "\tunsubscribed" in line
               for line in listing)
    assert len(lp("subscribers", "list", "--status", "active").output.splitlines()) == 2
    assert len(lp("subscribers", "list", "--limit", "1").output.splitlines()) == 1

    exported = tmp_path / "out.csv"
    lp("subscribers", "export", "-o", str(exported))
    rows = list(csv.DictReader(io.StringIO(exported.read_text("utf-8"))))
    assert [r["email"] for r in rows] == ["anne.martin@example.org", "zoe@bücher.de"]
    again = lp("subscribers", "import", str(exported))
    assert "added 0, updated 0, unchanged 2, rejected 0" in again.output

    excel = tmp_path / "excel.csv"
    lp("subscribers", "export", "--excel", "--status", "all", "-o", str(excel))
    raw = excel.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"email;name;commune;status" in raw
    assert b"yves@example.org;;;unsubscribed" in raw
    stdout = lp("subscribers", "export").output
    assert stdout.splitlines()[0] == "email,name,commune,status,consent_at,consent_source"
    assert lp("subscribers", "export", "--excel").output.startswith("\ufeffemail;name;")
    # A name from a public form that a spreadsheet would run as a formula stays text.
    lp("subscribers", "add", "eve@example.org", "--name", '=HYPERLINK("http://x";"y")',
       "--attr", "commune=+33 1 23")
    lp("subscribers", "export", "--excel", "-o", str(tmp_path / "inert.csv"))
    inert = (tmp_path / "inert.csv").read_text("utf-8-sig")
    assert 'eve@example.org;"\'=HYPERLINK(""http://x"";""y"")";\'+33 1 23;active' in inert
    plain = lp("subscribers", "export").output
    assert 'eve@example.org,"=HYPERLINK(""http://x"";""y"")",+33 1 23,active' in plain


def test_export_person_and_forget(lp, tmp_path):
    lp("subscribers", "add", "anne@example.org", "--name", "Anne", "--attr", "commune=Brest")
    data = json.loads(lp("subscribers", "export-person", "anne@example.org").output)
    assert data["email"] == "anne@example.org" and data["attributes"] == {"commune": "Brest"}
    assert data["subscriptions"][0]["consent"]["source"] == "admin"
    result = lp("subscribers", "forget", "anne@example.org", input="n\n", ok=False)
    assert result.exit_code == 1  # aborted: nothing erased
    assert lp("subscribers", "count").output.strip() == "1"
    out = lp("subscribers", "forget", "anne@example.org", input="y\n").output
    assert "Erased: 1 subscription(s), 1 event(s)" in out
    assert lp("subscribers", "count", "--status", "all").output.strip() == "0"
    data = json.loads(lp("subscribers", "export-person", "anne@example.org").output)
    assert data["email"] is None and data["suppressions"][0]["reason"] == "erased"
    shown = lp("subscribers", "show", "anne@example.org").output
    assert "No personal data held" in shown and "suppressed on all lists (erased)" in shown
    path = tmp_path / "again.csv"
    path.write_text("email\nanne@example.org\n")
    result = lp("subscribers", "import", str(path))
    assert "suppressed anne@example.org (erased)" in result.stderr
    assert "added 0" in result.output and "suppressed 1" in result.output


def test_every_subscribers_command_has_help(lp):
    out = lp("subscribers", "--help").output
    for name in ("add", "import", "export", "list", "count", "show", "unsubscribe", "forget",
                 "export-person", "lists"):
        assert f"  {name}" in out
        assert lp("subscribers", name, "--help").output.strip()


def test_names_and_attributes_with_line_breaks_stay_on_one_line(lp, tmp_path):
    lp("subscribers", "add", "multi@example.org", "--name", "Dominique\r\nMartin\x0b",
       "--attr", "commune=Saint-\nMalo\t")
    path = tmp_path / "contacts.csv"
    path.write_text('email,nom,commune\r\nautre@example.org,"Claire\nDupont","Le\rMans"\r\n',
                    encoding="utf-8")
    lp("subscribers", "import", str(path), "-q")
    listed = lp("subscribers", "list").output
    lines = [line for line in listed.splitlines() if "@example.org" in line]
    assert len(lines) == 2, listed
    assert any("Dominique Martin" in line for line in lines)
    assert any("Claire Dupont" in line for line in lines)
    shown = lp("subscribers", "show", "multi@example.org").output
    assert "commune: Saint- Malo" in shown
    assert "Le Mans" in lp("subscribers", "show", "autre@example.org").output


def test_an_address_letterpress_cannot_send_to_is_refused_everywhere(lp, tmp_path):
    """``josé@example.org`` needs SMTPUTF8: refused at the door, never stored as active."""
    result = lp("subscribers", "add", "josé@example.org", ok=False)
    assert result.exit_code == 1
    assert "SMTPUTF8" in result.stderr and "Traceback" not in result.output
    path = tmp_path / "contacts.csv"
    path.write_text("email\njosé@example.org\njose@example.org\nzoe@bücher.de\n",
                    encoding="utf-8")
    result = lp("subscribers", "import", str(path))
    assert "added 2" in result.output and "rejected 1" in result.output
    assert "line 2: rejected 'josé@example.org'" in result.stderr
    assert "SMTPUTF8" in result.stderr
    listed = lp("subscribers", "list").output
    assert "josé" not in listed and "jose@example.org" in listed


def test_import_names_the_columns_it_ignores(lp, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("email;nom;liste;;commune;Commune;courriel\n"
                      "anne@example.org;Anne;pvd;x;Gap;Digne;autre@example.org\n",
                      encoding="utf-8")
    result = lp("subscribers", "import", str(source))
    assert ("name: nom; attributes: commune; ignored: liste, column 4, Commune (column 6), "
            "courriel") in result.stderr
    anne = json.loads(lp("subscribers", "export-person", "anne@example.org").output)
    assert anne["attributes"] == {"commune": "Gap"}
    wider = tmp_path / "wider.csv"
    wider.write_text("email,nom,ville\nzoe@example.org,Zoé,Gap,en trop\n"
                     "yan@example.org,Yan,Digne,\n", encoding="utf-8")
    result = lp("subscribers", "import", str(wider))
    assert ("1 row(s) with more cells than the header (first: line 2): the extra cells were "
            "not read") in result.stderr and "added 2" in result.output
    # Another tool's list memberships and row ids describe its records, not the person; a
    # second name column is not an attribute called "name".
    other = tmp_path / "other.csv"
    other.write_text("id,email,lists,listes,commune,name,status,name\n"
                     "17,eve@example.org,news;pvd,3,Gap,Ève,active,Dup\n", encoding="utf-8")
    result = lp("subscribers", "import", str(other))
    assert ("name: name (column 6); attributes: commune; ignored: id, lists, listes, "
            "name (column 8)") in result.stderr
    eve = json.loads(lp("subscribers", "export-person", "eve@example.org").output)
    assert eve["attributes"] == {"commune": "Gap"}


def test_an_export_never_replaces_a_file_unless_forced(lp, tmp_path):
    lp("subscribers", "add", "anne@example.org")
    folder = tmp_path / "exports"
    folder.mkdir()
    earlier = folder / "liste.csv"
    earlier.write_text("the only copy of last year's list\n", encoding="utf-8")
    for args in (["export"], ["export", "--archive"], ["export-person", "anne@example.org"]):
        refused = lp("subscribers", *args, "-o", str(earlier), ok=False)
        assert refused.exit_code == 1
        assert f"{earlier} exists: choose another file name, or add --force" in refused.output
        assert earlier.read_text(encoding="utf-8") == "the only copy of last year's list\n"
    lp("subscribers", "export", "-o", str(earlier), "--force")
    assert earlier.read_text(encoding="utf-8").startswith("email,")
    assert earlier.stat().st_mode & 0o077 == 0  # personal data: the owner's only
    assert [p.name for p in folder.iterdir()] == ["liste.csv"]  # no temporary file left
    missing = lp("subscribers", "export", "-o", str(folder / "absent" / "x.csv"), ok=False)
    assert f"Error: {folder / 'absent'}: no such folder" in missing.output


def test_an_export_that_fails_halfway_leaves_no_file(lp, tmp_path, monkeypatch):
    import letterpress.cli.audience as commands

    def broken(session, fh, **kwargs):
        fh.write("email,name\nanne@example.org,\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(commands, "export_csv", broken)
    lp("subscribers", "add", "anne@example.org")
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(RuntimeError):
        lp("subscribers", "export", "-o", str(folder / "liste.csv"))
    assert list(folder.iterdir()) == []


def test_the_rejects_file_is_checked_first_and_keeps_every_cell_in_line_order(lp, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("email;nom;statut\nr1@example.org;Un;actif\npas-une-adresse;Deux;actif\n"
                      "r3@example.org;R Trois;blocklisted\nr4@example.org;Quatre;actif\n",
                      encoding="utf-8")
    before = source.read_bytes()
    # Never over the file being imported, nor into a missing folder: refused before
    # anything is written.
    for target, said in ((source, f"{source} exists: choose another file name\n"),
                         (tmp_path / "absent" / "r.csv", f"{tmp_path / 'absent'}: no such folder")):
        refused = lp("subscribers", "import", str(source), "--rejects", str(target), ok=False)
        assert refused.exit_code == 1 and said in refused.output
    assert source.read_bytes() == before
    assert lp("subscribers", "count").output.strip() == "0"
    rejects = tmp_path / "rejects.csv"
    lp("subscribers", "import", str(source), "--rejects", str(rejects))
    lines = rejects.read_text("utf-8-sig").splitlines()
    assert lines == ["line;reason;value;email;nom;statut",
                     "3;An email address must have an @-sign.;pas-une-adresse;pas-une-adresse;"
                     "Deux;actif",
                     "4;suppressed (blocklisted in the file);r3@example.org;r3@example.org;"
                     "R Trois;blocklisted"]
