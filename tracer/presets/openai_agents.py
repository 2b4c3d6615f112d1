"""OpenAI Agents SDK: `Runner.run`, `Runner.run_sync`, `Runner.run_streamed`.

These are classmethods: the run's instance is the `starting_agent` argument. An `Agent` is a
configuration (stateless: one agent serves every request); the conversation lives in the
session, whose id is the resource key (stateful: two runs on one session at once interleave
its history), or, without a session, in a server-side conversation id. `run_streamed` returns
at once and the run goes on in a background task: the run ends when that task ends.
"""

from __future__ import annotations

from typing import Any

from .spec import EntryPoint, Preset, argument

RUN = "agents.run"


def conversation_of(agent: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """`openai-agents/session/<id>` for a session, else the server-side conversation."""
    session = kwargs.get("session")
    if session is not None:
        session_id = getattr(session, "session_id", None)
        if session_id is not None:
            return f"openai-agents/session/{session_id}"
    conversation_id = kwargs.get("conversation_id")
    if conversation_id is not None:
        return f"openai/conversation/{conversation_id}"
    return None


def _background_task(result: Any, agent: object) -> Any:
    return getattr(result, "run_loop_task", None)


_STARTING_AGENT = argument(0, "starting_agent")

PRESET = Preset(
    name="openai_agents",
    tested=(("openai-agents", "0.24.0"),),
    family=("agents",),
    entry_points=tuple(
        EntryPoint(
            RUN, f"Runner.{method}", stateful=False, instance=_STARTING_AGENT,
            resource=conversation_of, agent=True, instance_class="agents.agent:Agent",
            ends_with=_background_task if method == "run_streamed" else None,
            runs_loop=method == "run_sync",
        )
        for method in ("run", "run_sync", "run_streamed")
    ),
)


def enable() -> None:
    PRESET.enable()
