"""Benchmarks that compare Hearth's path with the raw library doing the same work in the same run.

Each module `bench/<name>.py` defines `run(quick: bool = False) -> list[dict]`; each dict is one
row: {"name", "ratio", "goal", "ok", "detail"} (goal as text, e.g. ">= 0.95"). `python -m bench`
runs them all and prints a table plus JSON.
"""
