"""Search criteria, their validation, keyword tokenizing and paging cursors (shared by both backends)."""
