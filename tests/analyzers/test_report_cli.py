"""`racetrace report` as CI runs it: exit codes, --fail-on, suppressions, damaged and hostile
input (one `racetrace:` line on stderr, never a traceback; trace text shown literally)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from racetrace.analyzers.outputs.failon import FailOn, FailOnError


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("racetrace: ") and "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def overlapping(writer) -> Path:
    w = writer()
    w.run(0, 100, task="a")
    w.run(10, 50, task="b")
    return w.write()


@pytest.fixture
def latent_only(writer) -> Path:
    w = writer()
    w.run(0, 10, task="a")
    w.run(20, 30, task="b")
    return w.write()


def test_exit_zero_by_default_even_with_findings(overlapping: Path, cli) -> None:
    assert cli("report", str(overlapping)).returncode == 0


@pytest.mark.parametrize(("spec", "code"), [
    ("overlap", 66), ("warning", 66), ("concurrent", 66), ("any", 66), ("info", 66),
    ("error", 0), ("reentrant", 0), ("never", 0), ("periodic,latent", 0),
    ("reentrant,concurrent", 66),
])
def test_fail_on_exits_66_when_a_finding_matches(overlapping: Path, cli, spec: str,
                                                 code: int) -> None:
    done = cli("report", str(overlapping), "--fail-on", spec, "-q")
    assert done.returncode == code, done.stderr


@pytest.mark.parametrize(("spec", "code"), [("latent", 66), ("overlap", 0), ("warning", 0),
                                            ("any", 66)])
def test_latent_is_info_and_fails_only_when_asked(latent_only: Path, cli, spec: str,
                                                  code: int) -> None:
    assert cli("report", str(latent_only), "--fail-on", spec, "-q").returncode == code


def test_fail_on_terms_can_be_repeated(overlapping: Path, cli) -> None:
    done = cli("report", str(overlapping), "--fail-on", "error", "--fail-on", "overlap", "-q")
    assert done.returncode == 66


def test_unknown_fail_on_term_is_a_usage_error(overlapping: Path, cli) -> None:
    done = cli("report", str(overlapping), "--fail-on", "overlaps")
    assert done.returncode == 2
    assert "unknown term 'overlaps'" in one_error_line(done.stderr)


def test_fail_on_with_severity_suffix_reaches_info_findings() -> None:
    spec = FailOn.parse("concurrent:info")
    assert spec.terms[0].kinds == frozenset({"concurrent"})
    assert spec.terms[0].severity == "info"
    with pytest.raises(FailOnError):
        FailOn.parse("concurrent:loud")


def test_benign_suppression_from_the_environment_keeps_ci_green(overlapping: Path, tmp_path,
                                                                cli) -> None:
    rules = tmp_path / "racetrace.supp"
    rules.write_text("benign:app.*\n")
    done = cli("report", str(overlapping), "--fail-on", "overlap", "--json", "-",
               env={"RACETRACE_SUPPRESSIONS": str(rules)})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["findings"][0]["severity"] == "info"
    assert data["suppressions"] == {"rules": ["benign:app.*"], "suppressed": 0, "benign": 1,
                                    "by_rule": {"benign:app.*": 1}}


def test_ignore_suppression_drops_and_counts(overlapping: Path, tmp_path, cli) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("ignore:app.Agent.run\n")
    done = cli("report", str(overlapping), "--suppressions", str(rules), "--json", "-")
    data = json.loads(done.stdout)
    assert data["findings"] == [] and data["summary"]["suppressed"] == 1


def test_a_bad_suppression_line_is_a_usage_error_naming_file_and_line(overlapping: Path,
                                                                      tmp_path, cli) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("# ok\nbenign:app.*\nsilence:app.*\n")
    done = cli("report", str(overlapping), "--suppressions", str(rules))
    assert done.returncode == 2
    assert f"{rules}:3: bad suppression rule" in one_error_line(done.stderr)


def test_missing_path_is_exit_2_with_one_line(tmp_path: Path, cli) -> None:
    done = cli("report", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert "no such file or directory" in one_error_line(done.stderr)


@pytest.mark.parametrize("content", [b"\x00\x01\x02garbage\xff\xfe\n" * 20,
                                     b'{"hello": "world"}\n{"not": "a trace"}\n',
                                     b"[1, 2, 3]\n"])
def test_a_named_file_that_is_not_a_trace_is_exit_2_with_one_line(tmp_path: Path, cli,
                                                                   content: bytes) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    done = cli("report", str(bad))
    assert done.returncode == 2
    assert str(bad) in one_error_line(done.stderr)


def test_damaged_lines_are_skipped_and_counted_in_one_line(writer, cli) -> None:
    w = writer()
    w.run(0, 100, task="a")
    w.raw(b'{"type":"start","run_id":"broken')
    w.run(10, 50, task="b")
    path = w.write()
    path.write_bytes(path.read_bytes() + b'{"type":"end","run_id":"x","end_n')  # killed writer
    done = cli("report", str(path), "--json", "-")
    assert done.returncode == 0
    assert "skipped 2 damaged lines" in one_error_line(done.stderr)
    data = json.loads(done.stdout)
    assert data["summary"]["skipped_lines"] == 2
    assert data["summary"]["findings_by_kind"]["concurrent"] == 1


def test_unwritable_json_target_is_a_usage_error(overlapping: Path, tmp_path: Path, cli) -> None:
    done = cli("report", str(overlapping), "--json", str(tmp_path / "no" / "dir" / "r.json"))
    assert done.returncode == 2
    assert "cannot write the report" in one_error_line(done.stderr)


def test_empty_directory_reports_no_runs(tmp_path: Path, cli) -> None:
    done = cli("report", str(tmp_path))
    assert done.returncode == 0
    assert "no runs" in done.stdout and "SUMMARY: racetrace: no findings" in done.stdout


HOSTILE_LABEL = "[bold red]evil[/] [link=https://x.example]click[/link]"
HOSTILE_METHOD = "app.Agent.run\x1b]0;pwned\x07\x1b[2J"


def test_trace_text_is_shown_literally_never_as_markup_or_escapes(writer, cli) -> None:
    w = writer()
    w.run(0, 100, task="[blink]a[/blink]", label=HOSTILE_LABEL, method=HOSTILE_METHOD)
    w.run(10, 50, task="b\rfake", label=HOSTILE_LABEL, method=HOSTILE_METHOD,
          status="error", error=("E", "line1\nline2 \x1b[31mred"))
    done = cli("report", str(w.write()), "-v", env={"FORCE_COLOR": "1", "TERM": "xterm"})
    out = done.stdout
    assert done.returncode == 0
    assert HOSTILE_LABEL in out and "[blink]a[/blink]" in out
    assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out and "b\\rfake" in out and "line1\\nline2" in out
    assert "\x1b[31mred" not in out


def test_render_to_string_is_plain_text(writer, analyzed) -> None:
    from racetrace.analyzers.outputs.render_text import render_to_string

    w = writer()
    w.run(0, 100, task="a", label=HOSTILE_LABEL)
    w.run(10, 50, task="b", label=HOSTILE_LABEL)
    text = render_to_string(analyzed([w.write()]), width=200)
    assert f"concurrent runs on Agent '{HOSTILE_LABEL}'" in text
    assert "\x1b" not in text


def test_counts_read_as_people_write_them(writer, analyzed) -> None:
    from racetrace.analyzers.outputs.render_text import render_to_string

    w = writer()
    w.run(0, 10, task="Task-1")
    text = render_to_string(analyzed([w.write()]))
    assert "no findings; 1 run on 1 instance in 1 process, 0 overlapping pairs" in text


def test_runs_are_numbered_out_of_every_run_of_the_finding(writer, analyzed) -> None:
    from racetrace.analyzers.outputs.render_text import RUNS_SHOWN, render_to_string

    w = writer()
    for i in range(10):
        w.run(i, 100, task=f"Task-{i}")
    text = render_to_string(analyzed([w.write()]))
    assert "Run 1 of 10:" in text and f"Run {RUNS_SHOWN} of 10:" in text
    assert f"... and {10 - RUNS_SHOWN} more runs" in text
    assert "10 runs overlapped for" in text


def test_a_report_keeps_every_line_whole_when_not_a_terminal(writer, analyzed) -> None:
    from racetrace.analyzers.outputs.render_text import render_to_string

    site = "/srv/" + "/".join(["a-very-long-folder-name"] * 8) + "/handlers.py:42"
    w = writer()
    w.run(0, 100, task="Task-1", site=site)
    w.run(10, 90, task="Task-2", site=site)
    text = render_to_string(analyzed([w.write()]), width=100)
    assert any(site in line for line in text.splitlines())
