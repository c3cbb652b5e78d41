"""The record of an offline-kit check (tools/check_offline_kit.sh), and the workshop page's account of it.

    python tools/kit_check_report.py json STAGES.tsv OUT.json CHAPTER...   (the check script calls this)
    python tools/kit_check_report.py include book/kit-check.json _build/src/book/kit_check.txt

The check takes over an hour for every chapter, too long for each build, so its record (the JSON,
with the machine, the commit and each stage's time and exit code) is kept in `book/kit-check.json`
and `make book` writes the page's paragraph from it: what ran offline, where, and how long each
stage took. Nothing in the paragraph is typed.
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


def record(stages_tsv: Path, chapters: list[str]) -> dict:
    """The check's record: machine, commit, date, the chapters asked for and every stage run."""
    stages = []
    for line in stages_tsv.read_text(encoding="utf-8").splitlines() if stages_tsv.is_file() else []:
        name, seconds, rc = line.split("\t")
        stages.append({"stage": name, "seconds": int(seconds), "exit": int(rc)})
    ran = {s["stage"] for s in stages}
    passed = bool(stages) and all(s["exit"] == 0 for s in stages) and all(
        f"chapter {Path(c).stem}" in ran for c in chapters)
    return {"format": 1, "date": _dt.date.today().isoformat(), "commit": _commit(), "cpu": _cpu(),
            "cores": os.cpu_count(), "chapters": [Path(c).stem for c in chapters], "stages": stages, "passed": passed}


def account(data: dict) -> str:
    """The workshop page's paragraph (and table) on how the kit was checked, from a record."""
    chapters = data.get("chapters", [])
    every = len(chapters) >= 12
    what = "every chapter" if every else ("chapter " if len(chapters) == 1 else "chapters ") + ", ".join(chapters)
    outcome = "passed" if data.get("passed") else "**did not pass**"
    lines = [f"How the kit was checked: `tools/check_offline_kit.sh` built the kit, cloned the book "
             f"(commit {data.get('commit', '?')}) into a fresh folder with an empty model cache and, inside a "
             "network namespace with no network (`unshare -n`, only the loopback interface up, which "
             "Jupyter's kernel needs; pip's configuration and indexes switched off), installed the kit, "
             f"built the cached models and ran {what}. The check {outcome} on {data.get('date', '?')}, on "
             f"{data.get('cpu', '?')} ({data.get('cores', '?')} cores); a request to PyPI from inside failed, "
             "as it should. Its stages:", "", "| stage | seconds | outcome |", "|---|--:|---|"]
    for stage in data.get("stages", []):
        lines.append(f"| {stage['stage']} | {stage['seconds']} | {'ok' if stage['exit'] == 0 else 'FAILED'} |")
    if not every:
        lines += ["", "Only the chapters named were run offline from a kit; the book's CI runs every chapter "
                      "from the same pinned stack, online."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "json":
        out = Path(argv[2])
        out.write_text(json.dumps(record(Path(argv[1]), argv[3:]), indent=1) + "\n", encoding="utf-8")
        print(f"kit check record written to {out}")
        return 0
    if len(argv) == 3 and argv[0] == "include":
        src, dst = Path(argv[1]), Path(argv[2])
        if not src.is_file():
            print(f"no kit check record at {src}: the page keeps its placeholder")
            return 0
        dst.write_text(account(json.loads(src.read_text(encoding="utf-8"))), encoding="utf-8")
        print(f"kit check account written to {dst}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
