"""The session's JSON report counts and names a run whose details do not decode, as it did
when it loaded every run's details (`load`)."""

from __future__ import annotations

from pathlib import Path

import orjson
from racetrace.analyzers.core.load import load
from racetrace.analyzers.findings.analyze import analyze

from racetrace.pytest_plugin.summary import write_report

SHOP = Path(__file__).parent.parent / "tui" / "data" / "shop" / "host-a.100.jsonl"


def test_the_session_report_names_runs_whose_details_do_not_decode(tmp_path: Path) -> None:
    lines = SHOP.read_bytes().splitlines()
    at = next(n for n, line in enumerate(lines) if b'"type": "start"' in line)
    lines[at] = lines[at].replace(b'"racetrace.instance.label": "assistant"',
                                  b'"racetrace.instance.label": 123')
    traces = tmp_path / "traces"
    traces.mkdir()
    path = traces / SHOP.name
    path.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "report.json"
    write_report([str(traces)], str(target), suppressions=None)
    written = orjson.loads(target.read_bytes())
    assert written["summary"]["skipped_lines"] == 1
    (problem,) = written["problems"]
    assert problem.startswith(f"{path}:{at + 1}: run ") and "details unreadable" in problem
    expected = orjson.dumps(analyze(load([str(traces)])).to_json(), option=orjson.OPT_INDENT_2)
    assert target.read_bytes() == expected + b"\n"
