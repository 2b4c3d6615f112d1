"""`@racetrace.trace` records whenever tracing is on: start() before or after the class
statement, or RACETRACE=1 from the environment. Real processes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Programs

DECORATED = """
    import asyncio
    import sys

    import racetrace

    if sys.argv[1:] == ["before"]:
        racetrace.start()


    class Agent:
        def __init__(self, name):
            self.name = name

        @racetrace.trace
        async def run(self, n):
            await asyncio.sleep(0.05)
            return n + 1

        @classmethod
        @racetrace.trace
        def make(cls, name):
            return cls(name)


    @racetrace.trace
    def helper():
        return "h"


    async def main():
        if sys.argv[1:] == ["after"]:
            racetrace.start()
        agent = Agent.make("a1")
        print(await asyncio.gather(agent.run(1), agent.run(2)), helper(), racetrace.is_enabled())


    asyncio.run(main())
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_decorated_methods_are_traced_whether_start_comes_before_or_after(
    programs: Programs, when: str
) -> None:
    script = programs.module("main", DECORATED)
    done = programs.run(
        DECORATED, enabled=None, argv=[sys.executable, str(script), when]
    ).check()
    assert done.stdout == "[2, 3] h True\n"
    assert done.racetrace_lines() == []
    methods = sorted(r.method for r in done.runs())
    assert methods == ["__main__.Agent.make", "__main__.Agent.run", "__main__.Agent.run",
                       "__main__.helper"]
    assert {r.instance_label for r in done.runs() if r.method.endswith("run")} == {"a1"}


def test_decorated_methods_are_traced_with_racetrace_from_the_environment(
    programs: Programs,
) -> None:
    done = programs.run(DECORATED).check()
    assert done.stdout == "[2, 3] h True\n"
    assert sorted(r.method for r in done.runs()) == [
        "__main__.Agent.make", "__main__.Agent.run", "__main__.Agent.run", "__main__.helper"
    ]


def test_without_tracing_the_decorator_changes_nothing(programs: Programs) -> None:
    source = DECORATED + """
    print(Agent.run.__qualname__, type(Agent.__dict__["run"]).__name__, helper.__module__)
    """
    done = programs.run(source, enabled=None).check()
    assert done.stdout == "[2, 3] h False\nAgent.run function __main__\n"
    assert done.files() == []
