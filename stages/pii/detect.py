"""Finding personal data in text: locator patterns find candidates, the validators in ``checks.py`` decide.

Each family (secret shapes, secret assignments, URL passwords, e-mail, IPv4, IPv6, numbers) has one
*locator*: a pattern that means the same to Python's ``re`` and to the Rust ``regex`` crate (no
lookaround, anchors or backreferences; ASCII classes only). ``find_spans`` is the plain path: it
runs each locator over one text with ``re``. ``find_spans_column`` is the fast path for a whole
text column: polars runs the locators in Rust over every document, and Python only looks at the
located candidates, placing each with ``str.find`` after the previous one (exact: a pattern without
context-dependent assertions that matches a string at one place matches it, or a longer string, at
any earlier place, so the first occurrence of a match after the previous match is that match).
Both paths then validate the same candidates with the same code, and give the same spans (tests
check it).

Numbers (identity numbers, cards, phones) are found as one family. The locator finds *regions* of
seven or more digits; inside one, a *run* is digit groups joined by single spaces, hyphens, dots
or parentheses ("+86 138 1234 5678", "(010) 6552-9988", "6222 0200 1234 5678"). A run, or any part
of it cut at spaces, is classified by the shape of its groups and validated; a run glued to
letters ("SM-G9910", "AB13812345678") is no number.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from . import checks as C

TYPES = ("email", "phone", "id_card", "bank_card", "ip", "secret")
NUMBER_TYPES = frozenset(("phone", "id_card", "bank_card"))


class Span(NamedTuple):
    start: int  # character offsets in the text
    end: int
    type: str  # one of TYPES
    kind: str  # the finer rule: cn_mobile, ipv6, aws_access_key, ...
    value: str  # canonical form (for the salted hash): lower-case e-mail, digits with country code, ...


def _ci(word: str) -> str:
    """A case-insensitive literal written as classes (``(?i)`` differs between the two engines)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# --- context words ------------------------------------------------------------------------------------

CONTEXT_CHARS = 20
# Cue words before a number, by what they say it is. A number named a thing (order, model, ISBN,
# version, ...) is no personal data; an eight-digit Hong Kong or Macao number needs a phone word.
CUES = {
    "thing": r"\b(?:order|tracking|invoice|sku|model|part|serial|isbn|issn|barcode|ean|upc|version|build|ticket"
             r"|patent|license|ref)\b|订单|訂單|单号|單號|运单|快递|物流|发票|發票|流水号|交易号|货号|型号|型號|序列号"
             r"|编号|編號|批号|文号|条码|條碼|版本|工单|专利|注册号|备案|许可证",
    "phone": r"\b(?:tel|phone|mobile|cell|call|fax|whatsapp|wechat|contact)\b|电话|電話|手机|手機|联系|聯絡|聯繫|联络"
             r"|致电|致電|热线|熱線|传真|傳真|微信",
    "id": r"\b(?:id|passport)\b|身份证|身份證|证件|證件",
    "card": r"\b(?:card|account)\b|卡号|卡號|银行卡|銀行卡|账号|帳號|账户|帳戶",
}
_CONTEXT = re.compile("|".join(f"(?P<{k}>{v})" for k, v in CUES.items()), re.A)  # on lower-cased text
_IP_NEGATIVE = re.compile(r"\b(?:version|ver|build|release|firmware|v)\b|版本|固件", re.I | re.A)


def _window(text: str, start: int) -> str:
    w = text[max(0, start - CONTEXT_CHARS):start]
    cut = w.rfind("\n")
    return w[cut + 1:] if cut >= 0 else w


def context(text: str, start: int) -> str | None:
    """What the last cue word before ``start`` (same line, 20 characters) says: thing, phone, id,
    card, or None when there is no cue word."""
    last = None
    for m in _CONTEXT.finditer(_window(text, start).lower()):
        last = m.lastgroup
    return last


def _ascii_word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


# --- numbers: identity numbers, cards, phones ---------------------------------------------------------

