"""Bad input to the CLI: one `racetrace:` line on stderr and exit 2, or the damage skipped and
counted; never a traceback, a signal or a raw terminal escape (issue 11, "The CLI").

Each generator writes one class of bad input among sound runs (two runs overlapping on one
object, so that `report` shows, and reads, the runs around the damage)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from cli_fault_support import (
    clean_env,
    end,
    one_racetrace_line,
    racetrace,
    skipped_count,
    start,
    write,
)

COMMANDS = {
    "report": ["report"],
    "report-json": ["report", "--json", "-"],
    "runs": ["runs"],
    "runs-json": ["runs", "--json"],
    "export": ["export", "-f", "otlp"],
}


@dataclass
class BadInput:
    lines: list[bytes | dict[str, Any]]
    skipped: int  # damaged lines every command counts
    runs: int  # runs `runs --json` still lists
    first: str  # what the skipped line names


def _sound(*extra: bytes | dict[str, Any]) -> list[bytes | dict[str, Any]]:
    return [start("a", 0), start("b", 10), *extra, end("b", 90), end("a", 100)]


def nested_too_deep() -> BadInput:
    deep = b"[" * 1000 + b"]" * 1000
    line = orjson.dumps(start("z", 20)).replace(b'["/app/main.py:10 in main"]', deep)
    assert len(line) > 2000
    return BadInput(_sound(line, deep), skipped=2, runs=2, first="recursion")


def _with_int(record: dict[str, Any], key: str, value: int) -> bytes:
    """`record` as a line whose `key` holds `value` (orjson refuses to write such integers)."""
    return orjson.dumps({**record, key: "<int>"}).replace(b'"<int>"', str(value).encode())


def integers_wider_than_64_bits() -> BadInput:
    return BadInput(
        _sound(
            _with_int(start("w", 20), "start_ns", 2**70),
            _with_int(start("p", 20), "process.pid", 2**64),
            start("x", 20),
            _with_int(end("x", 30), "end_ns", -(2**65)),
        ),
        skipped=3, runs=3, first="9223372036854775806",
    )


def invalid_utf8() -> BadInput:
    line = orjson.dumps(start("u", 20)).replace(b'"agent"', b'"ag\xff\xfeent"')
    return BadInput(_sound(line, end("u", 30)), skipped=1, runs=3, first="run u: invalid UTF-8")


def wrong_typed_details() -> BadInput:
    return BadInput(
        _sound(start("t", 20, **{"racetrace.instance.label": 123,
                                 "racetrace.stack": "not a list"}), end("t", 30)),
        skipped=1, runs=3, first="run t: details unreadable",
    )


def end_before_start() -> BadInput:
    return BadInput(_sound(start("e", 50), end("e", 40)), skipped=1, runs=3,
                    first="end of run e before its start")


def terminal_escapes() -> BadInput:
    evil = "\x1b]0;pwned\x07\x1b[2J"
    return BadInput(_sound(end(evil, 30)), skipped=1, runs=2, first="\\x1b]0;pwned\\x07")


GENERATORS: dict[str, Callable[[], BadInput]] = {
    "nested-1000-deep": nested_too_deep,
    "ints-over-64-bits": integers_wider_than_64_bits,
    "invalid-utf8": invalid_utf8,
    "wrong-typed-details": wrong_typed_details,
    "end-before-start": end_before_start,
    "terminal-escapes": terminal_escapes,
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(GENERATORS))
def test_damaged_lines_are_skipped_and_counted(tmp_path: Path, kind: str, command: str) -> None:
    bad = GENERATORS[kind]()
    trace = write(tmp_path / "trace.jsonl", bad.lines)
    done = racetrace(*COMMANDS[command], str(trace), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, first = skipped_count(done.stderr)
    assert count == bad.skipped
    assert bad.first.lower() in first.lower()
    if command == "runs-json":
        runs = json.loads(done.stdout)
        assert len(runs) == bad.runs
        assert all(r["duration_ns"] is None or r["duration_ns"] >= 0 for r in runs)
    if command == "report-json":
        assert json.loads(done.stdout)["summary"]["runs"] == bad.runs


def test_a_run_with_unreadable_details_keeps_its_times(tmp_path: Path) -> None:
    trace = write(tmp_path / "trace.jsonl", invalid_utf8().lines)
    done = racetrace("runs", "--json", str(trace))
    run = next(r for r in json.loads(done.stdout) if r["run_id"] == "u")
    assert run["duration_ns"] == 10_000_000
    assert run["instance_class"] == ""  # blank, and counted: never silently


def test_an_end_before_its_start_leaves_the_run_unfinished(tmp_path: Path) -> None:
    trace = write(tmp_path / "trace.jsonl", end_before_start().lines)
    done = racetrace("runs", "--json", str(trace))
    run = next(r for r in json.loads(done.stdout) if r["run_id"] == "e")
    assert run["status"] == "unfinished"
    assert run["duration_ns"] is None


def _opened_by(pid: int, path: Path, stop: threading.Event) -> bool:
    """Wait until process `pid` has `path` open or mapped (Linux's /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    maps = Path(f"/proc/{pid}/maps")
    while not stop.is_set():
        try:
            if any(os.readlink(fds / fd) == str(path) for fd in os.listdir(fds)):
                return True
            if str(path) in maps.read_text():
                return True
        except OSError:
            pass
    return False


def _shrink(pid: int, path: Path, size: int, stop: threading.Event) -> None:
    """Cut `path` shorter and shorter (mid-line, mostly) once `pid` reads it."""
    if not _opened_by(pid, path, stop):
        return
    cut = size
    while cut > 1000 and not stop.is_set():
        cut = cut * 7 // 8 - 7
        os.truncate(path, cut)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_file_truncated_while_it_is_read_is_never_a_signal(tmp_path: Path) -> None:
    """`report` reads the file while this test cuts it shorter and shorter: whatever it saw,
    it exits 0 or 2 with at most one `racetrace:` line (a mapped file died of SIGBUS)."""
    lines: list[bytes | dict[str, Any]] = []
    for n in range(40_000):
        lines += [start(f"r{n}", n, key=f"obj/{n % 50}", **{"racetrace.stack": ["x" * 400]}),
                  end(f"r{n}", n + 0.5)]
    trace = write(tmp_path / "big.jsonl", lines)
    whole = trace.read_bytes()
    for _ in range(2):
        trace.write_bytes(whole)
        child = subprocess.Popen(
            [sys.executable, "-m", "racetrace", "report", "-j", "1", str(trace)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        stop = threading.Event()
        shrinker = threading.Thread(target=_shrink, args=(child.pid, trace, len(whole), stop))
        shrinker.start()
        try:
            _, stderr = child.communicate(timeout=300)
        finally:
            stop.set()
            shrinker.join()
        assert child.returncode in (0, 2), (child.returncode, stderr)
        assert "Traceback" not in stderr
        assert len([line for line in stderr.splitlines() if line.strip()]) <= 1, stderr


def test_blocks_of_a_file_that_shrinks_between_reads_end_early(tmp_path: Path) -> None:
    from racetrace.analyzers.core.blocks import BLOCK_BYTES, Blocks

    line = b'{"type":"end","run_id":"r","end_ns":1}\n'
    path = tmp_path / "t.jsonl"
    path.write_bytes(line * (3 * BLOCK_BYTES // len(line)))
    seen = []
    with open(path, "rb", buffering=0) as handle:
        for base, data, size, final in Blocks(handle):
            seen.append((base, size, final, bytes(data[:size]).count(b"\n")))
            if len(seen) == 1:
                os.truncate(path, BLOCK_BYTES + BLOCK_BYTES // 2 + 5)  # mid-line
    assert seen[-1][2] is True
    assert sum(size for _, size, _, _ in seen) == BLOCK_BYTES + BLOCK_BYTES // 2 + 5
    assert all(not final for _, _, final, _ in seen[:-1])


def test_report_names_a_truncated_last_line_past_the_first_block(tmp_path: Path) -> None:
    lines: list[bytes | dict[str, Any]] = []
    for n in range(12_000):  # about 10 MB: the file is read in several blocks
        lines += [start(f"r{n}", n, **{"racetrace.stack": ["x" * 400]}), end(f"r{n}", n + 0.5)]
    trace = write(tmp_path / "trace.jsonl", lines)
    trace.write_bytes(trace.read_bytes()[:-9])
    done = racetrace("report", str(trace))
    assert done.returncode == 0
    count, first = skipped_count(done.stderr)
    assert count == 1 and first.endswith("trace.jsonl:24001: skipped: Input data was truncated")


def test_run_with_a_bad_target_exits_2_before_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    program = f"open({str(marker)!r}, 'w').close()"
    done = racetrace("run", "-d", str(tmp_path / "t"), "--target", "bad target", "--",
                     sys.executable, "-c", program, env=clean_env())
    assert done.returncode == 2
    assert "bad target 'bad target'" in one_racetrace_line(done.stderr)
    assert not marker.exists()
    done = racetrace("run", "-d", str(tmp_path / "t"), "--", sys.executable, "-c", program,
                     env=clean_env(RACETRACE_TARGETS="ok.module:Agent.run,json:"))
    assert done.returncode == 2
    assert "'json:'" in one_racetrace_line(done.stderr)
    assert not marker.exists()


def _trace(tmp_path: Path, program: str, *args: str, **env: str
           ) -> tuple[subprocess.CompletedProcess[str], Path]:
    directory = tmp_path / "traces"
    script = tmp_path / "app.py"
    script.write_text(program)
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=300,
        cwd=tmp_path, env=clean_env(RACETRACE="1", RACETRACE_DIR=str(directory), **env))
    assert done.returncode == 0, done.stderr
    return done, directory


def _headers(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for f in sorted(directory.rglob("*.jsonl"))
            for line in f.read_bytes().splitlines() if b'"type":"header"' in line]


def test_targets_that_never_resolved_are_named_everywhere(tmp_path: Path) -> None:
    """A module typo, a method typo and a bad spec, in a program that records no run: its
    file still has a header naming them, and report and RACETRACE_VERBOSE name them too."""
    targets = "jsn:loads,json:lods,not a target"
    done, directory = _trace(tmp_path, "import json\njson.loads('1')\n",
                             RACETRACE_TARGETS=targets, RACETRACE_VERBOSE="1")
    assert "target jsn:loads never resolved" in done.stderr
    assert "no module 'jsn' was imported" in done.stderr
    unresolved = {t["target"]: t["reason"] for t in _headers(directory)[-1]["unresolved_targets"]}
    assert set(unresolved) == {"jsn:loads", "json:lods", "not a target"}
    assert "never imported" in unresolved["jsn:loads"]
    assert "no attribute 'lods'" in unresolved["json:lods"]

    report = racetrace("report", str(directory))
    assert report.returncode == 0, report.stderr
    assert "NOT TRACED: target jsn:loads: module jsn was never imported" in report.stdout
    assert "NOT TRACED: target json:lods" in report.stdout
    as_json = json.loads(racetrace("report", "--json", "-", str(directory)).stdout)
    assert {t["target"] for t in as_json["unresolved_targets"]} == set(unresolved)


def test_a_target_resolved_in_another_process_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "worker_mod.py").write_text(
        "class Agent:\n    def run(self):\n        return 1\n")
    program = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'import worker_mod; worker_mod.Agent().run()'],"
        " check=True)\n"
    )
    _, directory = _trace(tmp_path, program, RACETRACE_TARGETS="worker_mod:Agent.run",
                          PYTHONPATH=str(tmp_path))
    headers = _headers(directory)
    assert any(h.get("unresolved_targets") for h in headers)  # the parent never imported it
    report = racetrace("report", "--json", "-", str(directory))
    data = json.loads(report.stdout)
    assert data["unresolved_targets"] == []
    assert data["summary"]["runs"] == 1


def test_the_plugin_summary_names_targets_that_never_resolved(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text("import json\n\ndef test_it():\n    json.dumps(1)\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--racetrace",
         "--racetrace-target", "jsn:loads", "--racetrace-target", "json:dumpz",
         "test_sample.py"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "racetrace: target jsn:loads not traced: module jsn was never imported" in done.stdout
    assert "racetrace: target json:dumpz not traced" in done.stdout


def test_runs_cuts_a_huge_label_for_display(tmp_path: Path) -> None:
    label = "L" * 5_000_000
    trace = write(tmp_path / "trace.jsonl",
                  [start("a", 0, **{"racetrace.instance.label": label}), end("a", 5)])
    done = racetrace("runs", str(trace), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) < 10_000
    assert "L" * 40 in done.stdout


def test_argv_values_that_look_secret_are_redacted(tmp_path: Path) -> None:
    args = ("--api-key=SECRET1", "--token", "SECRET2", "--db-password=SECRET3", "-v", "plain")
    program = "import json\njson.loads('1')\n"
    _, directory = _trace(tmp_path, program, *args, RACETRACE_TARGETS="json:loads")
    argv = _headers(directory)[0]["argv"]
    assert "SECRET" not in " ".join(argv)
    assert argv[1:] == ["--api-key=<redacted>", "--token", "<redacted>",
                        "--db-password=<redacted>", "-v", "plain"]
    (tmp_path / "opt-in").mkdir()
    _, directory = _trace(tmp_path / "opt-in", program, *args, RACETRACE_TARGETS="json:loads",
                          RACETRACE_CAPTURE_ARGS="1")
    assert _headers(directory)[0]["argv"][1:] == list(args)


@pytest.mark.parametrize("command", ["report-json", "export-chrome", "export-otlp"])
def test_files_written_from_traces_are_private(tmp_path: Path, command: str) -> None:
    trace = write(tmp_path / "trace.jsonl", _sound())
    out = tmp_path / "out.json"
    out.write_bytes(b"old")
    os.chmod(out, 0o644)  # an existing file does not keep a wider mode either
    args = {"report-json": ["report", "--json", str(out)],
            "export-chrome": ["export", "-f", "chrome", "-o", str(out)],
            "export-otlp": ["export", "-f", "otlp", "-o", str(out)]}[command]
    fresh = tmp_path / "fresh.json"
    old = os.umask(0o022)  # what most users have: files 0644 unless written otherwise
    try:
        done = racetrace(*args, str(trace))
        racetrace(*[a if a != str(out) else str(fresh) for a in args], str(trace))
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() != b"old"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_the_tuis_export_is_private(tmp_path: Path) -> None:
    import asyncio

    from racetrace.tui.app import RacetraceApp
    from racetrace.tui.screens import ExportScreen

    trace = write(tmp_path / "trace.jsonl", _sound())
    target = tmp_path / "report.json"

    async def export() -> None:
        app = RacetraceApp([str(trace)], source="faults")
        async with app.run_test(size=(140, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("e")
            assert isinstance(app.screen, ExportScreen)
            app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause()

    old = os.umask(0o022)
    try:
        asyncio.run(export())
    finally:
        os.umask(old)
    assert json.loads(target.read_text())["schema"] == "racetrace.report/1"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
