"""One write transaction on a SQLite connection opened in autocommit mode (isolation_level=None)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from desktop.services.database import Connection


@contextmanager
def immediate_transaction(db: Connection) -> Iterator[Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (the write lock is taken up front, so a
    second writer waits or fails at the start, never halfway)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
