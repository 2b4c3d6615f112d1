"""The fix for openai_agents_shared_session.py: one run at a time per session.

A lock per session queues the second message behind the first: it starts from the history
the first one saved.

    RACETRACE=1 python samples/openai_agents_shared_session_fixed.py
    racetrace report racetrace-traces
"""

import asyncio
from collections import defaultdict

from agents import SQLiteSession
from openai_agents_shared_session import ask, ask_streamed

SESSION_LOCKS: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def main() -> None:
    session = SQLiteSession("user-7")

    async def one_at_a_time(ask_fn, message: str) -> str:  # type: ignore[no-untyped-def]
        async with SESSION_LOCKS[session.session_id]:
            return await ask_fn(session, message)

    answers = await asyncio.gather(one_at_a_time(ask, "hi"),
                                   one_at_a_time(ask_streamed, "where is 42?"))
    print(answers)
    items = await session.get_items()
    print("history:", [item.get("role") for item in items])


if __name__ == "__main__":
    asyncio.run(main())