# a region: seven or more digits, at most four run characters (") (+", " - ") between two of them
NUMBER_LOCATOR = r"[+(]{0,2}[0-9](?:[ .()+\-]{0,4}[0-9]){6,}[)Xx]{0,2}"
# What every finding's groups hold: seven digits in a row, two groups of three or more digits side by
# side ("138 1234", "(010)6552", "(415) 555"), or a +. Regions without (dates such as 2024-01-15,
# 1.2.3.4-5.6.7.8) are passed over.
PLAUSIBLE = r"[0-9]{7}|[0-9]{3}[ .()\-]{1,2}[0-9]{3}|\+[ .()+\-]{0,3}[0-9]"
_PLAUSIBLE = re.compile(PLAUSIBLE, re.A)
# Whole regions that hold no finding, dropped before Python sees them: one group of 7, 9, 20+ digits,
# of 10 not starting 09, 12 not starting 0, 13 not starting 86 (timestamps, counters, long ids), or
# a dotted quad (an IP address; the IP family judges it).
HOPELESS = (r"^(?:[0-9]{7}|[0-9]{9}|(?:[1-9][0-9]|0[0-8])[0-9]{8}|[1-9][0-9]{11}|(?:[0-7][0-9]|8[0-57-9]|9[0-9])"
            r"[0-9]{11}|[0-9]{20,}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})$")
_GROUP = r"(?:\(\+?[0-9]{1,4}\)|[0-9]++)"
_RUN = re.compile(rf"(?=[+(0-9][0-9 .()+\-]{{6}})\+?{_GROUP}(?:(?:[ .\-]|(?<=\))|(?=\()){_GROUP})*+"
                  r"(?:[Xx](?![A-Za-z0-9_]))?", re.A)
_EXTENSION = re.compile(r"(?:转|轉|分机|分機|ext\.? ?|x)[0-9]{1,6}(?![0-9A-Za-z])", re.I | re.A)


class Shape(NamedTuple):
    """Digit groups of a candidate number, as written."""

    start: int  # offset of the first group in the text
    ends: tuple[int, ...]  # offset after each group
    digits: str  # the digits of all groups
    lens: tuple[int, ...]  # digits per group
    seps: tuple[str, ...]  # what stands between two groups: " ", "-", ".", "" (next to a parenthesis)
    paren: tuple[bool, ...]  # the group is in parentheses: (010), (+86)
    plus: tuple[bool, ...]  # the group starts with +
    x: bool  # ends with the check character X of an identity number


# Splits a run into groups and the separators between them (empty next to a parenthesis).
_SPLIT = re.compile(r"([ .\-]|(?<=\))(?=[0-9(+])|(?<=[0-9])(?=\())", re.A)


class Run:
    """A run cut into groups; ``shape(i, j)`` describes groups i..j-1."""

    __slots__ = ("seps", "digits", "lens", "paren", "plus", "x", "starts", "ends")

    def __init__(self, run: str, offset: int):
        parts = _SPLIT.split(run)
        groups = parts[0::2]
        self.seps = parts[1::2]
        self.digits = [g.strip("+()Xx") for g in groups]
        self.lens = [len(d) for d in self.digits]
        self.paren = [g[0] == "(" or g[:2] == "+(" for g in groups]
        self.plus = ["+" in g for g in groups]
        self.x = run[-1] in "Xx"
        self.starts, self.ends = [], []
        pos = offset
        for g, sep in zip(groups, self.seps + [""]):
            self.starts.append(pos)
            pos += len(g)
            self.ends.append(pos)
            pos += len(sep)

    def shape(self, i: int, j: int) -> Shape:
        return Shape(self.starts[i], tuple(self.ends[i:j]), "".join(self.digits[i:j]), tuple(self.lens[i:j]),
                     tuple(self.seps[i:j - 1]), tuple(self.paren[i:j]), tuple(self.plus[i:j]),
                     self.x and j == len(self.lens))


def _one_sep(seps: tuple[str, ...], allowed: str) -> bool:
    """All separators the same single character, one of ``allowed``."""
    return bool(seps) and len(seps[0]) == 1 and seps[0] in allowed and seps.count(seps[0]) == len(seps)


