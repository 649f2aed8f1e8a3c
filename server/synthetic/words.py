"""Word lists for synthetic mail, written for this project (no external data).

Kept as space-separated strings: compact to read, split once at import. The vocabulary is that of
ordinary office mail (orders, contracts, meetings, projects) in English and Simplified Chinese,
plus a few Traditional Chinese, Japanese and Western European words used in attachment names so
that every legacy charset the generator emits has text it can actually encode.
"""

from __future__ import annotations


def _split(text: str) -> list[str]:
    return text.split()

EN_WORDS = _split("""
the a an and or but of to in on for with from by about at as into over after before during between
we you they our your their this that these those it is are was were be been will would can could
should may might must please thanks thank regards kind best hello hi dear team all everyone
meeting agenda minutes schedule calendar invite call conference room tomorrow today yesterday week
month quarter year deadline milestone review approval approve approved pending draft final version
report summary update status progress plan planning forecast budget cost costs price pricing quote
invoice payment purchase order delivery shipment logistics warehouse inventory stock supplier vendor
customer client partner contract agreement terms renewal signature legal compliance audit policy
project program initiative launch release rollout migration upgrade deployment server network
database backup security incident ticket issue bug fix patch test testing quality requirements
design proposal presentation slides document spreadsheet attachment file folder share link access
account accounts finance revenue margin profit sales marketing campaign lead leads pipeline target
targets growth region regional east west north south office headquarters branch department
manager director engineer analyst assistant coordinator specialist lead owner stakeholder
training onboarding hiring candidate interview offer salary benefits leave holiday travel expense
expenses reimbursement receipt hotel flight visa trip visit site factory production line capacity
safety maintenance inspection equipment order orders product products sample samples specification
feedback comments question questions answer discuss discussion confirm confirmed confirmation
follow up next steps action items owner due date priority urgent important note notice reminder
attached enclosed below above latest revised updated new old current previous following details
information data figures numbers chart table analysis results performance metrics dashboard
shanghai beijing shenzhen guangzhou hangzhou chengdu singapore london frankfurt tokyo boston
monday tuesday wednesday thursday friday morning afternoon evening noon asap eod
prepare send sent receive received check checked share shared discuss let know see find sign
""")

ZH_WORDS = _split("""
会议 纪要 安排 日程 通知 请 各位 同事 领导 您好 大家好 谢谢 感谢 辛苦 收到 确认 回复 附件 文件 资料
合同 协议 条款 续签 签字 盖章 法务 合规 审计 审批 批准 流程 申请 报销 费用 预算 成本 价格 报价 发票
付款 采购 订单 交货 发货 物流 仓库 库存 供应商 客户 合作伙伴 项目 计划 进度 里程碑 上线 发布 测试 质量
需求 设计 方案 报告 总结 周报 月报 季度 年度 目标 销售 市场 推广 活动 渠道 区域 华东 华南 华北 西南
上海 北京 深圳 广州 杭州 成都 南京 武汉 总部 分公司 部门 经理 总监 工程师 助理 主管 负责人 团队
培训 招聘 面试 入职 薪资 福利 休假 出差 差旅 酒店 机票 签证 拜访 工厂 生产线 产能 安全 维护 检查 设备
产品 样品 规格 反馈 意见 问题 讨论 下一步 行动 截止 日期 优先级 紧急 重要 提醒 最新 修订 更新 数据
图表 分析 结果 绩效 指标 系统 服务器 网络 数据库 备份 升级 迁移 部署 故障 工单 修复 补丁 权限 账号
今天 明天 昨天 下周 本周 上午 下午 晚上 周一 周二 周三 周四 周五 尽快 及时 已经 正在 需要 可以 是否
我们 你们 他们 这个 那个 以下 以上 如下 关于 根据 对于 由于 因此 但是 并且 或者 如果 请查收 请确认
""")

