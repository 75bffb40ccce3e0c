#!/usr/bin/env bash
# The svix 1.x SDK's own virtualenv, .tools/svix1, from requirements-svix1.txt: created on first
# use and again when that file changes; otherwise it returns at once. Prints the interpreter's path.
# `make svix1` and the acceptance suite (tests/acceptance/conftest.py) both call it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.13}"
VENV=.tools/svix1
STAMP="$VENV/.installed"

if [[ ! -f "$STAMP" || requirements-svix1.txt -nt "$STAMP" ]]; then
  command -v "$PYTHON" >/dev/null || { echo "svix1_venv.sh: $PYTHON is required" >&2; exit 1; }
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-svix1.txt >&2
  touch "$STAMP"
fi
echo "$PWD/$VENV/bin/python"
