"""`hearth backup create|restore|info`: all of Hearth's data in one file that restores on any machine.

A backup holds the chats, the library's documents, pages and passages, settings.json and
kernels.json; it is encrypted with a passphrase you type (not with this machine's keyring key, so
it restores elsewhere). The vector index is not in it: after a restore the library rebuilds it
from the restored passages. Imported model files are not in it either.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from desktop.cli.common import ProgressLine, print_json

_MB = 1024 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="back up all your data to one file (encrypted with a passphrase), or restore it",
        description=__doc__.split("\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    create = s.add_parser(
        "create",
        help="write a backup file (asks for a passphrase twice; HEARTH_BACKUP_PASSPHRASE for scripts)",
    )
    create.add_argument("file", type=Path, help="the backup file to write, e.g. hearth-2026-12-02.backup")
    create.add_argument(
        "--plain", action="store_true", help="write it WITHOUT encryption (asks for confirmation)"
    )
    create.add_argument("--yes", action="store_true", help="with --plain: do not ask for confirmation")
    create.add_argument("--force", action="store_true", help="replace FILE if it exists")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_create)
    restore = s.add_parser(
        "restore",
        help="restore a backup into the data folder (then the document index is rebuilt)",
    )
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--replace",
        action="store_true",
        help="the data folder already holds data: move it aside (kept, not deleted) and restore",
    )
    restore.add_argument(
        "--no-index",
        action="store_true",
        help="do not rebuild the document index now (the next `hearth library add` or the window does)",
    )
    restore.add_argument("--json", action="store_true")
    restore.set_defaults(func=_restore)
    info = s.add_parser("info", help="what a backup holds (reads its manifest; no passphrase needed)")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)


def _err(text: str) -> None:
    print(f"hearth: {text}", file=sys.stderr)


def _size(n: float) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB / 10 else f"{n / 1024:.0f} KB"


def _counts(c: dict[str, int]) -> str:
    return (
        f"{c.get('chats', 0)} chat(s) ({c.get('messages', 0)} messages), {c.get('documents', 0)} "
        f"document(s) ({c.get('pages', 0)} pages, {c.get('passages', 0)} passages)"
    )


def _new_passphrase() -> str | None:
    from desktop.services import backup

    env = os.environ.get(backup.PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        _err(f"type the backup passphrase in a terminal, or set {backup.PASSPHRASE_ENV}; nothing was written")
        return None
    print(
        "hearth: choose a passphrase for this backup (at least "
        f"{backup.MIN_PASSPHRASE} characters). It is needed to restore; it cannot be recovered.",
        file=sys.stderr,
    )
    for _ in range(3):
        first = getpass.getpass("Backup passphrase: ")
        if not first:
            return None
        if len(first) < backup.MIN_PASSPHRASE:
            _err(f"a backup passphrase needs at least {backup.MIN_PASSPHRASE} characters; again.")
            continue
        if getpass.getpass("Type it again: ") == first:
            return first
        _err("the two did not match; again.")
    return None


def _create(args: argparse.Namespace) -> int:
    from desktop.services import backup

    passphrase: str | None = None
    if args.plain:
        if not args.yes:
            if not sys.stdin.isatty():
                _err("add --yes to write a backup WITHOUT encryption (nothing was written)")
                return 2
            print(
                "A plain backup is NOT encrypted: anyone who gets the file (a USB stick, a cloud "
                "folder) can read every chat and every document's text.",
                file=sys.stderr,
            )
            if input("Type 'plain' to write it anyway: ").strip() != "plain":
                _err("nothing was written")
                return 1
    else:
        passphrase = _new_passphrase()
        if passphrase is None:
            _err("no passphrase was chosen; nothing was written")
            return 1
    result = backup.create(args.file, passphrase, overwrite=args.force, say=lambda m: _err(m + "…"))
    if args.json:
        print_json(
            {
                "path": str(result.path),
                "bytes": result.size,
                "seconds": round(result.seconds, 3),
                "encrypted": result.encrypted,
                "counts": result.counts,
            }
        )
        return 0
    how = "encrypted with your passphrase" if result.encrypted else "NOT encrypted"
    print(
        f"Backed up {_counts(result.counts)} to {result.path} ({_size(result.size)}, {how}) "
        f"in {result.seconds:.1f}s."
    )
    print("  Not in it: the document index (rebuilt after a restore) and imported model files.")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from desktop.services import backup

    manifest = backup.read_manifest(args.file)  # not a backup, damaged, too new: said before any prompt
    passphrase: str | None = None
    if manifest.get("encrypted"):
        passphrase = os.environ.get(backup.PASSPHRASE_ENV) or None
        if passphrase is not None:
            backup.backup_key(manifest, passphrase)
        elif not sys.stdin.isatty():
            _err(
                f"this backup is encrypted: type its passphrase in a terminal, or set {backup.PASSPHRASE_ENV}"
            )
            return 2
        else:
            for attempt in range(3):
                typed = getpass.getpass("Passphrase of this backup: ")
                if not typed:
                    _err("no passphrase given; nothing was changed")
                    return 1
                try:
                    backup.backup_key(manifest, typed)
                except backup.WrongBackupPassphrase as exc:
                    if attempt == 2:
                        raise
                    _err(exc.user_message)
                    continue
                passphrase = typed
                break
    result = backup.restore(
        args.file, passphrase, replace=args.replace, manifest=manifest, say=lambda m: _err(m + "…")
    )
    made = dt.datetime.fromtimestamp(float(manifest.get("created", 0))).strftime("%Y-%m-%d %H:%M")
    rebuilt: Any = None
    if not args.json:
        print(
            f"Restored {_counts(result.counts)} into {result.folder} from a backup made {made} "
            f"by Hearth {manifest.get('hearth_version', '?')}, in {result.seconds:.1f}s."
        )
        for note in result.notes:
            print(f"  Also: {note}.")
        if result.moved_aside is not None:
            print(f"  Your previous data was moved to {result.moved_aside} (nothing was deleted).")
        if result.kept:
            print(
                f"  Kept from this machine: {', '.join(result.kept)}/ (imported models are not in backups)."
            )
    if result.to_reindex:
        if args.no_index:
            if not args.json:
                print(
                    f"  The document index (vectors, not in backups) is rebuilt from the restored passages "
                    f"of {result.to_reindex} document(s) on the next `hearth library add` or window start."
                )
        else:
            rebuilt = _rebuild(result, quiet=args.json)
    if args.json:
        print_json(
            {
                "folder": str(result.folder),
                "seconds": round(result.seconds, 3),
                "counts": result.counts,
                "moved_aside": str(result.moved_aside) if result.moved_aside else None,
                "kept": list(result.kept),
                "documents_to_reindex": result.to_reindex,
                "index_rebuilt": rebuilt.to_dict() if rebuilt is not None else None,
            }
        )
    return 0


def _rebuild(result: Any, quiet: bool) -> Any:
    from desktop.services import backup
    from desktop.services.embeddings import Embedder

    if not quiet:
        print(
            "  Vectors are not in backups: rebuilding the document index from the restored passages "
            f"of {result.to_reindex} document(s) (no document is read again; Ctrl-C stops, and the next "
            "`hearth library add` or window start resumes)…",
            flush=True,
        )
    progress = ProgressLine()
    built = backup.rebuild_index(result.folder, Embedder(threads=os.cpu_count() or 1), progress)
    progress.clear()
    if not quiet:
        done = f"{built.ready} document(s), {built.chunks} passages in {built.seconds:.1f}s"
        print(f"  Document index rebuilt: {done}.")
    return built


def _info(args: argparse.Namespace) -> int:
    from desktop.services import backup

    manifest = backup.read_manifest(args.file)
    if args.json:
        print_json({k: v for k, v in manifest.items() if k not in ("check",)})
        return 0
    made = dt.datetime.fromtimestamp(float(manifest.get("created", 0))).strftime("%Y-%m-%d %H:%M")
    how = "encrypted (passphrase, scrypt)" if manifest.get("encrypted") else "NOT encrypted"
    print(
        f"Hearth backup, format {manifest['format']}, made {made} by Hearth {manifest.get('hearth_version')}"
    )
    print(f"  {_counts(manifest.get('counts', {}))}; {how}")
    size = sum(int(m.get("size", 0)) for m in manifest["members"].values())
    print(f"  {_size(size)} of data; settings files: {', '.join(manifest.get('files', [])) or 'none'}")
    return 0
