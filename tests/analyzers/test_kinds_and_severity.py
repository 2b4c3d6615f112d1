"""Each kind of finding on hand-made traces, how severity is settled (stateless, suppressions),
and that huge episodes are counted exactly but listed within the cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from racetrace.analyzers.core.load import load
from racetrace.analyzers.core.model import Run, Trace
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.classify import Ancestry
from racetrace.analyzers.findings.contention import analyze_key
from racetrace.analyzers.findings.suppressions import SuppressionError, Suppressions


def kinds(report) -> dict[str, str]:
    return {f.kind: f.severity for f in report.findings}


def test_tasks_sharing_an_instance_at_once_are_concurrent(writer, analyzed) -> None:
    w = writer()
    a = w.run(0, 100, task="req-1")
    b = w.run(10, 50, task="req-2")
    report = analyzed([w.write()])
    (f,) = report.findings
    assert (f.kind, f.severity) == ("concurrent", "warning")
    assert f.pairs == ((a, b),) and f.pair_count == 1 and not f.pairs_truncated
    assert (f.overlap_start_ns, f.overlap_end_ns) == (w_ns(10), w_ns(50))
    assert f.overlap_ns == 40_000_000 and f.max_concurrency == 2
    assert [r.run_id for r in f.runs] == [a, b]
    assert "own instance" in f.fix


def w_ns(ms: float) -> int:
    """A time in the writer's clock (conftest.TraceWriter starts at T0)."""
    return 1_780_000_000_000_000_000 + int(ms * 1_000_000)


def test_a_run_started_inside_another_runs_call_chain_is_reentrant(writer, analyzed) -> None:
    w = writer()
    outer = w.run(0, 100, task="main")
    w.run(20, 60, task="callback-task", parent=outer)
    assert kinds(analyzed([w.write()])) == {"reentrant": "warning"}


def test_reentrance_is_found_through_the_task_creator_when_context_is_lost(writer,
                                                                           analyzed) -> None:
    w = writer()
    outer = w.run(0, 100, task="main", key="other/1")  # on another object
    first = w.run(5, 100, task="t1", parent=outer)
    # The callback's task was created inside `first`, but its context was not propagated.
    w.run(30, 60, task="t2", created_by=first)
    report = analyzed([w.write()])
    assert kinds(report) == {"reentrant": "warning"}


def test_same_task_overlap_is_reentrant_even_without_links(writer, analyzed) -> None:
    w = writer()
    w.run(0, 100, task="main")
    w.run(20, 60, task="main")
    assert kinds(analyzed([w.write()])) == {"reentrant": "warning"}


def created(ms: float, by: str = "task/loop") -> dict[str, object]:
    """A run's task creation evidence: when, and by which task."""
    return {"racetrace.task.created_ns": w_ns(ms), "racetrace.task.created_by_task": by}


def test_ticks_of_one_creator_that_outlast_the_period_are_periodic(writer, analyzed) -> None:
    w = writer()
    for tick in range(6):
        w.run(tick * 100, tick * 100 + 150, task=f"tick-{tick}", site="/app/jobs.py:7",
              **created(tick * 100 - 0.01))
    report = analyzed([w.write()])
    (f,) = report.findings
    assert f.kind == "periodic"
    assert f.pair_count == 5 and f.run_count == 6
    assert "every 100 ms" in f.explanation


def test_regular_starts_without_evidence_of_a_timer_are_concurrent(writer, analyzed) -> None:
    w = writer()
    for tick in range(6):  # an older trace: no task creation recorded
        w.run(tick * 100, tick * 100 + 150, task=f"tick-{tick}", site="/app/jobs.py:7")
    assert kinds(analyzed([w.write()])) == {"concurrent": "warning"}


def test_tasks_created_together_that_start_staggered_are_concurrent(writer, analyzed) -> None:
    w = writer()
    for n in range(6):  # gather over handlers that each sleep n * 100 ms first
        w.run(n * 100, n * 100 + 150, task=f"h{n}", site="/app/jobs.py:7",
              **created(n * 0.01))
    assert kinds(analyzed([w.write()])) == {"concurrent": "warning"}


def test_ticks_from_two_creators_are_not_one_timer(writer, analyzed) -> None:
    w = writer()
    for tick in range(6):
        w.run(tick * 100, tick * 100 + 150, task=f"tick-{tick}", site="/app/jobs.py:7",
              **created(tick * 100 - 0.01, by=f"task/loop-{tick % 2}"))
    assert kinds(analyzed([w.write()])) == {"concurrent": "warning"}


def test_a_burst_of_tasks_from_one_call_site_is_concurrent_not_periodic(writer,
                                                                        analyzed) -> None:
    w = writer()
    for n in range(5):  # gather: starts microseconds apart, very regular
        w.run(n * 0.05, 80, task=f"t{n}", site="/app/main.py:17")
    assert kinds(analyzed([w.write()])) == {"concurrent": "warning"}


