#!/usr/bin/env bash
# Static analysis of the infrastructure: checkov over infra/ (Bicep, and secrets in any file there)
# and over the CI workflows (GitHub Actions). Fails on any failed check, on any file checkov could
# not parse, and on any Bicep file in which it found nothing to check (a silent parse gap).
# Checks are skipped only inline, next to the resource, with `// checkov:skip=CKV_ID: reason`.
#
# checkov pins old versions of common packages, so it lives in its own virtualenv, .tools/checkov,
# created on first use from requirements-tools.txt (and again when that file changes).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.13}"
VENV=.tools/checkov
STAMP="$VENV/.installed"

if [[ ! -f "$STAMP" || requirements-tools.txt -nt "$STAMP" ]]; then
  command -v "$PYTHON" >/dev/null || { echo "checkov.sh: $PYTHON is required" >&2; exit 1; }
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
  touch "$STAMP"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# --skip-download and BC_SKIP_MAPPING: no calls to the vendor's platform, so every run, offline or
# not, applies exactly the checks of the pinned version. Exit codes are judged below, from the JSON.
run_checkov() {
  local name="$1"
  shift
  BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --skip-download --output json "$@" \
    > "$out/$name.json" 2> "$out/$name.log" || true
}
run_checkov infra --directory infra --framework bicep secrets
run_checkov workflows --directory .github/workflows --framework github_actions

"$VENV/bin/python" - "$out" <<'PY'
"""Reads checkov's JSON reports: prints the summary and every failure or skip; exit 1 on any problem."""
import json
import pathlib
import re
import sys

from checkov.bicep.parser import Parser

out = pathlib.Path(sys.argv[1])
problems: list[str] = []
totals = {"passed": 0, "failed": 0, "skipped": 0}
checked_files: set[str] = set()
skipped: set[tuple[str, str]] = set()

for name in ("infra", "workflows"):
    text = (out / f"{name}.json").read_text().strip()
    if not text:
        problems.append(f"checkov wrote no report for {name}:\n{(out / f'{name}.log').read_text()}")
        continue
    reports = json.loads(text)
    # One framework with nothing to scan answers a bare summary; several answer a list.
    for report in reports if isinstance(reports, list) else [reports]:
        if "results" not in report:
            problems.append(f"{name}: checkov found nothing to scan ({report})")
            continue
        kind = report["check_type"]
        summary = report["summary"]
        results = report["results"]
        for key in totals:
            totals[key] += summary[key]
        print(f"{kind:15} passed {summary['passed']:3}  failed {summary['failed']:3}  "
              f"skipped {summary['skipped']:3}  parsing errors {summary['parsing_errors']}")
        for error in results.get("parsing_errors", []):
            problems.append(f"{kind}: checkov could not parse {error}")
        for record in results["failed_checks"]:
            problems.append(f"{kind}: {record['check_id']} {record['check_name']}\n"
                            f"    {record['resource']} in {record['file_path']}:{record['file_line_range'][0]}")
        for record in results["skipped_checks"]:
            skipped.add((record["check_id"], record["resource"]))
            print(f"  skipped {record['check_id']} on {record['resource']}: "
                  f"{record['check_result'].get('suppress_comment', '').strip()}")
        for record in results["passed_checks"] + results["failed_checks"] + results["skipped_checks"]:
            checked_files.add(record["file_path"].lstrip("/"))

# A check that crashes (e.g. on an expression it cannot evaluate) is dropped from the report without
# a word in the JSON; only the log tells. Acceptable only where that check is skipped inline anyway.
crash = re.compile(r"Failed to run check (\S+) on \S+?:(\S+)$")
for name in ("infra", "workflows"):
    for line in (out / f"{name}.log").read_text().splitlines():
        found = crash.search(line)
        if found and (found[1], found[2]) not in skipped:
            problems.append(f"checkov could not run {found[1]} on {found[2]} (see its log)")

# checkov drops a Bicep file it cannot parse from the report; parse each one the way it does.
parser = Parser()
for path in sorted(pathlib.Path("infra").rglob("*.bicep")):
    template, _ = parser.parse(path)
    if not template or not (template.get("resources") or template.get("modules")):
        problems.append(f"bicep: checkov's parser reads no resource or module in {path}")
    elif path.relative_to("infra").as_posix() not in checked_files and template.get("resources"):
        # Every module declares at least one resource a check applies to; none means a blind spot.
        print(f"  note: no check applies to {path}")

print(f"checkov: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
if problems:
    print("\n".join(["", "checkov found problems:", *problems]), file=sys.stderr)
    sys.exit(1)
PY
