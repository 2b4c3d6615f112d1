"""Small faults a review found in the tracer, each with the behaviour it must have."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from racetrace.tracer import importhook
from racetrace.tracer.sink import encode_line

if TYPE_CHECKING:
    from conftest import Tracing


def test_an_int_over_64_bits_is_written_as_text() -> None:
    line = orjson.loads(encode_line({"key": 2**70, "small": -(2**63), "nested": [-(2**64)]}))
    assert line == {"key": str(2**70), "small": -(2**63), "nested": [str(-(2**64))]}


def test_a_hook_that_raises_never_reaches_the_import(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = "racetrace_test_hooked_module"
    module = types.ModuleType(name)

    def broken(module: types.ModuleType) -> None:
        raise RuntimeError("hook failed")

    sys.modules[name] = module
    try:
        importhook.register(broken, name)  # already imported: called now, must not raise
    finally:
        del sys.modules[name]
    importhook.register(broken, name)
    importhook._fire(module)  # what the loader does once the module's code has run
    assert "hook failed" in capsys.readouterr().err


def test_the_header_explains_an_unresolved_script_target_as_stderr_does(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("class Agent:\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "PYTEST_"))}
    env.update(RACETRACE="1", RACETRACE_DIR=str(tmp_path / "traces"),
               RACETRACE_TARGETS="app:Missing.run")
    done = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    [file] = (tmp_path / "traces").rglob("*.jsonl")
    [header] = [orjson.loads(line) for line in file.read_bytes().splitlines()]
    [entry] = header["unresolved_targets"]
    # The script ran (as __main__): not "never imported", and the words said on stderr.
    assert "never imported" not in entry["reason"]
    assert entry["reason"] in done.stderr


def test_a_future_like_result_that_refuses_callbacks_is_returned_as_is(
    tracing: Tracing,
) -> None:
    from racetrace.tracer.targets import Target, request

    module = tracing.module(
        """
        class Handle:
            _asyncio_future_blocking = False  # looks like a future to asyncio

            def add_done_callback(self, callback):
                raise RuntimeError("no callbacks here")

        class Agent:
            def start(self):
                return HANDLE

        HANDLE = Handle()
        """
    )
    request(Target(module=module.__name__, path="Agent.start"))
    assert module.Agent().start() is module.HANDLE
    assert [r.status for r in tracing.runs()] == ["ok"]
