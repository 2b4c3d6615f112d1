"""A differential fuzzer of the C scanner (`analyzers/core/_scan.c`): trace files made of the
tracer's own lines, mutated byte-wise, field-wise and line-wise, loaded with the scanner and
without it (`RACETRACE_PURE_PYTHON=1`) at random stretch and block sizes; any difference in the
table, or in an error raised, is a finding. `test_scan.py` runs a bounded number of cases; run
it for longer by hand (`python -X dev tests/analyzers/scanfuzz.py --seconds 300 LINES...`,
where LINES are trace files whose lines seed it: the tracer's own output).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from racetrace.analyzers.core import lines, scan
from racetrace.analyzers.core.load import trace_files
from racetrace.analyzers.core.model import Run
from racetrace.analyzers.core.table import Table
from racetrace.analyzers.core.tableload import load_table

VIEW_FIELDS = [f for f in Run.__struct_fields__ if f != "details"]
INT64_MAX = 2**63 - 1

# Values a field is set to: each kind msgspec reads differently, and the edges of int64.
VALUES: list[Any] = [None, "", 0, 1, -1, True, False, 1.5, "x", "é", 'a"b', "a\\b", "\t",
                     [], {}, [[[]]], {"a": [1, None]}, "ok", "error", "cancelled",
                     "0000000000000000", "00000000000000A1", "0000000000000a1",
                     INT64_MAX, -(2**63), INT64_MAX - 1, 2**62]
# Tokens put in as they are (orjson cannot write some of them).
RAW: list[bytes] = [b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
                    b"-9223372036854775809", b"9223372036854775806", b"18446744073709551615",
                    b"18446744073709551616", b"-0", b"00", b"01", b"1e3", b"1.0", b"-", b"0",
                    b"true", b"false", b"null", b"nul", b"1E2", b'"\\u0041"', b'"\\n"',
                    b'"\xc3\xa9"', b'"\xff"', b"[1,]", b"{}", b'{"a":1,"a":2}',
                    b"[" * 20 + b"]" * 20, b"[" * 15 + b"]" * 15]
BYTES = [b"", b"\\", b"\\u00e9", "é".encode(), b"\xff", b"\x00", b" ", b"\t", b"1.5",
         b"99999999999999999999", b"0", b"-", b"{", b"}", b"[", b"]", b'"', b",", b":",
         b"null", b"\n", b"\r", b"\x7f", b"\x1f"]
EXTRA_KEYS = ["end_ns", "racetrace.end.status", "name", "racetrace.instance.key", "x",
              "racetrace:loader.end_ns", "type", "run_id", "racetrace.resource.key",
              "racetrace.parent_run", "racetrace.task.created_by_run", "racetrace.fan_out_of",
              "gen_ai.agent.name", "racetrace.stateful", "error.type", "host.name"]


@contextlib.contextmanager
def pure() -> Iterator[None]:
    """Loads in this block take msgspec's path only."""
    before = os.environ.get(scan.ENV_PURE)
    os.environ[scan.ENV_PURE] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[scan.ENV_PURE]
        else:
            os.environ[scan.ENV_PURE] = before


def state(table: Table) -> dict[str, Any]:
    """Everything a load leaves in a table, comparable with ==."""
    cols = {name: (col.values.dtype.str, col.values.tolist()) for name, col in table.cols.items()}
    rows = list(range(len(table)))
    views = [[getattr(v, f) for f in VIEW_FIELDS] for v in table.views_of(rows[:50] + rows[-50:])]
    return {
        "cols": cols, "views": views,
        "strings": [t.strings for t in (table.instances, table.resources, table.methods,
                                        table.hosts, table.files_, table.processes_,
                                        table.statuses, table.reasons)],
        "origins": table.origins, "problems": table.problems, "skipped": table.skipped_lines,
        "processes": table.processes, "notable": table.notable, "on_loop": table.on_loop,
        "linked": table.linked, "errors": table.errors, "parents": table.parents,
        "creators": table.creators, "fan_outs": table.fan_outs, "aliens": table.alien_ids,
        "dropped": table.dropped, "details": table.details, "files": table.files,
        "last_ns": table.process_last_ns, "unmatched": table.unmatched_ends,
    }


def outcome(paths: list[Path], block_bytes: int | None) -> Any:
    """The table's state, or the error the load raised."""
    try:
        return state(load_table(trace_files(paths), block_bytes=block_bytes))
    except Exception as exc:  # the same error either way is what counts
        return ("raised", type(exc).__name__, str(exc))


