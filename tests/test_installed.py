"""What racetrace finds must not depend on where code is installed: production images
`pip install .`, so the samples, racetrace and the user's own package live in site-packages.
Each test runs real programs in a fresh venv that holds them as installed wheels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from venvs import REPO, installed_venv, run, site_packages

__all__ = ["installed_venv"]  # the fixture, imported for the tests below

SAMPLES = sorted(
    p.stem for p in (REPO / "samples").glob("*.py") if p.stem not in ("__init__", "agentlib")
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    return env


def _report(python: Path | str, directory: Path) -> dict:
    done = run(python, "-m", "racetrace", "report", directory, "--json", "-", env=_env(),
               cwd=directory.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _demo(python: Path | str, sample: str, out: Path) -> dict:
    """`racetrace demo` of one sample with this python's racetrace, and its JSON report."""
    out.mkdir(parents=True)
    done = run(python, "-m", "racetrace", "demo", "--sample", sample, "--keep", out / "traces",
               "--no-tui", env=_env(), cwd=out)
    assert done.returncode == 0, done.stderr[-2000:]
    return _report(python, out / "traces")


# Whether independent tasks' runs are `periodic` or `concurrent` hinges on how evenly they
# started, which a loaded machine jitters; where code is installed cannot change it (the call
# sites compared below can). One class for this comparison.
_ACROSS_TASKS = {"periodic": "concurrent"}


def _outline(report: dict) -> tuple:
    """What must agree: the runs recorded, and each finding's kind, severity, run count and
    the call sites of its runs (file name and line: the folders differ)."""
    findings = sorted(
        (_ACROSS_TASKS.get(f["kind"], f["kind"]), f["severity"], f["key_kind"], f["run_count"],
         sorted(Path(r["callsite"] or "?").name for r in f["runs"]))
        for f in report["findings"]
    )
    return report["summary"]["runs"], findings


def test_the_installed_venv_holds_racetrace_and_the_samples_in_site_packages(
    installed_venv: Path,
) -> None:
    site = site_packages(installed_venv)
    probe = run(installed_venv, "-c",
                "import racetrace.samples, userpkg; print(racetrace.samples.__file__); "
                "print(userpkg.__file__)", env=_env(), cwd=site.parent)
    assert probe.returncode == 0, probe.stderr
    assert all(Path(line).is_relative_to(site) for line in probe.stdout.split())
    assert (site / "racetrace.pth").read_text() == (REPO / "racetrace.pth").read_text()


def test_the_installed_wheel_reads_traces_with_the_c_scanner_where_it_could_be_built(
    installed_venv: Path,
) -> None:
    import shutil
    import sysconfig

    site = site_packages(installed_venv)
    probe = run(installed_venv, "-c",
                "from racetrace.analyzers.core import scan\n"
                "print(scan.__file__)\n"
                "print('C scanner' if scan.available() else 'pure Python')",
                env=_env(), cwd=site.parent)
    assert probe.returncode == 0, probe.stderr
    where, reader = probe.stdout.split("\n")[:2]
    assert Path(where).is_relative_to(site)
    print(f"the installed wheel reads with: {reader}")  # what the sample tests below got
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    assert reader == ("C scanner" if shutil.which(cc) else "pure Python")


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_reports_the_same_from_a_checkout_and_installed(
    sample: str, installed_venv: Path, tmp_path: Path
) -> None:
    # Side by side, so that both meet the same load on the machine.
    with ThreadPoolExecutor(2) as pool:
        checkout = pool.submit(_demo, sys.executable, sample, tmp_path / "checkout")
        installed = pool.submit(_demo, installed_venv, sample, tmp_path / "installed")
        expected, got = _outline(checkout.result()), _outline(installed.result())
    assert got == expected
    assert expected[0] > 0


def _user_program(python: Path, mode: str, tmp_path: Path) -> dict:
    traces = tmp_path / f"traces-{mode}"
    done = subprocess.run(
        [python, "-m", "racetrace", "run", "-d", traces,
         "-t", "userpkg.agent:Agent.run", "-t", "userpkg.agent:Agent.run_stream",
         "--", python, "-m", "userpkg.app", mode],
        capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return _report(python, traces)


def test_a_reentrant_callback_in_an_installed_package_is_one_finding(
    installed_venv: Path, tmp_path: Path
) -> None:
    report = _user_program(installed_venv, "reentrant", tmp_path)
    warnings = [f for f in report["findings"] if f["severity"] in ("warning", "error")]
    (finding,) = warnings
    assert finding["kind"] == "reentrant" and finding["run_count"] == 2
    outer, inner = finding["runs"]
    assert inner["parent_run_id"] == outer["run_id"]
    assert inner["callsite"].endswith("userpkg/app.py:11")
    assert "site-packages" in inner["callsite"]


def test_run_delegating_to_run_stream_in_an_installed_package_is_one_run(
    installed_venv: Path, tmp_path: Path
) -> None:
    report = _user_program(installed_venv, "plain", tmp_path)
    assert report["summary"]["runs"] == 1
    assert report["findings"] == []
