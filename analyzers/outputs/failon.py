"""`--fail-on`: which findings make `racetrace report` exit 66, the sanitizers' convention.

A spec is a comma-separated list of terms, any of which may match:

- a severity: `error`, `warning`, `info`: any finding at that severity or above;
- `overlap`: any overlap kind (concurrent, reentrant, periodic, cross-process) at warning or above;
- a kind (`concurrent`, `reentrant`, `periodic`, `cross-process`, `unfinished`, `errors`): that
  kind at warning or above; `latent`, always info, matches every latent finding;
- `KIND:SEVERITY` (e.g. `concurrent:info`): that kind at that severity or above;
- `any`: any finding at all; `never` (the default): nothing.

Findings lowered to info (stateless classes, `benign:` suppressions) therefore do not fail a
build unless asked for with `:info` or `any`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from racetrace.analyzers.findings.report import (
    INFO,
    KINDS,
    LATENT,
    OVERLAP_KINDS,
    SEVERITIES,
    WARNING,
    Finding,
    severity_rank,
)

EXIT_FINDINGS = 66

_WORDS = ("any", "never", "none", "overlap", *SEVERITIES, *KINDS)


class FailOnError(ValueError):
    """A `--fail-on` term that names nothing."""


@dataclass(frozen=True, slots=True)
class Term:
    kinds: frozenset[str]  # empty: any kind
    severity: str  # the least severity that matches


@dataclass(frozen=True, slots=True)
class FailOn:
    terms: tuple[Term, ...] = ()

    @classmethod
    def parse(cls, specs: str | Iterable[str] | None) -> FailOn:
        if specs is None:
            return cls()
        if isinstance(specs, str):
            specs = [specs]
        terms = []
        for spec in specs:
            for word in spec.split(","):
                term = _term(word.strip().lower())
                if term is not None:
                    terms.append(term)
        return cls(tuple(terms))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, finding: Finding) -> bool:
        rank = severity_rank(finding.severity)
        return any(
            (not t.kinds or finding.kind in t.kinds) and rank >= severity_rank(t.severity)
            for t in self.terms
        )

    def matching(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if self.matches(f)]


def _term(word: str) -> Term | None:
    if not word or word in ("never", "none"):
        return None
    name, _, level = word.partition(":")
    if level and level not in SEVERITIES:
        raise FailOnError(f"--fail-on: unknown severity {level!r} in {word!r} "
                          f"(expected one of {', '.join(SEVERITIES)})")
    if name == "any":
        return Term(frozenset(), level or INFO)
    if name in SEVERITIES and not level:
        return Term(frozenset(), name)
    if name == "overlap":
        return Term(frozenset(OVERLAP_KINDS), level or WARNING)
    if name in KINDS:
        return Term(frozenset({name}), level or (INFO if name == LATENT else WARNING))
    raise FailOnError(f"--fail-on: unknown term {word!r} (expected one of {', '.join(_WORDS)}, "
                      "or KIND:SEVERITY)")
