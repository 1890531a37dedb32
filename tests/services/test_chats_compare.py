"""A turn answered side by side is one message: its text is the chosen answer, meta lists every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.services.chats import ChatStore


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = ChatStore(tmp_path / "chats.sqlite")
    yield s
    s.close()


def _turn(store: ChatStore) -> tuple[int, int]:
    chat = store.create_chat("Capitals", model="small", system_prompt="Be brief.")
    store.add_message(chat.id, "user", "Capital of France?")
    own = {"stats": {"ttft_s": 0.2, "tokens_per_s": 40.0, "completion_tokens": 5}}
    answer = store.add_message(chat.id, "assistant", "Paris.", own)
    return chat.id, answer.id


def test_comparison_is_kept_on_the_answer_and_history_sends_one_answer(store: ChatStore) -> None:
    chat_id, message_id = _turn(store)
    other = {"model": "large", "text": "It is Paris [1].", "stats": {"ttft_s": 1.5}, "citations": [{"n": 1}]}
    stored = store.add_comparison(message_id, "small", other)

    assert stored.content == "Paris."
    assert [e["model"] for e in stored.meta["compare"]] == ["small", "large"]
    assert stored.meta["compare"][0]["stats"]["tokens_per_s"] == 40.0
    assert stored.meta["compare_chosen"] == 0
    assert [m.role for m in store.messages(chat_id)] == ["user", "assistant"]
    history = store.history(chat_id)
    assert [m.content for m in history] == ["Be brief.", "Capital of France?", "Paris."]

    # The same model compared again replaces its answer; the first stays first.
    again = store.add_comparison(message_id, "small", {**other, "text": "Paris, France."})
    assert [e["text"] for e in again.meta["compare"]] == ["Paris.", "Paris, France."]


def test_choosing_the_other_answer_makes_the_chat_continue_from_it(store: ChatStore) -> None:
    chat_id, message_id = _turn(store)
    other = {"model": "large", "text": "It is Paris [1].", "stats": {"ttft_s": 1.5}, "citations": [{"n": 1}]}
    store.add_comparison(message_id, "small", other)
    chosen = store.choose_answer(message_id, 1)
    assert chosen.content == "It is Paris [1]." and chosen.meta["model"] == "large"
    assert chosen.meta["citations"] == [{"n": 1}] and chosen.meta["stats"] == {"ttft_s": 1.5}
    assert store.history(chat_id)[-1].content == "It is Paris [1]."
    back = store.choose_answer(message_id, 0)
    assert back.content == "Paris." and "citations" not in back.meta
    with pytest.raises(IndexError):
        store.choose_answer(message_id, 2)


def test_exports_show_both_answers_with_model_and_stats(store: ChatStore) -> None:
    chat_id, message_id = _turn(store)
    store.add_comparison(
        message_id, "small", {"model": "large", "text": "Paris!", "stats": {}, "citations": []}
    )
    md = store.export_markdown(chat_id)
    assert "## Hearth — side by side: small and large" in md
    assert "### small (the answer the chat continued from)" in md and "### large" in md
    assert "0.20 s to first token · 40.0 tokens/s · 5 tokens" in md
    assert md.count("Paris.") == 1 and "Paris!" in md
    data = store.export_json(chat_id)
    assert [e["model"] for e in data["messages"][1]["compare"]] == ["small", "large"]
