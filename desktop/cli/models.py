"""`hearth models list | import PATH | info NAME|PATH | remove NAME`: the model catalog from a terminal."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from desktop.cli.common import ProgressLine, open_settings, print_json
from desktop.core.terminal import inline
from desktop.core.types import ModelInfo, RuntimePlan

FIT_WORDS = {"fits": "fits", "may_be_slow": "may be slow", "wont_fit": "WON'T FIT", None: "unusable"}


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list, import, inspect or remove chat models (GGUF)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")

    ls = msub.add_parser(
        "list",
        help="the bundled model, the imported ones and those found in other apps' folders "
        "(LM Studio, Ollama, GPT4All, Jan, ~/Models), with fit for this machine",
    )
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)

    imp = msub.add_parser("import", help="check a GGUF file and copy it into Hearth's models")
    imp.add_argument("path", help="path to a .gguf file")
    imp.add_argument("--json", action="store_true", help="print JSON")
    imp.set_defaults(func=run_import)

    info = msub.add_parser("info", help="what a model file says about itself, and how it would run here")
    info.add_argument("model", help="a model name (see `hearth models list`) or a path to a .gguf file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--hash", action="store_true", help="also compute the file's sha256 (reads it all)")
    info.add_argument("--context", type=int, default=0, help="plan for this context size (0: choose)")
    info.set_defaults(func=run_info)

    use = msub.add_parser("use", help="make a model the default (for chat, ask and summarize)")
    use.add_argument("name", help="a name from `hearth models list`, or a path to a .gguf file")
    use.set_defaults(func=run_use)

    chk = msub.add_parser(
        "check",
        help="measure whether a model stays faithful in its own words (auto answers and summaries "
        "follow the verdict; the window runs it when idle)",
    )
    chk.add_argument("name", nargs="?", help="a model name or .gguf path (default: the default model)")
    chk.add_argument("--again", action="store_true", help="check again even if a verdict is kept")
    chk.add_argument("--json", action="store_true")
    chk.set_defaults(func=run_check)

    rm = msub.add_parser("remove", help="delete an imported model (the bundled one stays)")
    rm.add_argument("name")
    rm.set_defaults(func=run_remove)

    p.set_defaults(func=lambda args: _help(p))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _size(n: int) -> str:
    return f"{n / 1024**3:.2f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _params(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def run_list(args: argparse.Namespace) -> int:
    from desktop.services import models

    skipped: list[tuple[str, str]] = []
    entries = models.list_models(skipped=skipped)
    settings = open_settings()
    selected = str(settings["model"]) or models.DEFAULT_NAME
    if args.json:
        from desktop.services import model_check

        kept = model_check.load_verdicts()

        def check(path: str) -> dict[str, Any] | None:  # the faithfulness check's verdict, once run
            verdict = model_check.cached_verdict(path, kept)
            return verdict.to_dict() if verdict else None

        print_json(
            [{**e.to_dict(), "selected": e.name == selected, "quality_check": check(e.path)} for e in entries]
        )
        return 0
    if not entries:
        print("No models. Run `make install` for the bundled one, or `hearth models import PATH`.")
        return 0
    rows = [("", "NAME", "SOURCE", "ARCH", "PARAMS", "QUANT", "SIZE", "CONTEXT", "FIT HERE")]
    for e in entries:
        mark = "*" if e.name == selected else ""
        source = e.app if e.source == "found" else e.source
        if e.info is None:
            unusable = f"unusable: {inline(str(e.error))}"
            rows.append((mark, inline(e.name), source, "-", "-", "-", "-", "-", unusable))
            continue
        i = e.info
        rows.append(
            (
                mark,
                inline(e.name),
                source,
                inline(i.architecture),
                _params(i.n_params),
                i.quantization,
                _size(i.file_size),
                str(i.context_length or "?"),
                FIT_WORDS.get(e.fit, str(e.fit)),
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])
    found = [e for e in entries if e.source == "found"]
    if found:
        apps = sorted({e.app for e in found})
        print(
            f"\n{len(found)} model(s) found on this computer ({', '.join(apps)}), used where they are "
            "(nothing copied). * = the default; change it with `hearth models use NAME`."
        )
    if str(settings["model_team"]) == "on":  # the team's routing policy (core/team.py)
        from desktop.core import team

        small = str(settings["team_small_model"]) or models.DEFAULT_NAME
        print(f"\nModel team on: the chat model writes; {inline(small)} is the small model.")
        for line in team.describe(True):
            print(f"  {line}")
    if skipped:
        print("\nNot listed:")
        for where, reason in skipped:
            print(f"  {inline(where)}: {inline(reason)}")
    return 0


def run_use(args: argparse.Namespace) -> int:
    from desktop.services import models

    info = models.resolve_model(args.name)  # a clear error for an unknown name or a bad file
    settings = open_settings()
    value = "" if info.name == models.DEFAULT_NAME else args.name
    settings.set("model", value)
    settings.save()
    print(f"{inline(info.name)} is now the default model.")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """The model's faithfulness verdict (services/model_check.py): the kept one, or measured now."""
    from desktop.core.jobs import run_job
    from desktop.services import model_check
    from desktop.services.runtime import open_runtime

    settings = open_settings()
    runtime, choice = open_runtime(settings, args.name, server=False)  # this computer's model file
    path = choice.model.path
    verdict = None if args.again else model_check.cached_verdict(path)
    if verdict is None:
        progress = ProgressLine()
        with runtime:
            verdict = run_job(lambda cancel: model_check.run_check(runtime, path, cancel), progress)
        progress.clear()
    if args.json:
        print_json(verdict.to_dict())
        return 0
    answers, summaries = verdict.answer_mode() or "by size", verdict.summary_mode() or "by size"
    modes = f"auto answers: {answers}, summaries: {summaries}"
    print(
        f"{inline(choice.model.name)}: {verdict.result} — {verdict.supported} of {verdict.sentences} "
        f"sentences supported by their passage ({modes})."
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from desktop.services import models

    progress = ProgressLine()
    entry = models.import_model(args.path, on_progress=progress)
    progress.clear()
    if args.json:
        print_json(entry.to_dict())
    else:
        if entry.already_imported:
            print(f"Already imported as {inline(entry.name)}.")
            return 0
        print(f"Imported {inline(entry.name)} ({_size(entry.info.file_size) if entry.info else '?'}).")
        if entry.fit and entry.fit != "fits":
            print(f"Note: {entry.plan_reason}")
        if entry.template_refused:
            from desktop.services.chat_template import refusal_notice

            print(f"Note: {refusal_notice(entry.template_refused)}")
        print(f"Use it with `hearth chat --model {inline(entry.name)}`, or choose it in the settings.")
    return 0


def info_dict(info: ModelInfo, plan: RuntimePlan) -> dict[str, Any]:
    d = info.to_dict()
    d["chat_template_chars"] = len(info.chat_template or "")
    d["plan"] = plan.to_dict()
    return d


def run_info(args: argparse.Namespace) -> int:
    from desktop.services import models

    info = models.resolve_model(args.model)
    if args.hash:
        info = models.read_model_info(info.path, with_hash=True, name=info.name)
    plan = models.plan_for(info, n_ctx=args.context)
    if args.json:
        print_json(info_dict(info, plan))
        return 0
    mem = plan.memory
    from pathlib import Path

    in_file = models.read_header(Path(info.path)).metadata.get("general.name")
    lines = [
        ("Name", inline(info.name)),
        ("Name in the file", inline(str(in_file)) if in_file else "not stated"),
        ("File", inline(info.path)),
        ("Size", f"{_size(info.file_size)} ({info.file_size:,} bytes)"),
        ("Architecture", inline(info.architecture)),
        ("Parameters", f"{_params(info.n_params)} ({info.n_params:,})" if info.n_params else "?"),
        ("Quantization", info.quantization),
        (
            "Context length",
            f"{info.context_length:,} tokens (trained)" if info.context_length else "not stated",
        ),
        ("Layers", str(info.n_layers)),
        ("Embedding size", str(info.n_embd)),
        ("Attention heads", f"{info.n_head} ({info.n_head_kv} for keys/values)"),
        ("Chat template", "yes" if info.has_chat_template else "no (Hearth will use a generic format)"),
        ("License", inline(info.license) if info.license else "not stated"),
    ]
    if info.sha256:
        lines.append(("SHA-256", info.sha256))
    if mem is not None:
        lines.append(
            (
                f"Memory at {plan.n_ctx} tokens",
                f"{_size(mem.total)} (weights {_size(mem.weights)}, context cache {_size(mem.kv_cache)}, "
                f"overhead {_size(mem.overhead)})",
            )
        )
    lines.append(("Fit on this computer", FIT_WORDS.get(plan.fit, plan.fit)))
    lines.append(("Plan", plan.reason))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k.ljust(width)}  {v}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from desktop.services import models

    models.remove_model(args.name)
    print(f"Removed {inline(args.name)}.", file=sys.stderr)
    return 0
