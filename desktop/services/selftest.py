"""`hearth doctor --selftest`: does every part really work on this machine? Pass or fail, with a remedy.

The first thing an admin runs on a new workstation, and what the window runs on its first start
(off the GUI thread). Each check uses the real part, as the app does, on throwaway inputs:

    engine     load the chosen model and decode a short prompt (the kernel-crash ladder included)
    embedder   embed one sentence with the bundled all-MiniLM
    pdf        parse a PDF generated here, in the sandboxed worker
    stores     the data folder is private and writable; chats/library databases pass SQLite's
               quick_check; the vector index opens in a child process
    privacy    the network guard is on and refuses a lookup; the offline switches are set
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from desktop.core.errors import AppError
from desktop.core.settings import SettingsStore
from desktop.services import database

log = logging.getLogger("desktop.selftest")

CHECKS = ("engine", "embedder", "pdf", "stores", "privacy")
RESULT_FILE = "selftest.json"
PDF_PHRASE = "Hearth reads this page"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    seconds: float
    summary: str  # what was checked and what it gave, one line
    remedy: str = ""  # what to do when it failed
    detail: str = ""  # technical detail for a bug report

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckFailed(Exception):
    def __init__(self, summary: str, remedy: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary, self.remedy, self.detail = summary, remedy, detail


# ----------------------------------------------------------------------------- the checks


def check_engine(settings: SettingsStore) -> str:
    from desktop.core.chat import GenerationParams
    from desktop.core.events import Notice
    from desktop.core.jobs import CancelToken, drive
    from desktop.core.types import ChatMessage
    from desktop.services.runtime import open_runtime

    runtime, choice = open_runtime(settings, server=False)  # this computer's engine, not a server
    notes: list[str] = []
    with runtime:
        info = runtime.start()
        stream = runtime.stream_chat(
            [ChatMessage("user", "Reply with one word: ready?")],
            GenerationParams(max_tokens=8, temperature=0.0, seed=1),
            CancelToken(),
        )
        completion = drive(stream, lambda e: notes.append(e.message) if isinstance(e, Notice) else None)
        info = runtime.info or info
    stats = completion.stats
    if stats.completion_tokens < 1:
        raise CheckFailed(
            "The model loaded but produced no tokens.",
            "Try another model file with `hearth models import PATH`.",
        )
    summary = (
        f"{Path(choice.model.path).name} on {info.backend} ({info.kernels} kernels), loaded in "
        f"{info.load_s:.1f} s; {stats.completion_tokens} tokens at {stats.tokens_per_s:.0f} tokens/s"
    )
    if info.kernels != "default":
        summary += "; " + (notes[0] if notes else "a safer kernel setting is in use on this CPU")
    return summary


def check_embedder() -> str:
    from desktop.services.embeddings import Embedder

    emb = Embedder(threads=1)
    vectors = emb.encode(["Hearth checks that it can embed this sentence."])
    vec = [float(x) for x in vectors[0]]
    norm = math.sqrt(sum(x * x for x in vec))
    if len(vec) != emb.dim or not all(math.isfinite(x) for x in vec) or norm == 0:
        raise CheckFailed(
            f"The embedding model gave a bad vector ({len(vec)} numbers, norm {norm:.3f}).",
            "Reinstall Hearth (`make install`): the embedding model comes from its package.",
        )
    return f"{emb.name}: {len(vec)} dimensions, loaded in {emb.load_s:.1f} s"


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF with `text` in Helvetica, written by hand (no PDF library at run time)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def check_pdf() -> str:
    from desktop.services.pdf import extract_pages

    sentence = f"{PDF_PHRASE} correctly, so documents can be added to the library."
    with tempfile.TemporaryDirectory(prefix="hearth-selftest-") as tmp:
        path = Path(tmp) / "selftest.pdf"
        path.write_bytes(minimal_pdf(sentence))
        pages = extract_pages(path)
    text = " ".join(p.text for p in pages)
    if PDF_PHRASE not in text:
        raise CheckFailed(
            "A generated PDF was parsed, but its text did not come out.",
            "Reinstall Hearth (`make install`); the PDF reader (pypdf) may be damaged.",
            detail=text[:200],
        )
    return f"{len(pages)} page parsed in the sandboxed reader"


def _quick_check(path: Path) -> str:
    try:  # through the store's key: the stores are encrypted
        return database.quick_check(path)
    except database.StoreUnreadable as exc:
        return exc.user_message


def check_stores() -> str:
    from desktop.services import paths
    from desktop.services.library_vectors import check_health

    folder = paths.data_dir()
    probe = folder / ".selftest-write"
    try:
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        raise CheckFailed(
            f"Hearth cannot write to its data folder {folder}.",
            "Free some disk space, or fix the folder's permissions, or set HEARTH_DATA_DIR.",
            detail=str(exc),
        ) from exc
    if os.name == "posix" and folder.stat().st_mode & 0o077:
        raise CheckFailed(
            f"The data folder {folder} can be read by other users.", f"Run: chmod 700 {folder}"
        )
    found: list[str] = []
    for name in ("chats.sqlite", "library.sqlite"):
        db = folder / name
        if not db.exists():
            continue
        try:
            verdict = _quick_check(db)
        except database.Error as exc:
            verdict = str(exc)
        if verdict != "ok":
            raise CheckFailed(
                f"{name} is damaged ({verdict}).",
                f"Quit Hearth and move {db} aside; chats in it may be lost, the library can be "
                "rebuilt by adding your documents again.",
                detail=verdict,
            )
        found.append(name)
    ok, detail = check_health(folder / "vectors")
    if not ok:
        raise CheckFailed(
            "The vector index does not open.",
            "Start Hearth: it sets a damaged index aside and rebuilds it from your library.",
            detail=detail,
        )
    if (folder / "vectors").exists():
        found.append("vector index")
    return f"{folder}: private, writable; " + (", ".join(found) + " ok" if found else "no stores yet")


def check_privacy() -> str:
    import socket

    from desktop.services import privacy

    privacy.install()
    before = privacy.self_check_count()
    try:
        socket.getaddrinfo(privacy.SELFTEST_HOST, 443)
    except privacy.NetworkBlocked:
        pass
    except OSError as exc:
        raise CheckFailed(
            "The network guard did not refuse a lookup of an outside name.",
            "This is a bug in Hearth: report it.",
            detail=repr(exc),
        ) from exc
    if privacy.self_check_count() != before + 1:
        raise CheckFailed(
            "The network guard did not count a refused lookup.", "This is a bug in Hearth: report it."
        )
    missing = [k for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(k) != "1"]
    if missing:
        raise CheckFailed(
            f"Offline switches not set: {', '.join(missing)}.", "This is a bug in Hearth: report it."
        )
    return "network guard on: an outside lookup was refused; offline switches set"


# ----------------------------------------------------------------------------- running them


def current_settings() -> SettingsStore:
    """The settings of the current data dir (the window and the CLI pass their own)."""
    from desktop.services import paths

    return SettingsStore(paths.data_dir() / "settings.json")


def run_selftest(
    settings: SettingsStore,
    on_result: Callable[[CheckResult], None] | None = None,
    checks: Sequence[str] = CHECKS,
) -> list[CheckResult]:
    """Run the checks in order; a failing check never stops the others."""
    runners: dict[str, Callable[[], str]] = {
        "engine": lambda: check_engine(settings),
        "embedder": check_embedder,
        "pdf": check_pdf,
        "stores": check_stores,
        "privacy": check_privacy,
    }
    results: list[CheckResult] = []
    for name in checks:
        t0 = time.perf_counter()
        try:
            result = CheckResult(name, True, 0.0, runners[name]())
        except CheckFailed as exc:
            result = CheckResult(name, False, 0.0, exc.summary, exc.remedy, exc.detail)
        except AppError as exc:
            result = CheckResult(name, False, 0.0, exc.user_message, exc.hint, exc.detail)
        except Exception as exc:  # a bug or a broken install: report it as a failure, keep going
            log.exception("selftest %s failed", name)
            summary, remedy = f"{type(exc).__name__}: {exc}", "Reinstall Hearth (`make install`)."
            result = CheckResult(name, False, 0.0, summary, remedy, repr(exc))
        result = CheckResult(**{**result.to_dict(), "seconds": round(time.perf_counter() - t0, 2)})
        results.append(result)
        if on_result is not None:
            on_result(result)
    with contextlib.suppress(Exception):
        save_results(results)
    return results


def save_results(results: Sequence[CheckResult]) -> None:
    from desktop.services import paths

    path = paths.data_dir() / RESULT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"when": time.time(), "results": [r.to_dict() for r in results]}, indent=1))
    os.replace(tmp, path)


def last_results() -> list[CheckResult] | None:
    """The results of the last self-test in this data dir, or None if it never ran."""
    from desktop.services import paths

    try:
        data = json.loads((paths.data_dir() / RESULT_FILE).read_text())
        return [CheckResult(**r) for r in data["results"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
