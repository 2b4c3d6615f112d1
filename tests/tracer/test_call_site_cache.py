"""Call sites and stacks are cached by the frames they were read from (frames.capture): one
line reached through different callers must still record each run's own stack."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fixtures' types only: conftest names collide across test folders
    from conftest import Programs, Tracing

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


def test_code_made_in_a_loop_is_not_kept_alive_by_the_caches(programs: Programs) -> None:
    # A program that compiles code in a loop (exec, a template engine): each function calls a
    # traced method once. The call-site caches hold the codes they saw, a bounded number.
    programs.module("worker", WORKER.replace("def work", "def __init__(self):\n"
                                             "            self.name = 'w'\n\n"
                                             "        def work"))
    source = """
        import gc, weakref
        from racetrace.tracer.frames import CODES_KEPT
        from worker import Worker

        worker = Worker()
        made = []
        for n in range(3 * CODES_KEPT):
            scope = {"worker": worker}
            exec(compile(f"def f{n}(w):\\n    return w.work({n})\\n", f"<gen{n}>", "exec"),
                 scope)
            assert scope[f"f{n}"](worker) == n
            made.append(weakref.ref(scope[f"f{n}"].__code__))
            del scope
        gc.collect()
        print(CODES_KEPT, sum(ref() is not None for ref in made))
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    kept, alive = map(int, done.stdout.split())
    assert alive <= kept
    runs = done.runs()
    assert len(runs) == 3 * kept
    # Every run still has its own call site, before and after the caches were emptied.
    assert all(run.file == f"<gen{n}>" and run.line == 2 for n, run in enumerate(runs))
