"""Sentences and bodies in English, Chinese or both, drawn from a per-generator sentence bank.

Drawing whole sentences from a bank of a few thousand keeps generation fast (one ``choices`` call
per paragraph instead of one per word); per-message reference numbers and amounts keep the
index vocabulary growing with the archive as it does with real mail.
"""

from __future__ import annotations

import html
import random

from server.synthetic import words


def _en_sentence(rng: random.Random) -> str:
    picked = rng.choices(words.EN_WORDS, k=rng.randint(6, 16))
    if picked[0] == "from":  # a line starting "From " would need mbox escaping
        picked[0] = "regarding"
    return " ".join(picked).capitalize() + rng.choice(".....?!")


def _zh_sentence(rng: random.Random) -> str:
    return "".join(rng.choices(words.ZH_WORDS, k=rng.randint(4, 11))) + rng.choice("。。。，！？")


class TextBank:
    def __init__(self, rng: random.Random, size: int = 3000) -> None:
        self.rng = rng
        self.en = [_en_sentence(rng) for _ in range(size)]
        self.zh = [_zh_sentence(rng) for _ in range(size * 2 // 3)]

    def reference(self) -> str:
        """A token that is (almost) unique to the message, as order and ticket numbers are."""
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return f"PO-{rng.randint(2019, 2026)}-{rng.randrange(10**6):06d}"
        if kind == 1:
            return f"INC{rng.randrange(10**7):07d}"
        if kind == 2:
            return f"{rng.choice('¥$€')}{rng.randrange(10**6):,}.{rng.randrange(100):02d}"
        if kind == 3:
            return f"+86-{rng.randrange(130, 190)}-{rng.randrange(10**4):04d}-{rng.randrange(10**4):04d}"
        return f"CN{rng.randrange(10**9):09d}"

    def sentences(self, lang: str, k: int) -> list[str]:
        if lang == "zh":
            return self.rng.choices(self.zh, k=k)
        if lang == "en":
            return self.rng.choices(self.en, k=k)
        return [self.rng.choice(self.zh if self.rng.random() < 0.5 else self.en) for _ in range(k)]

    def paragraphs(self, lang: str, chars: int) -> list[str]:
        """Paragraphs totalling about ``chars`` characters, lines wrapped as mail clients do."""
        out: list[str] = []
        total = 0
        while total < chars:
            sents = self.sentences(lang, self.rng.randint(2, 6))
            if self.rng.random() < 0.5:
                sents[self.rng.randrange(len(sents))] += f" ({self.reference()})"
            para = _wrap(sents, 36 if lang == "zh" else 72)
            out.append(para)
            total += len(para)
        return out

    def subject(self, lang: str) -> str:
        rng = self.rng
        if lang == "zh":
            return "".join(rng.choices(words.ZH_WORDS, k=rng.randint(3, 7)))
        if lang == "mixed":
            return f"{rng.choice(words.EN_WORDS).title()} {''.join(rng.choices(words.ZH_WORDS, k=rng.randint(2, 4)))}"
        return " ".join(rng.choices(words.EN_WORDS, k=rng.randint(3, 8))).capitalize()


def _wrap(sentences: list[str], width: int) -> str:
    """Greedy wrap on spaces for Latin text; hard wrap every ``width`` chars for CJK runs."""
    lines, line = [], ""
    for sentence in sentences:
        for word in sentence.split(" "):
            while len(word) > width:  # CJK sentences have no spaces
                room = max(width - len(line), 1)
                line += word[:room]
                word = word[room:]
                lines.append(line)
                line = ""
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)


_HTML_HEAD = (
    '<html><head>\n<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
    "<style>body{{font-family:Calibri,'Microsoft YaHei',sans-serif;font-size:11pt}}"
    "p.MsoNormal{{margin:0cm;margin-bottom:.0001pt}} .sig{{color:#1F497D}}</style>\n</head>\n"
    '<body lang="EN-US" link="#0563C1" vlink="#954F72"><div class="WordSection1">\n'
)


def to_html(paragraphs: list[str], charset: str, link: str) -> str:
    """The HTML alternative of a plain body, verbose the way Outlook and Foxmail write it."""
    body = "\n".join(
        '<p class="MsoNormal">' + html.escape(p).replace("\n", " ") + "<o:p></o:p></p>" for p in paragraphs
    )
    return (
        _HTML_HEAD.format(charset=charset)
        + body
        + f'\n<p class="MsoNormal sig">Portal: <a href="{link}">{link}</a></p>\n</div></body></html>\n'
    )
