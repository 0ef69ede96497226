"""Rendering benchmark: check+build of the sample issue, and the choices behind it.

    .venv/bin/python bench/bench_render.py [--runs 20] [--node-runs 5] [--no-node]

* check+build: load and validate issues/2024-12-pvd-42.yaml, render it (Jinja2 → MJML →
  HTML → inlined CSS + text part) and lint it, with check's YAML-level findings (placeholder
  links, the same number in another file); median of --runs, budget 100 ms warm.  Baseline:
  the per-recipient work (RenderedIssue.personalise), to show why the issue is rendered once.
* a 40-section issue of stt (English, its own masthead, two section types declared in
  letterpress.toml): the sample's four sections ten times over, check + build.
* MJML compile alone, on the SAME MJML source (the sample issue's): mjml-python (MRML, Rust,
  in process) vs the official Node compiler ``mjml`` 4 — both a cold ``mjml`` CLI process per
  compile and an in-process loop in one Node process (so Node's start-up is not held against
  it).  Node's mjml is installed into bench/node_modules from bench/package.json when missing.
* CSS inlining, on the SAME HTML and CSS: css-inline (Rust) vs premailer (lxml + cssutils).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from letterpress.content import load_issue  # noqa: E402
from letterpress.content.links import placeholder_links, same_number_elsewhere  # noqa: E402
from letterpress.content.yaml_loader import parse_yaml  # noqa: E402
from letterpress.render import lint, render_issue, render_mjml  # noqa: E402
from letterpress.render.environment import make_environment, make_text_environment  # noqa: E402
from letterpress.render.inline import inline_css  # noqa: E402
from letterpress.render.issue import render_sources  # noqa: E402
from letterpress.render.mjml import compile_mjml  # noqa: E402
from letterpress.settings import load_settings  # noqa: E402

SAMPLE = ROOT / "issues" / "2024-12-pvd-42.yaml"
STT_SAMPLE = ROOT / "issues" / "2021-01-stt-1.yaml"
BUDGET_MS = 100.0


def forty_sections(folder: Path) -> Path:
    """stt's sample with its sections repeated to 40 (declared types included)."""
    text = STT_SAMPLE.read_text(encoding="utf-8")
    head, sections = text.split("\nsections:\n", 1)
    body, footer = sections.split("\nfooter:", 1)
    shutil.copytree(ROOT / "issues" / "images", folder / "images", dirs_exist_ok=True)
    path = folder / "2021-01-stt-40.yaml"
    path.write_text(head + "\nsections:\n" + body * 10 + "\nfooter:" + footer, encoding="utf-8")
    return path

NODE_LOOP = r"""
const mjml2html = require('mjml');
const fs = require('fs');
const source = fs.readFileSync(process.argv[2], 'utf8');
const runs = parseInt(process.argv[3], 10);
const options = {validationLevel: 'soft', keepComments: false, fonts: {}};
mjml2html(source, options);  // warm-up: module loading and JIT
const times = [];
let size = 0;
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint();
  const out = mjml2html(source, options);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  size = out.html.length;
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({median_ms: times[Math.floor(times.length / 2)], size}));
"""


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2,
              clock: Callable[[], float] = time.perf_counter) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append((clock() - start) * 1000)
    return statistics.median(times)


