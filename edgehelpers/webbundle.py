"""The web bundle: one folder that runs the book's models in a browser, offline.

A bundle holds the page (`index.html`, `edge.mjs`, `precompiled.mjs`, from `edgehelpers/web/`), the
runtime's files from npm (ONNX Runtime Web's wasm build, tokenizers.js), and per model its ONNX
file, `tokenizer.json` and `tokenizer_config.json`; `models.json` lists the models and every file
with its size and SHA-256. Nothing is fetched from anywhere else, so the page works from a local
server with the network off. `make setup` installs the pinned npm packages into `.build-tools`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgehelpers.cache import atomic_dir, atomic_write_text, build_once, cache_dir
from edgehelpers.datafiles import sha256_of

# the npm packages the bundle copies from, pinned (the Makefile installs exactly these)
NPM_PACKAGES = {"onnxruntime-web": "1.31.1", "@huggingface/tokenizers": "0.2.0", "@litertjs/core": "2.5.3"}
# what the page loads from each: ONNX Runtime's WebAssembly-only build (no WebGPU, no WebGL) with
# its SIMD + threads binary, and tokenizers.js as one ES module
LIB_FILES = {
    "onnxruntime-web": ("dist/ort.wasm.min.mjs", "dist/ort-wasm-simd-threaded.mjs",
                        "dist/ort-wasm-simd-threaded.wasm"),
    "@huggingface/tokenizers": ("dist/tokenizers.min.mjs",),
}
PAGE_FILES = ("index.html", "edge.mjs", "precompiled.mjs")
# LiteRT.js, optional (the chapter's comparison; the book's page leaves its 19 MB out): its module,
# its one import, and the relaxed-SIMD binaries with and without threads
LITERT_FILES = ("dist/index.js", "../wasm-utils/dist/index.js", "wasm/litert_wasm_internal.js",
                "wasm/litert_wasm_internal.wasm", "wasm/litert_wasm_threaded_internal.js",
                "wasm/litert_wasm_threaded_internal.wasm")
LITERT_NAMES = {"dist/index.js": "core.js", "../wasm-utils/dist/index.js": "wasm-utils.js"}
PAGE_SOURCE = Path(__file__).with_name("web")
MAX_LENGTH = 128  # the page's longest input in tokens (the book's long benchmark length)


def npm_install_command(prefix: str = ".build-tools") -> str:
    """The command that installs the pinned npm packages where `npm_dir` looks."""
    pins = " ".join(f"{name}@{version}" for name, version in NPM_PACKAGES.items())
    return f"npm install --no-audit --no-fund --prefix {prefix} {pins}"


def npm_dir(start: str | Path | None = None) -> Path:
    """The `node_modules` folder with the pinned packages: $EDGEHELPERS_NPM, else `.build-tools` above here."""
    if os.environ.get("EDGEHELPERS_NPM"):
        candidates = [Path(os.environ["EDGEHELPERS_NPM"])]
    else:
        here = Path(start or Path.cwd()).resolve()
        roots = [here, *here.parents, *Path(__file__).resolve().parents]
        candidates = [root / ".build-tools" / "node_modules" for root in roots]
    for folder in candidates:
        if (folder / "onnxruntime-web" / "package.json").is_file():
            check_versions(folder)
            return folder
    raise FileNotFoundError(
        "the web runtime's npm packages are not installed (looked in "
        f"{', '.join(str(c) for c in candidates[:3])}...): run `make setup`, or in the book's folder "
        f"`{npm_install_command()}`, or point EDGEHELPERS_NPM at a node_modules folder that has them")


def check_versions(node_modules: Path) -> None:
    """Raise if an installed npm package is not the pinned version (the page was measured with those)."""
    for name, pinned in NPM_PACKAGES.items():
        meta = node_modules / name / "package.json"
        if not meta.is_file():
            raise FileNotFoundError(f"npm package {name} is missing from {node_modules}: run `{npm_install_command()}`")
        found = json.loads(meta.read_text(encoding="utf-8"))["version"]
        if found != pinned:
            raise RuntimeError(f"{name} {found} is installed in {node_modules}, the book pins {pinned}: "
                               f"run `{npm_install_command()}`")


@dataclass(frozen=True)
class WebModel:
    """One model of the page: its ONNX file, the folder with its tokenizer files, and its classes."""

    name: str  # the key in models.json and in `edge.classify(name, text)`
    title: str  # what the page's model menu shows
    onnx: Path
    tokenizer_dir: Path
    labels: list[str]
    example: str  # the text the page classifies first
    max_length: int = MAX_LENGTH
    tflite: dict[int, Path] = field(default_factory=dict)  # static length -> .tflite file (LiteRT.js)


def build_bundle(dest: str | Path, models: list[WebModel], *, litert: bool = False,
                 node_modules: Path | None = None) -> dict:
    """Write the page, the runtime and `models` into `dest` (replaced whole); return the manifest.

    litert=True adds LiteRT.js (`litert.html`) and each model's .tflite files.
    """
    if not models:
        raise ValueError("a bundle needs at least one model")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    node_modules = node_modules or npm_dir()
    sources: dict[str, Path] = {f: PAGE_SOURCE / f for f in PAGE_FILES}
    for package, files in LIB_FILES.items():
        for f in files:
            sources[f"lib/{Path(f).name}"] = node_modules / package / f
    if litert:
        for f in ("litert.html", "litert.mjs"):
            sources[f] = PAGE_SOURCE / f
        for f in LITERT_FILES:
            sources[f"lib/litert/{LITERT_NAMES.get(f, Path(f).name)}"] = node_modules / "@litertjs/core" / f
    entries = {}
    for m in models:
        tok = {f: m.tokenizer_dir / f for f in ("tokenizer.json", "tokenizer_config.json")}
        for what, path in {"the ONNX file": m.onnx, **{f: p for f, p in tok.items()}}.items():
            if not Path(path).is_file():
                raise FileNotFoundError(f"{m.name}: {what} is missing at {path}")
        sources[f"models/{m.name}/model.onnx"] = Path(m.onnx)
        for f, p in tok.items():
            sources[f"models/{m.name}/{f}"] = p
        entries[m.name] = {"title": m.title, "labels": list(m.labels), "example": m.example,
                           "max_length": m.max_length, "model": f"models/{m.name}/model.onnx",
                           "tokenizer": f"models/{m.name}/tokenizer.json",
                           "tokenizer_config": f"models/{m.name}/tokenizer_config.json", "tflite": {}}
        for length, path in (m.tflite.items() if litert else ()):
            rel = f"models/{m.name}/static{length}.tflite"
            sources[rel] = Path(path)
            entries[m.name]["tflite"][str(length)] = rel
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"files the page needs are missing: {missing}; run `{npm_install_command()}`")
    manifest = {"npm": dict(NPM_PACKAGES), "models": entries, "files": {}}
    shutil.rmtree(dest, ignore_errors=True)  # a rebuild replaces the old bundle whole
    with atomic_dir(dest) as tmp:
        for rel, src in sources.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / rel)
            manifest["files"][rel] = {"bytes": src.stat().st_size, "sha256": sha256_of(tmp / rel)}
        atomic_write_text(tmp / "models.json", json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def verify_bundle(folder: str | Path) -> dict:
    """The manifest of the bundle in `folder`, after checking every file it lists (size and SHA-256)."""
    folder = Path(folder)
    if not (folder / "models.json").is_file():
        raise FileNotFoundError(f"no web bundle at {folder} (no models.json): build one with "
                                "`python tools/build_web_bundle.py FOLDER`")
    manifest = json.loads((folder / "models.json").read_text(encoding="utf-8"))
    for rel, want in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            raise FileNotFoundError(f"the bundle lacks {rel}: rebuild it with `python tools/build_web_bundle.py`")
        if path.stat().st_size != want["bytes"] or sha256_of(path) != want["sha256"]:
            raise ValueError(f"{rel} in {folder} differs from the manifest (size or SHA-256): rebuild the bundle")
    return manifest


def page_weight(manifest: dict, model: str) -> dict[str, int]:
    """Bytes the page downloads to answer with `model`: runtime (wasm + JS), model, tokenizer, page."""
    files = manifest["files"]
    spec = manifest["models"][model]
    ort = [k for k in files if k.startswith("lib/") and not k.startswith("lib/litert/")]
    weight = {"wasm": sum(files[k]["bytes"] for k in ort if k.endswith(".wasm")),
              "model": files[spec["model"]]["bytes"],
              "tokenizer": files[spec["tokenizer"]]["bytes"] + files[spec["tokenizer_config"]]["bytes"],
              "code": sum(files[k]["bytes"] for k in [*ort, *PAGE_FILES] if k in files and not k.endswith(".wasm"))}
    weight["total"] = sum(weight.values())
    return weight


# ---------------------------------------------------------------------------------------------
# the book's two models: chapter 9's final English model and chapter 8's Hindi/Marathi/Telugu student

CH09 = ("results", "ch09")


def english_model() -> WebModel:
    """Chapter 9's pruned, distilled, INT8 ONNX file, with the teacher's tokenizer and classes."""
    from edgehelpers.models import teacher_path

    onnx = cache_dir(*CH09) / "pruned_int8.onnx"
    if not onnx.is_file():
        raise FileNotFoundError(f"no chapter 9 model at {onnx}: run notebooks/09_putting_it_together.ipynb "
                                "first (about four minutes); the page ships the model it built")
    config = json.loads((teacher_path() / "config.json").read_text(encoding="utf-8"))
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    tflite = {n: cache_dir(*CH09) / f"pruned{n}-int8.tflite" for n in (32, 128)}
    return WebModel("english", "English headline topic (chapter 9, INT8)", onnx, teacher_path(), labels,
                    "Monsoon arrives early in Kerala, farmers prepare to sow paddy",
                    tflite={n: p for n, p in tflite.items() if p.is_file()})


def indic_student_onnx(task: str = "indicnews") -> Path:
    """Chapter 8's distilled student for `task` as a dynamic INT8 ONNX file (per-channel, as chapter 8), cached."""
    from edgehelpers.indic import TASKS, indic_models_path, load_indic_models

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose from {TASKS}")
    student = indic_models_path() / task / "student"
    if not (student / "config.json").is_file():
        load_indic_models()  # builds chapter 8's models once (make indic does it ahead)
    dest = cache_dir("models") / f"{indic_models_path().name}.web" / task

    def build(folder: Path) -> dict:
        from edgehelpers.classifiers import load_classifier
        from edgehelpers.onnx_export import export_onnx
        from edgehelpers.quant import int8_dynamic

        tokenizer, model = load_classifier(student)
        fp32 = export_onnx(model, tokenizer, folder / "model.fp32.onnx")
        int8_dynamic(fp32, folder / "model.int8.onnx", per_channel=True)
        return {"student": str(student)}

    build_once(dest, build, what=f"chapter 8's {task} student as INT8 ONNX", ready="model.int8.onnx")
    return dest / "model.int8.onnx"


def indic_model(task: str = "indicnews") -> WebModel:
    """Chapter 8's student for `task` (INT8 ONNX) with its trimmed tokenizer and classes."""
    from edgehelpers.indic import indic_models_path

    onnx = indic_student_onnx(task)
    student = indic_models_path() / task / "student"
    config = json.loads((student / "config.json").read_text(encoding="utf-8"))
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    return WebModel("indic", "Hindi, Marathi, Telugu headline topic (chapter 8, INT8)", onnx, student, labels,
                    "मानसून समय से पहले केरल पहुंचा, किसान धान की बुवाई की तैयारी में")


def book_models() -> list[WebModel]:
    """The page's models: chapter 9's English model first (the page opens with it), then chapter 8's."""
    return [english_model(), indic_model()]
