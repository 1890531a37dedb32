"""PDF: services/pdf.py's reader (pages parsed in a worker process with time and memory limits)."""

from __future__ import annotations

from pathlib import Path

from desktop.core.jobs import CancelToken
from desktop.core.types import Page
from desktop.services import pdf
from desktop.services.readers.base import DocumentInfo, ProgressCallback


def _info(info: pdf.PdfInfo) -> DocumentInfo:
    return DocumentInfo(
        info.path, "pdf", info.page_count, info.title, info.encrypted, info.file_size, info.truncated, "page"
    )


class PdfReader:
    kind = "pdf"
    label = "PDF documents"
    suffixes: tuple[str, ...] = (".pdf",)

    def sniff(self, head: bytes) -> bool:
        return b"%PDF-" in head[:1024]

    def inspect(self, path: Path) -> DocumentInfo:
        return _info(pdf.inspect_pdf(path))

    def extract(
        self, path: Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
    ) -> tuple[DocumentInfo, list[Page]]:
        info, pages = pdf.extract(path, cancel, on_progress)
        return _info(info), pages
