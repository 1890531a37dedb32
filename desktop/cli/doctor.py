"""`hearth doctor [--json] [--load]`: this machine, how Hearth will run the model here, what is wrong."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import stat
import sys
from pathlib import Path
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.services import privacy

KEY_PACKAGES = (
    "hearth",
    "llama-cpp-python",
    "gguf",
    "chromadb",
    "sentence-transformers",
    "torch",
    "pypdf",
    "PySide6-Essentials",
    "keyring",
    "numpy",
)


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check this machine and show how Hearth will run the model here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--model", help="plan for this model (name or path) instead of the one in the settings")
    p.add_argument(
        "--load", action="store_true", help="also load the model and report the backend it really got"
    )
    p.add_argument(
        "--selftest",
        action="store_true",
        help="check every part for real (model, embedder, PDF reader, stores, privacy guard): "
        "pass or fail with a remedy; exits non-zero on any failure",
    )
    p.set_defaults(func=run)


def _versions() -> dict[str, str | None]:
    # Read from the installed metadata: importing torch or chromadb here would take seconds.
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in KEY_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _data_dir_report() -> dict[str, Any]:
    from desktop.services import paths

    try:
        path = paths.data_dir()
    except Exception as exc:  # StorageError or worse: report it, that is what doctor is for
        return {"path": None, "ok": False, "problem": str(exc)}
    mode = stat.S_IMODE(path.stat().st_mode)
    writable = os.access(path, os.W_OK)
    private = os.name != "posix" or mode & 0o077 == 0
    problem = ""
    if not writable:
        problem = "not writable"
    elif not private:
        problem = f"readable by other users (mode {mode:o}); run: chmod 700 {path}"
    return {
        "path": str(path),
        "mode": f"{mode:o}",
        "writable": writable,
        "private": private,
        "ok": not problem,
        "problem": problem,
        "at_rest": _at_rest(path),
    }


def _at_rest(path: Path) -> dict[str, Any]:
    """How chats and documents are kept on disk (read from the record: nothing is unlocked)."""
    from desktop.services import database

    try:
        return database.at_rest_status(path)
    except Exception as exc:  # a damaged record or an unreadable folder: say it, go on
        return {"summary": f"unknown ({exc})", "encrypted": False}


def _bundled_report() -> dict[str, Any]:
    from desktop.services import paths

    out: dict[str, Any] = {}
    chat = paths.bundled_models_dir() / paths.DEFAULT_MODEL_FILE
    out["chat_model"] = {"path": str(chat), "present": chat.is_file()}
    try:
        emb: Path | None = paths.embedder_path()
        out["embedder"] = {"path": str(emb), "present": True}
    except Exception as exc:
        out["embedder"] = {"path": None, "present": False, "problem": str(exc)}
    return out


def collect(model: str | None = None) -> dict[str, Any]:
    """Everything doctor reports, as plain data (the JSON output)."""
    from desktop.core.errors import AppError
    from desktop.services import hardware
    from desktop.services.runtime import choose_runtime

    report = hardware.probe_report()
    hw = report.hardware
    settings = open_settings()
    machine: dict[str, Any] = {
        "os": hw.os,
        "machine": hw.machine,
        "cpu": report.cpu_name,
        "physical_cores": hw.physical_cores,
        "logical_cores": hw.logical_cores,
        "ram_total": hw.ram_total,
        "ram_available": hw.ram_available,
        "load_average": hw.load_average,
        "gpus": [
            {
                "backend": g.backend,
                "name": g.name,
                "vram_total": g.vram_total,
                "vram_free": g.vram_free,
                "unified_memory": g.unified_memory,
            }
            for g in hw.gpus
        ],
        "llama_cpp_backends": list(hw.supported_backends),
        "llama_cpp_system_info": report.system_info,
        "probe_notes": list(report.notes),
    }
    chosen: dict[str, Any]
    wanted = model if model is not None else str(settings["model"])
    try:
        choice = choose_runtime(settings, wanted, hw=hw)
        chosen = {
            "requested": wanted or "(bundled default)",
            "model": choice.model.to_dict(),
            "plan": choice.plan.to_dict(),
            "kernels": _kernels_report(choice.model.path),
        }
    except AppError as exc:
        chosen = {"requested": wanted or "(bundled default)", "error": exc.to_dict()}
    return {
        "machine": machine,
        "settings": {k: settings[k] for k in ("model", "context_size", "gpu", "threads")},
        "runtime": chosen,
        "versions": _versions(),
        "data_dir": _data_dir_report(),
        "privacy": {
            "guard_installed": privacy.is_installed(),
            "refused_count": privacy.refused_count(),
            "refused": privacy.refused_attempts()[-10:],
            **_servers_report(settings),
        },
        "bundled": _bundled_report(),
        "library": _library_report(),
    }


def _servers_report(settings: Any) -> dict[str, Any]:
    """The servers the settings name (the only outside hosts the guard lets through), what is sent
    to each, and the administrator's policy."""
    from desktop.services import policy

    pol = policy.load_policy()
    servers = policy.allow_named_servers(settings, pol)
    return {
        "allowed_hosts": privacy.allowed_hosts(),
        "servers": [s.to_dict() for s in servers],
        "policy": {
            "file": str(policy.policy_path()),
            "present": pol.active,
            "error": pol.error,
            "rules": pol.describe(),
            "locked_settings": sorted(pol.locks()),
            "unprotected": policy.unprotected(pol),
        },
    }