def _id_number(sh: Shape) -> str | None:
    if len(sh.digits) != (17 if sh.x else 18) or True in sh.paren or True in sh.plus:
        return None
    if len(sh.lens) == 1 or (sh.lens == ((6, 8, 3) if sh.x else (6, 8, 4)) and _one_sep(sh.seps, " -")):
        value = sh.digits + "X" if sh.x else sh.digits
        return value if C.resident_id_ok(value) else None
    return None


def _id_shaped(digits: str) -> bool:
    """18 digits that start as an identity number does (province code, birth year 18xx-20xx): a
    mistyped identity number, not a card."""
    return len(digits) == 18 and digits[:2] in C.PROVINCES and digits[6:8] in ("18", "19", "20")


def _card_grouped(sh: Shape) -> bool:
    """Grouped as cards are printed: 4-4-4-4(-1..4) or 4-6-5 / 4-6-4, one separator throughout."""
    lens = sh.lens
    if len(lens) < 2 or not _one_sep(sh.seps, " -"):
        return False
    fours = len(lens) >= 4 and lens[:-1].count(4) == len(lens) - 1 and 1 <= lens[-1] <= 4
    return fours or lens in ((4, 6, 5), (4, 6, 4))


def _card_number(sh: Shape) -> str | None:
    if sh.x or True in sh.paren or True in sh.plus or _id_shaped(sh.digits):
        return None
    if len(sh.lens) > 1 and not _card_grouped(sh):
        return None
    return sh.digits if C.card_ok(sh.digits) else None


def _phone(sh: Shape, cue: Callable[[], str | None]) -> tuple[str, str, int] | None:
    """(kind, canonical digits with country code, offset of its end) or None. The last group may be
    an extension (1-6 digits after a hyphen) of a fixed line; it is then part of the span."""
    found = _phone_number(sh, cue)
    if found:
        return found[0], found[1], sh.ends[-1]
    k = len(sh.lens)
    if k >= 3 and sh.seps[-1] == "-" and sh.lens[-1] <= 6 and not sh.paren[-1]:
        head = Shape(sh.start, sh.ends[:-1], sh.digits[:-sh.lens[-1]], sh.lens[:-1], sh.seps[:-1], sh.paren[:-1],
                     sh.plus[:-1], False)
        found = _phone_number(head, cue)
        if found and found[0] in ("cn_landline", "tw"):
            return found[0], found[1], sh.ends[-1]
    return None


