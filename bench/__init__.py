"""The benchmark harness behind ``make bench`` / ``mailarchive bench`` (see bench/run.py)."""
