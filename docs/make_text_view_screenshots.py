"""Screenshots of the text view: a cited answer from a Markdown note, the note open beside the chat at
the cited section with the evidence marked. The real window, model and embedder, under Xvfb:

    .venv/bin/python docs/make_text_view_screenshots.py

Saves docs/screenshots/{1440x900,800x600}-{light,dark}-text-view.png (the README shows the
1440×900 light one). A throwaway data dir; the documents are tests/documents.py's.
"""

from __future__ import annotations

import shutil
import sys

from shots import OUT, real_window, rerun_under_xvfb, settle, throwaway_data, wait_for, wait_until

QUESTION = "How often should the compost heap be turned?"


def main() -> int:
    status = rerun_under_xvfb(__file__)
    if status is not None:
        return status
    data = throwaway_data()

    from desktop.ui.theme import apply_theme
    from tests import documents

    docs = data.parent / f"{data.name}-docs"
    docs.mkdir()
    documents.garden_md(docs / "garden_notes.md")
    documents.contract_docx(docs / "services_agreement.docx")
    documents.lisbon_html(docs / "lisbon.html")
    app, window = real_window(data, {"max_answer_tokens": 120, "temperature": 0.0, "threads": 1})

    window.show()
    wait_for(window.session.model_ready)
    window.show_library()
    window.library.add([docs])
    wait_for(window.library.indexing_finished, 600)
    window.hide_library()
    window.library.set_asked(("default",))
    window.chat.set_collections(("default",))
    window.chat.ask(QUESTION)
    wait_for(window.chat.answer_finished, 300)
    # A banner about this machine (a kernel fallback, say) is not what these pictures show.
    window.banner.setVisible(False)

    def open_first_used_source() -> None:
        answer = window.chat.view.messages()[-1]
        chips = answer.chip_buttons()
        used = [c for c in chips if c.property("used")] or chips
        if used:
            used[0].click()

    for theme in ("light", "dark"):
        apply_theme(app, theme)
        for width, height in ((1440, 900), (800, 600)):
            window.resize(width, height)
            settle(200)
            window.close_document()
            settle(200)  # closed before it opens again, so the pane takes its share of the new width
            open_first_used_source()
            wait_until(lambda: window.text_viewer is not None and bool(window.text_viewer.found), 10)
            settle(400)
            name = f"{width}x{height}-{theme}-text-view.png"
            window.grab().save(str(OUT / name))
            viewer = window.text_viewer
            print(
                f"saved {name}: {viewer.page_label.text() if viewer else '-'}; marked: "
                f"{viewer.found if viewer else ''!r}",
                flush=True,
            )
    window.close()
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
