"""`letterpress serve` as a real process for the browser and HTTP-limit tests."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LETTERPRESS = ([str(ROOT / ".venv/bin/letterpress")] if (ROOT / ".venv/bin/letterpress").exists()
               else [sys.executable, "-m", "letterpress.cli"])


@contextmanager
def serving(env: dict[str, str], port: int, log_path: Path) -> Iterator[subprocess.Popen]:
    """``letterpress serve --port PORT`` with ``env``, once /healthz answers; stopped on exit.
    Its output goes to ``log_path``, shown in the failure if it does not start in 30 s."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*LETTERPRESS, "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("letterpress serve did not start:\n" + log_path.read_text())
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
