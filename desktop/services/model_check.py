"""Is this model faithful when it writes in its own words? A small measured check, once per model.

`auto` answer and summary modes used to follow the parameter count alone (grounded below 1B). The
check replaces that guess with a measurement: the model summarizes a few short passages with
known facts in its own words (the abstractive task), and every sentence it writes is checked
against its passage by the same support test answers and summaries use (core/grounding.Support:
every number and name in the passage, and most of its content words). A model whose sentences
are supported (FAITHFUL_SHARE, on every passage) passes: `auto` then lets it write (answers:
checked, summaries: abstractive); one that fails stays grounded (quotes, a checked overview).

The verdict is kept in the data dir (`model_checks.json`), keyed by the model file's name, size
and modification time, so a model is checked at most once (before its first `auto` summary, on
the lane that owns the model, and in the window after the model loads; answers only follow a kept
verdict; a time cap ends it "unmeasured", which keeps the size rule and is kept too).
`hearth models list --json` shows it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from desktop.core.chat import GenerationParams
from desktop.core.errors import Cancelled
from desktop.core.events import Event, Progress, Token
from desktop.core.grounding import Support
from desktop.core.jobs import CancelToken
from desktop.core.summarize.text import split_sentences_basic
from desktop.core.types import ChatMessage

log = logging.getLogger("desktop.models")

PROBE_VERSION = 1
FAITHFUL_SHARE = 0.8  # of all sentences written, supported by their passage
MIN_COVERAGE = 0.6  # content words of a sentence found in its passage (the overview's threshold)
TIME_CAP_S = 120.0
MAX_TOKENS = 80
CACHE_FILE = "model_checks.json"

# Short passages with specifics (amounts, years, names) a paraphrase must keep and an invention
# would break. Written for this check; about 70 words each.
PASSAGES: tuple[str, ...] = (
    "The Millbrook water board approved a new filtration plant in March 2021. The plant cost "
    "$14 million and was built by Harlan Engineering. It can treat 40 million litres a day, twice "
    "the capacity of the old plant, which had served the town since 1962. Residents' water bills "
    "rose by 6 percent to pay for it.",
    "Ada Okafor founded the Riverside Reading Club in 2015 with eight members. The club now has "
    "120 members and meets every second Tuesday at the public library. Each year it chooses twelve "
    "books by vote. In 2023 it raised $3,500 for the library's children's section through a book "
    "sale.",
    "The Northfield rail line was closed for repairs for 18 days in August. Engineers replaced "
    "2.4 kilometres of track and two signal boxes near Elm Junction. During the closure, buses "
    "carried about 9,000 passengers a day. The operator, Westway Trains, said the work would cut "
    "delays on the line by a third.",
    "A survey of 600 small farms in the Tarn valley found that 45 percent had switched to drip "
    "irrigation since 2018. Farms that switched used 30 percent less water on average. The survey "
    "was run by the Agricultural Institute of Lyon, which plans to repeat it in 2026.",
)
PROMPT = "Summarize this passage in two sentences, in your own words.\n\nPassage:\n{passage}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The check's outcome for one model file."""

    model: str  # the file's name
    result: str  # "faithful", "unfaithful" or "unmeasured" (time cap, no output)
    sentences: int = 0
    supported: int = 0
    passages_ok: int = 0  # passages where at least one sentence was written and all were supported
    seconds: float = 0.0
    probe: int = PROBE_VERSION
    detail: str = ""

    @property
    def score(self) -> float:
        return self.supported / self.sentences if self.sentences else 0.0

    def answer_mode(self) -> str | None:
        """What `auto` means for answers with this model (None: not measured; the size rule)."""
        return {"faithful": "checked", "unfaithful": "grounded"}.get(self.result)

    def summary_mode(self) -> str | None:
        return {"faithful": "abstractive", "unfaithful": "grounded"}.get(self.result)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 3)}


def model_key(path: str | Path) -> str:
    """The cache key of a model file: name, size, modification time (no need to hash gigabytes)."""
    st = Path(path).stat()
    return f"{Path(path).name}:{st.st_size}:{st.st_mtime_ns}"


def _cache_path() -> Path:
    """`model_checks.json` in the data dir; HEARTH_MODEL_CHECKS names another file (the test suite
    shares one, so its many fresh data dirs check the bundled model once per run, not per test)."""
    from desktop.services.paths import data_dir

    override = os.environ.get("HEARTH_MODEL_CHECKS")
    return Path(override) if override else data_dir() / CACHE_FILE


