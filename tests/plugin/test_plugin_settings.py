"""Reading the options and markers: pure functions, tested in this process."""

from __future__ import annotations

import pytest

from racetrace.pytest_plugin.settings import (
    FAIL,
    OFF,
    WARN,
    Settings,
    SettingsError,
    normalize_flag,
    settings_for_test,
)

SESSION_OFF = Settings(OFF, (), None, None, "/tmp/traces", "overlap")


@pytest.mark.parametrize(("args", "expected"), [
    (["--racetrace", "tests/"], ["--racetrace=fail", "tests/"]),
    (["--racetrace"], ["--racetrace=fail"]),
    (["--racetrace", "-x"], ["--racetrace=fail", "-x"]),
    (["--racetrace", "warn", "tests/"], ["--racetrace", "warn", "tests/"]),
    (["--racetrace=warn", "tests/"], ["--racetrace=warn", "tests/"]),
    (["-k", "x", "--", "--racetrace", "tests/"], ["-k", "x", "--", "--racetrace", "tests/"]),
])
def test_a_bare_flag_is_made_explicit(args: list[str], expected: list[str]) -> None:
    normalize_flag(args)
    assert args == expected


def mark(*args: object, **kwargs: object) -> pytest.Mark:
    return pytest.Mark("racetrace", args, kwargs, _ispytest=True)


def test_a_marker_without_a_mode_switches_tracing_on() -> None:
    assert settings_for_test(SESSION_OFF, []).mode == OFF
    assert settings_for_test(SESSION_OFF, [mark()]).mode == FAIL
    assert settings_for_test(SESSION_OFF, [mark(targets="m:C.f")]).mode == FAIL


def test_closer_markers_win_and_lists_add_up() -> None:
    module = mark("warn", targets=["m:A.run"], suppress="benign:m.*", fail_on="any")
    function = mark("off", targets="m:B.run, m:C.run")
    settings = settings_for_test(SESSION_OFF, [function, module])  # closest first, as pytest gives
    assert settings.mode == OFF
    assert settings.targets == ("m:A.run", "m:B.run", "m:C.run")
    assert settings.suppress == ("benign:m.*",)
    assert settings.fail_on == "any"
    assert settings_for_test(SESSION_OFF, [mark(), module]).mode == WARN


@pytest.mark.parametrize(("marker", "message"), [
    (mark("warn", "fail"), "takes one mode"),
    (mark(mode="sometimes"), "unknown mode 'sometimes'"),
    (mark(targets=[1]), "targets= takes a string or a list of strings"),
    (mark(fail_on=""), "fail_on= takes a string"),
    (mark(failon="any"), "unknown argument 'failon'"),
])
def test_bad_markers_are_named(marker: pytest.Mark, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_for_test(SESSION_OFF, [marker])
