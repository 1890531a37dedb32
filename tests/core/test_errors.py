"""Every kind of AppError crosses a process pipe as itself (issue 9: the model child's errors came
back as one of 4 kinds; a DocumentError or a StorageError raised there became a plain AppError)."""

from __future__ import annotations

import pickle

import pytest

import desktop.core.policy  # noqa: F401  (declares PolicyError)
from desktop.core import errors
from desktop.core.errors import AppError, DocumentError, from_wire


def _kinds() -> list[type[AppError]]:
    return [AppError, *errors._BY_KIND.values()]


@pytest.mark.parametrize("cls", _kinds(), ids=lambda c: c.kind)
def test_each_kind_crosses_a_pipe_as_itself(cls: type[AppError]) -> None:
    sent = cls.__new__(cls)
    AppError.__init__(sent, f"A {cls.kind} went wrong.", "Do this.", detail="trace")
    wire = pickle.loads(pickle.dumps(("error", *sent.to_wire())))  # what the child's pipe carries
    got = from_wire(*wire[1:])
    assert type(got) is errors._BY_KIND.get(cls.kind, AppError)
    assert (got.kind, got.user_message, got.hint, got.detail) == (
        cls.kind,
        f"A {cls.kind} went wrong.",
        "Do this.",
        "trace",
    )


def test_a_kind_keeps_its_own_fields_and_an_unknown_kind_is_still_an_app_error() -> None:
    got = from_wire(*DocumentError("It is locked.", "Give the password.", reason="encrypted").to_wire())
    assert isinstance(got, DocumentError) and got.reason == "encrypted" and got.hint == "Give the password."
    got = from_wire("from_a_newer_hearth", "Something new.", "", "", {})
    assert type(got) is AppError and got.user_message == "Something new."
    assert len({c.kind for c in _kinds()}) >= 11  # every kind declared so far, not 4 of them