def _load(model: str | None) -> dict[str, Any]:
    """Start the real runtime with the plan: which backend it really got, and any fallback notice."""
    from desktop.core.errors import AppError
    from desktop.services.runtime import open_runtime

    settings = open_settings()
    try:
        runtime, choice = open_runtime(settings, model, server=False)  # this computer's engine
    except AppError as exc:
        return {"ok": False, "error": exc.to_dict()}
    try:
        with runtime:
            info = runtime.start()
            return {
                "server": _check_server(settings, choice),
                "ok": True,
                "planned_backend": choice.plan.backend,
                "backend": info.backend,
                "n_gpu_layers": info.n_gpu_layers,
                "n_ctx": info.n_ctx,
                "n_threads": info.n_threads,
                "n_threads_batch": info.n_threads_batch,
                "load_s": round(info.load_s, 2),
                "kernels": info.kernels,
                "crashes": list(info.crashes),
                "warmup_prefill_tps": round(info.warmup_prefill_tps, 1),
                "notices": list(info.notices),
            }
    except AppError as exc:
        return {"ok": False, "planned_backend": choice.plan.backend, "error": exc.to_dict()}


def _check_server(settings: Any, choice: Any) -> dict[str, Any] | None:
    """Whether the model server in settings answers (None when none is named or allowed)."""
    from desktop.core.errors import AppError
    from desktop.services.runtime import remote_runtime

    if not choice.server:
        return None
    remote = remote_runtime(settings, choice)
    try:
        with remote:
            info = remote.start()
    except AppError as exc:
        return {"url": choice.server, "ok": False, "error": exc.to_dict()}
    return {"url": choice.server, "ok": True, "model": remote.model, "checked_s": round(info.load_s, 2)}


def _gb(n: int) -> str:
    return f"{n / 1024**3:.1f} GB"


def _library_report() -> dict[str, Any]:
    """The library's consistency: every ready document has one vector per passage, no duplicates."""
    from desktop.core.errors import AppError
    from desktop.services import paths

    if not (paths.data_dir() / "library.sqlite").exists():
        return {"present": False, "problems": []}
    from desktop.services.library import Library
    from desktop.services.library_vectors import quarantined

    try:
        with Library(check_index=False) as lib:
            problems = lib.consistency()
            ready = sum(1 for f in lib.files() if f.status == "ready")
            kept = [str(p) for p in quarantined(lib.vectors.path)]
    except AppError as exc:
        return {"present": True, "error": exc.user_message, "hint": exc.hint, "problems": []}
    return {"present": True, "ready_files": ready, "problems": problems, "quarantined": kept}


def _kernels_report(model_path: str | None) -> dict[str, Any]:
    """Which kernel rung this model runs on here, and what crashed before it (services/kernels.py)."""
    from desktop.services import kernels

    if not model_path:
        return {}
    entry = kernels.KernelMemory().get(kernels.key_for(model_path)) or {}
    rung = str(entry.get("rung", "default"))
    out: dict[str, Any] = {
        "rung": rung,
        "crashed": entry.get("crashed", {}),
        "works": bool(entry.get("works")),
    }
    if entry.get("crashed"):
        out["explanation"] = kernels.fallback_notice(entry["crashed"], rung)
    return out


def run_selftest(args: argparse.Namespace) -> int:
    from desktop.services.selftest import CheckResult
    from desktop.services.selftest import run_selftest as run_checks

    def show(r: CheckResult) -> None:
        if args.json:
            return
        mark = "pass" if r.ok else "FAIL"
        print(f"{mark}  {r.name:<9} {r.seconds:6.1f} s  {r.summary}")
        if not r.ok and r.remedy:
            print(f"      {'':<9}           remedy: {r.remedy}")
        sys.stdout.flush()

    if not args.json:
        print("Hearth self-test: each part, for real, on this machine\n")
    results = run_checks(open_settings(), show)
    failed = [r for r in results if not r.ok]
    if args.json:
        print_json({"ok": not failed, "results": [r.to_dict() for r in results]})
    else:
        print()
        print(f"{len(failed)} of {len(results)} checks failed." if failed else "All checks passed.")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.selftest:
        return run_selftest(args)
    data = collect(args.model)
    if args.load:
        data["load"] = _load(args.model)
    problems = _problems(data)
    data["problems"] = problems
    if args.json:
        print_json(data)
    else:
        _print(data)
    return 1 if any(p["severity"] == "error" for p in problems) else 0


