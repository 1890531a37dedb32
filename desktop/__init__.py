"""Hearth: a private assistant that runs entirely on the user's own computer."""

__version__ = "0.1.0"
APP_NAME = "Hearth"
