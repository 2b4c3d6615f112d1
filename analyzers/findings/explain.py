"""The words of each finding: a headline, a one-paragraph explanation and the fix, in the user's
terms (their class, their call sites, their tasks), not the analyzer's.

Pure functions of facts the analysis already computed; nothing here looks at the trace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from racetrace.analyzers.core.model import Run

from .known_errors import KnownError
from .provenance import FACTORY, SINGLETON, CreationSite
from .report import (
    CROSS_PROCESS,
    ERRORS,
    LATENT,
    LOOP_BLOCKING,
    NESTED_LOOP,
    PERIODIC,
    REENTRANT,
    UNFINISHED,
)
from .timefmt import format_duration


def short_class(cls: str) -> str:
    return cls.rsplit(".", 1)[-1] if cls else "object"


def subject(cls: str, label: str | None, key: str, *, resource: bool = False) -> str:
    """`Agent 'assistant' (host/pid/1)`, or `resource 'thread-7' (Graph)` for a resource key."""
    if resource:
        return f"resource '{key}' ({cls})" if cls else f"resource '{key}'"
    named = f"{short_class(cls)} '{label}'" if label else short_class(cls)
    return f"{named} ({key})"


def headline(kind: str, subject_text: str, *, count: int = 0, total: int = 0,
             blocked_ns: int = 0) -> str:
    if kind == NESTED_LOOP:
        return (f"nested event loop on {subject_text}: {_plural(count, 'sync call')} that "
                "runs its own loop inside a running one")
    if kind == LOOP_BLOCKING:
        return (f"event loop blocked by {subject_text}: {_plural(count, 'sync run')}, "
                f"{format_duration(blocked_ns)} in all")
    if kind == LATENT:
        return f"latent sharing of {subject_text}: used by {count} tasks, no overlap yet"
    if kind == UNFINISHED:
        return f"unfinished runs on {subject_text}: {count} never ended"
    if kind == ERRORS:
        return f"errors during overlapping runs on {subject_text}: {count} of {total}"
    return f"{kind} runs on {subject_text}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def short_method(method: str) -> str:
    """`agentlib.Agent.run` -> `Agent.run`."""
    return ".".join(method.rsplit(".", 2)[-2:])


def _methods(runs: Sequence[Run]) -> str:
    names = sorted({short_method(r.method) for r in runs})
    return ", ".join(f"{n}()" for n in names[:3]) + (" ..." if len(names) > 3 else "")


def _contexts(runs: Sequence[Run]) -> str:
    names: list[str] = []
    for r in runs:
        name = r.task_name or (f"thread {r.thread_name}" if r.thread_name else None)
        if name and name not in names:
            names.append(name)
            if len(names) > 4:  # enough to show four and say there are more
                break
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return shown


def _runs_of(run_count: int, methods: Counter[str] | None, runs: Sequence[Run]) -> str:
    """`3 runs of Agent.run()`, or `4038 runs (4000 of Agent.step(), 38 of Agent.run())` when
    several methods ran: the methods that actually ran, counted where known."""
    if not methods:
        return f"{_plural(run_count, 'run')} of {_methods(runs)}"
    if len(methods) == 1:
        return f"{_plural(run_count, 'run')} of {short_method(next(iter(methods)))}()"
    ranked = sorted(methods.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{n} of {short_method(m)}()" for m, n in ranked[:3])
    return f"{_plural(run_count, 'run')} ({shown}{', ...' if len(ranked) > 3 else ''})"


def _objects(cls: str, instances: int, created: Sequence[CreationSite]) -> str:
    """`this one Agent object`, or `2 CompiledStateGraph objects (...)`."""
    names = sorted({short_class(c.strip()) for c in cls.split(",") if c.strip()}) or ["object"]
    what = " and ".join(names)
    if instances <= 1:
        return f"this one {what} object"
    made = ""
    if created and all(site.role == created[0].role for site in created):
        if created[0].role == FACTORY:
            made = f", made per call at {created[0].short}"
    return f"{instances} different {what} objects{made}"


def conversation(key: str) -> tuple[str, str, str]:
    """(what the key names, where its state lives, the per-key fix) for a resource key."""
    head, _, ident = key.rpartition("/")
    if head == "langgraph/thread":
        return (f"the conversation thread_id '{ident}'", "the thread's checkpoint",
                f"await the previous run of thread_id '{ident}' before starting the next (a "
                "lock per thread id: a dict of asyncio.Lock keyed by thread_id, held around "
                "graph.ainvoke), or give conversations that may run at once distinct thread ids")
    if head == "openai-agents/session":
        return (f"the session '{ident}'", "the session's history",
                f"await the previous Runner.run of session '{ident}' before starting the next "
                "(a lock per session id, held around Runner.run), or give each conversation a "
                "session of its own")
    if head == "openai/conversation":
        return (f"the conversation_id '{ident}'", "the server-side conversation",
                f"await the previous run of conversation_id '{ident}' before starting the next "
                "(a lock per conversation id), or use distinct conversation ids")
    if head == "langchain/history":
        return (f"the chat history session_id '{ident}'", "the chat history",
                f"await the previous run of session_id '{ident}' before starting the next (a "
                "lock per session id, held around the chain's ainvoke), or give concurrent "
                "conversations distinct session ids")
    return (f"the resource '{key}'", "the state behind this key",
            "serialize runs per key: await the previous run on this key before starting the "
            "next (a lock per key), or use distinct keys for work that may run at once")


def _created_cause(what: str, created: Sequence[CreationSite]) -> tuple[str, str] | None:
    """(why, fix) from where the shared instance was created, when the tracer saw it."""
    if len(created) != 1:
        return None
    site = created[0]
    if site.role == SINGLETON:
        return (
            f"This {what} is a module-level singleton, created at {site.short}: one object "
            "for the whole process, which every request or task uses at once.",
            f"Create the {what} per request or task instead of once at {site.short} (a "
            "factory called in the handler, e.g. make_agent()), or, if it must be shared, "
            "serialize access with a lock around the call (async with lock: await "
            "agent.run(...)).",
        )
    function = f"{site.function}()" if site.function else "a function"
    if site.role == FACTORY:
        return (
            f"A factory is in place ({site.instances} instances made at {site.short} in "
            f"{function}), but this one {what} it made was handed to several tasks at once.",
            f"Call {function} in each task or request rather than sharing one of its "
            f"products; or serialize access to the shared {what} with a lock.",
        )
    return (
        f"It was created once at {site.short} in {function} and handed to every task.",
        f"Create one {what} per task where each task starts (move the creation at "
        f"{site.short} into the task), or serialize access with a lock around the call "
        "(async with lock: await agent.run(...)).",
    )


def overlap_explanation(
    kind: str,
    runs: Sequence[Run],
    *,
    run_count: int,
    pair_count: int,
    overlap_ns: int,
    peak: int,
    cls: str,
    period_ns: int | None = None,
    processes: Sequence[str] = (),
    methods: Counter[str] | None = None,
    instances: int = 1,
    resource_key: str | None = None,
    stateless: bool = False,
    created: Sequence[CreationSite] = (),
) -> tuple[str, str]:
    """(explanation, fix) for an overlap finding: on one object (`resource_key` None) or on a
    conversation key shared by `instances` objects; `methods` counts the methods that ran."""
    what = short_class(cls)
    objects = _objects(cls, instances, created)
    measure = (f"for {format_duration(overlap_ns)} in total (at most {peak} at once, "
               f"{_plural(pair_count, 'overlapping pair')})")
    ran = _runs_of(run_count, methods, runs)
    if resource_key is not None and kind != CROSS_PROCESS:
        return _resource_explanation(kind, ran, objects, measure, resource_key, runs)
    span = f"{ran} were active at the same time on {objects}, {measure}"
    if stateless:
        return (
            f"{span}; that is safe, since {what} is stateless: what a run works on (its "
            "messages, its config, a checkpointer's thread) is given to each call, so runs "
            "sharing this object do not share state. Reported as info.",
            "Nothing to change on this object. If these runs continue one conversation, the "
            "finding on its thread or session key says what breaks.",
        )
    if kind == REENTRANT:
        return (
            f"{span}. The later run started inside the earlier run's own call chain: a "
            f"callback, tool or event handler called back into the {what} while it was still "
            "running. The inner run reads and writes the state the outer run is still using, so "
            "the outer run continues with a history or buffer it did not write.",
            "Do not call back into a running instance from its own callback: queue the "
            "follow-up (append it to a list or an asyncio.Queue) and run it after the current "
            "run returns, or give the follow-up an instance of its own.",
        )
    if kind == PERIODIC:
        every = f"every {format_duration(period_ns)}" if period_ns else "at a regular interval"
        site = runs[0].callsite if runs and runs[0].callsite else "one call site"
        return (
            f"{span}. One timer started them from {site} {every} (one task's loop, or tasks "
            "created one by one by the same creator), and each run took longer than that, so a "
            "new run began before the previous one finished: the timer starts its job without "
            "waiting for the last one.",
            "Add a running guard that skips a tick while the previous run is still going (or "
            "await the job inside the loop instead of create_task), or use a scheduler option "
            "that does it (APScheduler: max_instances=1, coalesce=True).",
        )
    if kind == CROSS_PROCESS:
        procs = ", ".join(processes[:4]) + (", ..." if len(processes) > 4 else "")
        return (
            f"{_plural(run_count, 'run')} on this resource key overlapped from different "
            f"processes ({procs}), for {format_duration(overlap_ns)} in total, at most {peak} at "
            "once. Each process has its own objects and its own locks, so nothing serializes "
            "the shared state behind this key (a conversation thread, a session, a checkpoint): "
            "the last writer wins and the other's updates are lost.",
            "Serialize work per key across processes: route every request for one key to one "
            "worker (partition a queue by the key), or take a distributed lock on the key "
            "around the run.",
        )
    contexts = _contexts(runs)
    by = f" from {contexts}" if contexts else ""
    cause = _created_cause(what, created)
    if cause is not None:
        why, fix = cause
        return (
            f"{span}{by}. {why} Their runs interleave on its state, so each can read or "
            "overwrite the others' messages.",
            fix,
        )
    if not by and not any(r.task_key or r.thread_id is not None for r in runs):
        # Other tools' spans carry no task or thread: say only what the trace shows.
        return (
            f"{span}. None of these runs started inside another's call chain (no parent span "
            "links them), yet they drove one shared instance at once: their runs interleave on "
            "its state, so each can read or overwrite the others' messages.",
            "Give each task or request its own instance (a factory called per request), or, if "
            "it must be shared, serialize access with a lock around the call.",
        )
    return (
        f"{span}{by}. Independent tasks, threads or requests drove one shared instance at "
        "once (a module-level singleton, one agent passed to asyncio.gather): their runs "
        "interleave on its state, so each can read or overwrite the others' messages.",
        "Give each task or request its own instance (a factory called per request, e.g. "
        "make_agent()), or, if it must be shared, serialize access with a lock around the call "
        "(async with lock: await agent.run(...)).",
    )


def _resource_explanation(kind: str, ran: str, objects: str, measure: str, key: str,
                          runs: Sequence[Run]) -> tuple[str, str]:
    """A conversation key (a LangGraph thread, a session, a chat history): what breaks is the
    conversation, whatever objects ran it, and the fix is per key, not per object."""
    named, store, fix = conversation(key)
    contexts = _contexts(runs)
    by = f" from {contexts}" if contexts else ""
    if kind == REENTRANT:
        cause = ("The later run started inside the earlier one's call chain (a node, tool or "
                 "callback continued the same conversation while it was running). ")
    else:
        cause = ""
    if objects.startswith("this one"):
        per_object = ("An object per request would not help: the state is stored under the "
                      "key, not in the object.")
    else:
        per_object = ("Separate objects did not help: the state is stored under the key, not "
                      "in the objects.")
    return (
        f"{ran}{by} continued {named} at the same time, on {objects}, {measure}. {cause}Both "
        f"runs read {store} before either wrote its result, so the later write wins and the "
        f"other run's exchange is lost: a lost update. {per_object}",
        f"Run one conversation turn at a time per key: {fix}.",
    )


def latent_explanation(
    cls: str, contexts: int, runs: Sequence[Run], run_count: int, gap_ns: int | None,
    *, more: bool = False, created: Sequence[CreationSite] = (),
) -> tuple[str, str]:
    what = short_class(cls)
    site = created[0] if len(created) == 1 else None
    made = (f" (a module-level singleton, created at {site.short})"
            if site is not None and site.role == SINGLETON else "")
    names = _contexts(runs)
    closest = (
        f"; the closest two came within {format_duration(gap_ns)} of each other"
        if gap_ns is not None
        else ""
    )
    return (
        f"This {what}{made} served {_plural(run_count, 'run')} from {contexts}"
        f"{'+' if more else ''} "
        "different tasks or "
        f"threads{f' ({names})' if names else ''}, one at a time in this trace{closest}. "
        "Nothing racetrace saw kept them apart (no run began right as the previous one ended, "
        "in a task already waiting for it; no single flow of control or timer ran them), so "
        "under more load or other timing they will overlap: a shared instance that is safe "
        "only by luck. A lock that is released long before the next holder runs is not seen: "
        "if one serializes these calls, this is fine.",
        "Create an instance per task or request; or keep the lock that serializes it and "
        "mark the class benign in a suppressions file (benign:" + (cls or "Class") + ").",
    )


def unfinished_explanation(count: int, processes: Sequence[str]) -> tuple[str, str]:
    procs = ", ".join(processes[:4]) + (", ..." if len(processes) > 4 else "")
    return (
        f"{_plural(count, 'run')} never ended: the process ({procs}) stopped recording while "
        f"{'it was' if count == 1 else 'they were'} open. Either still running at exit, hung on "
        "something that never answered, leaked as a background task nobody awaited, or the "
        "process was killed. Overlaps count them as open until the last moment their process "
        "recorded.",
        "Await or cancel background tasks before shutdown, put timeouts around calls that can "
        "hang, and check whether the process was killed (OOM killer, a supervisor's timeout).",
    )


def errors_explanation(during: int, total: int, types: dict[str, int],
                       known: Sequence[KnownError] = ()) -> tuple[str, str]:
    kinds = ", ".join(
        f"{name} x{n}" for name, n in sorted(types.items(), key=lambda kv: -kv[1])[:4]
    )
    if known:
        # The framework said it itself: its words and its fix beat a generic one.
        first = known[0]
        return (
            f"{during} of the {_plural(total, 'run')} that failed on this instance failed while "
            f"another run on it was active ({kinds}). {first.framework} raises this when one "
            f"object is driven concurrently: {first.meaning}",
            first.fix,
        )
    return (
        f"{during} of the {_plural(total, 'run')} that failed on this instance failed while "
        f"another run on it was active ({kinds}). Failures that concentrate in overlaps are "
        "the overlap doing damage: one run sees state that another left half-updated, or the "
        "object "
        "refuses a second caller ('already running').",
        "Fix the overlap on this instance (see its other findings); these errors should go "
        "with it.",
    )


def _where(run: Run) -> str:
    """`task Task-3 at app.py:12` (whichever of the two is known)."""
    parts = []
    if run.task_name:
        parts.append(f"task {run.task_name}")
    elif run.thread_name:
        parts.append(f"a callback on thread {run.thread_name}")
    if run.callsite:
        parts.append(f"at {run.callsite}")
    return " ".join(parts) or "async code"


def nested_loop_explanation(runs: Sequence[Run], run_count: int, *, failed: int,
                            never_ended: int, own_loop: bool,
                            known: Sequence[KnownError] = ()) -> tuple[str, str]:
    """(explanation, fix) for a sync entry point that runs a loop, called inside a running one."""
    first = runs[0]
    if own_loop:
        entry = "is an entry point that runs an event loop of its own"
    elif failed:
        entry = "runs an event loop of its own (asyncio.run, or a sync wrapper around an async API)"
    else:
        entry = ("is a synchronous call that waits for async work (a sync wrapper around an "
                 "async API)")
    outcome = []
    if failed:
        message = f' ("{first.error_message}")' if first.error_message and known else ""
        outcome.append(f"{_plural(failed, 'call')} failed at once{message}")
    if never_ended:
        outcome.append(
            f"{_plural(never_ended, 'call')} never returned: a sync call that waits for work "
            "only the loop it blocks can do is a deadlock, and every task on that loop stopped "
            "with it")
    fix = ("From async code, await the async API instead of its sync wrapper (await "
           "Runner.run(...) for Runner.run_sync, await ...ainvoke() for invoke(), await the "
           "coroutine itself instead of asyncio.run(...)); keep the sync entry point for plain "
           "scripts. A sync function that must call it can run in a worker thread: "
           "await asyncio.to_thread(...).")
    if known:  # the framework's own advice first
        fix = (f"{known[0].fix} A sync function that must call it can run in a worker "
               "thread: await asyncio.to_thread(...).")
    return (
        f"{_methods(runs)} {entry}, and was called from {_where(first)}, on a thread whose "
        f"event loop was already running ({_plural(run_count, 'run')}). A thread runs one "
        f"event loop at a time: {'; '.join(outcome) or 'it cannot start a second one'}.",
        fix,
    )


def loop_blocking_explanation(runs: Sequence[Run], run_count: int, *, blocked_ns: int,
                              longest_ns: int, threshold_ns: int,
                              never_ended: int = 0) -> tuple[str, str]:
    """(explanation, fix) for sync runs that held their thread's running event loop;
    `never_ended` of them were still holding it when their process last recorded."""
    first = runs[0]
    contexts = _contexts(runs)
    if never_ended == run_count:
        held = (f"{'each ' if run_count > 1 else ''}still blocking when its process last "
                f"recorded (it never ended)")
    else:
        held = (f"{'each ' if run_count > 1 else ''}for {format_duration(threshold_ns)} (the "
                f"threshold) or more")
        if never_ended:
            held += (f", or still blocking when its process last recorded ({never_ended} "
                     "never ended)")
    return (
        f"{_plural(run_count, 'synchronous run')} of {_methods(runs)} ran on a thread whose "
        f"asyncio event loop was running (called from {_where(first)}"
        f"{f'; from {contexts}' if contexts and run_count > 1 else ''}), "
        f"{held}: {format_duration(blocked_ns)} in all, the longest "
        f"{format_duration(longest_ns)}. While a sync call runs, its loop runs nothing else: "
        "every other task on that loop (other requests, timers, heartbeats, streams) waited, "
        "which is how an async service stalls as load grows.",
        "Await the async variant of the call (await agent.arun()/ainvoke() instead of "
        "run()/invoke()), or move the blocking call off the loop: await "
        "asyncio.to_thread(obj.method, ...) (or loop.run_in_executor).",
    )
