"""Two processes save one chat session at the same time: a cross-process overlap on a resource.

Each process has its own `SessionStore` object, so no instance key is shared; the session id is
the resource key. Each `save` waits until the other process's `save` has started, so the two runs
overlap however the machine schedules them.

    python cross_process.py TRACE_DIR
"""

import multiprocessing as mp
import sys

from racetrace.tracer import targets

import racetrace


class SessionStore:
    def __init__(self, name: str) -> None:
        self.name = name

    def save(self, session_id: str, mine, theirs) -> None:
        mine.set()
        theirs.wait(30)


def worker(session_id: str, mine, theirs) -> None:
    SessionStore("worker").save(session_id, mine, theirs)


def main(directory: str) -> None:
    racetrace.start(directory=directory)
    targets.request(targets.Target(
        module="__main__", path="SessionStore.save",
        resource_of=lambda instance, args, kwargs: args[0],
    ))
    ctx = mp.get_context("fork")
    parent_started, child_started = ctx.Event(), ctx.Event()
    child = ctx.Process(target=worker, args=("session-42", child_started, parent_started))
    child.start()
    SessionStore("web").save("session-42", parent_started, child_started)
    child.join(30)
    racetrace.stop()


if __name__ == "__main__":
    main(sys.argv[1])
