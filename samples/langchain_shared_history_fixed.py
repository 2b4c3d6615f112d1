"""The fix for langchain_shared_history.py: one run at a time per session.

A lock per session id queues the second message behind the first: it starts from the history
the first one saved.

    RACETRACE=1 python samples/langchain_shared_history_fixed.py
    racetrace report racetrace-traces
"""

import asyncio
from collections import defaultdict

from langchain_shared_history import MESSAGES, SESSION, SHOWN, ask

SESSION_LOCKS: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def ask_in_turn(question: str) -> str:
    async with SESSION_LOCKS[SESSION["configurable"]["session_id"]]:
        return await ask(question)


async def main() -> None:
    print(await asyncio.gather(*(ask_in_turn(m) for m in MESSAGES)))
    print(f"earlier messages shown to the model: {SHOWN}")


if __name__ == "__main__":
    asyncio.run(main())
