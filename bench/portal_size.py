"""The application portal's weight: each built file as served, and the JavaScript against its budget.

Reads the build (`make portal` writes portal/dist/) through `shared.portal_files`, the module that
serves it, so the gzipped sizes are the bytes a browser receives. Prints a table and writes
bench/results/portal_size.json; exits 1 when the JavaScript exceeds the budget.

    .venv/bin/python bench/portal_size.py
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import write_json  # noqa: E402
from shared import portal_files  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "portal_size.json"
# The budget: the portal's JavaScript, gzipped, at most 250 KB.
JS_BUDGET_BYTES = 250 * 1024


@dataclass(frozen=True)
class Row:
    file: str
    bytes: int
    served_bytes: int


def _npm_versions() -> dict[str, str]:
    """The exact versions of the portal's direct dependencies (from its lockfile)."""
    lock = json.loads((ROOT / "portal" / "package-lock.json").read_text())
    root = lock["packages"][""]
    names = [*root.get("dependencies", {}), *root.get("devDependencies", {})]
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in sorted(names)}


def main() -> int:
    if not (portal_files.DIST / portal_files.INDEX).is_file():
        print("the portal is not built: run `make portal` first", file=sys.stderr)
        return 2
    rows = []
    for relative in sorted(portal_files.served_files()):
        found = portal_files.resolve(relative)
        assert found is not None, relative
        served = len(found.gzipped) if found.gzipped is not None else len(found.body)
        rows.append(Row(relative, len(found.body), served))
    js_served = sum(row.served_bytes for row in rows if row.file.endswith(".js"))
    within = js_served <= JS_BUDGET_BYTES

    print("portal files as served (gzip where the browser accepts it)")
    print(f"{'file':<40} {'bytes':>10} {'served':>10}")
    for row in rows:
        print(f"{row.file:<40} {row.bytes:>10,} {row.served_bytes:>10,}")
    total_served = sum(row.served_bytes for row in rows)
    print(f"{'all files':<40} {sum(row.bytes for row in rows):>10,} {total_served:>10,}")
    verdict = "within" if within else "OVER"
    budget_kb = JS_BUDGET_BYTES // 1024
    print(f"JavaScript gzipped: {js_served / 1024:.1f} KB ({verdict} the budget of {budget_kb} KB)")

    document = {
        "benchmark": "portal_size",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "dependencies": _npm_versions(),
        "files": [asdict(row) for row in rows],
        "javascript_gzipped_bytes": js_served,
        "javascript_budget_bytes": JS_BUDGET_BYTES,
        "all_files_served_bytes": total_served,
        "within_budget": within,
    }
    write_json(RESULTS, document)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
