"""Each chat keeps the model that answers it, a LoRA adapter included ("base + adapter", as the
picker and `hearth models list` name it), in the chat's `model` field (services/chats.py).

- `remember`: a question asked with another model loaded makes that the chat's model.
- `follow`: opening a chat whose model is not the loaded one loads it (for this window only: the
  default model in settings stays as it is), once the name is known to resolve; one that cannot
  be had any more (file gone, adapter without its base) is said, and the loaded model answers.
`hearth chat --resume ID` uses the same field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from desktop.core.errors import AppError
from desktop.ui import messages

if TYPE_CHECKING:
    from desktop.services.chats import ChatStore
    from desktop.ui.jobs import JobHandle
    from desktop.ui.session import LoadedModel, Session


def remember(store: ChatStore, chat_id: int, loaded: LoadedModel | None) -> None:
    """The chat is answered by `loaded` from now on (nothing while no model is loaded)."""
    if loaded is None:
        return
    try:
        if store.chat(chat_id).model != loaded.name:
            store.set_model(chat_id, loaded.name)
    except (AppError, KeyError):
        pass  # a chat deleted meanwhile, or a full disk: the answer matters more than this field


def follow(session: Session, wanted: str) -> JobHandle | None:
    """Load the chat's model `wanted` if another one is loaded (its name is resolved first, on the
    io lane, so a model that is gone never leaves the window without one)."""
    loaded = session.model
    if not wanted or loaded is None or loaded.name == wanted:
        return None

    def resolve() -> str:
        from desktop.services import models

        models.resolve_choice(wanted)
        return wanted

    def resolved(name: str) -> None:
        current = session.model
        if current is not None and current.name != name:
            session.load_model(name)

    def failed(error: Any) -> None:
        current = session.model.name if session.model is not None else "the loaded model"
        why = error.user_message if isinstance(error, AppError) else str(error)
        messages.info(
            f"This chat was answered by {wanted}, which is not available: {why} {current} answers it now."
        )

    return session.runner.call("io", resolve, on_succeeded=resolved, on_failed=failed)
