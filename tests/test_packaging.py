"""The package installs as one namespace, with the .pth at the root of site-packages, in both
install modes; uninstalling removes the .pth. These build real installs in fresh venvs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from venvs import REPO, create, run, site_packages


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Its own venv, not the shared `installed_venv` (tests/venvs.py): these tests install and
    # uninstall racetrace, which the tests sharing that one must not see mid-run.
    return create(tmp_path_factory.mktemp("venv"))


@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_install_puts_pth_at_site_packages_root_and_squats_no_generic_names(
    fresh_python: Path, editable: bool
) -> None:
    install = ["-e", str(REPO)] if editable else [str(REPO)]
    result = run(fresh_python, "-m", "pip", "install", "--quiet", "--no-deps", *install)
    assert result.returncode == 0, result.stderr[-2000:]
    try:
        site = site_packages(fresh_python)
        pth = site / "racetrace.pth"
        assert pth.is_file()
        assert pth.read_text() == (REPO / "racetrace.pth").read_text()
        # Run outside the checkout, so the repo's folders are not importable by accident.
        probe = run(
            fresh_python, "-c",
            "import racetrace.tracer, racetrace.analyzers, racetrace.tui, racetrace.samples\n"
            "import importlib.util as u\n"
            "print([n for n in ('tracer', 'analyzers', 'tui') if u.find_spec(n)])",
            cwd=site.parent, env={**os.environ, "RACETRACE": "0"},
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "[]"
    finally:
        result = run(fresh_python, "-m", "pip", "uninstall", "--yes", "racetrace")
    assert result.returncode == 0, result.stderr
    assert not (site / "racetrace.pth").exists()


def test_pth_with_racetrace_on_but_package_gone_does_not_break_python(tmp_path: Path) -> None:
    # A stale .pth (package uninstalled by hand) must never stop the interpreter.
    (tmp_path / "racetrace.pth").write_text((REPO / "racetrace.pth").read_text())
    code = f"import site; site.addsitedir({str(tmp_path)!r}); print('alive')"
    result = run(
        sys.executable, "-S", "-c", code, env={**os.environ, "RACETRACE": "1"}, cwd=tmp_path
    )
    # -S: no site-packages, so `racetrace` is not importable; the guard swallows that.
    assert result.returncode == 0
    assert result.stdout.strip() == "alive"
    assert result.stderr == ""
