"""Readable names of the audit operations and results, in English and Simplified Chinese, as the
Archive Log Query page shows them (the stored values stay the stable identifiers of ``Op``).
"""

from __future__ import annotations

from server.audit.operations import Op, Result

OPERATION_LABELS: dict[str, dict[str, str]] = {
    Op.LOGIN: {"en": "Sign in", "zh": "登录"},
    Op.LOGOUT: {"en": "Sign out", "zh": "退出登录"},
    Op.LOGIN_FAILED: {"en": "Failed sign-in", "zh": "登录失败"},
    Op.ROLE_CHANGE: {"en": "Role change", "zh": "角色变更"},
    Op.USER_CHANGE: {"en": "Administrator change", "zh": "管理员变更"},
    Op.ARCHIVING_ENABLE: {"en": "Archiving enabled", "zh": "启用归档"},
    Op.ARCHIVING_DISABLE: {"en": "Archiving disabled", "zh": "停用归档"},
    Op.SETTINGS_CHANGE: {"en": "Settings change", "zh": "设置变更"},
    Op.DIRECTORY_IMPORT: {"en": "Directory import", "zh": "导入组织架构"},
    Op.SEARCH: {"en": "Search", "zh": "查询邮件"},
    Op.MESSAGE_VIEW: {"en": "View message", "zh": "查看邮件"},
    Op.ATTACHMENT_DOWNLOAD: {"en": "Download attachment", "zh": "下载附件"},
    Op.EML_EXPORT: {"en": "Download .eml", "zh": "下载邮件 (.eml)"},
    Op.BULK_EXPORT: {"en": "Bulk download", "zh": "批量下载"},
    Op.EXPORT_ALL_SUBMIT: {"en": "Export All submitted", "zh": "提交全部导出"},
    Op.EXPORT_ALL_CANCEL: {"en": "Export All cancelled", "zh": "取消全部导出"},
    Op.EXPORT_ALL_DOWNLOAD: {"en": "Export All downloaded", "zh": "下载全部导出"},
    Op.EXPORT_ALL_FINISH: {"en": "Export All completed", "zh": "全部导出完成"},
    Op.EXPORT_ALL_EXPIRE: {"en": "Export All expired", "zh": "全部导出已过期"},
    Op.POP3_ENABLE: {"en": "POP3 enabled", "zh": "启用 POP3"},
    Op.POP3_DISABLE: {"en": "POP3 disabled", "zh": "停用 POP3"},
    Op.POP3_PASSWORD_CHANGE: {"en": "POP3 password change", "zh": "修改 POP3 密码"},
    Op.POP3_LOGIN: {"en": "POP3 sign-in", "zh": "POP3 登录"},
    Op.POP3_LOGIN_FAILED: {"en": "POP3 failed sign-in", "zh": "POP3 登录失败"},
    Op.POP3_RETRIEVE: {"en": "POP3 retrieval", "zh": "POP3 收取邮件"},
    Op.IMPORT: {"en": "Mail import", "zh": "导入邮件"},
    Op.RETENTION_PURGE: {"en": "Retention purge", "zh": "过期清理"},
    Op.LEGAL_HOLD: {"en": "Legal hold", "zh": "法律保留"},
    Op.AUDIT_QUERY: {"en": "Archive log query", "zh": "查询归档日志"},
    Op.AUDIT_EXPORT: {"en": "Archive log download", "zh": "下载归档日志"},
    Op.INTEGRITY_FAILURE: {"en": "Integrity failure", "zh": "完整性校验失败"},
    Op.RECONCILE: {"en": "Index reconcile", "zh": "索引核对"},
    Op.INGEST_BATCH: {"en": "Messages archived (ledger)", "zh": "邮件归档记录"},
}

RESULT_LABELS: dict[str, dict[str, str]] = {
    Result.SUCCESS: {"en": "Success", "zh": "成功"},
    Result.FAILURE: {"en": "Failure", "zh": "失败"},
    Result.DENIED: {"en": "Denied", "zh": "拒绝"},
}


def _pick(table: dict[str, dict[str, str]], value: str, lang: str) -> str:
    labels = table.get(value)
    if not labels:
        return value
    return labels.get(lang.split("-")[0].lower(), labels["en"])


def operation_label(operation: str, lang: str = "en") -> str:
    """The label for ``lang`` (``en``, ``zh``, ``zh-CN``...); unknown values show as stored."""
    return _pick(OPERATION_LABELS, operation, lang)


def result_label(result: str, lang: str = "en") -> str:
    return _pick(RESULT_LABELS, result, lang)
