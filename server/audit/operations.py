"""Every kind of archive operation the audit log records (issue: Archive log).

Values are stable identifiers stored in the log and used as the ``operation`` filter; the console
shows translated labels. Operations of later capabilities (POP3, Export All, retention) are listed
so the log's vocabulary is fixed from the start.
"""

from __future__ import annotations

from enum import StrEnum


class Op(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    ROLE_CHANGE = "role_change"
    USER_CHANGE = "user_change"
    ARCHIVING_ENABLE = "archiving_enable"
    ARCHIVING_DISABLE = "archiving_disable"
    SETTINGS_CHANGE = "settings_change"
    DIRECTORY_IMPORT = "directory_import"
    SEARCH = "search"
    MESSAGE_VIEW = "message_view"
    ATTACHMENT_DOWNLOAD = "attachment_download"
    EML_EXPORT = "eml_export"
    BULK_EXPORT = "bulk_export"
    EXPORT_ALL_SUBMIT = "export_all_submit"
    EXPORT_ALL_CANCEL = "export_all_cancel"
    EXPORT_ALL_DOWNLOAD = "export_all_download"
    EXPORT_ALL_FINISH = "export_all_finish"  # the worker's outcome (success or failure)
    EXPORT_ALL_EXPIRE = "export_all_expire"  # file deleted after 30 days
    POP3_ENABLE = "pop3_enable"
    POP3_DISABLE = "pop3_disable"
    POP3_PASSWORD_CHANGE = "pop3_password_change"
    POP3_LOGIN = "pop3_login"
    POP3_LOGIN_FAILED = "pop3_login_failed"
    POP3_RETRIEVE = "pop3_retrieve"
    IMPORT = "import"
    RETENTION_PURGE = "retention_purge"
    LEGAL_HOLD = "legal_hold"
    AUDIT_QUERY = "audit_query"
    AUDIT_EXPORT = "audit_export"
    RECONCILE = "reconcile"  # index against raw store (mailarchive reconcile, the daily job)
    INTEGRITY_FAILURE = "integrity_failure"  # stored bytes did not match their SHA-256: not handed out
    INGEST_BATCH = "ingest_batch"  # the ingest ledger: Merkle root of the messages one batch archived


class Result(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"
