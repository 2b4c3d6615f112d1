"""The package installs as one namespace, with the .pth at the root of site-packages, in both
install modes; uninstalling removes the .pth. These build real installs in fresh venvs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from venvs import REPO, create, run, site_packages

# What is the checkout's own and must not go into a copy that is installed: a build made
# there (setuptools would reuse its compiled scanner), the scanner built in place, caches.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".ci-venv", ".venv", "build", "dist", "*.so",
                                     "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".hypothesis", ".ruff_cache", "racetrace-traces")


def source_copy(into: Path) -> Path:
    """The checkout's sources, copied: an install from it builds everything anew (and an
    editable one builds the scanner into the copy, not under the checkout's running tests)."""
    return Path(shutil.copytree(REPO, into / "racetrace-src", ignore=_NOT_SOURCE))


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Its own venv, not the shared `installed_venv` (tests/venvs.py): these tests install and
    # uninstall racetrace, which the tests sharing that one must not see mid-run.
    return create(tmp_path_factory.mktemp("venv"))


@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_install_puts_pth_at_site_packages_root_and_squats_no_generic_names(
    fresh_python: Path, editable: bool, tmp_path: Path
) -> None:
    source = source_copy(tmp_path)
    install = ["-e", str(source)] if editable else [str(source)]
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
            "from racetrace.analyzers.core import scan\n"
            "print([n for n in ('tracer', 'analyzers', 'tui') if u.find_spec(n)])\n"
            "print('C scanner' if scan.available() else 'pure Python')",
            cwd=site.parent, env={**_without_pure(), "RACETRACE": "0"},
        )
        assert probe.returncode == 0, probe.stderr
        listed, reader = probe.stdout.split("\n")[:2]
        assert listed == "[]"
        # Built where a compiler is (this machine's, as CI's); the test says which it got.
        print(f"{'editable' if editable else 'wheel'} install reads with: {reader}")
        assert reader == ("C scanner" if _compiler() else "pure Python")
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


def _without_pure() -> dict[str, str]:
    """The environment, the scanner not turned off (a run of the suite may turn it off)."""
    return {k: v for k, v in os.environ.items() if k != "RACETRACE_PURE_PYTHON"}


def _compiler() -> bool:
    import sysconfig

    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and sys.platform != "win32"


TRACE = (
    b'{"type":"header","format":"racetrace.trace/1","pid":7,"host":"h","wall_ns":1}\n'
    + b"".join(
        b'{"type":"start","run_id":"%016x","name":"app.Agent.run","start_ns":%d,'
        b'"racetrace.instance.key":"h/7.a/1","process.pid":7,"host.name":"h",'
        b'"racetrace.task.id":"t%d","code.file.path":"/app.py","code.line.number":3}\n'
        b'{"type":"end","run_id":"%016x","end_ns":%d,"racetrace.end.status":"ok"}\n'
        % (n + 1, 10 + n, n, n + 1, 30 + n) for n in range(5))
)


def test_install_without_a_compiler_is_pure_python_and_reports_the_same(tmp_path: Path) -> None:
    fresh_python = create(tmp_path / "venv", with_test_deps=True)  # sees msgspec, numpy, ...
    source = source_copy(tmp_path)
    # The optional extension fails to build; the install goes on without it.
    result = run(fresh_python, "-m", "pip", "install", "--no-deps", source,
                 env={**os.environ, "CC": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    try:
        traces = tmp_path / "traces"
        traces.mkdir()
        (traces / "h.7.jsonl").write_bytes(TRACE)
        site = site_packages(fresh_python)
        probe = run(fresh_python, "-c",
                    "from racetrace.analyzers.core import scan; print(scan._Scanner)",
                    cwd=site.parent, env={**os.environ, "RACETRACE": "0"})
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "None"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")}
        installed = run(fresh_python, "-m", "racetrace", "report", "--json", "-", traces,
                        cwd=site.parent, env=env)
        checkout = run(sys.executable, "-m", "racetrace", "report", "--json", "-", traces,
                       cwd=REPO, env=env)
        assert installed.returncode == checkout.returncode == 0, installed.stderr
        assert installed.stdout == checkout.stdout
        assert '"runs": 5' in installed.stdout
    finally:
        shutil.rmtree(tmp_path / "venv", ignore_errors=True)