def _phone_number(sh: Shape, cue: Callable[[], str | None]) -> tuple[str, str] | None:
    digits, lens, seps, paren = sh.digits, sh.lens, sh.seps, sh.paren
    k = len(lens)
    if sh.x or not 7 <= len(digits) <= 17 or True in sh.plus[1:] or True in paren[2:]:
        return None
    first = digits[:lens[0]]

    # written with a country code: +CC, (+CC), (CC) for the codes near China, or 00CC
    cc = national = None
    if sh.plus[0] or (paren[0] and first in C.NEAR_CODES):
        if k == 1 or (not paren[0] and lens[0] > 3):
            parsed = C.split_country_code(digits)
            if parsed is None:
                return None
            cc, national = parsed
        elif first in C.COUNTRY_CODES:
            cc, national = first, digits[lens[0]:]
        else:
            return None
    elif not paren[0] and first[:2] == "00":
        rest = digits[2:]
        code = next((c for c in C.NEAR_CODES if first[2:] == c or (k == 1 and rest.startswith(c))), None)
        if code is None:
            return None
        cc, national = code, rest[len(code):]
    if cc is not None:
        if k > 1 and paren[1]:  # +44 (0)20 ...: the trunk 0 is not dialled
            if lens[1] == 1 and digits[lens[0]] == "0":
                national = national[1:]
            elif cc != "1":
                return None
        if len(cc) + len(national) > 15:
            return None
        kind = C.national_ok(cc, national)
        if kind is None:
            return None
        if cc in ("86", "886") and national[:1] == "0":
            national = national[1:]
        return kind, cc + national

    if k > 1 and paren[1]:
        return None
    # national formats
    lead = digits[0]
    if lead == "1" and not paren[0]:
        if (lens == (11,) or (lens == (3, 4, 4) and _one_sep(seps, " -"))) and C.cn_mobile_ok(digits):
            return "cn_mobile", "86" + digits
    if lead == "8" and not paren[0] and digits[:2] == "86" and (lens == (13,) or (
            lens[0] == 2 and lens[1:] in ((11,), (3, 4, 4)) and (k == 2 or _one_sep(seps[1:], " -")))):
        if C.cn_mobile_ok(digits[2:]):
            return "cn_mobile", digits
    if lead == "0":
        if digits[:2] == "09" and len(digits) == 10 and not paren[0] and (
                k == 1 or (lens in ((4, 3, 3), (4, 6)) and _one_sep(seps, " -"))):
            return "tw", "886" + digits[1:]
        if k == 1:
            national = digits[1:]
            if len(digits) in (11, 12) and C.cn_landline_ok(national) and (
                    len(national) - C.cn_area_split(national)) in (7, 8):
                return "cn_landline", "86" + national
            return None
        area = lens[0]
        if k > 3 or min(lens[1:]) < 3:
            return None
        sub = digits[area:]
        if area == 2:  # Taiwan: 0 + one-digit area code, 7-8 digit subscriber number
            if digits[1] in "2345678" and len(sub) in (7, 8) and sub[0] in "23456789":
                return "tw", "886" + digits[1:]
            return None
        national = digits[1:]
        if area in (3, 4) and C.cn_area_split(national) == area - 1 and C.cn_landline_ok(national):
            return "cn_landline", "86" + national
        return None
    # North American Numbering Plan: (415) 555-2671, 415-555-2671, 415.555.2671, 1-415-555-2671
    if lens == (3, 3, 4) and (_one_sep(seps, "-.") or (paren[0] and seps[0] in ("", " ") and seps[1] == "-")):
        return ("nanp", "1" + digits) if C.nanp_ok(digits) else None
    if lens == (1, 3, 3, 4) and lead == "1" and _one_sep(seps, "-. "):
        return ("nanp", digits) if C.nanp_ok(digits[1:]) else None
    # Hong Kong and Macao: eight digits, only next to a word that says phone
    if not paren[0] and (lens == (8,) or (lens == (4, 4) and _one_sep(seps, " -"))):
        if lead in "2345679" and cue() == "phone":
            return "hk_macao", "852" + digits
    return None


def _glued_left(text: str, s: int) -> bool:
    """A run that continues a word, a decimal number, a product code (SM-1234567) or a path."""
    c = text[s - 1]
    if _ascii_word(c):
        return True
    if s >= 2 and c in "-/#_\\" and _ascii_word(text[s - 2]):
        return True
    return c in ".," and s >= 2 and text[s - 2].isdigit()


def numbers_in(text: str, start: int, end: int, types: frozenset[str], out: list[Span]) -> None:
    """The identity numbers, cards and phones of the region ``text[start:end]``."""
    region = text[start:end]
    x = region[-1] in "Xx"
    if region.isdigit() or (x and region[:-1].isdigit()):  # one group, the common case
        if (start and _glued_left(text, start)) or (end < len(text) and _ascii_word(text[end])):
            return
        digits = region[:-1] if x else region
        found = _classify(text, Shape(start, (end,), digits, (len(digits),), (), (False,), (False,), x), types)
        if found is not None:
            out.append(found)
        return
    for m in _RUN.finditer(text, start, end):
        s, e = m.span()
        if (s and _glued_left(text, s)) or (e < len(text) and _ascii_word(text[e])):
            continue
        run = Run(m.group(), s)
        k = len(run.lens)
        if k == 1:
            found = _classify(text, run.shape(0, 1), types)
            if found is not None:
                out.append(found)
            continue
        whole = run.shape(0, k)
        sub_types = types
        if _card_grouped(whole) or whole.lens == ((6, 8, 3) if whole.x else (6, 8, 4)):
            # grouped as a card or an identity number: a number of that length is taken whole or not
            # at all; a longer run may hold one followed by more digits, but never a phone
            if len(whole.digits) <= 19:
                found = _classify(text, whole, types - {"phone"})
                if found is not None:
                    out.append(found)
                continue
            sub_types = types - {"phone"}
        seps = run.seps
        i = 0
        while i < k:
            for j in range(min(k, i + 7), i, -1):
                if j < k and seps[j - 1] != " ":
                    continue
                found = _classify(text, whole if (i, j) == (0, k) else run.shape(i, j), sub_types)
                if found is not None:
                    out.append(found)
                    i = j
                    break
            else:
                i += 1
                while i < k and seps[i - 1] != " ":
                    i += 1