def test_a_resource_key_driven_from_two_processes_is_cross_process(writer, analyzed) -> None:
    one, two = writer(pid=100), writer(pid=200)
    one.run(0, 100, key="h/100/1", resource="thread-7", task="a")
    two.run(50, 150, key="h/200/1", resource="thread-7", task="b")
    report = analyzed([one.write(), two.write()])
    (f,) = report.findings
    assert (f.kind, f.key_kind, f.instance_key) == ("cross-process", "resource", "thread-7")
    assert f.process is None
    resource = next(i for i in report.instances if i.is_resource)
    assert resource.overlapping_pairs == 1 and resource.kinds == ("cross-process",)


def test_resource_key_does_not_report_again_what_its_instance_reports(writer,
                                                                      analyzed) -> None:
    w = writer()
    w.run(0, 100, key="obj/1", resource="session-1", task="a")
    w.run(50, 150, key="obj/1", resource="session-1", task="b")
    report = analyzed([w.write()])
    assert [(f.kind, f.key_kind) for f in report.findings] == [("concurrent", "instance")]


def test_an_episode_of_mixed_kinds_is_split_into_one_finding_per_kind(writer,
                                                                     analyzed) -> None:
    w = writer()
    outer = w.run(0, 100, task="main")
    w.run(10, 40, task="main-cb", parent=outer)  # reentrant with outer
    w.run(50, 120, task="other")  # concurrent with outer
    report = analyzed([w.write()])
    found = sorted((f.kind, f.pair_count) for f in report.findings)
    assert found == [("concurrent", 1), ("reentrant", 1)]
    assert {tuple(e.index for e in f.episodes) for f in report.findings} == {(0,)}


def test_every_episode_on_a_key_is_listed_in_one_finding_per_kind(writer, analyzed) -> None:
    w = writer()
    for n in range(5):  # five separate bursts of two overlapping runs each
        w.run(n * 100, n * 100 + 30, task=f"a{n}", site=f"/app/a.py:{n}")
        w.run(n * 100 + 10, n * 100 + 20, task=f"b{n}", site=f"/app/b.py:{n}")
    report = analyzed([w.write()], max_pairs=3)
    (f,) = report.findings
    assert f.kind == "concurrent" and f.pair_count == 5 and f.run_count == 10
    assert [e.index for e in f.episodes] == [0, 1, 2, 3, 4]
    assert [e.pair_count for e in f.episodes] == [1] * 5
    assert len(f.pairs) == 3 and f.pairs_truncated
    assert f.overlap_ns == 5 * 10_000_000
    assert f.episodes[4].first_pair is not None
    (summary,) = report.instances
    assert summary.episodes == 5 and summary.overlapping_pairs == 5


def test_runs_used_by_several_tasks_without_overlap_are_latent_info(writer, analyzed) -> None:
    w = writer()
    w.run(0, 10, task="req-1")
    w.run(12, 20, task="req-2")
    report = analyzed([w.write()])
    (f,) = report.findings
    assert (f.kind, f.severity) == ("latent", "info")
    assert f.details["closest_gap_ns"] == 2_000_000 and f.details["contexts"] == 2


def test_runs_handed_over_to_tasks_that_were_waiting_are_serialized_not_latent(
        writer, analyzed) -> None:
    w = writer()
    for n in range(4):  # all waiting from the start; each begins 0.1 ms after the last ends
        w.run(n * 10.1, n * 10.1 + 10, task=f"req-{n}", **created(n * 0.01, by="task/server"))
    report = analyzed([w.write()])
    assert report.findings == []
    (instance,) = report.instances
    assert instance.serialized and "3 started right after the previous run ended" in (
        instance.serialized)


def test_runs_in_tasks_created_after_the_previous_run_ended_stay_latent(writer,
                                                                         analyzed) -> None:
    w = writer()
    for n in range(4):  # the same timing, but each task made only when the last run ended
        w.run(n * 10.1, n * 10.1 + 10, task=f"req-{n}",
              **created(n * 10.1 - 0.05, by="task/server"))
    (f,) = analyzed([w.write()]).findings
    assert f.kind == "latent" and f.details["contexts"] == 4


def test_tasks_a_run_creates_for_its_steps_are_its_children_not_users(writer,
                                                                      analyzed) -> None:
    w = writer()
    for n in range(2):  # one team run after the other in one task; each turn a task of its own
        team = w.run(n * 100, n * 100 + 90, task="main", key="team/1")
        for turn in range(2):
            at = n * 100 + 10 + turn * 40
            w.run(at, at + 30, task=f"turn-{n}-{turn}", key="agent/1", created_by=team,
                  **created(at - 1))
    report = analyzed([w.write()])
    assert report.findings == []
    agent = next(i for i in report.instances if i.key == "agent/1")
    assert "same flow of control" in agent.serialized