# Traditional Chinese (Big5), Japanese (ISO-2022-JP) and Western European (Latin-1) vocabularies:
# used for attachment names and a few subjects, each encodable in its legacy charset.
ZH_TRAD_WORDS = _split("""
會議 紀要 合約 報價單 發票 採購 訂單 報告 總結 預算 銷售 業績 客戶 資料 檔案 計畫 進度 台北 香港 高雄
財務 審計 簽核 說明 規格 產品 樣品 品質 測試 專案 說明書 通訊錄 部門 經理 年度 季度 更新 最終版
""")

JA_WORDS = _split("""
会議 議事録 見積書 請求書 契約書 報告書 資料 企画書 仕様書 予算 売上 東京 大阪 名古屋 営業 部 課
プロジェクト スケジュール レポート データ 最終版 修正版 確認 お願い 案内 一覧 月次 年度
""")

LATIN1_WORDS = _split("""
présentation réunion résumé équipe société décembre février août été contrat année numéro
bestätigung größe übersicht prüfung straße münchen zürich köln änderung grüße
información económico año reunión señal niño presupuesto dirección
""")

FIRST_NAMES_EN = _split("""
james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan
joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony betty mark sandra donald
ashley steven kimberly paul emily andrew donna joshua michelle kevin carol brian amanda george melissa
""")

LAST_NAMES_EN = _split("""
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez wilson
anderson thomas taylor moore jackson martin lee thompson white harris clark lewis robinson walker
young allen king wright scott green baker adams nelson hill campbell mitchell roberts carter
""")

# (surname in Han, pinyin), (given name in Han, pinyin): addresses use pinyin, display names Han.
ZH_SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
]
ZH_GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂英", "guiying"), ("建华", "jianhua"), ("晓东", "xiaodong"),
    ("海燕", "haiyan"), ("志强", "zhiqiang"), ("文博", "wenbo"), ("子涵", "zihan"),
]

# The company's department tree: top level -> second level -> third level (may be empty).
DEPARTMENTS: dict[str, dict[str, list[str]]] = {
    "Sales": {"East": ["Shanghai", "Hangzhou", "Nanjing"], "South": ["Shenzhen", "Guangzhou"],
              "North": ["Beijing", "Tianjin"], "International": ["Singapore", "Europe"]},
    "Engineering": {"Platform": ["Storage", "Network"], "Applications": ["Web", "Mobile"],
                    "QA": [], "Infrastructure": ["Datacenter"]},
    "Finance": {"Accounting": [], "Treasury": [], "Procurement": ["Direct", "Indirect"]},
    "HR": {"Recruiting": [], "Payroll": [], "Training": []},
    "Operations": {"Logistics": ["Warehouse", "Transport"], "Manufacturing": ["Plant1", "Plant2"],
                   "Quality": []},
    "Legal": {"Contracts": [], "Compliance": []},
    "Marketing": {"Brand": [], "Digital": [], "Events": []},
    "Executive": {},
}

INTERNAL_DOMAINS = ("acme-corp.example.com", "acme-cn.example.com")
EXTERNAL_DOMAINS = (
    "globex.example.net", "initech.example.org", "umbrella-supply.example.com", "stark-logistics.example.net",
    "wayne-partners.example.org", "mail.customer-one.example.cn", "vip.supplier-two.example.cn",
    "hooli.example.com", "contoso.example.com", "fabrikam.example.net", "tyrell.example.org",
)

MAILERS = (
    "Microsoft Outlook 16.0", "Foxmail 7.2.25.228[cn]", "Mozilla Thunderbird 115.8.0", "Apple Mail (2.3774.500.171)",
    "iPhone Mail (21D61)", "DingTalk Mail", "Coremail Webmail Server Version XT5.0.14", None,
)

ATTACHMENT_TYPES = (
    ("pdf", "application/pdf"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("zip", "application/zip"),
    ("csv", "text/csv"),
    ("txt", "text/plain"),
)
