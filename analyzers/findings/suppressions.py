"""Suppressions, ThreadSanitizer style: one rule a line, for the overlaps known to be benign.

    # comments and blank lines are ignored
    benign:langchain_core.runnables.*     # report as info: overlap is expected on these
    ignore:myapp.cache.Cache.get          # drop from the report (counted as suppressed)

A rule's glob (fnmatch, case-sensitive) is matched against the instance's class
(`myapp.cache.Cache`) and against `class.method` of the runs involved (`myapp.cache.Cache.get`,
also the span name, which names the class that defines the method). A finding matches when
every run it lists matches, so a rule for one method never hides another method's overlap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from racetrace.analyzers.core.model import Run
from racetrace.tracer import semconv

BENIGN = "benign"
IGNORE = "ignore"
ACTIONS = (BENIGN, IGNORE)


class SuppressionError(ValueError):
    """A rule that cannot be read; the message names `file:line`."""


@dataclass(frozen=True, slots=True)
class Rule:
    action: str  # benign | ignore
    pattern: str
    source: str = ""  # "file:line", for the report

    @property
    def text(self) -> str:
        return f"{self.action}:{self.pattern}"

    def matches_name(self, name: str) -> bool:
        return fnmatchcase(name, self.pattern)


@dataclass(frozen=True, slots=True)
class Suppressions:
    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    @classmethod
    def parse(cls, text: str, source: str = "<suppressions>") -> Suppressions:
        rules = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            action, sep, pattern = line.partition(":")
            action, pattern = action.strip().lower(), pattern.strip()
            if not sep or action not in ACTIONS or not pattern or any(c.isspace() for c in pattern):
                raise SuppressionError(
                    f"{source}:{number}: bad suppression rule {raw.strip()!r}: expected "
                    "benign:GLOB or ignore:GLOB (e.g. benign:myapp.cache.*)"
                )
            rules.append(Rule(action, pattern, f"{source}:{number}"))
        return cls(tuple(rules))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Suppressions:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SuppressionError(f"{path}: cannot read suppressions: {reason}") from None
        return cls.parse(text, str(path))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Suppressions:
        """The file named by RACETRACE_SUPPRESSIONS, or no rules."""
        env = os.environ if environ is None else environ
        path = env.get(semconv.ENV_SUPPRESSIONS, "").strip()
        return cls.from_file(path) if path else cls()

    def match(self, instance_class: str, runs: Iterable[Run]) -> Rule | None:
        """The first rule that covers a finding on `instance_class` listing `runs`."""
        runs = tuple(runs)
        for rule in self.rules:
            if rule.matches_name(instance_class) or (
                runs and all(_run_matches(rule, r) for r in runs)
            ):
                return rule
        return None


def _run_matches(rule: Rule, run: Run) -> bool:
    short = run.method.rsplit(".", 1)[-1]
    return (
        rule.matches_name(run.instance_class)
        or rule.matches_name(f"{run.instance_class}.{short}")
        or rule.matches_name(run.method)
    )
