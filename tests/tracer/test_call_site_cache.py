"""Call sites and stacks are cached by the frames they were read from (frames.capture): one
line reached through different callers must still record each run's own stack."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fixtures' types only: conftest names collide across test folders
    from conftest import Tracing

WORKER = """
    class Worker:
        def work(self, n):
            return n
"""


def test_one_call_site_reached_through_different_callers_keeps_each_stack(
    tracing: Tracing,
) -> None:
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    worker = module.Worker()

    def site() -> None:
        worker.work(1)

    def via_a() -> None:
        site()

    def via_b() -> None:
        site()

    def deeper(n: int) -> None:  # the same first frames, a stack that goes on further
        if n:
            deeper(n - 1)
        else:
            via_a()

    via_a()
    via_b()
    via_a()
    deeper(8)
    thread = threading.Thread(target=via_b)  # a stack that ends in the thread's bootstrap
    thread.start()
    thread.join()
    starts = [line for line in tracing.lines() if line["type"] == "start"]
    functions = [[frame.rsplit(" in ", 1)[1] for frame in line["racetrace.stack"]]
                 for line in starts]
    here = test_one_call_site_reached_through_different_callers_keeps_each_stack.__name__
    assert functions[0][:3] == ["site", "via_a", here]
    assert functions[1][:3] == ["site", "via_b", here]
    assert functions[2] == functions[0]
    assert functions[3] == ["site", "via_a", "deeper", "deeper", "deeper", "deeper"]
    assert functions[4][:2] == ["site", "via_b"] and here not in functions[4]
    assert {line["code.function.name"] for line in starts} == {"site"}
    lines = {line["code.line.number"] for line in starts}
    assert len(lines) == 1
