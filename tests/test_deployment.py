"""docs/deployment.md's Postfix relay recipe, checked by the real Postfix (``postfix check``).

The fragments in docs/postfix/ are appended to a minimal main.cf and to Debian's stock
master.cf in a throwaway configuration directory (its own queue directory too), then
``postfix -c DIR check`` must succeed without a warning, and ``postconf``/``postmap`` must read
the per-provider limits the document promises.  A broken variant must fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT

POSTFIX = Path("/usr/sbin/postfix")
POSTCONF = Path("/usr/sbin/postconf")
POSTMAP = Path("/usr/sbin/postmap")
FRAGMENTS = ROOT / "docs" / "postfix"
STOCK_MASTER = [Path("/usr/share/postfix/master.cf.dist"), Path("/etc/postfix/master.cf.proto")]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="`postfix check` runs as root only")


def assemble(directory: Path, *, master_extra: str = "", main_extra: str = "") -> Path:
    """A Postfix configuration directory: base settings + the documented fragments."""
    if not POSTFIX.exists():
        pytest.fail(f"{POSTFIX} missing: run `make system-deps` (make test does it)")
    stock = next((p for p in STOCK_MASTER if p.exists()), None)
    assert stock is not None, "Debian's stock master.cf is missing"
    directory.mkdir()
    for sub in ("queue", "data"):
        (directory / sub).mkdir()
    base = (f"compatibility_level = 3.6\nmyhostname = relay.example.org\n"
            f"queue_directory = {directory}/queue\ndata_directory = {directory}/data\n\n")
    (directory / "main.cf").write_text(
        base + (FRAGMENTS / "main.cf.fragment").read_text() + main_extra)
    (directory / "master.cf").write_text(
        stock.read_text() + "\n" + (FRAGMENTS / "master.cf.fragment").read_text()
        + master_extra)
    shutil.copy(FRAGMENTS / "transport", directory / "transport")
    return directory


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)


def test_the_documented_relay_configuration_passes_postfix_check(tmp_path):
    conf = assemble(tmp_path / "postfix")
    check = run(POSTFIX, "-c", conf, "check")
    assert check.returncode == 0, check.stderr
    assert "warning" not in check.stderr, check.stderr  # e.g. a limit for an unknown transport

    def param(name: str) -> str:
        out = run(POSTCONF, "-c", conf, "-hx", name)  # -x: expand $config_directory
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def service_param(service: str, name: str) -> str:
        out = run(POSTCONF, "-c", conf, "-P", f"{service}/unix/{name}")
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().rpartition(" = ")[2]

    # Orange / Wanadoo: 2 connections per IP, 100 messages per connection.
    assert param("orange_destination_concurrency_limit") == "2"
    assert service_param("orange", "smtp_connection_reuse_count_limit") == "100"
    assert param("laposte_destination_rate_delay") == "1s"
    assert param("transport_maps") == f"texthash:{conf}/transport"
    for domain, expected in (("wanadoo.fr", "orange:orange.fr"), ("orange.fr", "orange:orange.fr"),
                             ("hotmail.fr", "microsoft:"), ("gmail.com", "gmail:"),
                             ("free.fr", "free:"), ("sfr.fr", "sfr:"),
                             ("laposte.net", "laposte:")):
        out = run(POSTMAP, "-c", conf, "-q", domain, f"texthash:{conf}/transport")
        assert out.stdout.strip() == expected, (domain, out.stderr)
    # Every transport the map names is defined in master.cf, with its own limits in main.cf.
    services = set(re.findall(r"^(\w+)\s+unix", (FRAGMENTS / "master.cf.fragment").read_text(),
                              re.M))
    mapped = {line.split()[1].split(":")[0]
              for line in (FRAGMENTS / "transport").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert mapped == services == {"orange", "microsoft", "gmail", "free", "sfr", "laposte"}
    for service in services:
        assert param(f"{service}_destination_concurrency_limit").isdigit()


def test_a_broken_master_cf_fails_postfix_check(tmp_path):
    conf = assemble(tmp_path / "postfix", master_extra="yahoo     unix  -  -  y  -  smtp\n")
    check = run(POSTFIX, "-c", conf, "check")
    assert check.returncode != 0
    assert "bad field count" in check.stderr


def test_a_limit_for_an_undefined_transport_is_reported(tmp_path):
    conf = assemble(tmp_path / "postfix", main_extra="yahoo_destination_concurrency_limit = 4\n")
    check = run(POSTFIX, "-c", conf, "check")
    assert "unused parameter: yahoo_destination_concurrency_limit" in check.stderr


def test_deployment_doc_shows_the_tested_fragments():
    doc = (ROOT / "docs" / "deployment.md").read_text()
    for name in ("main.cf.fragment", "master.cf.fragment", "transport"):
        assert f"docs/postfix/{name}" in doc
    for line in ("orange_destination_concurrency_limit = 2",
                 "-o smtp_connection_reuse_count_limit=100"):
        assert line in doc
        assert line in "".join(p.read_text() for p in FRAGMENTS.iterdir())
