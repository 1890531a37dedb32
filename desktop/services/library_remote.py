"""The team library: a shared library on a Chroma server (`chroma run`), reached through
`chromadb.HttpClient` only when the user names it (setting `library_server_url`).

What lives where:
- On the server, per shared collection NAME, three Chroma collections named from the prefix
  setting (`library_server_prefix`): `PREFIX-NAME` holds the passages (id `{sha256}:{n}`, the
  vector, the text, and the citation metadata: doc sha, title, file name, page span);
  `PREFIX-NAME.pages` the page texts (citations pick the page of a multi-page passage);
  `PREFIX-NAME.docs` one entry per document, written last: a document is on the server once its
  entry is there (as a local document is `ready` only once its text and vectors are in).
- On this computer, library.sqlite keeps a cache of the shared documents under the collection
  `team:NAME` (text, pages, passages: keyword search runs on the cache's FTS5, so a question makes
  one request to the server, the vector search, and not one per word). The cache can be dropped at
  any time; `Library` fills it again from the server.

Ids are content hashes and every write is an upsert, so two people adding the same file at once
make no duplicates. The collections record the embedder that made the vectors; a Hearth with
another embedder does not mix its vectors in.

Failures: every request runs under a deadline (a daemon thread joined with a timeout, so even
a server that accepts and never answers cannot hang a question). The first failure marks the
server down for the rest of the run: later requests fail at once, and a question is answered from
the user's own documents with a notice.

Privacy: the guard lets through exactly the host in settings (services/policy.allow_named_servers);
chromadb does the HTTP itself (httpx), so Hearth's own code still imports no HTTP client.
Loopback names are connected to as 127.0.0.1 (no lookup); https verifies the certificate.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from desktop.core.errors import AppError
from desktop.core.policy import ServerAddress, ip_literal
from desktop.core.types import Chunk, Page

log = logging.getLogger("desktop.library.team")

SHARED_PREFIX = "team:"  # local name of a shared collection NAME: team:NAME
DEFAULT_TIMEOUT_S = 10.0  # per request (a vector search on a LAN takes milliseconds)
CONNECT_TIMEOUT_S = 3.0
PAGE_BATCH = 256  # records per request when reading a document back
# Pages carry no vector of their own; Chroma needs one per record, so each gets this constant.
_PAGE_VECTOR = [1.0]

T = TypeVar("T")
_CONNECTING = threading.Lock()


def is_shared(collection: str) -> bool:
    return collection.startswith(SHARED_PREFIX)


def shared_collection(name: str) -> str:
    """The local name of the team library's collection `name` (team:NAME)."""
    name = name.strip() or "default"
    return name if is_shared(name) else SHARED_PREFIX + name


def team_name(collection: str) -> str:
    """The shared collection's own name: team:NAME -> NAME."""
    return collection[len(SHARED_PREFIX) :] if is_shared(collection) else collection


_SAFE = re.compile(r"[^a-zA-Z0-9_-]+")


def server_name(prefix: str, name: str, kind: str = "") -> str:
    """The Chroma collection for shared collection `name` (kind: "" passages, "pages", "docs").

    Chroma accepts [a-zA-Z0-9._-], 3–512 characters, starting and ending alphanumeric: a readable
    slug of the prefix and name, plus a short hash when the slug lost anything (so "a b" and "a_b"
    stay apart)."""
    raw = f"{prefix.strip() or 'team'}-{name}"
    slug = _SAFE.sub("_", raw).strip("_-")[:120] or "team"
    if slug != raw:
        slug += "-" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    out = f"{slug}.{kind}" if kind else slug
    return out if len(out) >= 3 else out + "-lib"


class TeamUnavailable(AppError):
    """The team library's server could not be reached, timed out, or failed a request."""

    kind = "library_server"


@dataclass(frozen=True, slots=True)
class TeamDocument:
    sha256: str
    title: str
    file: str  # the file's name (no folders: other people's paths are not shared)
    size: int
    pages: int
    chunks: int


