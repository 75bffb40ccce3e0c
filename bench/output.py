"""What every benchmark does with its results: the JSON under bench/results/ and its plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` as indented JSON (making bench/results/ if need be) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def pyplot() -> Any | None:
    """matplotlib's pyplot, drawing to files only; None, said once, when matplotlib is not installed
    (plots are optional: the JSON and the table are the results)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    return plt


def save_plot(plt: Any, figure: Any, path: Path, *, dpi: int = 100) -> None:
    """Lay out, save and close ``figure``, and say where it went."""
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    print(f"wrote {path.relative_to(ROOT)}")
