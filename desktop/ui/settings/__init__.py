"""The settings dialog, generated from the single declaration in desktop/core/settings.py."""