def test_one_task_calling_an_instance_repeatedly_is_not_latent(writer, analyzed) -> None:
    w = writer()
    w.run(0, 10, task="main")
    w.run(12, 20, task="main")
    assert analyzed([w.write()]).findings == []


def test_runs_that_never_ended_are_reported_and_open_to_the_last_record(writer,
                                                                       analyzed) -> None:
    w = writer()
    w.run(0, None, task="a")
    w.run(5, 30, task="b", key="other/1")
    report = analyzed([w.write()])
    (f,) = [f for f in report.findings if f.kind == "unfinished"]
    assert f.severity == "warning" and f.run_count == 1
    assert report.summary.unfinished_runs == 1 and len(report.unfinished) == 1


def test_errors_that_happen_during_overlaps_are_counted(writer, analyzed) -> None:
    w = writer()
    w.run(0, 100, task="a")
    w.run(10, 20, task="b", status="error", error=("builtins.ValueError", "already running"))
    w.run(200, 210, task="c", status="error", error=("builtins.KeyError", "x"))
    report = analyzed([w.write()])
    (f,) = [f for f in report.findings if f.kind == "errors"]
    assert f.severity == "error"
    assert f.headline.endswith("1 of 2")
    (stats,) = report.errors
    assert (stats.total, stats.during_overlap) == (2, 1)
    assert stats.types == {"builtins.ValueError": 1, "builtins.KeyError": 1}
    assert report.findings[0].kind == "errors"  # the most severe comes first


def test_declared_stateless_instances_overlap_as_info(writer, analyzed) -> None:
    w = writer()
    w.run(0, 100, task="a", stateful=False)
    w.run(10, 50, task="b", stateful=False)
    assert kinds(analyzed([w.write()])) == {"concurrent": "info"}


def test_unknown_statefulness_counts_as_stateful(writer, analyzed) -> None:
    w = writer()
    w.run(0, 100, task="a", stateful=False)
    w.run(10, 50, task="b")  # no stateful attribute
    assert kinds(analyzed([w.write()])) == {"concurrent": "warning"}


def test_benign_rule_lowers_to_info_and_ignore_rule_drops_and_counts(writer) -> None:
    w = writer()
    w.run(0, 100, task="a", cls="lib.runnables.Seq", method="lib.runnables.Seq.invoke")
    w.run(10, 50, task="b", cls="lib.runnables.Seq", method="lib.runnables.Seq.invoke")
    w.run(0, 100, task="a", key="cache/1", cls="app.cache.Cache", method="app.cache.Cache.get")
    w.run(10, 50, task="b", key="cache/1", cls="app.cache.Cache", method="app.cache.Cache.get")
    trace = load([w.write()])
    rules = Suppressions.parse("# known\nbenign:lib.runnables.*\nignore:app.cache.Cache.get\n",
                               "supp.txt")
    report = analyze(trace, suppressions=rules)
    (f,) = report.findings
    assert (f.instance_class, f.severity, f.suppressed_by) == (
        "lib.runnables.Seq", "info", "benign:lib.runnables.*")
    assert report.summary.suppressed == 1 and report.summary.benign == 1
    assert report.to_json()["suppressions"]["by_rule"] == {
        "benign:lib.runnables.*": 1, "ignore:app.cache.Cache.get": 1}


def test_a_method_rule_does_not_hide_another_methods_overlap(writer) -> None:
    w = writer()
    w.run(0, 100, task="a", method="app.cache.Cache.get", cls="app.cache.Cache")
    w.run(10, 50, task="b", method="app.cache.Cache.set", cls="app.cache.Cache")
    rules = Suppressions.parse("ignore:app.cache.Cache.get")
    assert len(analyze(load([w.write()]), suppressions=rules).findings) == 1


@pytest.mark.parametrize("line", ["benign", "quiet:x.y", "ignore:", "benign:a b"])
def test_a_bad_rule_names_its_file_and_line(line: str) -> None:
    with pytest.raises(SuppressionError, match=r"^rules\.txt:2: bad suppression rule"):
        Suppressions.parse(f"benign:ok.*\n{line}\n", "rules.txt")


def test_finding_ids_are_stable_and_ordered_by_severity(writer, analyzed) -> None:
    w = writer()
    w.run(0, 10, task="a", key="lat/1")
    w.run(20, 30, task="b", key="lat/1")
    w.run(0, 100, task="a", key="hot/1")
    w.run(10, 50, task="b", key="hot/1")
    path = w.write()
    first, second = analyzed([path]), analyzed([path])
    assert [(f.id, f.kind) for f in first.findings] == [("F1", "concurrent"), ("F2", "latent")]
    assert [f.id for f in second.findings] == [f.id for f in first.findings]
    assert first.instances[0].key == "hot/1"  # instances with the worst findings first
    assert first.instances[0].finding_ids == ("F1",)


