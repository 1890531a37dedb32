"""Load test of the team library: N concurrent Hearth clients (processes) against one real Chroma
server (`chroma run` on loopback), with bounded work.

    .venv/bin/python -m bench.team_load [--clients 1 8] [--questions 20] [--passages 10000] [--out FILE]

1. A synthetic shared collection is put on the server (`--passages`, 100 a document, ~120 words
   each from a Zipf vocabulary as bench/query.py, random unit vectors: the server's cost does not
   depend on what they mean), through TeamLibrary as `hearth library add --shared` writes.
2. For each N: N client processes, each with its own data dir, add the same 8 small real PDFs to
   the team library at the same moment (Library.add_job on team:writers-N, a collection new to
   this N: real readers, the real embedder), then fill their cache from the server, wait at a
   common start line, and each ask `--questions` questions: the whole evidence search of a
   question (core/rag.retrieve over the client's own collection and the shared ones: the question
   embedded, the server's vector search, keyword search on the cache, fusion, the passages read),
   timed per question, the server's vector search timed on its own.
3. Reported per N: question latency p50/p95 (all clients' questions together), the server's
   search p50/p95, errors (exceptions, or the server reported down), and duplicate passages on
   the server (ids per document beyond its passage count, and (document, text) pairs stored
   twice), plus the cache fill time of a client.

The model's answer is not part of a question's time here: it runs on each person's own computer
(or on the model server), not on the library server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PREFIX = "load"
PER_DOC = 100
WORDS = 120
TOPICS = {
    "harbour": "The Zanthor lighthouse was built in {y} by the engineer Mira Okafor on the north cape.",
    "mill": "The Brackwater mill ground barley for the valley until {y}, when the river was dammed.",
    "garden": "The Quillon garden holds {n} rose bushes planted by Ada Voss along the east wall.",
    "bridge": "The Tellmoor bridge spans {n} metres and opened to carts in {y}.",
    "school": "The Ardency school taught {n} pupils in {y} under headmistress Lena Morrow.",
    "railway": "The Fenwick railway carried {n} passengers a day by {y} on its single track.",
    "library": "The Oskar library lent {n} books in {y}, most of them atlases and almanacs.",
    "market": "The Saltgate market opened every Thursday from {y} and had {n} stalls.",
}
QUESTIONS = [
    "Who built the Zanthor lighthouse?",
    "When did the Brackwater mill stop grinding barley?",
    "How many rose bushes are in the Quillon garden?",
    "How long is the Tellmoor bridge?",
    "How many pupils did the Ardency school teach?",
    "How many passengers did the Fenwick railway carry?",
    "How many books did the Oskar library lend?",
    "On which day was the Saltgate market open?",
    "Who was the headmistress of the school?",
    "What did the mill grind?",
]


def _pdfs(folder: Path) -> None:
    from tests import pdfs

    rng = random.Random(3)
    pdfs.corpus(
        folder,
        {
            stem: [
                " ".join(text.format(y=rng.randint(1800, 1950), n=rng.randint(10, 900)) for _ in range(6))
                for _ in range(3)
            ]
            for stem, text in TOPICS.items()
        },
    )


def _team(port: int, identity: str | None) -> Any:
    from desktop.core.policy import parse_server_url
    from desktop.services.library_remote import TeamLibrary

    return TeamLibrary(parse_server_url(f"http://127.0.0.1:{port}"), PREFIX, embedder_identity=identity)


def _seed(port: int, passages: int, identity: str) -> float:
    """The synthetic shared collection; seconds."""
    import numpy as np

    from bench.query import _vocabulary
    from desktop.core.types import Chunk, Page
    from desktop.services.library_remote import TeamDocument

    rng = random.Random(7)
    words, weights = _vocabulary(rng)
    cum = list(np.cumsum(weights))
    nprng = np.random.default_rng(7)
    team = _team(port, identity)
    t0 = time.perf_counter()
    for d in range(passages // PER_DOC):
        sha = f"{d:064x}"
        drawn = rng.choices(words, cum_weights=cum, k=PER_DOC * WORDS)
        texts = [" ".join(drawn[i * WORDS : (i + 1) * WORDS]) + "." for i in range(PER_DOC)]
        chunks = [Chunk(sha, i, t, i + 1, i + 1) for i, t in enumerate(texts)]
        vecs = nprng.standard_normal((PER_DOC, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        team.upsert_passages("default", chunks, vecs, f"Synthetic {d}", f"synthetic-{d}.pdf")
        pages = [Page(i + 1, t) for i, t in enumerate(texts)]
        team.publish(
            "default", TeamDocument(sha, f"Synthetic {d}", f"synthetic-{d}.pdf", 1, PER_DOC, PER_DOC), pages
        )
    team.close()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- one client


def client(args: argparse.Namespace) -> int:
    from desktop.services import privacy

    privacy.install()
    from desktop.core.jobs import run_job
    from desktop.core.rag import retrieve
    from desktop.services.embeddings import Embedder
    from desktop.services.library import Library
    from desktop.services.library_remote import shared_collection

    out: dict[str, Any] = {"errors": [], "latency": [], "server": []}
    data = Path(args.data)
    (data / "settings.json").write_text(
        json.dumps({"library_server_url": f"http://127.0.0.1:{args.port}", "library_server_prefix": PREFIX})
    )
    embedder = Embedder(threads=1)
    with Library(data, embedder) as lib:
        assert lib.team is not None
        embedder.encode(["warm up"])
        # Everyone adds the same files to the team library at once (duplicates are checked after).
        try:
            run_job(lib.add_job([args.docs], shared_collection(args.collection)))
        except Exception as exc:
            out["errors"].append(f"add: {exc}")
        t0 = time.perf_counter()
        lib.sync_team(force=True)
        out["sync_s"] = time.perf_counter() - t0
        collections = lib.collections()
        team, query = lib.team, lib.team.query

        def timed_query(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return query(*a, **kw)
            finally:
                out["server"].append(time.perf_counter() - t)

        team.query = timed_query  # type: ignore[method-assign]
        print("ready", flush=True)
        go = Path(args.go)
        while not go.exists():
            time.sleep(0.01)
        rng = random.Random(args.seed)
        start = time.perf_counter()
        for _ in range(args.questions):
            question = rng.choice(QUESTIONS)
            t = time.perf_counter()
            try:
                found = retrieve(lib, question, collections)
                if not found.found:
                    out["errors"].append(f"nothing found: {question}")
            except Exception as exc:
                out["errors"].append(f"{question}: {exc}")
            out["latency"].append(time.perf_counter() - t)
        out["loop_s"] = time.perf_counter() - start
        if team.down:
            out["errors"].append(f"server reported down: {team.down}")
    print("result " + json.dumps(out), flush=True)
    return 0


# ----------------------------------------------------------------------------- the run


def _pct(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    if not s:
        return 0.0, 0.0
    return statistics.median(s) * 1000, s[min(len(s) - 1, round(0.95 * (len(s) - 1)))] * 1000


def _duplicates(port: int, name: str) -> dict[str, int]:
    team = _team(port, None)
    try:
        col = team._call("read", lambda: team._collection(name).get(include=["documents", "metadatas"]))
        docs = team.documents(name)
    finally:
        team.close()
    per_doc: dict[str, int] = {}
    pairs: set[tuple[str, str]] = set()
    twice = 0
    for text, meta in zip(col["documents"], col["metadatas"], strict=True):
        per_doc[meta["doc"]] = per_doc.get(meta["doc"], 0) + 1
        if (meta["doc"], text) in pairs:
            twice += 1
        pairs.add((meta["doc"], text))
    extra = sum(max(0, n - docs[d].chunks) if d in docs else n for d, n in per_doc.items())
    return {"passages": len(col["ids"]), "documents": len(docs), "extra_ids": extra, "texts_twice": twice}


def run_clients(n: int, port: int, docs: Path, work: Path, questions: int) -> dict[str, Any]:
    go = work / f"go-{n}"
    procs = []
    for i in range(n):
        data = work / f"n{n}-client{i}"
        data.mkdir()
        cmd = [sys.executable, "-m", "bench.team_load", "--client", "--port", str(port),
               "--data", str(data), "--docs", str(docs), "--go", str(go),
               "--questions", str(questions), "--seed", str(i), "--collection", f"writers-{n}"]  # fmt: skip
        env = {**os.environ, "HEARTH_DATA_DIR": str(data), "OMP_NUM_THREADS": "1"}
        env.setdefault("HEARTH_PASSPHRASE", "team-load-bench")
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO))
    for p in procs:  # every client ready (files added, cache filled) before the clock starts
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"a client did not start: {line!r}")
    go.touch()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        results.append(json.loads(out.split("result ", 1)[1]))
    wall = max(r["loop_s"] for r in results)  # the clients' own clocks: start line to last question
    latency = [x for r in results for x in r["latency"]]
    server = [x for r in results for x in r["server"]]
    p50, p95 = _pct(latency)
    s50, s95 = _pct(server)
    return {
        "clients": n,
        "questions": len(latency),
        "questions_per_s": round(len(latency) / wall, 2),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "server_p50_ms": round(s50, 1),
        "server_p95_ms": round(s95, 1),
        "errors": sum(len(r["errors"]) for r in results),
        "error_examples": [e for r in results for e in r["errors"]][:5],
        "cache_fill_s": round(statistics.median(r["sync_s"] for r in results), 2),
        # The N clients' simultaneous adds of the same 8 files, into a collection new to this run.
        "duplicates": _duplicates(port, f"writers-{n}"),
        "duplicates_synthetic": _duplicates(port, "default"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.team_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--questions", type=int, default=20, help="questions per client")
    parser.add_argument("--passages", type=int, default=10_000, help="synthetic passages on the server")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--docs", help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--collection", default="writers", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client(args)

    from desktop.services import privacy

    privacy.install()
    from desktop.services.embeddings import Embedder
    from tests import chroma_server

    identity = Embedder().identity
    rows = []
    with tempfile.TemporaryDirectory(prefix="hearth-team-load-") as tmp:
        work = Path(tmp)
        docs = work / "docs"
        _pdfs(docs)
        with chroma_server.running(work / "chroma") as (_, port):
            seeded = _seed(port, args.passages, identity)
            print(f"seeded {args.passages} passages in {seeded:.1f}s", file=sys.stderr, flush=True)
            for n in args.clients:
                row = {
                    "passages_on_server": args.passages,
                    **run_clients(n, port, docs, work, args.questions),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    if len(rows) > 1:
        print(f"p95 with {rows[-1]['clients']} clients ÷ p95 with {rows[0]['clients']}: "
              f"{rows[-1]['p95_ms'] / max(rows[0]['p95_ms'], 1e-9):.2f}; server p95 ratio "
              f"{rows[-1]['server_p95_ms'] / max(rows[0]['server_p95_ms'], 1e-9):.2f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
