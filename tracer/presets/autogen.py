"""AutoGen AgentChat and Core: agents, teams and the single-threaded runtime.

Agents and teams are stateful: an agent keeps its model context between calls, a team its
conversation and a running flag, so two runs at once on one of them are a bug (a team even
raises "The team is already running"). AutoGen delegates on one instance (`run` ->
`on_messages` -> `on_messages_stream`, a team's `run` iterating its own `run_stream`), and
`AssistantAgent.on_messages` returns on the final response without closing its inner stream:
the delegation check makes each of those one run, with the outer call's start and end.
Built-in agents override `on_messages` / `on_messages_stream`, so every override is covered,
including classes defined later (autogen_ext's agents, the user's own).

`SingleThreadedAgentRuntime.start()` returns at once and the runtime runs until it is stopped:
the run lasts as long as its message loop task.
"""

from __future__ import annotations

from typing import Any

from .spec import EntryPoint, Preset

AGENTS = "autogen_agentchat.agents"
TEAMS = "autogen_agentchat.teams"


def _message_loop(result: Any, runtime: object) -> Any:
    """The runtime's message loop task, which `stop()` / `stop_when_idle()` end."""
    context = getattr(runtime, "_run_context", None)
    return getattr(context, "_run_task", None)


PRESET = Preset(
    name="autogen",
    tested=(("autogen-agentchat", "0.7.5"), ("autogen-core", "0.7.5"), ("autogen-ext", "0.7.5")),
    family=("autogen_agentchat", "autogen_core", "autogen_ext"),
    entry_points=(
        EntryPoint(AGENTS, "BaseChatAgent.run", stateful=True, agent=True),
        EntryPoint(AGENTS, "BaseChatAgent.run_stream", stateful=True, agent=True),
        EntryPoint(AGENTS, "BaseChatAgent.on_messages", stateful=True, agent=True),
        EntryPoint(AGENTS, "BaseChatAgent.on_messages_stream", stateful=True, agent=True),
        EntryPoint(TEAMS, "BaseGroupChat.run", stateful=True),
        EntryPoint(TEAMS, "BaseGroupChat.run_stream", stateful=True),
        EntryPoint(
            "autogen_core", "SingleThreadedAgentRuntime.start", stateful=True,
            subclasses=False, ends_with=_message_loop,
        ),
    ),
)


def enable() -> None:
    PRESET.enable()
