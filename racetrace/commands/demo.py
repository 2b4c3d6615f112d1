"""`racetrace demo`: run a bundled sample under the tracer, print its findings, open the timeline.

The samples live in `samples/` beside the package sources: found from a repository checkout
and from `pip install -e .` alike (both import `racetrace` from the checkout), and after a
plain `pip install .` when run from inside the clone (wheels do not ship them). The sample runs
in a child process started with `sys.executable`, traced exactly as `racetrace run` would
trace it, into a temporary directory that is removed afterwards (unless `--keep`).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from racetrace.cli import UsageError

DEFAULT_SAMPLE = "shared_gather"
SAMPLE_TIMEOUT_S = 120


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="trace a bundled sample and open its timeline",
        description=(
            "Run one of the bundled samples (a miniature agent framework misused in a typical "
            "way) under the tracer in a temporary directory, print what the analysis found, "
            "and open the timeline. Without a terminal, print the text report instead."
        ),
        epilog="samples: shared_gather, reentrant_callback, periodic_overlap, "
        "singleton_requests (each with a *_fixed twin), the framework samples in samples/ "
        "(they need the framework installed), or all",
    )
    parser.add_argument(
        "--sample", "-s", default=DEFAULT_SAMPLE, metavar="NAME",
        help=f"which sample to run (default: {DEFAULT_SAMPLE}; 'all' runs every sample built "
        "on the bundled agentlib together)",
    )
    parser.add_argument(
        "--keep", metavar="DIR", default=None,
        help="write the trace files to DIR and keep them (default: a temporary directory)",
    )
    parser.add_argument(
        "--no-tui", action="store_true", help="print the text report even on a terminal"
    )
    parser.set_defaults(handler=run)


def samples_dir() -> Path | None:
    """The bundled samples: the `racetrace.samples` package (the repository's `samples/`,
    shipped in the wheel), else a `samples/` folder in or above the current directory."""
    import importlib.util

    candidates = []
    spec = importlib.util.find_spec("racetrace.samples")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).resolve().parent)
    here = Path.cwd().resolve()
    candidates += [folder / "samples" for folder in (here, *list(here.parents)[:2])]
    override = os.environ.get("RACETRACE_SAMPLES")
    if override:
        candidates.insert(0, Path(override))
    for candidate in candidates:
        if (candidate / "agentlib.py").is_file():
            return candidate
    return None


def sample_names(directory: Path) -> list[str]:
    return sorted(
        p.stem
        for p in directory.glob("*.py")
        if p.stem != "agentlib" and not p.stem.startswith("_")
    )


def builtin_overlap_samples(directory: Path) -> list[str]:
    """The samples built on the bundled `agentlib` (no framework to install), bugs not fixes."""
    return [
        name
        for name in sample_names(directory)
        if not name.endswith("_fixed")
        and "agentlib" in (directory / f"{name}.py").read_text(encoding="utf-8")
    ]


def targets_of(directory: Path) -> list[str]:
    """`agentlib.TARGETS`, read without importing the module (it is the user's kind of code)."""
    source = (directory / "agentlib.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "TARGETS" for t in node.targets
        ):
            return [str(t) for t in ast.literal_eval(node.value)]
    raise UsageError(f"demo: {directory / 'agentlib.py'} has no TARGETS")


def run(args: argparse.Namespace) -> int:
    directory = samples_dir()
    if directory is None:
        raise UsageError(
            "demo: the bundled samples were not found; they come with a source checkout "
            "(git clone the repository, pip install -e . there, then run racetrace demo)"
        )
    names = sample_names(directory)
    chosen = builtin_overlap_samples(directory) if args.sample == "all" else [args.sample]
    for name in chosen:
        if name not in names:
            raise UsageError(
                f"demo: no sample named {name!r}; choose one of {', '.join(names)}, or all"
            )
    for name in chosen:
        _check_framework(name)
    targets = targets_of(directory)
    if args.keep:
        out = Path(args.keep)
        out.mkdir(parents=True, exist_ok=True)
        cleanup = None
    else:
        out = Path(tempfile.mkdtemp(prefix="racetrace-demo-"))
        cleanup = out
    try:
        _run_samples(directory, chosen, targets, out)
        return _show(out, chosen, args)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


# Framework samples, by name prefix: the module they need and the extra that installs it.
_FRAMEWORKS = {
    "autogen_": ("autogen_agentchat", "autogen", "AutoGen AgentChat"),
    "langgraph_": ("langgraph", "langgraph", "LangGraph"),
    "langchain_": ("langchain_core", "langchain", "LangChain Core"),
    "openai_agents_": ("agents", "openai-agents", "the OpenAI Agents SDK"),
}


def _check_framework(name: str) -> None:
    """A framework sample whose framework is missing: say which extra installs it."""
    import importlib.util

    for prefix, (module, extra, title) in _FRAMEWORKS.items():
        if not name.startswith(prefix):
            continue
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(
                f"demo: samples/{name}.py needs {title}, which is not installed in this Python; "
                f"from the racetrace checkout: pip install '.[{extra}]' (or "
                f"'.[frameworks]' for every framework sample)"
            )


def _run_samples(directory: Path, names: list[str], targets: list[str], out: Path) -> None:
    from racetrace.commands.run import environment_for

    env = environment_for(targets, [], str(out), dict(os.environ))
    env.pop("PYTHONSTARTUP", None)
    print(
        f"racetrace demo: running {', '.join(f'samples/{n}.py' for n in names)} "
        "under the tracer…",
        file=sys.stderr,
    )
    # Started together: the samples are independent processes, as in a real deployment.
    children = [
        (name, subprocess.Popen(
            [sys.executable, str(directory / f"{name}.py")],
            cwd=str(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
        for name in names
    ]
    for name, child in children:
        try:
            stdout, stderr = child.communicate(timeout=SAMPLE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise UsageError(f"demo: samples/{name}.py did not finish within "
                             f"{SAMPLE_TIMEOUT_S} s") from None
        for line in stdout.splitlines():
            print(f"  {name}: {line}", file=sys.stderr)
        if child.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise UsageError(f"demo: samples/{name}.py failed (exit {child.returncode}): {last}")


def _show(out: Path, names: list[str], args: argparse.Namespace) -> int:
    from racetrace.commands._common import load_table_traces, report_damage

    table = load_table_traces([str(out)], quiet=True)
    report_damage(table)
    if len(table) == len(table.dropped):
        raise UsageError(
            "demo: the sample ran but recorded no runs; is racetrace installed in this Python "
            f"({sys.executable})? try: pip install -e ."
        )
    from racetrace.tui.analysis import analyze_trace

    report, error = analyze_trace(table)
    if report is None:
        raise UsageError(f"demo: {error}")
    interactive = sys.stdout.isatty() and sys.stdin.isatty() and not args.no_tui
    if not interactive:
        _print_text_report(report)
        return 0
    _print_summary(report)
    from racetrace.commands.tui import open_timeline

    source = f"demo: samples/{names[0]}.py" if len(names) == 1 else f"demo: {len(names)} samples"
    # The timeline loads the (small) trace again, its own way (lanes streamed in); the report
    # made here is shown as it is.
    return open_timeline([str(out)], source=source, report=report)


def _print_text_report(report: Any) -> None:
    """The full race-detector-style report, as `racetrace report` prints it."""
    from rich.console import Console

    from racetrace.analyzers.outputs import render_text

    # Not a terminal: each line whole (as `racetrace report` prints into a file), never wrapped
    # at an imaginary width.
    render_text.render(report, Console(highlight=False, soft_wrap=True))


def _print_summary(report: Any) -> None:
    """The report's SUMMARY line and where to look, before the timeline takes the screen."""
    from rich.console import Console

    from racetrace.analyzers.outputs import render_text

    console = Console(highlight=False)
    console.print(render_text.summary_line(report))
    console.print("Opening the timeline: n jumps to the next finding, ? shows every key.")
