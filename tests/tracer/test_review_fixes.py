"""Small faults a review found in the tracer, each with the behaviour it must have."""

from __future__ import annotations

import sys
import types

import orjson
import pytest
from racetrace.tracer import importhook
from racetrace.tracer.sink import encode_line


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
