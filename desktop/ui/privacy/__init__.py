"""The privacy panel: refused network attempts, where data lives, delete all my data."""