def _set_raw(record: dict[str, Any], key: str, token: bytes) -> bytes:
    record[key] = "@@raw@@"
    return orjson.dumps(record).replace(b'"@@raw@@"', token, 1)


def mutate_fields(rng: random.Random, text: bytes, ids: list[str]) -> bytes:
    """One field-wise change of a line (that is a JSON object)."""
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if not isinstance(record, dict) or not record:
        return text
    keys = list(record)
    key = rng.choice(keys)
    how = rng.randrange(11)
    if how == 0:
        record[key] = rng.choice(VALUES)
    elif how == 1:
        return _set_raw(record, key, rng.choice(RAW))
    elif how == 2:
        del record[key]
    elif how == 3:
        record[rng.choice(EXTRA_KEYS)] = rng.choice(VALUES + ids[:3])
    elif how == 4:  # a key twice
        value = orjson.dumps(rng.choice(VALUES))
        return b'{"' + key.encode() + b'":' + value + b"," + orjson.dumps(record)[1:]
    elif how == 5:  # "type" last, or another order
        items = list(record.items())
        rng.shuffle(items)
        record = dict(items)
    elif how == 6:
        record["type"] = rng.choice(["start", "end", "header", "other", "START"])
    elif how == 7 and ids:  # another run's id: repeats, orphans, links
        record[rng.choice(["run_id", "racetrace.parent_run", "racetrace.task.created_by_run",
                           "racetrace.fan_out_of"])] = rng.choice(ids)
    elif how == 8:  # times: an END before its START, the edges
        for name in ("start_ns", "end_ns"):
            if name in record and isinstance(record[name], int):
                record[name] += rng.choice([-10**9, -1, 1, 10**9])
                record[name] = max(-(2**63), min(INT64_MAX, record[name]))
    elif how == 9:  # an empty string where the tracer never writes one
        record[rng.choice(["racetrace.instance.key", "racetrace.resource.key", "host.name",
                           "racetrace.task.id", "name", "code.file.path",
                           "racetrace.end.status", "racetrace.end.reason",
                           "racetrace.parent_run", "racetrace.fan_out_of", "error.type"])] = ""
    else:  # booleans as numbers, null where a value is needed
        for name in ("racetrace.outlives_call", "racetrace.loop.running", "racetrace.stateful",
                     "process.pid", "thread.id", "code.line.number", "host.name"):
            if rng.random() < 0.3:
                record[name] = rng.choice([0, 1, None, True, False])
    try:
        return orjson.dumps(record)
    except TypeError:
        return text


def mutate_bytes(rng: random.Random, text: bytes) -> bytes:
    """One byte-wise change of a line."""
    at = rng.randrange(len(text) + 1)
    how = rng.randrange(4)
    if how == 0:
        return text[:at] + rng.choice(BYTES) + text[at:]
    if how == 1:
        return text[:at] + text[at + rng.randint(1, 8):]
    if how == 2:
        return text[:at] + bytes([rng.randrange(256)]) + text[at + 1:]
    return text[:at]


def make_trace(rng: random.Random, corpus: list[list[bytes]]) -> list[list[bytes]]:
    """1 to 3 files of lines: windows of the corpus's files, some lines changed."""
    files = []
    for _ in range(rng.randint(1, 3)):
        source = rng.choice(corpus)
        lo = rng.randrange(len(source))
        window = list(source[lo:lo + rng.randint(1, 120)])
        if rng.random() < 0.5 and source[0].startswith(b'{"type":"header"'):
            window.insert(0, source[0])
        ids = [orjson.loads(t).get("run_id") for t in window
               if t.startswith(b'{"type":"') and b'"run_id":"' in t[:60]]
        ids = [i for i in ids if isinstance(i, str)] or ["00000000000000a1"]
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 6])):
            i = rng.randrange(len(window))
            roll = rng.random()
            if roll < 0.45:
                window[i] = mutate_fields(rng, window[i], ids)
            elif roll < 0.8:
                window[i] = mutate_bytes(rng, window[i])
            elif roll < 0.88:
                window.insert(rng.randrange(len(window) + 1), window[i])  # a line twice
            elif roll < 0.94:
                j = rng.randrange(len(window))
                window[i], window[j] = window[j], window[i]
            else:
                window.insert(i, rng.choice([b"", b" ", b"\r"]))
        files.append(window)
    if rng.random() < 0.15 and files:  # a copied file
        files.append(list(files[0]))
    return files


