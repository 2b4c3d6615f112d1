"""LangChain: two requests on one chat history at once; each answers without the other's turn.

A user sends two messages in quick succession to a chat chain wrapped in
`RunnableWithMessageHistory`. Both runs read the session's history when they start and append
to it when they end, so the second answer is made without the first exchange and the history
ends interleaved. Offline: LangChain's FakeListChatModel plays the model.

    RACETRACE=1 python samples/langchain_shared_history.py && racetrace report racetrace-traces
Fixed twin: langchain_shared_history_fixed.py (one run at a time per session).
"""

import asyncio
import warnings

from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

# RunnableWithMessageHistory and InMemoryChatMessageHistory are deprecated in favour of
# LangGraph's persistence (see langgraph_shared_thread.py), and still widely used.
warnings.simplefilter("ignore", DeprecationWarning)

HISTORIES: dict[str, InMemoryChatMessageHistory] = {}  # the service's conversation store
SESSION = {"configurable": {"session_id": "user-7"}}
MESSAGES = ["hi", "where is order 42?"]


def history_of(session_id: str) -> InMemoryChatMessageHistory:
    return HISTORIES.setdefault(session_id, InMemoryChatMessageHistory())


# Stateless and shared, as LangChain chains are; `sleep` stands for the model's latency.
PROMPT = ChatPromptTemplate.from_messages(
    [MessagesPlaceholder("history"), ("human", "{question}")]
)
MODEL = FakeListChatModel(responses=["Hello!", "Order 42 has shipped."], sleep=0.05)
SHOWN: list[int] = []  # how many earlier messages each model call was shown


def note_shown(prompt):  # type: ignore[no-untyped-def]
    SHOWN.append(len(prompt.to_messages()) - 1)  # all but the new question
    return prompt


CHAT = RunnableWithMessageHistory(PROMPT | note_shown | MODEL, history_of,
                                  input_messages_key="question", history_messages_key="history")


async def ask(question: str) -> str:
    reply = await CHAT.ainvoke({"question": question}, SESSION)
    return str(reply.content)


async def main() -> None:
    print(await asyncio.gather(*(ask(m) for m in MESSAGES)))
    print(f"earlier messages shown to the model: {SHOWN}")


if __name__ == "__main__":
    asyncio.run(main())