def ensure_node_mjml() -> Path | None:
    """bench/node_modules/.bin/mjml, installed with npm from bench/package.json if missing."""
    cli = BENCH / "node_modules" / ".bin" / "mjml"
    if cli.exists():
        return cli
    if not shutil.which("npm") or not shutil.which("node"):
        print("  (node/npm not found: Node comparison skipped)")
        return None
    print("  installing the official mjml compiler: npm install --prefix bench …", flush=True)
    result = subprocess.run(["npm", "install", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
                            capture_output=True, text=True)
    if result.returncode != 0 or not cli.exists():
        print("  npm install failed, Node comparison skipped:\n" + result.stderr[-800:])
        return None
    return cli


def row(label: str, ms: float, baseline: float | None = None, note: str = "") -> None:
    ratio = f"  ×{ms / baseline:8.1f}" if baseline else ""
    print(f"  {label:<58} {ms:9.2f} ms{ratio}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--node-runs", type=int, default=5, help="cold Node processes")
    parser.add_argument("--no-node", action="store_true")
    args = parser.parse_args()

    settings = load_settings(ROOT, {"LETTERPRESS_BASE_URL": "https://lettre.example.org"})
    issue = load_issue(SAMPLE, settings)
    rendered = render_issue(issue, settings)
    print(f"Sample issue {issue.identity}: HTML {len(rendered.html.encode()) / 1024:.1f} KB, "
          f"text {len(rendered.text.encode()) / 1024:.1f} KB, {len(issue.sections)} sections")

    # ------------------------------------------------------------------ check + build
    print(f"\ncheck + build (median of {args.runs})")

    def check_build(path: Path = SAMPLE) -> None:
        issue = load_issue(path, settings)
        doc, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        placeholder_links(doc, str(path))
        same_number_elsewhere(path, issue.publication, issue.number, settings.issues_dir)
        lint(render_issue(issue, settings))

    personalise = median_ms(lambda: rendered.personalise(
        "https://lettre.example.org/u/abcdefghijklmnopqrstuvwxyz0123456789",
        "https://lettre.example.org/p/abcdefghijklmnopqrstuvwxyz0123456789", "Zoé"),
        args.runs * 10)
    row("per recipient: personalise() (baseline)", personalise)
    load = median_ms(lambda: load_issue(SAMPLE, settings), args.runs)
    row("load + validate the YAML (check)", load, personalise)
    full = median_ms(check_build, args.runs)
    row("load + render + lint (check + build, warm templates)", full, personalise,
        f"budget {BUDGET_MS:.0f} ms: {'OK' if full < BUDGET_MS else 'OVER'}")
    # On a shared machine the wall clock also counts the other processes' turns.
    cpu = median_ms(check_build, args.runs, clock=time.process_time)
    row("  the same, CPU time of this process", cpu, personalise,
        f"budget {BUDGET_MS:.0f} ms: {'OK' if cpu < BUDGET_MS else 'OVER'}")

    def one_shot() -> None:
        make_environment.cache_clear()  # as in a fresh `letterpress build` process
        make_text_environment.cache_clear()
        check_build()

    row("load + render + lint, templates compiled (one-shot CLI)",
        median_ms(one_shot, args.runs), personalise)

    with tempfile.TemporaryDirectory() as tmp:
        big = forty_sections(Path(tmp))
        big_issue = load_issue(big, settings)
        big_rendered = render_issue(big_issue, settings)
        print(f"\n40-section issue {big_issue.identity} (declared section types, own masthead): "
              f"{len(big_issue.sections)} sections, HTML {len(big_rendered.html.encode()) / 1024:.1f}"
              f" KB (median of {args.runs})")
        row("check + build of #42 (baseline, as above)", full)
        row("check + build of the 40-section stt issue", median_ms(lambda: check_build(big),
                                                                   args.runs), full)
        row("  the same, CPU time of this process",
            median_ms(lambda: check_build(big), args.runs, clock=time.process_time), cpu)

    # ------------------------------------------------------------------ MJML compile alone
    source = render_mjml(issue, settings)
    print(f"\nMJML compile alone, same {len(source.encode()) / 1024:.1f} KB MJML source")
    python_ms = median_ms(lambda: compile_mjml(source), args.runs)
    row("mjml-python (MRML, in process) (baseline)", python_ms)
    cli = None if args.no_node else ensure_node_mjml()
    if cli is not None:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "issue.mjml"
            src.write_text(source, encoding="utf-8")
            script = Path(tmp) / "loop.js"
            script.write_text(NODE_LOOP)
            cold = []
            for _ in range(args.node_runs):
                start = time.perf_counter()
                subprocess.run([str(cli), str(src), "-s", "--config.validationLevel", "soft"],
                               check=True, capture_output=True)
                cold.append((time.perf_counter() - start) * 1000)
            row(f"Node mjml 4, cold CLI process (median of {args.node_runs})",
                statistics.median(cold), python_ms)
            result = subprocess.run(["node", str(script), str(src), str(args.runs)],
                                    check=True, capture_output=True, text=True,
                                    cwd=BENCH, env={"NODE_PATH": str(BENCH / "node_modules"),
                                                    "PATH": "/usr/bin:/bin"})
            node = json.loads(result.stdout.strip().splitlines()[-1])
            row("Node mjml 4, in-process loop (warm)", node["median_ms"], python_ms,
                f"({node['size'] / 1024:.1f} KB out vs {len(compile_mjml(source)) / 1024:.1f} KB)")

    # ------------------------------------------------------------------ CSS inlining
    _, css = render_sources(issue, settings)
    compiled = compile_mjml(source)
    print(f"\nCSS inlining, same {len(compiled.encode()) / 1024:.1f} KB HTML and "
          f"{len(css)} bytes of CSS")
    ours = median_ms(lambda: inline_css(compiled, css), args.runs)
    row("css-inline (Rust) (baseline)", ours)
    try:
        import logging

        import premailer  # noqa: PLC0415
    except ImportError:
        print("  premailer not importable: comparison skipped")
    else:
        logging.getLogger("premailer").setLevel(logging.CRITICAL)
        with_style = compiled.replace("</head>", f"<style>{css}</style></head>", 1)

        def run_premailer() -> str:
            return premailer.Premailer(with_style, keep_style_tags=True, remove_classes=False,
                                       allow_network=False, disable_validation=True,
                                       cssutils_logging_level=logging.CRITICAL).transform()

        row("premailer (lxml + cssutils)", median_ms(run_premailer, max(3, args.runs // 4), 1),
            ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