def run_case(rng: random.Random, corpus: list[list[bytes]], folder: Path) -> str | None:
    """One random case: None where both loads agree, else what differs (and the case is left
    in `folder`)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    paths = []
    for n, window in enumerate(make_trace(rng, corpus)):
        path = folder / f"f{n}.jsonl"
        end = rng.choice([b"\n", b"\n", b"\n", b"", b"\r\n"])
        path.write_bytes(b"\n".join(window) + end)
        paths.append(path)
    chunk = rng.choice([64, 200, 300, 700, 1500, 4000, 65536])
    block = rng.choice([None, 1, 100, 1000, 3000, 20000])
    before = lines.CHUNK_BYTES
    lines.CHUNK_BYTES = chunk
    try:
        scanned = outcome(paths, block)
        with pure():
            plain = outcome(paths, block)
    finally:
        lines.CHUNK_BYTES = before
    if scanned == plain:
        return None
    (folder / "case.txt").write_text(f"CHUNK_BYTES={chunk} block_bytes={block}\n")
    if isinstance(scanned, dict) and isinstance(plain, dict):
        return "differ in " + ", ".join(k for k in scanned if scanned[k] != plain[k])
    return f"scanned {str(scanned)[:300]} / pure {str(plain)[:300]}"


def api_case(rng: random.Random, corpus: list[list[bytes]]) -> None:
    """The scanner's methods called straight on a random stretch: exact-size buffers of each
    kind, bounds at and past the end, take and flush in and out of turn. Only a crash or a
    sanitizer's report is a finding here (the loads compare the values)."""
    table = Table()
    scanner = scan.scanner_for(table)
    for window in make_trace(rng, corpus):
        data = b"\n".join(window) + b"\n"
        kind = rng.randrange(3)
        buffer: Any = data if kind == 0 else bytearray(data) if kind == 1 else memoryview(data)
        size = len(data)
        lo = rng.choice([0, 0, rng.randint(0, size), size, size + 1, -1])
        hi = rng.choice([size, size, rng.randint(0, size), size + 1, lo, lo - 1])
        try:
            got = scanner.parse(buffer, lo, hi)
        except ValueError:
            continue
        if got is not None and rng.random() < 0.8:
            other = buffer if rng.random() < 0.9 else bytes(data)
            with contextlib.suppress(ValueError):
                scanner.take(other, rng.randint(-1, 3))
        if rng.random() < 0.5:
            scanner.flush()
    scanner.flush()


def read_corpus(paths: list[Path], limit: int = 4000) -> list[list[bytes]]:
    """The lines of trace files (at most `limit` of each), read only."""
    corpus = []
    for path in paths:
        with open(path, "rb") as handle:
            got = [line.rstrip(b"\n") for _, line in zip(range(limit), handle, strict=False)]
        if got:
            corpus.append(got)
    return corpus


def fuzz(corpus: list[list[bytes]], *, cases: int | None = None, seconds: float | None = None,
         seed: int = 0, on_case: Callable[[int], None] | None = None,
         folder: Path | None = None) -> list[tuple[int, str, Path]]:
    """Random cases (`cases` of them, or for `seconds`): the findings, each kept in a folder."""
    findings = []
    root = folder or Path(tempfile.mkdtemp(prefix="scanfuzz-"))
    stop = time.monotonic() + seconds if seconds is not None else None
    n = 0
    while (cases is None or n < cases) and (stop is None or time.monotonic() < stop):
        rng = random.Random(seed * 1_000_003 + n)
        if n % 4 == 3:
            api_case(random.Random(seed * 1_000_003 + n), corpus)
        where = root / f"case{n}"
        diff = run_case(rng, corpus, where)
        if diff is not None:
            findings.append((n, diff, where))
            kept = root / f"finding{n}"
            shutil.rmtree(kept, ignore_errors=True)
            where.rename(kept)
            findings[-1] = (n, diff, kept)
        if on_case is not None:
            on_case(n)
        n += 1
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lines", nargs="+", type=Path)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not scan.available():
        print("the C scanner is not built here, or is turned off", file=sys.stderr)
        return 2
    files = [p for arg in args.lines for p in (sorted(arg.rglob("*.jsonl")) if arg.is_dir()
                                               else [arg])]
    corpus = read_corpus(files)
    count = [0]
    found = fuzz(corpus, seconds=args.seconds, seed=args.seed, folder=args.out,
                 on_case=lambda n: count.__setitem__(0, n + 1))
    for n, diff, where in found:
        print(f"case {n}: {diff} ({where})")
    print(f"{count[0]} cases, {len(found)} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
