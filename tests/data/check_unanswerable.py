"""Check an unanswerable-question set against the docugami 10-Q filings.

For every question, grep each regex in ``meta.absent_patterns`` (case-insensitive)
over the pypdf text of every page of the PDFs whose file name matches
``meta.absent_in``, and print each match. Exit status 1 if anything matched.

    python tests/data/check_unanswerable.py tests/data/unanswerable_heldout.jsonl \
        ../shared/eval/docugami_sec10q/pdfs
"""

import fnmatch
import json
import re
import sys
from pathlib import Path

import pypdf


def main(questions_path: str, pdf_dir: str) -> int:
    pages = {p.name: [pg.extract_text() or "" for pg in pypdf.PdfReader(p).pages]
             for p in sorted(Path(pdf_dir).glob("*.pdf"))}
    lines = Path(questions_path).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    hits = 0
    for item in items:
        meta = item["meta"]
        for pattern in meta["absent_patterns"]:
            rx = re.compile(pattern, re.I)
            for name, texts in pages.items():
                if not fnmatch.fnmatch(name, meta["absent_in"]):
                    continue
                for i, text in enumerate(texts):
                    for m in rx.finditer(text):
                        hits += 1
                        snippet = text[max(0, m.start() - 60):m.end() + 60].replace("\n", " ")
                        print(f"{item['id']}: /{pattern}/ in {name} page {i}: ...{snippet}...")
    print(f"{len(items)} questions, {len(pages)} PDFs, {hits} pattern matches")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
