"""``letterpress doctor`` against a real authoritative DNS server (NSD) and a real https server.

One NSD on loopback serves a good zone and broken ones: no SPF, SPF not covering the relay,
SPF over the lookup limit, wrong DKIM key, no DMARC, DMARC p=none, misaligned DKIM.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import replace

import pytest
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.dkim import dns_txt_record, generate_key
from letterpress.doctor import DnsClient, check_host, diagnose
from letterpress.doctor.records import zone_txt
from letterpress.settings import DkimConfig, load_settings

from .fixtures_dns import https_server, nsd_server  # noqa: F401 - fixture

RELAY = "relay.relay-provider.test"
RELAY_IP = "192.0.2.25"
SELECTOR = "lp2026"


def _mail_zone(domain: str, key: bytes | None, *, spf: str | None = "v=spf1 mx "
               "include:_spf.relay-provider.test -all",
               dmarc: str | None = "v=DMARC1; p=reject; rua=mailto:dmarc@{d}",
               dkim_name: str | None = None) -> list[str]:
    records = ["@ IN MX 10 mail", "mail IN A 198.51.100.10"]
    if spf:
        records.append(zone_txt(domain, spf))
    if key is not None:
        records.append(zone_txt(dkim_name or f"{SELECTOR}._domainkey.{domain}",
                                dns_txt_record(key)))
    if dmarc:
        records.append(zone_txt(f"_dmarc.{domain}", dmarc.format(d=domain)))
    return records


@pytest.fixture(scope="module")
def keys():
    return {"good": generate_key(2048), "other": generate_key(1024)}  # 2048: two TXT strings


@pytest.fixture(scope="module")
def nsd(tmp_path_factory, keys):
    good = keys["good"]
    chain = [zone_txt(f"l{i}.toomany.test", f"v=spf1 include:l{i + 1}.toomany.test -all")
             for i in range(12)]
    zones = {
        "relay-provider.test": [f"relay IN A {RELAY_IP}",
                                zone_txt("_spf.relay-provider.test",
                                         "v=spf1 ip4:192.0.2.0/26 -all")],
        "good.test": _mail_zone("good.test", good),
        "nospf.test": _mail_zone("nospf.test", good, spf=None),
        "uncovered.test": _mail_zone("uncovered.test", good, spf="v=spf1 mx ip4:203.0.113.0/24 ~all"),
        "toomany.test": _mail_zone("toomany.test", good, spf="v=spf1 include:l0.toomany.test -all")
        + chain,
        "wrongkey.test": _mail_zone("wrongkey.test", keys["other"]),
        "nodmarc.test": _mail_zone("nodmarc.test", good, dmarc=None),
        "monitor.test": _mail_zone("monitor.test", good, dmarc="v=DMARC1; p=none"),
        # DKIM signed by a third party's domain, SPF not covering the relay: DMARC cannot pass.
        "misaligned.test": _mail_zone("misaligned.test", None, spf="v=spf1 mx -all",
                                      dmarc="v=DMARC1; p=reject; adkim=s; aspf=s")
        + [zone_txt(f"{SELECTOR}._domainkey.mailer.misaligned.test", dns_txt_record(good))],
    }
    with nsd_server(tmp_path_factory.mktemp("nsd"), zones) as server:
        yield server


@pytest.fixture
def dns_client(nsd):
    return DnsClient.at(nsd.address, nsd.port, timeout=3)


@pytest.fixture
def doctor_settings(project_dir, keys, https_server):  # noqa: F811 - fixture
    (project_dir / "dkim.pem").write_bytes(keys["good"])
    settings = load_settings(project_dir, {"LETTERPRESS_BASE_URL": https_server.base_url,
                                           "LETTERPRESS_SMTP_URL": f"smtp://{RELAY}:587"})

    def for_domain(domain: str, dkim_domain: str | None = None):
        pub = replace(settings.publication("pvd"), sender_email=f"lettre@{domain}",
                      dkim=DkimConfig(SELECTOR, dkim_domain or domain, project_dir / "dkim.pem"))
        return replace(settings, publications={"pvd": pub}), pub

    return for_domain


@pytest.fixture
def trusted(https_server):  # noqa: F811 - fixture
    return ssl.create_default_context(cafile=str(https_server.certificate))


def _levels(diagnosis, check):
    return [f.level for f in diagnosis.findings if f.check == check]


def _finding(diagnosis, check, level):
    found = [f for f in diagnosis.findings if f.check == check and f.level == level]
    assert found, [str(f) for f in diagnosis.findings]
    return found[0]


def test_a_good_zone_passes_every_check(doctor_settings, dns_client, trusted):
    settings, pub = doctor_settings("good.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted, timeout=5)
    assert result.ok, "\n".join(map(str, result.findings))
    assert {f.level for f in result.findings} == {"ok"}
    assert {f.check for f in result.findings} == {"spf", "return-path", "dkim", "dmarc", "https"}
    assert "include:_spf.relay-provider.test" in _finding(result, "spf", "ok").message \
        or RELAY_IP in _finding(result, "spf", "ok").message


def test_no_spf_record_is_an_error_with_the_record_to_publish(doctor_settings, dns_client,
                                                              trusted):
    settings, pub = doctor_settings("nospf.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    assert not result.ok
    finding = _finding(result, "spf", "error")
    assert "no SPF record" in finding.message
    assert finding.publish == f'nospf.test. IN TXT "v=spf1 ip4:{RELAY_IP} ~all"'
    # Without SPF, DKIM alone still aligns: DMARC can pass.
    assert _levels(result, "dmarc") == ["ok", "ok"]


def test_spf_that_does_not_cover_the_relay_says_what_to_add(doctor_settings, dns_client,
                                                            trusted):
    settings, pub = doctor_settings("uncovered.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    finding = _finding(result, "spf", "error")
    assert f"does not authorise the relay address {RELAY_IP}" in finding.message
    assert "softfail" in finding.message
    assert finding.publish == ('uncovered.test. IN TXT '
                               f'"v=spf1 ip4:{RELAY_IP} mx ip4:203.0.113.0/24 ~all"')


def test_spf_lookup_limit_is_a_permerror(dns_client):
    outcome = check_host(dns_client, RELAY_IP, "toomany.test")
    assert outcome.result == "permerror"
    assert "more than 10" in outcome.reason
    assert outcome.lookups == 11
    assert check_host(dns_client, RELAY_IP, "good.test").result == "pass"
    assert check_host(dns_client, "192.0.2.200", "good.test").result == "fail"
    assert check_host(dns_client, "198.51.100.10", "good.test").result == "pass"  # mx
    assert check_host(dns_client, RELAY_IP, "absent.good.test").result == "none"
    assert check_host(dns_client, RELAY_IP, "not-served.example").result == "temperror"


def test_a_wrong_dkim_key_is_an_error_with_the_right_record(doctor_settings, dns_client,
                                                            keys, trusted):
    settings, pub = doctor_settings("wrongkey.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    finding = _finding(result, "dkim", "error")
    assert "does not match the configured private key" in finding.message
    expected = dns_txt_record(keys["good"])
    assert finding.publish == zone_txt(f"{SELECTOR}._domainkey.wrongkey.test", expected)
    assert finding.publish.startswith(f'{SELECTOR}._domainkey.wrongkey.test. IN TXT ( "v=DKIM1')
    # SPF still passes and aligns, so DMARC can pass.
    assert _finding(result, "dmarc", "ok")


def test_no_dmarc_policy_is_an_error_with_a_policy_to_publish(doctor_settings, dns_client,
                                                              trusted):
    settings, pub = doctor_settings("nodmarc.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    assert not result.ok
    finding = _finding(result, "dmarc", "error")
    assert "no DMARC policy at _dmarc.nodmarc.test" in finding.message
    assert finding.publish == ('_dmarc.nodmarc.test. IN TXT "v=DMARC1; p=quarantine; '
                               'rua=mailto:dmarc@nodmarc.test; adkim=r; aspf=r"')


def test_dmarc_p_none_is_a_warning_and_p_reject_is_ok(doctor_settings, dns_client, trusted):
    settings, pub = doctor_settings("monitor.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    assert result.ok  # accepted by Microsoft and Gmail, but only monitoring
    finding = _finding(result, "dmarc", "warning")
    assert "p=none only monitors" in finding.message
    assert finding.publish == '_dmarc.monitor.test. IN TXT "v=DMARC1; p=quarantine"'
    settings, pub = doctor_settings("good.test")
    good = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    assert "p=reject" in _finding(good, "dmarc", "ok").message


def test_misaligned_signature_and_failing_spf_fail_dmarc(doctor_settings, dns_client, trusted):
    settings, pub = doctor_settings("misaligned.test", dkim_domain="mailer.misaligned.test")
    result = diagnose(settings, pub, dns=dns_client, https_context=trusted)
    assert _finding(result, "dkim", "ok")  # the key itself is published and matches
    finding = _finding(result, "dmarc", "error")
    assert "DKIM d=mailer.misaligned.test does not align (adkim=s)" in finding.message
    assert "SPF does not pass" in finding.message
    # The same signing domain aligns in relaxed mode: only the strict policy refuses it.
    from letterpress.doctor.records import aligned

    assert aligned("mailer.misaligned.test", "misaligned.test", "r")
    assert not aligned("mailer.misaligned.test", "misaligned.test", "s")
    assert not aligned("misaligned.test", "other.test", "r")


def test_a_relay_on_loopback_needs_its_public_address(doctor_settings, dns_client, trusted):
    settings, pub = doctor_settings("good.test")
    local = replace(settings, smtp_url="smtp://127.0.0.1:25")
    result = diagnose(local, pub, dns=dns_client, https_context=trusted)
    assert "--relay-ip" in _finding(result, "spf", "warning").message
    result = diagnose(local, pub, dns=dns_client, relay_ips=["203.0.113.9"],
                      https_context=trusted)
    assert "203.0.113.9" in _finding(result, "spf", "error").message
    settings, pub = doctor_settings("nospf.test")  # and no SPF at all: say what to publish
    result = diagnose(replace(settings, smtp_url=""), pub, dns=dns_client, https_context=trusted)
    finding = _finding(result, "spf", "error")
    assert "no SMTP relay is configured" in finding.message
    assert finding.publish == 'nospf.test. IN TXT "v=spf1 ip4:RELAY-PUBLIC-ADDRESS ~all"'


def test_an_untrusted_certificate_is_refused(doctor_settings, dns_client):
    settings, pub = doctor_settings("good.test")
    result = diagnose(settings, pub, dns=dns_client, timeout=5)  # the system's trust store
    errors = [f for f in result.findings if f.check == "https" and f.level == "error"]
    assert len(errors) == 2
    assert all("certificate not trusted" in f.message for f in errors)


def test_a_plain_http_base_url_is_an_error(doctor_settings, dns_client):
    settings, pub = doctor_settings("good.test")
    result = diagnose(replace(settings, base_url="http://lettre.good.test"), pub,
                      dns=dns_client)
    assert "is not https" in _finding(result, "https", "error").message


def test_an_unreachable_nameserver_is_reported_not_raised(doctor_settings, trusted):
    from .fixtures_dns import free_port

    settings, pub = doctor_settings("good.test")
    silent = DnsClient.at("127.0.0.1", free_port(), timeout=0.5)
    result = diagnose(settings, pub, dns=silent, https_context=trusted)
    assert not result.ok
    assert "could not finish" in _finding(result, "dns", "error").message


def test_cli_json_and_exit_codes(project_dir, keys, nsd, https_server):  # noqa: F811
    toml = project_dir / "letterpress.toml"
    (project_dir / "dkim.pem").write_bytes(keys["good"])
    text = toml.read_text().replace('sender_email = "petitesvillesdedemain@anct.gouv.fr"',
                                    'sender_email = "lettre@good.test"', 1)
    text = text.replace("[publications.pvd.transport]",
                        f'[publications.pvd.dkim]\nselector = "{SELECTOR}"\n'
                        'domain = "good.test"\nkey_file = "dkim.pem"\n\n'
                        "[publications.pvd.transport]", 1)
    toml.write_text(text)
    runner = CliRunner(env={"LETTERPRESS_BASE_URL": https_server.base_url,
                            "LETTERPRESS_SMTP_URL": f"smtp://{RELAY}:587",
                            "LETTERPRESS_DATABASE_URL": f"sqlite:///{project_dir}/t.db"})
    args = ["-C", str(project_dir), "doctor", "-p", "pvd", "--nameserver", nsd.address,
            "--dns-port", str(nsd.port), "--timeout", "5"]
    ok = runner.invoke(main, [*args, "--json", "--cafile", str(https_server.certificate)])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["from_domain"] == "good.test"
    assert {f["check"] for f in report["findings"]} >= {"spf", "dkim", "dmarc", "https"}
    refused = runner.invoke(main, args)  # the self-signed certificate is not trusted
    assert refused.exit_code == 1
    assert "[ERROR] https:" in refused.stdout
    assert "problem(s) to fix" in refused.stderr
    bad = runner.invoke(main, [*args, "--relay-ip", "not-an-ip"])
    assert bad.exit_code == 2
