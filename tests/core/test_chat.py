from __future__ import annotations

from collections.abc import Sequence

import pytest

from desktop.core.chat import ChatRequest, chat_job, fit_history
from desktop.core.errors import ContextOverflow
from desktop.core.events import Notice
from desktop.core.jobs import run_job
from desktop.core.types import ChatMessage


def count_words(messages: Sequence[ChatMessage]) -> int:
    return sum(len(m.content.split()) + 2 for m in messages)


def convo(turns: int, words: int = 10) -> list[ChatMessage]:
    msgs = [ChatMessage("system", "be brief")]
    for i in range(turns):
        msgs.append(ChatMessage("user", f"q{i} " + "w " * words))
        msgs.append(ChatMessage("assistant", f"a{i} " + "w " * words))
    msgs.append(ChatMessage("user", "last question"))
    return msgs


def test_history_that_fits_is_kept_whole() -> None:
    msgs = convo(2)
    fitted = fit_history(msgs, count_words, 10_000)
    assert fitted.messages == tuple(msgs)
    assert fitted.dropped == 0


def test_trimming_keeps_system_prompt_and_newest_turns() -> None:
    msgs = convo(50)
    fitted = fit_history(msgs, count_words, 100)
    assert fitted.messages[0] == msgs[0]
    assert fitted.messages[-1] == msgs[-1]
    assert fitted.prompt_tokens <= 100
    assert fitted.dropped > 0
    # The kept part is a suffix of the conversation that starts with a user turn.
    assert fitted.messages[1].role == "user"
    assert list(fitted.messages[1:]) == msgs[len(msgs) - len(fitted.messages) + 1 :]


def test_trimming_keeps_as_much_as_fits() -> None:
    msgs = convo(50)
    fitted = fit_history(msgs, count_words, 100)
    # one more turn would not fit
    cut = len(msgs) - len(fitted.messages) + 1
    bigger = [msgs[0], *msgs[cut - 2 :]]
    assert count_words(bigger) > 100


def test_a_single_message_too_long_is_a_clear_error() -> None:
    msgs = [ChatMessage("system", "s"), ChatMessage("user", "w " * 500)]
    with pytest.raises(ContextOverflow) as err:
        fit_history(msgs, count_words, 100)
    assert "too long" in err.value.user_message


def test_empty_message_yields_a_notice_not_a_model_call() -> None:
    class Boom:
        def stream_chat(self, *a, **k):  # type: ignore[no-untyped-def]
            raise AssertionError("must not be called")

    events: list[object] = []
    result = run_job(chat_job(Boom(), ChatRequest((ChatMessage("user", "   "),))), events.append)
    assert result.text == ""
    assert any(isinstance(e, Notice) for e in events)
