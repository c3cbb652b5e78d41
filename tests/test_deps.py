"""Optional dependencies fail with an install hint."""

import pytest

from edgehelpers.deps import MissingPackageError, require


def test_present_module_is_returned():
    import json

    assert require("json") is json


def test_missing_module_says_what_to_install():
    with pytest.raises(MissingPackageError, match="pip install some-dist") as info:
        require("surely_not_a_module_xyz", "some-dist", purpose="the OpenVINO section")
    assert "OpenVINO" in str(info.value)
    assert isinstance(info.value, ImportError)  # `except ImportError` still catches it


def test_missing_submodule_uses_module_name():
    with pytest.raises(MissingPackageError, match="pip install surely_not_a_pkg_xyz.sub"):
        require("surely_not_a_pkg_xyz.sub")


def test_broken_dependency_of_an_installed_module_is_not_disguised(tmp_path, monkeypatch):
    (tmp_path / "brokenmod_xyz.py").write_text("import surely_missing_inner_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="surely_missing_inner_xyz") as info:
        require("brokenmod_xyz")
    assert not isinstance(info.value, MissingPackageError)
