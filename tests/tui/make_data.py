"""Write the fixed trace files under tests/tui/data/ (run once; the files are checked in).

Fixed timestamps, keys, pids and hosts, so that the screen is the same on every machine:
    python tests/tui/make_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"
T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MS = 1_000_000


def header(pid: int, host: str, argv: list[str]) -> dict:
    return {
        "type": "header", "format": "racetrace.trace/1", "pid": pid, "ppid": 1, "host": host,
        "service": "shop", "argv": argv, "python": "3.11.7", "racetrace": "0.1.0",
        "wall_ns": T0 - 5 * MS, "monotonic_ns": 1,
    }


def start(run_id: str, at_ms: float, key: str, cls: str, label: str | None, *, pid: int,
          host: str, task: str, method: str | None = None, parent: str | None = None,
          resource: str | None = None, line: int = 10, created_by: str | None = None) -> dict:
    record = {
        "type": "start", "run_id": run_id, "trace_id": f"{run_id:0>32}", "parent_span_id": None,
        "name": method or f"{cls}.run", "start_ns": T0 + int(at_ms * MS),
        "racetrace.instance.key": key, "racetrace.instance.class": cls,
        "racetrace.instance.id": 140000000000000 + int(key.rsplit("/", 1)[-1]),
        "process.pid": pid, "host.name": host,
        "thread.id": 1000, "thread.name": "MainThread",
        "racetrace.task.name": task, "racetrace.task.id": f"{host}/{pid}/t{task}",
        "racetrace.task.created_at": f"/srv/shop/app.py:{line}",
        "code.function.name": "handle", "code.file.path": "/srv/shop/app.py",
        "code.line.number": line,
        "racetrace.stack": [f"/srv/shop/app.py:{line} in handle", "/srv/shop/app.py:40 in main"],
    }
    if label is not None:
        record["racetrace.instance.label"] = label
    if parent is not None:
        record["parent_span_id"] = parent
        record["racetrace.parent_run"] = parent
    if resource is not None:
        record["racetrace.resource.key"] = resource
    if created_by is not None:
        record["racetrace.task.created_by_run"] = created_by
    return record


def end(
    run_id: str, at_ms: float, status: str = "ok", error: tuple[str, str] | None = None
) -> dict:
    record = {"type": "end", "run_id": run_id, "end_ns": T0 + int(at_ms * MS),
              "racetrace.end.status": status,
              "racetrace.end.reason": {"ok": "returned", "error": "raised",
                                       "cancelled": "cancelled"}[status]}
    if error is not None:
        record["error.type"], record["exception.message"] = error
    return record


def write(path: Path, records: list[dict], extra: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)
    path.write_bytes(lines + extra)


def shop() -> None:
    """Two processes: every kind of overlap, failed, cancelled and open runs, hostile text."""
    a, b = "host-a", "host-b"
    agent, planner, digest = "host-a/100/1", "host-a/100/2", "host-a/100/3"
    worker, evil = "host-a/100/4", "host-a/100/5"
    records = [header(100, a, ["app.py"])]
    ends = []
    # Three tasks gathered over one agent: concurrent.
    for i, (s, e) in enumerate([(0, 90), (5, 60), (10, 120)]):
        records.append(start(f"a{i}", s, agent, "shop.agents.Agent", "assistant", pid=100,
                             host=a, task=f"Task-{i + 2}", line=17))
        ends.append((e, end(f"a{i}", e)))
    # A callback re-enters the planner: reentrant.
    records.append(start("p0", 150, planner, "shop.agents.Agent", "planner", pid=100, host=a,
                         task="Task-1", line=25))
    records.append(start("p1", 190, planner, "shop.agents.Agent", "planner", pid=100, host=a,
                         task="Task-1", parent="p0", line=31))
    ends += [(260, end("p1", 260)), (300, end("p0", 300))]
    # A timer whose ticks outlast the period: periodic (one task creates a task per tick).
    for i in range(5):
        s = 320 + 60 * i
        records.append(start(f"d{i}", s, digest, "shop.jobs.Digest", "digest", pid=100, host=a,
                             task=f"tick-{i}", line=50))
        records[-1]["racetrace.task.created_ns"] = T0 + int((s - 0.05) * MS)
        records[-1]["racetrace.task.created_by_task"] = f"{a}/100/task-timer"
        ends.append((s + 85, end(f"d{i}", s + 85)))
    # Sequential runs: one fails, one is cancelled, the last never ends.
    for i, (s, e, status) in enumerate([(20, 70, "ok"), (80, 140, "error"), (160, 200, "cancelled"),
                                        (420, None, None)]):
        records.append(start(f"w{i}", s, worker, "shop.agents.Agent", "worker", pid=100, host=a,
                             task=f"req-{i}", resource="session-7", line=60))
        if e is not None:
            error = None
            if status == "error":
                error = ("ValueError", "boom: [bold]not markup[/bold]\nsecond line")
            ends.append((e, end(f"w{i}", e, status, error)))
    # Hostile text: markup and an escape sequence in a label and a method name.
    records.append(start("x0", 30, evil, "shop.tools.[link=http://evil]Tool[/link]",
                         "[bold red]evil[/] \x1b[31mlabel\x07", pid=100, host=a, task="Task-9",
                         method="shop.tools.Tool.[b]run[/b]\x1b[2J", line=70))
    ends.append((55, end("x0", 55)))
    records += [record for _, record in sorted(ends, key=lambda item: item[0])]
    write(DATA / "shop" / "host-a.100.jsonl", records)

    # Another process drives the same session: cross-process on the resource key.
    other = [header(200, b, ["worker.py"])]
    other.append(start("r0", 100, "host-b/200/1", "shop.agents.Agent", "worker", pid=200, host=b,
                       task="Task-1", resource="session-7", line=12))
    other.append(end("r0", 150))
    write(DATA / "shop" / "host-b.200.jsonl", other)


def small_cases() -> None:
    write(DATA / "no_runs" / "host-a.1.jsonl", [header(1, "host-a", ["idle.py"])])
    write(DATA / "unfinished" / "host-a.2.jsonl", [
        header(2, "host-a", ["hang.py"]),
        start("u0", 0, "host-a/2/1", "shop.agents.Agent", "stuck", pid=2, host="host-a",
              task="Task-1"),
        start("u1", 40, "host-a/2/1", "shop.agents.Agent", "stuck", pid=2, host="host-a",
              task="Task-2"),
        {"type": "start", "run_id": "u9", "name": "shop.Clock.tick", "start_ns": T0 + 90 * MS,
         "racetrace.instance.key": "host-a/2/2", "racetrace.instance.class": "shop.Clock",
         "process.pid": 2, "host.name": "host-a"},
    ])
    (DATA / "corrupt.jsonl").write_bytes(b"\x00\x01 this is not a trace\n{{{\n")
    write(DATA / "damaged" / "host-a.3.jsonl", [
        header(3, "host-a", ["app.py"]),
        start("k0", 0, "host-a/3/1", "shop.agents.Agent", "ok", pid=3, host="host-a",
              task="Task-1"),
        end("k0", 30),
    ], extra=b'{"type": "start", "run_id": "trunc')


if __name__ == "__main__":
    shop()
    small_cases()
