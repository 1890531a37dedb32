"""The library panel: collections, per-file status, add/remove/re-index, which collections a chat asks."""
