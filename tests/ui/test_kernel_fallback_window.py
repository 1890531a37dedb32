"""The window on a CPU whose fastest kernels crash (fault injection): it says so, and chats on."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.ui.session import open_planned_runtime

pytestmark = pytest.mark.slow


def test_the_window_explains_the_kernel_fallback_and_the_model_loads(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTH_FAULT_KERNEL_CRASH", "load")  # the model child inherits it
    window = make_window(factory=open_planned_runtime)  # returns once the model is loaded
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=60_000)
    assert window.session.model.backend == "cpu"
    qtbot.waitUntil(lambda: "portable kernels" in window.banner.text(), timeout=5000)
    assert "crashed (SIGSEGV)" in window.banner.text()
    assert window.session.runtime is not None and window.session.runtime.info.kernels == "portable"
