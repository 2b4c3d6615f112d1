"""`racetrace tui` and `racetrace demo` as a user runs them: real subprocesses, no terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tui_helpers import needs_analyzer


def racetrace(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd, timeout=300,
    )


def test_tui_on_a_missing_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = racetrace("tui", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("racetrace: ")
    assert "nope" in done.stderr


def test_tui_without_a_terminal_points_to_the_report(shop: Path) -> None:
    done = racetrace("tui", str(shop))
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: tui needs a terminal")
    assert done.stderr.count("\n") == 1


def test_tui_with_a_bad_suppressions_file_is_one_line(shop: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("benign:ok.*\nnot a rule\n")
    done = racetrace("tui", str(shop), "--suppressions", str(rules))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "rules.txt:2" in done.stderr


@needs_analyzer
def test_demo_without_a_terminal_prints_the_text_report(tmp_path: Path) -> None:
    done = racetrace("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SUMMARY: racetrace:" in done.stdout
    assert "concurrent" in done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_demo_with_an_unknown_sample_is_one_line() -> None:
    done = racetrace("demo", "--sample", "nope")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "shared_gather" in done.stderr


def test_demo_without_the_samples_says_where_they_come_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from racetrace import cli
    from racetrace.commands import demo

    monkeypatch.setattr(demo, "samples_dir", lambda: None)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("racetrace: demo: the bundled samples were not found")
    assert err.count("\n") == 1


def test_the_tui_imports_nothing_of_the_tracer_or_opentelemetry() -> None:
    code = (
        "import sys, racetrace.tui.app, racetrace.tui.follow, racetrace.commands.tui;"
        "bad = [m for m in sys.modules if m.startswith(('racetrace.tracer.', 'opentelemetry'))"
        " and m != 'racetrace.tracer.semconv'];"
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@needs_analyzer
def test_demo_all_runs_every_bundled_overlap_sample_together(tmp_path: Path) -> None:
    done = racetrace("demo", "--sample", "all", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("shared_gather", "reentrant_callback", "periodic_overlap", "singleton_requests"):
        assert f"{name}:" in done.stderr  # each sample's own output, as it ran
    assert "4 processes" in done.stdout