class _Cue:
    """The context of a candidate, looked up once and only when needed."""

    def __init__(self, text: str, start: int):
        self.text, self.start, self.looked = text, start, False
        self.value: str | None = None

    def __call__(self) -> str | None:
        if not self.looked:
            self.value, self.looked = context(self.text, self.start), True
        return self.value


def _classify(text: str, sh: Shape, types: frozenset[str]) -> Span | None:
    n = len(sh.digits)
    if n < 7:
        return None
    cue = _Cue(text, sh.start)
    found = None
    if n in (17, 18) and "id_card" in types:
        value = _id_number(sh)
        if value:
            found = Span(sh.start, sh.ends[-1], "id_card", "cn_resident_id", value)
    if found is None and 14 <= n <= 19 and "bank_card" in types:
        value = _card_number(sh)
        if value:
            found = Span(sh.start, sh.ends[-1], "bank_card", "payment_card", value)
    if found is None and n <= 17 and "phone" in types:
        phone = _phone(sh, cue)
        if phone:
            kind, value, end = phone
            ext = _EXTENSION.match(text, end) if kind in ("cn_landline", "tw", "nanp", "e164") else None
            found = Span(sh.start, ext.end() if ext else end, "phone", kind, value)
    return None if found is None or cue() == "thing" else found


# --- e-mail -------------------------------------------------------------------------------------------

EMAIL_LOCATOR = r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9\-]{1,59})"
                     r"(?![A-Za-z0-9\-])", re.A)
# File names such as logo@2x.png: extensions that are no top-level domain (.py, .md, .rs, .so are).
FILE_EXTENSIONS = frozenset("png jpg jpeg gif svg webp bmp ico tif tiff heic avif js mjs cjs ts tsx jsx css scss less "
                            "html htm php json xml yaml yml txt pdf doc docx xls xlsx ppt pptx csv mp3 mp4 wav avi "
                            "mkv exe dll jar java class c h cpp hpp swift kt lock log bak tmp gz tgz".split())
# Reserved for examples and tests (RFC 2606, RFC 6761): nobody's address.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = frozenset(("example", "test", "invalid", "localhost", "local"))


_USERINFO_USER = re.compile(r"[^ \t\n\r\f\v/?#@:]*", re.A)


def _in_userinfo(text: str, s: int) -> bool:
    """Whether ``text[s:]`` starts the user info of a URL: scheme://user@host or scheme://user:password@host."""
    if text.endswith("://", 0, s):
        return True
    if not s or text[s - 1] != ":":
        return False
    p = text.rfind("://", max(0, s - 260), s - 1)
    return p >= 0 and _USERINFO_USER.fullmatch(text, p + 3, s - 1) is not None


def email_at(text: str, s: int, e: int, out: list[Span]) -> None:
    at = text.index("@", s, e)
    if at - s > 64 or (s and (text[s - 1] in "._%+-" or _ascii_word(text[s - 1]))):
        return  # a longer local part than an address may have, or glued to a word
    domain = _DOMAIN.match(text, at + 1)
    if domain is None:
        return
    e = domain.end()
    host = domain.group().lower()
    tld = host.rsplit(".", 1)[1]
    if tld in FILE_EXTENSIONS or tld in RESERVED_TLDS or host in RESERVED_DOMAINS or host.endswith(
            tuple("." + d for d in RESERVED_DOMAINS)):
        return
    if e < len(text) and text[e] == ":" and e + 1 < len(text) and not text[e + 1].isspace():
        return  # git@github.com:org/repo.git (scp-like path), not an address
    if _in_userinfo(text, s):
        return  # the user of a URL (a password there is a secret)
    out.append(Span(s, e, "email", "email", text[s:e].lower()))