def _problems(data: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    rt = data["runtime"]
    if "error" in rt:
        out.append({"severity": "error", "message": rt["error"]["message"], "hint": rt["error"]["hint"]})
    elif rt["plan"]["fit"] == "wont_fit":
        out.append(
            {
                "severity": "error",
                "message": "The chosen model does not fit this computer.",
                "hint": rt["plan"]["reason"],
            }
        )
    elif rt["plan"]["fit"] == "may_be_slow":
        out.append(
            {
                "severity": "warning",
                "message": "The chosen model may be slow here.",
                "hint": rt["plan"]["reason"],
            }
        )
    dd = data["data_dir"]
    if not dd["ok"]:
        out.append({"severity": "error", "message": f"Data folder: {dd['problem']}", "hint": ""})
    if not data["bundled"]["chat_model"]["present"]:
        out.append(
            {
                "severity": "warning",
                "message": "The bundled chat model is missing.",
                "hint": "Run `make install`.",
            }
        )
    if not data["bundled"]["embedder"]["present"]:
        out.append(
            {
                "severity": "warning",
                "message": "The bundled embedding model is missing.",
                "hint": "Run `make install`.",
            }
        )
    if not data["privacy"]["guard_installed"]:
        out.append(
            {"severity": "error", "message": "The privacy guard is not installed.", "hint": "This is a bug."}
        )
    if data["privacy"]["refused_count"]:
        out.append(
            {
                "severity": "warning",
                "message": f"{data['privacy']['refused_count']} network attempt(s) refused.",
                "hint": "",
            }
        )
    for server in data["privacy"]["servers"]:
        if server["refused"]:
            out.append({"severity": "warning", "message": server["refused"], "hint": ""})
        elif server["warning"]:
            out.append({"severity": "warning", "message": server["warning"], "hint": ""})
    pol = data["privacy"]["policy"]
    if pol["error"]:
        out.append(
            {
                "severity": "error",
                "message": f"The policy file {pol['file']} is not valid ({pol['error']}); remote servers "
                "are forbidden until it is fixed.",
                "hint": "Ask your administrator.",
            }
        )
    if pol["unprotected"]:
        out.append(
            {
                "severity": "warning",
                "message": f"The policy file {pol['file']} is not protected (not owned by the system "
                "administrator, or writable by others): a user could change it.",
                "hint": f"An administrator protects it: chown root {pol['file']}; chmod 644 {pol['file']}",
            }
        )
    lib = data.get("library") or {}
    for problem in lib.get("problems", []):
        out.append(
            {
                "severity": "error",
                "message": f"Library: {problem}.",
                "hint": "Run `hearth library add` (no files): it re-embeds what is missing.",
            }
        )
    if lib.get("error"):
        problem = {"severity": "warning", "message": f"Library: {lib['error']}", "hint": lib.get("hint", "")}
        out.append(problem)
    for note in data["machine"]["probe_notes"]:
        out.append({"severity": "info", "message": f"Hardware probe: {note}", "hint": ""})
    load = data.get("load")
    if load is not None:
        if not load["ok"]:
            out.append(
                {
                    "severity": "error",
                    "message": f"Loading the model failed: {load['error']['message']}",
                    "hint": load["error"]["hint"],
                }
            )
        if load.get("server") and not load["server"]["ok"]:
            out.append(
                {
                    "severity": "warning",
                    "message": load["server"]["error"]["message"],
                    "hint": "Hearth answers with the model on this computer while the server does not.",
                }
            )
        if load["ok"] and load["backend"] != load["planned_backend"]:
            out.append(
                {
                    "severity": "warning",
                    "message": f"Planned {load['planned_backend']} but loaded on {load['backend']}.",
                    "hint": " ".join(load["notices"]),
                }
            )
    return out  # fmt: skip


def _print(data: dict[str, Any]) -> None:
    m = data["machine"]
    print("Machine")
    print(f"  {m['os']} {m['machine']}, {m['cpu'] or 'CPU'}")
    print(
        f"  {m['physical_cores']} physical cores ({m['logical_cores']} logical), load {m['load_average']:.2f}"
    )
    print(f"  memory {_gb(m['ram_total'])}, {_gb(m['ram_available'])} free")
    if m["gpus"]:
        for g in m["gpus"]:
            kind = "unified memory" if g["unified_memory"] else "VRAM"
            free = f"{_gb(g['vram_free'])} of {_gb(g['vram_total'])} {kind} free"
            print(f"  GPU {g['name']} ({g['backend']}): {free}")
    else:
        print("  no GPU found")
    print(f"  llama.cpp backends in this build: {', '.join(m['llama_cpp_backends'])}")

    rt = data["runtime"]
    print("\nModel and runtime plan")
    if "error" in rt:
        print(f"  {rt['requested']}: {rt['error']['message']}")
        if rt["error"]["hint"]:
            print(f"    {rt['error']['hint']}")
    else:
        info, plan = rt["model"], rt["plan"]
        params = f"{info['n_params'] / 1e6:.0f}M params" if info["n_params"] else "params ?"
        print(f"  {info['name']}: {info['architecture']}, {params}, {info['quantization']}, {info['path']}")
        print(
            f"  backend {plan['backend']}, GPU layers {plan['n_gpu_layers']}, threads {plan['n_threads']} "
            f"(prompt {plan['n_threads_batch']}), context {plan['n_ctx']}, batch {plan['n_batch']}"
        )
        if plan.get("memory"):
            print(f"  needs about {_gb(plan['memory']['total'])}; fit: {plan['fit']}")
        print(f"  why: {plan['reason']}")
        kern = rt.get("kernels") or {}
        if kern:
            why = f" — {kern['explanation']}" if kern.get("explanation") else ""
            print(f"  CPU kernels: {kern['rung']}{why}")
    load = data.get("load")
    if load is not None:
        if load["ok"]:
            print(
                f"  loaded: backend {load['backend']}, GPU layers {load['n_gpu_layers']}, "
                f"context {load['n_ctx']}, in {load['load_s']} s"
            )
            for n in load["notices"]:
                print(f"  notice: {n}")
            server = load.get("server")
            if server and server["ok"]:
                answered = f"answers (model {server['model']}) in {server['checked_s']} s"
                print(f"  model server {server['url']} {answered}")
            elif server:
                print(f"  model server {server['url']}: {server['error']['message']}")
        else:
            print(f"  load failed: {load['error']['message']}")
            if load["error"].get("detail"):
                print(f"    {load['error']['detail']}")

    print("\nVersions")
    print("  " + ", ".join(f"{k} {v or 'missing'}" for k, v in data["versions"].items()))
    dd = data["data_dir"]
    print("\nData")
    print(f"  {dd['path']} (mode {dd.get('mode', '?')}){'' if dd['ok'] else ' — ' + dd['problem']}")
    if dd.get("at_rest"):
        print(f"  at rest: {dd['at_rest']['summary']} (vectors/ is not encrypted: hearth storage status)")
    b = data["bundled"]
    print(f"  bundled chat model: {'present' if b['chat_model']['present'] else 'MISSING'}")
    print(f"  bundled embedder: {'present' if b['embedder']['present'] else 'MISSING'}")
    lib = data.get("library") or {}
    if lib.get("present") and "ready_files" in lib:
        state = "consistent" if not lib["problems"] else f"{len(lib['problems'])} problem(s)"
        print(f"  library: {lib['ready_files']} ready file(s), passages and vectors {state}")
        for q in lib.get("quarantined", []):
            print(f"  a damaged index set aside (delete it when you like): {q}")
    p = data["privacy"]
    print("\nPrivacy")
    guard = "on" if p["guard_installed"] else "OFF"
    print(f"  network guard {guard}; {p['refused_count']} outside connection attempt(s) refused")
    if p["allowed_hosts"]:
        print(f"  servers allowed (named in settings): {', '.join(p['allowed_hosts'])}")
    else:
        print("  outside hosts allowed: none (nothing leaves this computer)")
    for server in p["servers"]:
        where = server["host"] or server["url"]
        state = "not used" if server["refused"] else "allowed"
        print(f"  {server['title']} {where} ({state}): Hearth sends it {server['sends']}")
    pol = p["policy"]
    if pol["present"]:
        print(f"  administrator's policy {pol['file']}:")
        for rule in pol["rules"]:
            print(f"    {rule}")
        if pol["locked_settings"]:
            print(f"    locked settings: {', '.join(pol['locked_settings'])}")
    else:
        print(f"  no administrator's policy ({pol['file']} absent)")

    problems = [x for x in data["problems"] if x["severity"] != "info"]
    notes = [x for x in data["problems"] if x["severity"] == "info"]
    print()
    for x in notes:
        print(f"note: {x['message']}")
    if problems:
        for x in problems:
            print(f"{x['severity']}: {x['message']}" + (f" — {x['hint']}" if x["hint"] else ""))
    else:
        print("All good.")
