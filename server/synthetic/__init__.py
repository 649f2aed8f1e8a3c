"""Deterministic synthetic mail for the benchmark, demo data and tests (no external data).

``generate_corpus(root, count, seed=...)`` writes mbox files or a Maildir plus the directory CSV;
``MailGenerator`` yields raw messages one at a time; ``build_directory`` gives the ~2,000-account
company those messages are exchanged in.
"""

from server.synthetic.corpus import (
    CHUNK,
    GENERATOR_VERSION,
    CorpusInfo,
    generate_corpus,
    iter_raw,
    load_corpus,
)
from server.synthetic.directory import Directory, Person, build_directory, department_paths, write_directory
from server.synthetic.messages import MailGenerator, MailProfile

__all__ = [
    "CHUNK", "GENERATOR_VERSION", "CorpusInfo", "Directory", "MailGenerator", "MailProfile", "Person",
    "build_directory", "department_paths", "generate_corpus", "iter_raw", "load_corpus", "write_directory",
]
