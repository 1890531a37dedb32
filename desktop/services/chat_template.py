"""A GGUF's chat template is untrusted code: render it sandboxed, in bounded time and memory.

llama-cpp-python renders templates in Jinja's sandbox, so a template cannot reach Python's
internals (it raises SecurityError). The sandbox does not bound work, though: nested
`range(100000)` loops run for hours and grow the process by gigabytes. Here every render runs
under a wall-clock limit (SIGALRM, main thread) and a memory limit (RLIMIT_DATA raised back
after), and a template is checked on sample conversations before it is used: at import, and in
the model child at load. A template that fails the check is replaced by the generic (ChatML)
format with a notice that says why.

`python -m desktop.services.chat_template MODEL.gguf` runs the check in a process of its own
(what `models import` does, so the check cannot hang or bloat the caller); it prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

log = logging.getLogger("desktop.llm")

RENDER_TIMEOUT_S = 2.0  # a real template renders in milliseconds
RENDER_MEMORY_BYTES = 256 * 1024**2  # on top of what the process already uses
CHECK_TIMEOUT_S = 20.0  # the whole check process, start-up included

# The generic format used when a GGUF has no template, or its template is refused.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SAMPLES: tuple[tuple[dict[str, str], ...], ...] = (
    (
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi. How can I help?"},
        {"role": "user", "content": "What is 2 + 2?"},
    ),
    ({"role": "user", "content": "Hello!"},),
)


class TemplateRefused(Exception):
    """The template failed, escaped its sandbox, or ran past its time or memory limit."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class _TimeUp(BaseException):
    """Raised by the alarm inside the render (a BaseException, so templates' code can't catch it)."""


def _data_in_use() -> int | None:
    """Bytes of the process's data segment (what RLIMIT_DATA counts), Linux only."""
    try:
        with open("/proc/self/statm") as f:
            fields = f.read().split()
        return int(fields[5]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def bounded(timeout_s: float = RENDER_TIMEOUT_S, memory_bytes: int = RENDER_MEMORY_BYTES) -> Iterator[None]:
    """Run the body with a time limit (main thread only; elsewhere the limit is skipped) and, on
    Linux, a data-segment limit of current use + `memory_bytes`. Both are lifted afterwards."""
    import threading

    timer = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    old_handler: Any = None
    old_limit: tuple[int, int] | None = None
    if timer:

        def on_alarm(signum: int, frame: Any) -> None:
            raise _TimeUp()

        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    in_use = _data_in_use()
    try:
        import resource

        if in_use is not None:
            old_limit = resource.getrlimit(resource.RLIMIT_DATA)
            hard = old_limit[1]
            want = in_use + memory_bytes
            if hard == resource.RLIM_INFINITY or want <= hard:
                resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
            else:
                old_limit = None
    except (ImportError, ValueError, OSError):
        old_limit = None
    try:
        yield
    except _TimeUp:
        raise TemplateRefused(f"it ran for more than {timeout_s:g} s") from None
    except MemoryError:
        raise TemplateRefused(f"it needed more than {memory_bytes // 1024**2} MB of memory") from None
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
        if old_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_DATA, old_limit)


def make_formatter(template: str, eos: str, bos: str, eos_id: int) -> Any:
    """llama-cpp-python's Jinja2ChatFormatter (sandboxed Jinja) for `template`."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id] if eos_id != -1 else None
    )


def render(formatter: Any, messages: Sequence[dict[str, str]]) -> Any:
    """Render `messages` with bounds; TemplateRefused if the template fails or runs away."""
    try:
        with bounded():
            return formatter(messages=list(messages))
    except TemplateRefused:
        raise
    except Exception as exc:  # SecurityError, TemplateError, UndefinedError, TypeError …
        kind = type(exc).__name__
        if kind == "SecurityError":
            raise TemplateRefused("it tried to reach outside its sandbox", repr(exc)[:300]) from None
        raise TemplateRefused(f"it failed to render ({kind})", repr(exc)[:300]) from None


def fold_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]] | None:
    """The conversation with a leading system message folded into the first user turn (as Gemma 3's
    own template does, and as Google advises for Gemma 2); None when there is no system message.
    With no user turn to fold into, the system text becomes the first user turn."""
    if not messages or messages[0]["role"] != "system":
        return None
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}" if system.strip() else m["content"]
            return rest
    return [{"role": "user", "content": system}, *rest]


def render_chat(formatter: Any, messages: Sequence[dict[str, str]]) -> Any:
    """Render a conversation with the model's template, keeping its system message.

    Templates without a system role either raise on it (Gemma 2, Mistral v0.2) or drop it without a
    word (Phi-3-mini's first template: only user and assistant turns are written). Either way the
    system message (Hearth's instructions: cite the sources, say when they do not answer) would be
    lost, so it is folded into the first user turn and the conversation rendered again.
    TemplateRefused when the template fails on the folded conversation too (that failure's reason).
    """
    folded = fold_system(messages)
    try:
        result = render(formatter, messages)
    except TemplateRefused as refused:
        if folded is None or not refused.reason.startswith("it failed to render"):
            raise  # a runaway template is not given a second run
        return render(formatter, folded)
    if folded is not None and (system := messages[0]["content"].strip()) and system not in result.prompt:
        return render(formatter, folded)
    return result


def needs_bos(prompt: str, bos: str) -> bool:
    """Whether the tokenizer should add its BOS token in front of a rendered prompt: not when the
    template wrote it already (llama.cpp's server strips it then; here it is simply not doubled).
    The tokenizer adds it only for models whose GGUF asks for one (`add_bos_token`)."""
    return not (bos and prompt.startswith(bos))


def check(template: str, eos: str = "</s>", bos: str = "<s>") -> tuple[bool, str]:
    """Compile and render the sample conversations under the bounds: (ok, reason if refused)."""
    try:
        with bounded():
            formatter = make_formatter(template, eos, bos, -1)
    except TemplateRefused as exc:
        return False, exc.reason
    except Exception as exc:
        return False, f"it does not compile ({type(exc).__name__})"
    for sample in SAMPLES:
        try:
            result = render_chat(formatter, sample)  # as the runtime renders (system folded if need be)
        except TemplateRefused as exc:
            return False, exc.reason
        if len(result.prompt) > 200_000:
            return False, "it writes an absurdly long prompt for a short conversation"
    return True, ""


def refusal_notice(reason: str) -> str:
    return (
        f"This model's chat template was refused ({reason}), so Hearth uses a generic chat format "
        "for it. Answers may be a little worse; the model itself is fine."
    )


def check_in_subprocess(model_path: str) -> tuple[bool, str]:
    """`check` for a GGUF's template in a process of its own, killed at CHECK_TIMEOUT_S."""
    import subprocess

    cmd = [sys.executable, "-m", "desktop.services.chat_template", str(model_path)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return False, f"checking it took more than {CHECK_TIMEOUT_S:g} s"
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        return bool(out["ok"]), str(out.get("reason", ""))
    except (ValueError, IndexError, KeyError):
        return False, f"the check stopped ({proc.returncode})"


def _main(argv: Sequence[str]) -> int:
    from desktop.services import privacy

    privacy.install()
    from desktop.services.gguf_header import read_model_info

    template = read_model_info(argv[0]).chat_template
    ok, reason = check(template) if template else (True, "")
    print(json.dumps({"ok": ok, "reason": reason, "has_template": bool(template)}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
