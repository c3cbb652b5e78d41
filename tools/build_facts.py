"""Write the workshop guide's table of the cached models: how long each took to build, and its size.

    python tools/build_facts.py _build/src/book/build_facts.txt

`make book` runs it after the notebooks, so the page shows what the machine that built the book
measured when it built each model (recorded next to the model in `build.json` by
`edgehelpers.cache.build_once`), and the size of each on disk.
Nothing is typed: a model without a recorded build time says so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def folder_bytes(path: Path) -> int:
    """The size of every file under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _record(path: Path) -> dict:
    """The build record of a cached model folder (an empty dict if it has none).

    `build.json` is what edgehelpers.cache.build_once writes; folders built before it have the
    time in `metrics.json` (the teacher, chapter 8's models).
    """
    for name in ("build.json", "metrics.json"):
        if (path / name).is_file():
            data = json.loads((path / name).read_text(encoding="utf-8"))
            if "build_seconds" in data:
                return data
    return {}


def cached_models() -> list[tuple[str, str, Path]]:
    """(make target, what it builds, cache folder) of every model the chapters cache."""
    from edgehelpers.convert import conversion_dir
    from edgehelpers.indic import indic_models_path
    from edgehelpers.models import teacher_path
    from edgehelpers.slm import reference_dir

    return [("teacher", "the shared teacher (MiniLM fine-tuned on English headlines; chapters 0-6, 9)",
             teacher_path()),
            ("conversions", "the teacher for ExecuTorch, LiteRT and Core ML (chapter 6)",
             conversion_dir(teacher_path())),
            ("indic", "chapter 8's e5 teachers and students", indic_models_path()),
            ("slm", "chapter 10's SmolLM2-135M dequantized to FP32", reference_dir()),
            ("slm", "chapter 10's SmolLM2-135M for ONNX Runtime GenAI (INT4)",
             reference_dir().parent / f"{reference_dir().name}.ortgenai" / "int4"),
            ("slm", "chapter 10's SmolLM2-135M for OpenVINO (stateful FP32 IR)",
             reference_dir().parent / f"{reference_dir().name}.openvino" / "fp32")]


def facts_table(models: list[tuple[str, str, Path]]) -> str:
    """A markdown table (target, what, build time, threads, size) and the cache's total size."""
    lines = ["| `make` target | builds | build time (measured) | size on disk |", "|---|---|--:|--:|"]
    total = 0
    for target, what, path in models:
        if not path.is_dir():
            lines.append(f"| `{target}` | {what} | not built on this machine | – |")
            continue
        size = folder_bytes(path)
        total += size
        record = _record(path)
        cores = record.get("cores", record.get("threads", "?"))
        took = (f"{record['build_seconds'] / 60:.0f} min on {cores} cores ({str(record.get('built', '?'))[:10]})"
                if record else "not recorded")
        if record.get("made") == []:  # the build found every file made already (by chapter 6)
            took = "made by chapter 6, not timed"
        lines.append(f"| `{target}` | {what} | {took} | {size / 1e6:,.0f} MB |")
    lines += ["", f"Together the cached models take {total / 1e9:.1f} GB in `~/.cache/edgehelpers/models` "
                  "(the folder to copy between laptops instead of building on each)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    Path(argv[0]).write_text(facts_table(cached_models()), encoding="utf-8")
    print(f"build facts written to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
