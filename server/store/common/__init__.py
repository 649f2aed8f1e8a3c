"""What both store backends share (codec, message documents, times, paging of documents).

The backends never import each other (tests/unit/test_store_imports.py checks it): whatever both
need lives here, below them both.
"""