def test_pairs_listed_are_capped_but_counts_are_true(writer, analyzed) -> None:
    w = writer()
    for n in range(30):
        w.run(n * 0.01, 100, task=f"t{n}")
    report = analyzed([w.write()], max_pairs=10)
    (f,) = report.findings
    assert f.pair_count == 30 * 29 // 2 and len(f.pairs) == 10 and f.pairs_truncated
    assert f.run_count == 30 and f.max_concurrency == 30
    assert {r.run_id for r in f.runs} == {x for pair in f.pairs for x in pair}


def _runs(n: int, *, tasks: bool = True, pid: int = 1) -> list[Run]:
    return [Run(run_id=f"{pid}-{i}", method="m.C.run", start_ns=i, instance_key="k",
                end_ns=10 * n + i, task_key=f"t{i}" if tasks else None, pid=pid, host="h",
                file="/a.py", line=i)
            for i in range(n)]


def test_a_huge_episode_is_judged_run_by_run_with_exact_counts() -> None:
    runs = _runs(300)
    starts = [r.start_ns for r in runs]
    ends = [r.end_ns for r in runs]
    ancestry = Ancestry(lambda _: None)
    small = analyze_key(runs, starts, ends, ancestry=ancestry, max_pairs=5)
    large = analyze_key(runs, starts, ends, ancestry=ancestry, max_pairs=5, edge_limit=10)
    for result in (small, large):
        (draft,) = result.drafts
        assert draft.kind == "concurrent" and draft.pair_count == 300 * 299 // 2
        assert len(draft.pairs) == 5 and draft.run_count == 300 and draft.peak == 300
    assert large.drafts[0].classified == "run"
    assert large.drafts[0].stretches == small.drafts[0].stretches


def test_a_huge_mixed_episode_keeps_the_total_exact() -> None:
    runs = _runs(200)
    runs[150].parent_run_id = runs[3].run_id  # one re-entrant run among concurrent ones
    starts = [r.start_ns for r in runs]
    ends = [r.end_ns for r in runs]
    trace = Trace(runs=runs, processes=[])
    large = analyze_key(runs, starts, ends, ancestry=Ancestry(trace.run_by_id), max_pairs=5,
                        edge_limit=10)
    assert sum(d.pair_count for d in large.drafts) == 200 * 199 // 2
    assert {d.kind for d in large.drafts} == {"concurrent", "reentrant"}
    assert sum(d.run_count for d in large.drafts) == 200


def test_empty_trace_has_no_findings(tmp_path: Path) -> None:
    report = analyze(Trace(runs=[], processes=[]))
    assert report.findings == [] and report.instances == []
    assert report.summary.runs == 0 and report.to_json()["summary"]["start_ns"] is None


def test_a_frameworks_own_concurrency_error_is_recognized(writer, analyzed) -> None:
    w = writer()
    w.run(0, 100, task="a", key="team/1", cls="autogen_agentchat.teams.RoundRobinGroupChat")
    w.run(10, 11, task="b", key="team/1", cls="autogen_agentchat.teams.RoundRobinGroupChat",
          status="error", error=("builtins.ValueError", "The team is already running, it "
                                 "cannot run again until it is stopped."))
    report = analyzed([w.write()])
    (f,) = [f for f in report.findings if f.kind == "errors"]
    assert [k["id"] for k in f.details["known_errors"]] == ["autogen.team-already-running"]
    assert "AutoGen raises this" in f.explanation and "factory" in f.fix
    assert report.errors[0].known == {"autogen.team-already-running": 1}


def test_a_merged_finding_raised_above_info_is_no_longer_suppressed(writer) -> None:
    # The same pair on a session and on the agent; the rule covers the session's classes
    # ("app.Agent, app.Tool") only, so the agent's warning stands and the merged finding too.
    w = writer()
    for start, task in ((0, "a"), (50, "b")):
        w.run(start, start + 100, task=task, key="h/1/1", resource="s1", stateful=False)
    w.run(300, 310, task="c", key="h/1/1")  # statefulness unknown: the agent counts as stateful
    w.run(400, 410, task="d", key="h/1/2", cls="app.Tool", method="app.Tool.call",
          resource="s1", stateful=False)
    report = analyze(load([w.write()]), suppressions=Suppressions.parse("benign:app.Agent,*"))
    (f,) = [f for f in report.findings if f.is_overlap]
    assert f.key_kind == "resource" and [o["key"] for o in f.also_on] == ["h/1/1"]
    assert (f.severity, f.suppressed_by) == ("warning", None)
    assert report.summary.benign == 0