class TeamLibrary:
    """A client of one Chroma server holding the team's shared collections. Not thread-safe for
    writes (one lane owns it, as the local index)."""

    def __init__(
        self,
        address: ServerAddress,
        prefix: str = "team",
        *,
        embedder_identity: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.prefix = prefix.strip() or "team"
        self.embedder_identity = embedder_identity
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.down = ""  # why the server is considered down for this run ("" while it answers)
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._systems: list[str] = []  # chromadb's systems made for this client (close stops them)
        # Imported now, on the owner's thread: chromadb imported in a worker thread while another
        # (the embedder loading in the background) imports numpy failed half-way here.
        import chromadb
        import chromadb.config  # noqa: F401

    @property
    def url(self) -> str:
        return self.address.url

    # -- transport

    def unavailable(self, detail: str = "") -> TeamUnavailable:
        return TeamUnavailable(
            f"The team library at {self.address.display} did not answer.",
            "Check that its server is running and reachable; your own documents still work.",
            detail=detail or self.down,
        )

    def _call(self, what: str, fn: Callable[[], T], timeout: float | None = None) -> T:
        """`fn()` under a deadline; any failure marks the server down (TeamUnavailable)."""
        if self.down:
            raise self.unavailable()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=run, name=f"team-library-{what}", daemon=True)
        worker.start()
        worker.join(self.timeout_s if timeout is None else timeout)
        if worker.is_alive():
            self.down = f"{what}: no answer within {self.timeout_s:.0f} s"
        elif "error" in box:
            exc = box["error"]
            if isinstance(exc, AppError):
                raise exc
            self.down = f"{what}: {exc.__class__.__name__}: {exc}"
        else:
            return box["value"]
        # Info, not a warning: the user gets a notice saying so.
        log.info("team library %s unavailable (%s)", self.address.display, self.down)
        self.close()  # closing its connections also ends a request still waiting in the worker
        raise self.unavailable()

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import chromadb
        from chromadb.config import Settings

        host = self.address.connect_host
        if ip_literal(host) is None:
            # A named server on the network: the guard allows looking up exactly this name, and
            # then the addresses it resolved to (as for the model server).
            from desktop.services import privacy

            infos = socket.getaddrinfo(host, self.address.port, type=socket.SOCK_STREAM)
            privacy.allow_resolved(host, [str(info[4][0]) for info in infos])
        elif ":" in host:
            host = f"[{host}]"
        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.address.base_path:  # a server behind a path prefix (a reverse proxy)
            settings.chroma_server_api_default_path = self.address.base_path + "/api/v2"  # type: ignore[assignment]
        from chromadb.api.shared_system_client import SharedSystemClient as Shared

        with _CONNECTING:  # chromadb keeps its clients' systems in one process-wide table
            _bypass_proxies(self.address.host if ip_literal(host.strip("[]")) is None else host.strip("[]"))
            before = set(Shared._identifier_to_system)
            client = chromadb.HttpClient(
                host=host, port=self.address.port, ssl=self.address.scheme == "https", settings=settings
            )
            self._systems = [i for i in Shared._identifier_to_system if i not in before]
        # chromadb's HTTP session waits forever and follows proxy variables (HTTP_PROXY …): a
        # session of the same kind instead, bounded by timeouts and going only to the server named.
        server = getattr(client, "_server", None)
        session = getattr(server, "_session", None)
        if session is not None:
            bounded = type(session)(
                timeout=(self.connect_timeout_s, self.timeout_s, self.timeout_s, self.timeout_s),
                limits=server.http_limits,  # type: ignore[union-attr]
                trust_env=False,
                headers=session.headers,
            )
            session.close()
            server._session = bounded  # type: ignore[union-attr]
        self._client = client
        return client

    def _collection(self, name: str, kind: str = "", create: bool = True) -> Any:
        key = server_name(self.prefix, name, kind)
        col = self._collections.get(key)
        if col is not None:
            return col
        client = self._connect()
        if create:
            metadata: dict[str, Any] = {"hearth_collection": name, "hearth_kind": kind or "passages"}
            if kind == "":
                metadata["hnsw:space"] = "cosine"
            if self.embedder_identity:
                metadata["hearth_embedder"] = self.embedder_identity
            col = client.get_or_create_collection(key, metadata=metadata, embedding_function=None)
        else:
            col = client.get_collection(key, embedding_function=None)
        made_by = (col.metadata or {}).get("hearth_embedder")
        if kind == "" and made_by and self.embedder_identity and made_by != self.embedder_identity:
            raise AppError(
                f"The team library's collection “{name}” was made with another embedding model "
                f"({made_by}), so this Hearth ({self.embedder_identity}) cannot search or add to it.",
                "Everyone sharing a library needs the same Hearth embedding model.",
            )
        self._collections[key] = col
        return col

    # -- reading

    def check(self) -> None:
        """Raise TeamUnavailable unless the server answers (a heartbeat)."""
        self._call("heartbeat", lambda: self._connect().heartbeat())

    def collections(self) -> list[str]:
        """The shared collections on the server under this prefix (their own names, not team:…)."""

        def names() -> list[str]:
            found: set[str] = set()
            for col in self._connect().list_collections():
                meta = col.metadata or {}
                name = meta.get("hearth_collection")
                if meta.get("hearth_kind") == "docs" and isinstance(name, str):
                    if col.name == server_name(self.prefix, name, "docs"):
                        found.add(name)
            return sorted(found)

        return self._call("list", names)

    def documents(self, name: str) -> dict[str, TeamDocument]:
        """The documents complete on the server in shared collection `name`."""

        def read() -> dict[str, TeamDocument]:
            res = self._collection(name, "docs").get(include=["metadatas"])
            out: dict[str, TeamDocument] = {}
            for i, meta in zip(res["ids"], res["metadatas"] or [], strict=False):
                m = meta or {}
                out[str(i)] = TeamDocument(
                    str(i), str(m.get("title", "")), str(m.get("file", "")), int(m.get("size", 0)),
                    int(m.get("pages", 0)), int(m.get("chunks", 0)),
                )  # fmt: skip
            return out

        return self._call("documents", read)

    def passages(self, name: str, sha256: str) -> list[Chunk]:
        def read() -> list[Chunk]:
            col = self._collection(name)
            out: list[Chunk] = []
            offset = 0
            while True:
                res = col.get(
                    where={"doc": sha256}, include=["documents", "metadatas"], limit=PAGE_BATCH, offset=offset
                )
                for text, meta in zip(res["documents"] or [], res["metadatas"] or [], strict=True):
                    m = meta or {}
                    out.append(Chunk(sha256, int(m["n"]), str(text), int(m["p0"]), int(m["p1"])))
                if len(res["ids"]) < PAGE_BATCH:
                    break
                offset += PAGE_BATCH
            return sorted(out, key=lambda c: c.index)

        return self._call("passages", read, timeout=self.timeout_s * 3)

    def pages(self, name: str, sha256: str) -> list[Page]:
        def read() -> list[Page]:
            col = self._collection(name, "pages")
            out: list[Page] = []
            offset = 0
            while True:
                res = col.get(
                    where={"doc": sha256}, include=["documents", "metadatas"], limit=PAGE_BATCH, offset=offset
                )
                for text, meta in zip(res["documents"] or [], res["metadatas"] or [], strict=True):
                    out.append(Page(int((meta or {})["page"]), str(text)))
                if len(res["ids"]) < PAGE_BATCH:
                    break
                offset += PAGE_BATCH
            return sorted(out, key=lambda p: p.number)

        return self._call("pages", read, timeout=self.timeout_s * 3)

    def query(self, names: Sequence[str], vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) nearest first across the shared collections `names`."""

        def search() -> list[tuple[str, float]]:
            hits: list[tuple[str, float]] = []
            for name in names:
                col = self._collection(name)
                n = col.count()
                if n == 0:
                    continue
                res = col.query(query_embeddings=[list(vector)], n_results=min(k, n), include=["distances"])
                hits.extend(zip(res["ids"][0], res["distances"][0], strict=True))
            hits.sort(key=lambda h: h[1])
            return hits[:k]

        return self._call("search", search)

    def ids(self, name: str) -> list[str]:
        """Every passage id of a shared collection (the load test checks for duplicates)."""
        return self._call("ids", lambda: [str(i) for i in self._collection(name).get(include=[])["ids"]])

    # -- writing

    def upsert_passages(
        self, name: str, chunks: Sequence[Chunk], vectors: Any, title: str, file: str
    ) -> None:
        metas = [
            {
                "doc": c.doc_id,
                "n": c.index,
                "p0": c.page_start,
                "p1": c.page_end,
                "title": title,
                "file": file,
            }
            for c in chunks
        ]
        self._call(
            "add passages",
            lambda: self._collection(name).upsert(
                ids=[c.id for c in chunks],
                embeddings=[[float(x) for x in v] for v in vectors],
                documents=[c.text for c in chunks],
                metadatas=metas,
            ),
            timeout=self.timeout_s * 3,
        )

    def publish(self, name: str, doc: TeamDocument, pages: Sequence[Page]) -> None:
        """Pages, then the document's entry: from now on everyone's Hearth finds it."""
        col = lambda: self._collection(name, "pages")  # noqa: E731
        for at in range(0, len(pages), PAGE_BATCH):
            batch = pages[at : at + PAGE_BATCH]
            self._call(
                "add pages",
                lambda batch=batch: col().upsert(  # type: ignore[misc]
                    ids=[f"{doc.sha256}:p{p.number}" for p in batch],
                    embeddings=[_PAGE_VECTOR for _ in batch],
                    documents=[p.text or " " for p in batch],
                    metadatas=[{"doc": doc.sha256, "page": p.number} for p in batch],
                ),
                timeout=self.timeout_s * 3,
            )
        meta = {
            "title": doc.title, "file": doc.file, "size": doc.size, "pages": doc.pages,
            "chunks": doc.chunks, "added": time.time(),
        }  # fmt: skip
        self._call(
            "add document",
            lambda: self._collection(name, "docs").upsert(
                ids=[doc.sha256],
                embeddings=[_PAGE_VECTOR],
                documents=[doc.title or doc.file],
                metadatas=[meta],
            ),
        )

    def has_document(self, name: str, sha256: str) -> bool:
        return bool(
            self._call(
                "documents", lambda: self._collection(name, "docs").get(ids=[sha256], include=[])["ids"]
            )
        )

    def close(self) -> None:
        """Stop the chromadb systems this client made, and close their connections."""
        self._client = None
        self._collections.clear()
        systems, self._systems = self._systems, []
        if not systems:
            return
        from chromadb.api.shared_system_client import SharedSystemClient as Shared

        for identifier in systems:
            system = Shared._identifier_to_system.pop(identifier, None)
            Shared._identifier_to_refcount.pop(identifier, None)
            if system is None:
                continue
            try:
                for component in list(getattr(system, "_instances", {}).values()):
                    session = getattr(component, "_session", None)
                    if session is not None:
                        session.close()
                system.stop()
            except Exception:  # best effort on shutdown
                log.debug("closing the team library client failed", exc_info=True)


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _bypass_proxies(host: str) -> None:
    """The team library is reached directly, never through a proxy the environment names: chromadb's
    client follows HTTP_PROXY … in its first requests, before its session can be replaced, so the
    server's host goes on NO_PROXY (only when a proxy variable is set)."""
    if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return
    for key in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in os.environ.get(key, "").split(",") if h.strip()]
        if host not in hosts:
            os.environ[key] = ",".join([*hosts, host])


def team_from_settings(settings: Any, embedder_identity: str | None = None) -> tuple[TeamLibrary | None, str]:
    """The team library the settings name, if the policy allows it, and a notice to show (the
    reason it is not used, or a plain-http warning). Lets the guard through to it."""
    from desktop.services import policy

    servers = policy.allow_named_servers(settings)
    server = next((s for s in servers if s.key == "library_server_url"), None)
    if server is None:
        return None, ""
    if server.address is None:
        return None, f"{server.refused} Hearth uses only the library on this computer."
    team = TeamLibrary(
        server.address, str(settings["library_server_prefix"]), embedder_identity=embedder_identity
    )
    return team, server.warning