# --- IP addresses -------------------------------------------------------------------------------------

IPV4_LOCATOR = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
IPV6_LOCATOR = r"[23][0-9A-Fa-f]{3}(?::[0-9A-Fa-f]{0,4}){2,7}"


def ipv4_at(text: str, s: int, e: int, out: list[Span]) -> None:
    n = len(text)
    if s and (_ascii_word(text[s - 1]) or text[s - 1] == "."):
        return
    if e < n and (_ascii_word(text[e]) or (text[e] == "." and e + 1 < n and text[e + 1].isdigit())):
        return
    if not C.ipv4_public(text[s:e]):
        return
    if s >= 2 and text[s - 1] == "/" and text[s - 2].isalpha():
        return  # a product token: Chrome/120.0.0.0
    if _IP_NEGATIVE.search(_window(text, s)):
        return
    out.append(Span(s, e, "ip", "ipv4", text[s:e]))


def ipv6_at(text: str, s: int, e: int, out: list[Span]) -> None:
    if s and (_ascii_word(text[s - 1]) or text[s - 1] in ":."):
        return
    candidate = text[s:e]
    value = C.ipv6_public(candidate)
    if value is None and candidate.endswith(":") and not candidate.endswith("::"):
        e -= 1
        value = C.ipv6_public(candidate[:-1])
    if value is None or (e < len(text) and (_ascii_word(text[e]) or text[e] == ":")):
        return
    out.append(Span(s, e, "ip", "ipv6", value))


# --- secrets in code ----------------------------------------------------------------------------------

# Key shapes as their issuers document them.
SHAPES = {
    "aws_access_key": r"(?:AKIA|ASIA)[A-Z0-9]{16}",
    "github_token": r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}",
    "slack_token": r"xox[baprs]-[A-Za-z0-9\-]{10,250}",
    "google_api_key": r"AIza[A-Za-z0-9_\-]{35}",
    "stripe_key": r"[sr]k_(?:live|test)_[A-Za-z0-9]{24,247}",
    "openai_key": r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,250}",
    "private_key": r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----",
}
SHAPE_LOCATOR = "|".join(f"(?:{p})" for p in SHAPES.values())
_SHAPE = re.compile("|".join(f"(?P<{k}>{p})" for k, p in SHAPES.items()), re.A)
_KEY_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----", re.A)
_KEY_BODY = re.compile(r"(?:\r?\n[A-Za-z0-9+/=][A-Za-z0-9+/=:, \-]*)*", re.A)
MAX_KEY_CHARS = 100_000
# A key name that says its value is a secret, then `=`, `:`, `:=` or `=>` and a quoted value.
KEY_NAMES = ("secret_key", "secret-key", "secretkey", "private_key", "private-key", "privatekey", "access_key",
             "access-key", "accesskey", "api_key", "api-key", "apikey", "client_secret", "client-secret",
             "clientsecret", *(f"{w}{sep}token" for w in ("access", "auth", "api", "bearer", "refresh", "session",
                                                          "bot", "github", "gitlab", "slack", "hf")
                               for sep in ("_", "-", "")),
             "password", "passwd", "pwd", "secret")
_VALUE = r"[^\"'\\ \t\n\r\f\v]{6,200}"
ASSIGN_LOCATOR = (f"(?:{'|'.join(_ci(k) for k in KEY_NAMES)})[\"']?[ \\t]*(?::=|=>|:|=)[ \\t]*"
                  f"(?:\"{_VALUE}\"|'{_VALUE}')")
