"""edgehelpers.claims: correctness claims always assert; speed claims assert only in CI/strict mode,
and every speed claim is logged with its margin; tools/claims_report.py summarises the log."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from edgehelpers import claims

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader's machine: not CI, no strict mode, no claims log."""
    for var in ("CI", claims.STRICT_ENV, claims.LOG_ENV, claims.NOTEBOOK_ENV):
        monkeypatch.delenv(var, raising=False)


def test_check_always_asserts(laptop: None) -> None:
    claims.check(True, "one plus one is two")
    with pytest.raises(claims.ClaimError, match="claims: INT8 keeps accuracy.*not to your hardware"):
        claims.check(False, "INT8 keeps accuracy")
    assert issubclass(claims.ClaimError, AssertionError)  # nbmake and readers see a plain assert failure


def test_margin_is_the_room_before_the_claim_breaks() -> None:
    assert claims.margin(3.0, ">", 2.0) == pytest.approx(0.5)  # 50% above the bound
    assert claims.margin(1.5, "<", 2.0) == pytest.approx(0.25)  # 25% below it
    assert claims.margin(1.8, ">", 2.0) == pytest.approx(-0.1)  # fails by 10%
    assert claims.margin(-1.0, ">", -2.0) == pytest.approx(0.5)  # relative to |bound|
    assert claims.margin(1.0, "between", (0.8, 1.25)) == pytest.approx(0.2)  # the nearer bound decides
    assert claims.margin(float("nan"), ">", 1.0) == -math.inf
    with pytest.raises(ValueError, match="ratio"):
        claims.margin(1.0, ">", 0.0)
    with pytest.raises(ValueError, match="unknown comparison '>='"):
        claims.margin(1.0, ">=", 1.0)
    with pytest.raises(ValueError, match="low < high"):
        claims.margin(1.0, "between", (2.0, 1.0))


def test_speed_reports_on_a_laptop(laptop: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert claims.speed(2.5, ">", 2.0, "INT8 is faster") is None  # nothing to display at the end of a cell
    assert capsys.readouterr().out == ""
    claims.speed(1.5, ">", 2.0, "INT8 is 2x faster", why="this CPU has no VNNI")
    out = capsys.readouterr().out
    assert out.startswith("did not hold on your machine: INT8 is 2x faster (measured 1.5, the claim needs > 2). "
                          "this CPU has no VNNI. This CPU: ")
    assert out.rstrip().endswith(").")  # the CPU model and its ISA features
    claims.speed(1.3, "between", (0.9, 1.1), "the same speed")
    assert "needs between 0.9 and 1.1" in capsys.readouterr().out


@pytest.mark.parametrize("env", [{"CI": "true"}, {"EDGEHELPERS_STRICT": "1"}, {"CI": "1"}])
def test_speed_asserts_in_ci_and_strict_mode(laptop: None, monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert claims.strict()
    claims.speed(2.0, "<", 3.0, "fast enough")
    with pytest.raises(claims.ClaimError, match=r"did not hold on your machine: fast \(measured 4.*strict mode"):
        claims.speed(4.0, "<", 3.0, "fast")


def test_strict_mode_can_be_switched_off_in_ci(laptop: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv(claims.STRICT_ENV, "0")
    assert not claims.strict()
    claims.speed(0.5, ">", 1.0, "fast")  # printed, not raised


def test_every_speed_claim_is_logged_with_its_margin(laptop: None, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    log = tmp_path / "build" / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    monkeypatch.setenv(claims.NOTEBOOK_ENV, "notebooks/02_quantization.ipynb")
    claims.speed(3.0, ">", 2.0, "INT8 is faster")
    claims.speed(1.0, "between", (0.8, 1.1), "no change")
    claims.speed(0.5, ">", 1.0, "fails here")  # not strict: printed, and logged as failed
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["claim"] for r in rows] == ["INT8 is faster", "no change", "fails here"]
    first = rows[0]
    assert first["margin"] == pytest.approx(0.5) and first["held"] and first["value"] == 3.0
    assert first["op"] == ">" and first["bound"] == 2.0 and first["notebook"] == "notebooks/02_quantization.ipynb"
    assert first["cpu"] and isinstance(first["isa"], list) and first["strict"] is False
    assert rows[1]["bound"] == [0.8, 1.1] and rows[1]["margin"] == pytest.approx(0.1 / 1.1)
    assert rows[2]["held"] is False and rows[2]["margin"] == pytest.approx(-0.5)


def test_report_writes_json_and_prints_the_thinnest(tmp_path: Path) -> None:
    log = tmp_path / "claims.jsonl"
    entries = [{"notebook": "nb/a.ipynb", "claim": f"claim {m}", "value": 1.0 + m, "op": ">", "bound": 1.0,
                "margin": m, "held": m > 0, "cpu": "Test CPU", "isa": ["avx2"]} for m in (0.5, 0.05, 0.3, 1.2)]
    log.write_text("\n".join(json.dumps(e) for e in entries) + "\nnot json\n", encoding="utf-8")
    out = tmp_path / "claims.json"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "claims_report.py"), str(log), str(out), "--top", "2"],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.read_text())
    assert report["n"] == 4 and report["failed"] == 0 and report["cpus"] == ["Test CPU"]
    assert [c["claim"] for c in report["thinnest"]] == ["claim 0.05", "claim 0.3"]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("speed claims: 4 checked, 0 failed; CPU: Test CPU; ISA: avx2")
    assert "+5.0%" in lines[2] and "under 15%" in lines[2] and "+30.0%" in lines[3] and "under" not in lines[3]
    assert "not a JSON line" in run.stderr
    # no log at all (no notebook ran): an empty report, not a crash
    subprocess.run([sys.executable, str(ROOT / "tools" / "claims_report.py"), str(tmp_path / "none"), str(out)],
                   check=True, capture_output=True)
    assert json.loads(out.read_text())["n"] == 0
