"""The `racetrace` command. Each subcommand lives in `racetrace/commands/<name>.py` and imports
what it needs inside its `main`, so that `racetrace --help` starts instantly."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from racetrace._version import __version__

# Order is the order of `racetrace --help`.
COMMANDS = ("run", "report", "runs", "sessions", "export", "tui", "demo")

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage or unreadable input: one line on stderr, exit 2."""


_skip_teardown = False


def skip_teardown() -> None:
    """Let the process end without freeing what it loaded (as mypy does): the interpreter would
    free a million runs one object at a time, a second or more, for memory the OS reclaims at
    once. For commands whose work is done when `main` returns; atexit handlers do not run."""
    global _skip_teardown
    _skip_teardown = True


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's wrapping, except at hyphens: `racetrace-traces/` and `--fail-on` stay whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False, break_long_words=False)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="racetrace",
        description=(
            "Find runs that overlap on one object in concurrent Python programs: record every "
            "run of an agent, team or graph with the identity of the object it ran on, find the "
            "runs that overlapped, and show them on a timeline."
        ),
        epilog=(
            "Tracing needs no code change: RACETRACE=1 python app.py (or racetrace run -- "
            "python app.py) writes a session folder under ./racetrace-traces/; then "
            "racetrace report (or tui, runs, export) reads the latest session."
        ),
    )
    parser.add_argument("--version", action="version", version=f"racetrace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"racetrace.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"racetrace.commands.{name}":
                continue  # not built yet
            raise
        module.add_parser(sub)
    return parser


def _untrace_self() -> None:
    """With RACETRACE exported in the shell, `racetrace.pth` starts tracing in every Python
    process, this command's too. racetrace does not trace itself: it records nothing, writes no
    file, and hands its children no session of its own."""
    runtime = sys.modules.get("racetrace.tracer.runtime")
    if runtime is not None and runtime.RECORDER is not None:
        from racetrace.tracer import attach

        attach.stop()


def main(argv: Sequence[str] | None = None) -> int:
    _untrace_self()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except UsageError as exc:
        print(f"racetrace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def entry() -> NoReturn:
    """The console script: `main`, then the exit (see `skip_teardown`)."""
    code = main()
    if _skip_teardown:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
