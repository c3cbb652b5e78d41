"""edgehelpers.claims: correctness claims always assert; speed claims assert only in CI/strict mode."""

from __future__ import annotations

import pytest

from edgehelpers import claims


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader's machine: not CI, no strict mode."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)


def test_check_always_asserts(laptop: None) -> None:
    claims.check(True, "one plus one is two")
    with pytest.raises(claims.ClaimError, match="claims: INT8 keeps accuracy.*not to your hardware"):
        claims.check(False, "INT8 keeps accuracy")
    assert issubclass(claims.ClaimError, AssertionError)  # nbmake and readers see a plain assert failure


def test_speed_reports_on_a_laptop(laptop: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert claims.speed(True, "INT8 is faster") is None  # nothing to display at the end of a cell
    assert capsys.readouterr().out == ""
    claims.speed(False, "INT8 is 2x faster", why="this CPU has no VNNI")
    out = capsys.readouterr().out
    assert out.startswith("did not hold on your machine: INT8 is 2x faster. this CPU has no VNNI. This CPU: ")
    assert out.rstrip().endswith(").")  # the CPU model and its ISA features


@pytest.mark.parametrize("env", [{"CI": "true"}, {"EDGEHELPERS_STRICT": "1"}, {"CI": "1"}])
def test_speed_asserts_in_ci_and_strict_mode(laptop: None, monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert claims.strict()
    with pytest.raises(claims.ClaimError, match="did not hold on your machine: fast.*strict mode"):
        claims.speed(False, "fast")


def test_strict_mode_can_be_switched_off_in_ci(laptop: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv(claims.STRICT_ENV, "0")
    assert not claims.strict()
    claims.speed(False, "fast")  # printed, not raised
