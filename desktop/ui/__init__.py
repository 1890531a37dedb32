"""The Hearth window (PySide6). Only this package imports Qt.

The pure-Python modules the window needs are imported here, before PySide6: PySide6 inspects the
source of every module imported after it (to support its `__feature__` switches), which cost about
30 ms at start-up for modules that never touch Qt. Only the ones the first frame needs: settings,
chat history and the rest are opened after it (MainWindow._after_first_show), off the start-up path.
"""

import desktop.core.errors
import desktop.core.events
import desktop.core.jobs
import desktop.services.paths  # noqa: F401