def load_verdicts() -> dict[str, Any]:
    """Every kept verdict, by model key (for cached_verdict's `kept`)."""
    return _load()


def _load() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_verdict(path: str | Path, kept: dict[str, Any] | None = None) -> Verdict | None:
    """The kept verdict for this model file, if it was checked (by this probe version). `kept`:
    the verdict file already read (listing many models reads it once)."""
    try:
        entry = (_load() if kept is None else kept).get(model_key(path))
    except OSError:
        return None
    if not isinstance(entry, dict) or entry.get("probe") != PROBE_VERSION:
        return None
    fields = {k: entry[k] for k in Verdict.__dataclass_fields__ if k in entry}
    try:
        return Verdict(**fields)
    except TypeError:
        return None


def _store(path: str | Path, verdict: Verdict) -> None:
    cache = _cache_path()
    data = _load()
    data[model_key(path)] = verdict.to_dict()
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, cache)


def score_output(passage: str, text: str) -> tuple[int, int]:
    """(sentences written, sentences supported by `passage`); fragments under 4 words ignored."""
    support = Support([passage], possessives=True)
    sentences = [s for s in split_sentences_basic(text.strip()) if len(s.split()) >= 4]
    return len(sentences), sum(support.supports(s, MIN_COVERAGE) for s in sentences)


def local_model_path(runtime: Any) -> str | None:
    """The GGUF file that answers through `runtime` on this computer, or None (a model server, a fake)."""
    if getattr(runtime, "using_server", False):
        return None
    active = getattr(runtime, "active", runtime)
    path = getattr(active, "model_path", None)
    return str(path) if path and Path(str(path)).is_file() else None


def run_check(
    engine: Any, model_path: str | Path, cancel: CancelToken, time_cap_s: float = TIME_CAP_S
) -> Generator[Event, None, Verdict]:
    """Ask `engine` for each passage's summary and score it; keeps and returns the verdict."""
    name = Path(model_path).name
    t0 = time.perf_counter()
    sentences = supported = passages_ok = 0
    result, detail = "", ""
    for k, passage in enumerate(PASSAGES):
        cancel.raise_if_cancelled()
        yield Progress(k, len(PASSAGES), f"Checking how faithful {name} is (once per model)", "passages")
        left = time_cap_s - (time.perf_counter() - t0)
        if left <= 0:
            result, detail = "unmeasured", f"stopped at the {time_cap_s:.0f} s cap after {k} passages"
            break
        messages = [ChatMessage("user", PROMPT.format(passage=passage))]
        params = GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0, top_k=1, repeat_penalty=1.1, seed=1)
        inner = CancelToken()
        cancel.on_cancel(inner.cancel)
        out: list[str] = []
        gen = engine.stream_chat(messages, params, inner)
        try:
            for event in gen:
                if isinstance(event, Token):
                    out.append(event.text)
                if time.perf_counter() - t0 > time_cap_s and not inner.cancelled:
                    inner.cancel()
        except Cancelled:
            if cancel.cancelled:
                raise
        finally:
            gen.close()
        if inner.cancelled and not cancel.cancelled:
            result, detail = "unmeasured", f"stopped at the {time_cap_s:.0f} s cap after {k} passages"
            break
        n, ok = score_output(passage, "".join(out))
        sentences += n
        supported += ok
        passages_ok += int(n > 0 and ok == n)
    if not result:
        if sentences == 0:
            result, detail = "unfaithful", "wrote no sentence"
        elif supported / sentences >= FAITHFUL_SHARE and passages_ok >= len(PASSAGES) - 1:
            result = "faithful"
        else:
            result = "unfaithful"
    verdict = Verdict(
        name, result, sentences, supported, passages_ok, round(time.perf_counter() - t0, 1), detail=detail
    )
    log.info("model check %s: %s (%s/%s sentences supported)", name, result, supported, sentences)
    try:
        _store(model_path, verdict)
    except OSError as exc:  # the verdict still applies to this job
        log.warning("model check not kept: %s", exc)
    yield Progress(len(PASSAGES), len(PASSAGES), "Model checked", "passages")
    return verdict


def verdict_for(runtime: Any, cancel: CancelToken) -> Generator[Event, None, Verdict | None]:
    """The kept verdict of the model answering through `runtime`, checking it first if it never
    was; None when there is no local model file to check (a model server, a test fake)."""
    path = local_model_path(runtime)
    if path is None:
        return None
    verdict = cached_verdict(path)
    if verdict is None:
        verdict = yield from run_check(runtime, path, cancel)
    return verdict
