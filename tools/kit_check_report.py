"""The record of an offline-kit check (tools/check_offline_kit.sh), and the workshop page's account of it.

    KIT=kit python tools/kit_check_report.py json STAGES.tsv OUT.json CHAPTER...   (the check script calls this)
    python tools/kit_check_report.py include book/kit-check.json _build/kit-check.json _build/src/book/kit_check.txt

The full check (every chapter, every cached model built offline) takes over an hour, too long for
each build, so its record (the JSON, with the machine, the commit and each stage's time and exit
code) is kept in `book/kit-check.json`; `make test` checks one chapter (`make kit-check`) into
`_build/kit-check.json`. `make book` writes the page's account from both: what ran offline, where,
and how long each stage took. Nothing in it is typed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commit() -> str:
    """The commit checked: $COMMIT (the script's, taken when it cloned) or this repository's HEAD."""
    if os.environ.get("COMMIT"):
        return os.environ["COMMIT"]
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def kit_sizes(kit: Path) -> dict[str, int]:
    """Bytes of the kit from its manifest: packages (wheels/), data (data/) and in all."""
    files = json.loads((kit / "manifest.json").read_text(encoding="utf-8"))["files"]
    part = lambda top: sum(f["bytes"] for f in files if f["path"].startswith(top + "/"))  # noqa: E731
    return {"wheels": part("wheels"), "data": part("data"), "total": sum(f["bytes"] for f in files)}


def record(stages_tsv: Path, chapters: list[str], kit: Path | None = None) -> dict:
    """The check's record: machine, commit, date, the kit's size, the chapters asked for and every stage run."""
    stages = []
    for line in stages_tsv.read_text(encoding="utf-8").splitlines() if stages_tsv.is_file() else []:
        name, seconds, rc = line.split("\t")
        stages.append({"stage": name, "seconds": int(seconds), "exit": int(rc)})
    ran = {s["stage"] for s in stages}
    passed = bool(stages) and all(s["exit"] == 0 for s in stages) and all(
        f"chapter {Path(c).stem}" in ran for c in chapters)
    return {"format": 1, "date": _dt.date.today().isoformat(), "commit": _commit(), "cpu": _cpu(),
            "cores": os.cpu_count(), "kit_bytes": kit_sizes(kit) if kit and (kit / "manifest.json").is_file() else None,
            "chapters": [Path(c).stem for c in chapters], "stages": stages, "passed": passed}


COPIED = "copy the cached teacher in"  # the stage name check_offline_kit.sh gives a copied teacher


def account(data: dict, title: str) -> str:
    """One check's paragraph and table of stages for the workshop page, from its record."""
    chapters = data.get("chapters", [])
    every = len(chapters) >= 12
    what = "every chapter" if every else ("chapter " if len(chapters) == 1 else "chapters ") + ", ".join(chapters)
    outcome = "passed" if data.get("passed") else "**did not pass**"
    copied = any(s["stage"].startswith(COPIED) for s in data.get("stages", []))
    models = ("copied in the cached teacher that the building machine had built (the page's \"build once, "
              "copy to each laptop\")" if copied else "built the cached models")
    reused = any(s["stage"] == "verify the kit" for s in data.get("stages", []))
    kit = "checked an existing kit against its manifest" if reused else "built the kit"
    lines = [f"**{title}**: `tools/check_offline_kit.sh` {kit}, cloned the book (commit "
             f"{data.get('commit', '?')}) into a fresh folder with an empty model cache and, inside a "
             "network namespace with no network (`unshare -n`, only the loopback interface up, which "
             "Jupyter's kernel needs; pip's configuration and indexes switched off), installed the kit, "
             f"{models} and ran {what}. The check {outcome} on {data.get('date', '?')}, on "
             f"{data.get('cpu', '?')} ({data.get('cores', '?')} cores); a request to PyPI from inside failed, "
             "as it should." + _size_sentence(data.get("kit_bytes")) + " Its stages:", "",
             "| stage | seconds | outcome |", "|---|--:|---|"]
    for stage in data.get("stages", []):
        lines.append(f"| {stage['stage']} | {stage['seconds']} | {'ok' if stage['exit'] == 0 else 'FAILED'} |")
    return "\n".join(lines) + "\n"


def _size_sentence(sizes: dict | None) -> str:
    if not sizes:
        return ""
    gb = lambda n: f"{n / 1e9:.2f} GB"  # noqa: E731
    return (f" The kit held {gb(sizes['total'])}: {gb(sizes['wheels'])} of packages and {gb(sizes['data'])} "
            "of data.")


def page(full: dict | None, this_build: dict | None) -> str | None:
    """The workshop page's include: the last full check (every chapter) and this build's short check."""
    parts = []
    if full:
        parts.append(account(full, "The last full check of the kit"))
    if this_build:
        parts.append(account(this_build, "This build's check of the kit") + "\n" + (
            "The build checks one chapter that needs a cached model; the full check, every chapter with "
            "every cached model built offline, takes over an hour and is run by hand (its record is "
            "`book/kit-check.json`)."))
    return "\n".join(parts) if parts else None


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "json":
        out, kit = Path(argv[2]), os.environ.get("KIT")
        data = record(Path(argv[1]), argv[3:], Path(kit) if kit else None)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"kit check record written to {out}")
        return 0
    if len(argv) == 4 and argv[0] == "include":
        text = page(_read(Path(argv[1])), _read(Path(argv[2])))
        if text is None:
            print(f"no kit check record at {argv[1]} or {argv[2]}: the page keeps its placeholder")
            return 0
        Path(argv[3]).write_text(text, encoding="utf-8")
        print(f"kit check account written to {argv[3]}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
