"""Fresh virtual environments for the tests about installing racetrace (and a user's package)
the way production does, with `pip install .` into site-packages rather than from a checkout.

Building one costs about a minute on a busy machine: `installed_venv` builds a single one per
test session, shared by the xdist workers through a lock file in the session's base folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sysconfig
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )


def site_packages(python: Path) -> Path:
    out = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    return Path(out.stdout.strip())


def create(env_dir: Path, *, with_test_deps: bool = False) -> Path:
    """A new venv with pip; `with_test_deps`: it also sees the test environment's installed
    libraries (the frameworks, OpenTelemetry), appended to its path after its own
    site-packages by a path line (which runs none of their `.pth` files: racetrace's own
    editable install there stays inert)."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    if with_test_deps:
        paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
        (site_packages(python) / "_racetrace_test_deps.pth").write_text(
            "".join(f"{p}\n" for p in paths)
        )
    return python


def pip_install(python: Path, *args: str | Path) -> None:
    done = run(python, "-m", "pip", "install", "--quiet", "--no-deps", *args)
    assert done.returncode == 0, done.stderr[-2000:]


# A user's own package, installed non-editable: an agent class, the user's callbacks in
# another module of the same package.
USER_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "rt-userpkg"
        version = "1.0"

        [tool.setuptools]
        packages = ["userpkg"]
    """,
    "userpkg/__init__.py": "",
    "userpkg/agent.py": """
        import asyncio

        TARGETS = "userpkg.agent:Agent.run,userpkg.agent:Agent.run_stream"

        class Agent:
            def __init__(self):
                self.history = []

            async def run(self, task, on_message=None):
                replies = []
                async for reply in self.run_stream(task):  # delegation: one run
                    replies.append(reply)
                    if on_message is not None:
                        await on_message(reply)
                return replies

            async def run_stream(self, task):
                for step in range(2):
                    await asyncio.sleep(0.02)
                    self.history.append(f"{task} {step}")
                    yield f"{task} step {step}"
    """,
    "userpkg/app.py": """
        import asyncio
        import sys

        from userpkg.agent import Agent

        agent = Agent()

        async def on_message(reply):
            if "step 0" in reply and "follow-up" not in reply:
                await agent.run("follow-up")  # re-enters the agent mid-run

        async def main(mode):
            await agent.run("task", on_message=on_message if mode == "reentrant" else None)
            print(len(agent.history))

        if __name__ == "__main__":
            asyncio.run(main(sys.argv[1]))
    """,
}


def write_user_package(root: Path) -> Path:
    for name, text in USER_PACKAGE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv holding racetrace and `userpkg`, both installed from wheels
    into its site-packages (no editable install), built once for the whole session."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers
    env_dir = base / "installed-venv"
    python = env_dir / "bin" / "python"
    with _locked(base / "installed-venv.lock"):
        if not (env_dir / "ready").exists():
            create(env_dir, with_test_deps=True)
            pip_install(python, REPO)
            source = write_user_package(base / "userpkg-source")
            pip_install(python, source)
            (env_dir / "ready").write_text("")
    return python