URL_PASSWORD_LOCATOR = r"://[^ \t\n\r\f\v/?#@:]*:[^ \t\n\r\f\v/?#@]{1,256}@[A-Za-z0-9\[]"
_PLACEHOLDER = re.compile(r"your|example|sample|dummy|placeholder|change_?me|redacted|xxxx|\*\*\*|\.\.\."
                          r"|[<>{}]|\$\(|%\(|%s|^\$|^(?:password|passwd|pass|pwd|secret|token|api_?key|string"
                          r"|null|none|undefined|test|empty|value|required|hidden|masked|default)$", re.I | re.A)


def placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value)) or len(set(value)) == 1


def shape_at(text: str, s: int, e: int, out: list[Span]) -> None:
    m = _SHAPE.fullmatch(text, s, e)
    kind = m.lastgroup if m else ""
    if kind == "private_key":
        end = _KEY_END.search(text, e, min(len(text), e + MAX_KEY_CHARS))
        e = end.end() if end else _KEY_BODY.match(text, e).end()
        out.append(Span(s, e, "secret", kind, text[s:e]))
        return
    if not kind or (s and (_ascii_word(text[s - 1]) or text[s - 1] == "-")) or (e < len(text) and _ascii_word(text[e])):
        return
    value = text[s:e]
    if placeholder(value) or (kind in ("openai_key", "slack_token") and not (
            any(c.isdigit() for c in value) and any(c.isalpha() for c in value[3:]))):
        return
    out.append(Span(s, e, "secret", kind, value))


def assigned_at(text: str, s: int, e: int, out: list[Span]) -> None:
    quote = text[e - 1]
    vs = text.rindex(quote, s, e - 1) + 1
    value = text[vs:e - 1]
    if placeholder(value):
        return
    shape = _SHAPE.fullmatch(value)  # a value of a known shape is named after it
    out.append(Span(vs, e - 1, "secret", shape.lastgroup if shape and shape.lastgroup != "private_key"
                    else "assigned_secret", value))


def url_password_at(text: str, s: int, e: int, out: list[Span]) -> None:
    ps = text.index(":", s + 3) + 1
    value = text[ps:e - 2]
    if not placeholder(value):
        out.append(Span(ps, e - 2, "secret", "url_password", value))


# --- one document, one column -------------------------------------------------------------------------

class Family(NamedTuple):
    name: str
    locator: str
    # Tests every text with a located candidate passes, cheapest first: a pattern (str), or words
    # (a tuple, found by Aho-Corasick; ASCII case ignored where ``anycase``).
    prefilter: tuple[str | tuple[str, ...], ...]
    anycase: bool
    types: frozenset[str]


_SHAPE_PREFILTER = r"AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|[rs]k_live_|[rs]k_test_|sk-|-----BEGIN "
_KEY_WORDS = ("secret", "private_key", "private-key", "privatekey", "access_key", "access-key", "accesskey",
              "api_key", "api-key", "apikey", "token", "password", "passwd", "pwd")
