"""Toolbar model picker: choose or import a model; a device badge says where it runs and why."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from desktop.ui.qtcompat import emit
from desktop.ui.session import LoadedModel

FIT_LABELS = {"fits": "fits", "may_be_slow": "may be slow", "wont_fit": "won't fit"}
BACKEND_LABELS = {"cpu": "CPU", "cuda": "CUDA", "metal": "Metal", "vulkan": "Vulkan", "rocm": "ROCm"}
IMPORT_ITEM = "Import a model…"


class ModelPicker(QWidget):
    """Signals (GUI thread): model_chosen(str), a name or path to load; import_requested(str), a GGUF path."""

    model_chosen = Signal(str)
    import_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setAccessibleName("Model")
        self.combo.setToolTip("The model that answers. Import a .gguf you already have for better answers.")
        self.combo.setMinimumContentsLength(22)
        self.combo.activated.connect(self._on_activated)
        layout.addWidget(self.combo)
        self.badge = QLabel("…")
        self.badge.setObjectName("deviceBadge")
        self.badge.setAccessibleName("Device")
        layout.addWidget(self.badge)
        self._entries: list[tuple[str, str]] = []  # (label, name or path to load)
        self.set_entries([])

    def set_entries(self, entries: list[tuple[str, str]], current: str = "") -> None:
        """`entries`: (label, value) pairs, value being what `model_chosen` carries."""
        self._entries = list(entries)
        self.combo.blockSignals(True)
        self.combo.clear()
        for label, value in self._entries:
            self.combo.addItem(label, value)
        self.combo.insertSeparator(self.combo.count())
        self.combo.addItem(IMPORT_ITEM, None)
        index = next((i for i, (_, v) in enumerate(self._entries) if v == current), 0)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def set_loading(self, name: str) -> None:
        self.badge.setText("loading…")
        self.badge.setToolTip(f"Loading {name}")

    def set_loaded(self, model: LoadedModel) -> None:
        backend = BACKEND_LABELS.get(model.backend, model.backend.upper())
        fit = FIT_LABELS.get(model.fit, model.fit)
        self.badge.setText(f"{backend} · {fit}")
        self.badge.setToolTip(f"{model.name} runs on the {backend}: {model.reason}")
        self.badge.setAccessibleDescription(self.badge.toolTip())
        if not any(v in (model.name, model.path) for _, v in self._entries):
            self.set_entries([*self._entries, (model.name, model.name)], model.name)
        else:
            value = next(v for _, v in self._entries if v in (model.name, model.path))
            self.set_entries(self._entries, value)

    def set_failed(self, message: str) -> None:
        self.badge.setText("no model")
        self.badge.setToolTip(message)

    def _on_activated(self, index: int) -> None:
        value = self.combo.itemData(index)
        if self.combo.itemText(index) == IMPORT_ITEM:
            self.ask_import()
        elif value:
            emit(self.model_chosen, str(value))

    def ask_import(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "GGUF models (*.gguf)")
        if path:
            emit(self.import_requested, path)
