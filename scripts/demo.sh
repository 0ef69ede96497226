#!/usr/bin/env bash
# The main job on the embedded defaults: check and build the sample issue (#42 of the
# "Lettre d'information des Petites villes de demain"), load the demo subscribers into
# ./subscribers.db and send them the issue through the outbox transport (./outbox/*.eml),
# so a newcomer can open exactly what would have been mailed.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
L=.venv/bin/letterpress
ISSUE=issues/2024-12-pvd-42.yaml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Checking $ISSUE"
$L check "$ISSUE"

step "Building it into build/pvd/42/ (web version, text part, sample .eml)"
$L build "$ISSUE"

step "Importing the demo subscribers (demo/subscribers.csv) into subscribers.db"
$L subscribers import demo/subscribers.csv --list pvd

step "Sending the issue to the list through the outbox transport"
# A second `make demo` sends the issue again on purpose (--again): it is a demo.
# (The list is read whole first: `grep -q` stops early, which pipefail would count as a failure.)
runs=$($L runs 2>/dev/null || true)
if grep -q "pvd#42 .* pvd " <<<"$runs"; then again=--again; else again=; fi
$L send "$ISSUE" --yes $again

outbox=$($L settings | awk '$1 == "outbox_dir" {print $3}')
step "Done"
cat <<TXT
  What was sent:     $outbox/*.eml   (open one with any mail client, or: less $outbox/\$(ls $outbox | head -1))
  The web version:   build/pvd/42/index.html      The text part: build/pvd/42/index.txt
  Send runs:         .venv/bin/letterpress runs
  Reader pages:      .venv/bin/letterpress serve   → http://localhost:8025/pvd/ (archive, subscribe, unsubscribe)
TXT