FAMILIES = [
    Family("shape", SHAPE_LOCATOR, (_SHAPE_PREFILTER,), False, frozenset(("secret",))),
    Family("assign", ASSIGN_LOCATOR, (r"[=:>][ \t]*[\"']", _KEY_WORDS), True, frozenset(("secret",))),
    Family("url_password", URL_PASSWORD_LOCATOR, (("://",), r"://[^ \t\n\r\f\v/?#@]*@"), False, frozenset(("secret",))),
    Family("email", EMAIL_LOCATOR, (("@",), r"[A-Za-z0-9_%+\-]@[A-Za-z0-9\-]+\."), False, frozenset(("email",))),
    Family("ipv4", IPV4_LOCATOR, (r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",), False, frozenset(("ip",))),
    Family("ipv6", IPV6_LOCATOR, (r"[23][0-9A-Fa-f]{3}:",), False, frozenset(("ip",))),
    Family("number", NUMBER_LOCATOR, (PLAUSIBLE,), False, NUMBER_TYPES),
]
_HANDLERS = {"shape": shape_at, "assign": assigned_at, "url_password": url_password_at, "email": email_at,
             "ipv4": ipv4_at, "ipv6": ipv6_at}
_COMPILED = {f.name: re.compile(f.locator, re.A) for f in FAMILIES}

# Overlaps go to the more specific finding: a key shape over an assignment over a URL password, an
# e-mail address over the numbers in it, an identity number over a card, a card over a phone.
PRIORITY = {"private_key": 0, "aws_access_key": 1, "github_token": 1, "slack_token": 1, "google_api_key": 1,
            "stripe_key": 1, "openai_key": 1, "assigned_secret": 2, "url_password": 3, "email": 4, "ipv6": 5,
            "ipv4": 6, "cn_resident_id": 7, "payment_card": 8}
PHONE_PRIORITY = 9


def families(types: frozenset[str] | set[str] | list[str]) -> list[Family]:
    """The families needed for ``types``."""
    return [f for f in FAMILIES if f.types & set(types)]


def _handle(text: str, family: str, s: int, e: int, types: frozenset[str], out: list[Span]) -> None:
    if family == "number":
        if _PLAUSIBLE.search(text, s, e):
            numbers_in(text, s, e, types & NUMBER_TYPES, out)
    else:
        _HANDLERS[family](text, s, e, out)


def resolve(found: list[Span]) -> list[Span]:
    """Drop findings that overlap a more specific one; the rest in text order."""
    if len(found) < 2:
        return found
    found.sort(key=lambda sp: (PRIORITY.get(sp.kind, PHONE_PRIORITY), sp.start, -sp.end))
    kept: list[Span] = []
    for sp in found:
        if all(sp.end <= k.start or sp.start >= k.end for k in kept):
            kept.append(sp)
    kept.sort()
    return kept


def find_spans(text: str, types: frozenset[str] | set[str] | list[str]) -> list[Span]:
    """Every validated finding of the given types in ``text``, without overlaps, in text order."""
    types = frozenset(types)
    found: list[Span] = []
    for fam in families(types):
        for m in _COMPILED[fam.name].finditer(text):
            _handle(text, fam.name, m.start(), m.end(), types, found)
    return resolve(found)


def find_spans_column(texts: pa.Array | pa.ChunkedArray, types: frozenset[str] | set[str] | list[str]
                      ) -> tuple[list[int], list[str], list[list[Span]]]:
    """``find_spans`` for a whole column: the rows with a candidate, their texts, and the findings
    of each. Polars (Rust) runs each family's prefilters, then its locator on the rows they pass, and
    drops number regions that cannot hold a finding; Python sees only the rest."""
    types = frozenset(types)
    series = pl.Series("t", texts)
    n = len(series)
    located: list[tuple[str, np.ndarray, list]] = []
    has = np.zeros(n, dtype=bool)
    for fam in families(types):
        name = fam.name
        rows = np.arange(n)
        sub = series
        for test in fam.prefilter:
            if isinstance(test, str):
                hit = sub.str.contains(test)
            else:
                hit = sub.str.contains_any(list(test), ascii_case_insensitive=fam.anycase)
            keep = hit.fill_null(False).to_numpy()
            rows = rows[keep]
            if not len(rows):
                break
            sub = sub.filter(pl.Series(keep))
        if not len(rows):
            continue
        found = sub.str.extract_all(fam.locator)
        if name == "number":
            region = pl.element()
            found = found.list.eval(region.filter(region.str.contains(PLAUSIBLE) & ~region.str.contains(HOPELESS)))
        keep = (found.list.len() > 0).to_numpy()
        rows, found = rows[keep], found.filter(pl.Series(keep))
        if len(rows):
            has[rows] = True
            located.append((name, rows, found.to_list()))
    cand = np.flatnonzero(has)
    if not len(cand):
        return [], [], []
    docs = series.gather(pl.Series(cand, dtype=pl.UInt32)).to_list()
    where = {int(r): k for k, r in enumerate(cand)}
    found_all: list[list[Span]] = [[] for _ in cand]
    for name, rows, matches in located:
        for r, strings in zip(rows.tolist(), matches):
            k = where[r]
            text, out, pos = docs[k], found_all[k], 0
            for s in strings:
                start = text.find(s, pos)
                pos = start + len(s)
                _handle(text, name, start, pos, types, out)
    return cand.tolist(), docs, [resolve(f) for f in found_all]
