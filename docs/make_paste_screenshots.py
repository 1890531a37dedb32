"""Screenshots of File → Summarize pasted text: the dialog (started from the clipboard) and the
summary it makes, with the real window and the bundled model, under Xvfb:

    .venv/bin/python docs/make_paste_screenshots.py

Saves docs/screenshots/{1440x900,800x600}-light-{paste-dialog,pasted-summary}.png. A throwaway
data dir.
"""

from __future__ import annotations

import shutil
import sys

from shots import OUT, real_window, rerun_under_xvfb, settle, throwaway_data, wait_for

TEXT = """Team update — week 48

The new intake form went live on Monday. In its first four days 212 people used it, against about
150 a week with the paper form, and only three needed help from the front desk. Two fields confuse
people: "household income" (monthly or yearly?) and "preferred contact time". Maria will reword
both by Friday.

The volunteer rota for December is still short of six evening shifts, mostly on the 23rd and the
30th. Please ask anyone who helped last year. Sam will send a reminder to the mailing list.

The boiler in the back office was serviced on Wednesday. The engineer found a worn pump and
replaced it under the maintenance contract, so there is no cost to us. Heating should now keep
the office at 19 degrees.

Next week: the funding report for the county is due on the 9th. Priya has the figures; everyone
else, please send her your case numbers by the 6th."""


def main() -> int:
    status = rerun_under_xvfb(__file__)
    if status is not None:
        return status
    data = throwaway_data()
    from PySide6.QtGui import QGuiApplication

    from desktop.ui.paste_dialog import PasteDialog

    _app, window = real_window(data, {"threads": 1, "temperature": 0.0})
    window.show()
    wait_for(window.session.model_ready)
    window.banner.setVisible(False)  # a note about this machine's CPU is not what these show
    QGuiApplication.clipboard().setText(TEXT)

    for width, height in ((1440, 900), (800, 600)):
        window.resize(width, height)
        window.move(0, 0)
        settle(300)
        dialog = PasteDialog(window)
        dialog.show()
        settle(400)
        window.banner.setVisible(False)
        screen = QGuiApplication.primaryScreen()
        shot = screen.grabWindow(0, 0, 0, width, height)
        shot.save(str(OUT / f"{width}x{height}-light-paste-dialog.png"))
        dialog.close()
        print(f"saved {width}x{height}-light-paste-dialog.png: {dialog.count.text()}", flush=True)

    window.resize(1440, 900)
    window.chat.summarize_text(TEXT)
    wait_for(window.chat.answer_finished, 600)
    for width, height in ((1440, 900), (800, 600)):
        window.resize(width, height)
        settle(400)
        window.banner.setVisible(False)
        settle(100)
        name = f"{width}x{height}-light-pasted-summary.png"
        window.grab().save(str(OUT / name))
        print(f"saved {name}", flush=True)
    summary = window.chat.store.messages(window.chat.chat_id)[-1]
    print("--- the summary ---\n" + summary.content, flush=True)
    window.close()
    shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
