"""Flask-free use cases: what the web console, the CLI, RQ jobs and pop3d do with the archive.

Every public operation takes the ``Actor`` first, validates, writes exactly one audit entry
(success, or the refusal: docs/audit.md) and then acts. Failures are ``ServiceError`` subclasses
(``errors.py``) that each edge maps to its own answer (HTTP status, exit code, ``-ERR``).
Build the bundle once per process with ``Services.open(config)`` (``context.py``).

Modules: ``archive_access`` (search, message, raw, attachment, zip, integrity on every read),
``archiving`` (switch, summary), ``users`` (accounts and roles), ``sessions`` (sign-in),
``audit_trail`` (log query, export, verify), ``ingest`` (imports, directory). Later capabilities
add ``exports``, ``pop3``, ``retention``, ``holds``, ``ops`` in the same shape: a class taking the
``Services`` bundle, reached through a cached property on it.
"""
