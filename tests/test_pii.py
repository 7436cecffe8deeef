"""The pii stage: validators against their published definitions, recall and precision per type on a
generated set of documents with valid and invalid numbers and look-alikes in Chinese and English,
byte-identical text outside the findings, the stage through the CLI and a YAML pipeline."""

import json
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.cli import _add_stage_commands, cli
from dataprep.config import ConfigError, parse
from dataprep.stages.pii import PiiConfig, PiiStage, find_spans, find_spans_column, redact
from dataprep.stages.pii import checks as C
from dataprep.stages.pii.detect import FAMILIES, HOPELESS, NUMBER_TYPES, TYPES, numbers_in

_add_stage_commands()
ALL = frozenset(TYPES)


# --- validators ------------------------------------------------------------------------------------


def id_check(body17: str) -> str:
    """GB 11643-1999 check character, written from the standard's formula (not the module's table):
    weights W_i = 2^(i-1) mod 11 for positions i = 18..2, a_1 = (12 - (sum mod 11)) mod 11, 10 -> X."""
    s = sum(int(c) * (2 ** (18 - i) % 11) for i, c in enumerate(body17, start=1))
    a1 = (12 - s % 11) % 11
    return "X" if a1 == 10 else str(a1)


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body`` (ISO/IEC 7812-1 annex B)."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return str((10 - total % 10) % 10)


def test_identity_number_check_character():
    assert C.resident_id_ok("11010519491231002X")  # the example of GB 11643-1999
    assert id_check("11010519491231002") == "X"
    assert C.ID_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert not C.resident_id_ok("110105194912310021")  # wrong check character
    body = "11010519490230002"  # 30 February, with a check character computed over it
    assert not C.resident_id_ok(body + id_check(body))
    body = "99010519491231002"  # no such province
    assert not C.resident_id_ok(body + id_check(body))
    body = "11010520000229123"  # 2000 was a leap year
    assert C.resident_id_ok(body + id_check(body))
    body = "11010519000229123"  # 1900 was not
    assert not C.resident_id_ok(body + id_check(body))


def test_luhn_and_card_ranges():
    assert C.luhn_ok("79927398713") and not C.luhn_ok("79927398710")  # the classic example
    assert C.card_ok("4111111111111111") and C.card_ok("378282246310005") and C.card_ok("5555555555554444")
    union = "622202123456789012"
    assert C.card_ok(union + luhn_digit(union))  # 19-digit UnionPay
    assert not C.card_ok("4111111111111112")
    assert not C.card_range_ok("1234567890123452")  # 1 is no card network
    assert not C.card_range_ok("341111111111111" + "1")  # American Express has 15 digits


@pytest.mark.parametrize("ip,public", [
    ("8.8.8.8", True), ("1.1.1.1", True), ("114.114.114.114", True), ("223.5.5.5", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("172.31.255.255", False),
    ("172.32.0.1", True), ("192.168.1.1", False), ("100.64.0.1", False), ("169.254.1.1", False),
    ("192.0.2.10", False), ("198.51.100.7", False), ("203.0.113.9", False), ("198.18.0.1", False),
    ("224.0.0.251", False), ("255.255.255.255", False), ("0.0.0.0", False), ("240.0.0.1", False),
    ("256.1.1.1", False), ("01.2.3.4", False),
])
def test_ipv4_public_ranges(ip, public):
    assert C.ipv4_public(ip) is public


@pytest.mark.parametrize("ip,public", [
    ("2606:4700:4700::1111", True), ("2400:cb00:2048:1::c629:d7a2", True), ("2a00:1450:4001:81b::200e", True),
    ("2001:db8::1", False), ("3fff::1", False), ("2002:c000:204::1", False), ("2001:0:4136:e378::1", False),
    ("::1", False), ("fe80::1", False), ("fd00::1", False), ("ff02::1", False), ("::ffff:8.8.8.8", False),
])
def test_ipv6_public_ranges(ip, public):
    assert (C.ipv6_public(ip) is not None) is public


def test_mobile_prefixes_and_number_plans():
    assert C.cn_mobile_ok("13812345678") and C.cn_mobile_ok("19912345678") and C.cn_mobile_ok("16612345678")
    assert not C.cn_mobile_ok("12345678901") and not C.cn_mobile_ok("14012345678")  # 140: IoT, 13 digits
    assert C.cn_landline_ok("1065529988") and C.cn_landline_ok("75588886666") and C.cn_landline_ok("5718765432")
    assert not C.cn_landline_ok("4008208820")  # a service number
    assert C.nanp_ok("4155552671") and not C.nanp_ok("4155550123") and not C.nanp_ok("8005551234")
    assert C.split_country_code("8613812345678") == ("86", "13812345678")
    assert C.split_country_code("442079460958") == ("44", "2079460958")
    assert C.split_country_code("85291234567") == ("852", "91234567")


# --- a generated evaluation set ----------------------------------------------------------------------

ZH_FILL = ["我们今天讨论一下项目的进展情况。", "这家店的服务态度非常好，值得推荐。", "会议定在下周三上午举行。",
           "请大家按时提交材料。", "活动现场来了很多市民。", "天气转凉，注意保暖。", "这本书讲的是城市的历史。"]
EN_FILL = ["We talked about the plans for the new library.", "The weather turned cold over the weekend.",
           "Please send the forms before Friday.", "The museum opens again after the repairs.",
           "Several residents joined the meeting last night.", "The bakery on the corner sells good bread."]
REGIONS = ["110105", "110108", "310104", "310115", "440305", "440106", "330106", "320102", "510107", "420106",
           "610113", "620102", "500103", "650102", "120101", "350203", "370202", "430104", "210102", "810000"]
PUBLIC_V4_FIRST = [*range(1, 10), *range(11, 100), *range(101, 127), *range(128, 169), 170, 171, *range(173, 192),
                   *range(193, 198), *range(199, 203), *range(204, 224)]
HEX = "0123456789abcdef"
MOBILE = ["130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159",
          "166", "176", "177", "180", "181", "185", "186", "187", "188", "189", "191", "198", "199"]


class Gen:
    """Items: (text, type or None). A typed item is personal data (its whole text is the span);
    None is a look-alike that must not be found. ``wrap`` gives the words around an item."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def alnum(self, n: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # identity numbers
    def id_body(self) -> str:
        return (self.r.choice(REGIONS) + str(self.r.randint(1940, 2010)) + f"{self.r.randint(1, 12):02d}"
                + f"{self.r.randint(1, 28):02d}" + self.digits(3))

    def id_valid(self) -> str:
        body = self.id_body()
        s = body + id_check(body)
        return self.r.choice([s, s, s, f"{s[:6]} {s[6:14]} {s[14:]}"])

    def id_invalid(self) -> str:
        body = self.id_body()
        kind = self.r.randrange(3)
        if kind == 0:  # wrong check character
            good = id_check(body)
            return body + self.r.choice([c for c in "0123456789X" if c != good])
        if kind == 1:  # impossible date, check character computed over it
            year = int(body[6:10])
            leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
            day = self.r.choice(["0230", "0431", "1301", "0632", "0001"] + ([] if leap else ["0229"]))
            body = body[:10] + day + body[14:]
            return body + id_check(body)
        body = self.r.choice(["99", "00", "19", "28"]) + body[2:]  # no such province
        return body + id_check(body)

    # cards
    def card_valid(self) -> str:
        prefix, n = self.r.choice([("622202", 16), ("622848", 19), ("621700", 19), ("4", 16), ("51", 16),
                                   ("55", 16), ("2221", 16), ("3530", 16), ("34", 15), ("37", 15)])
        body = prefix + self.digits(n - 1 - len(prefix))
        s = body + luhn_digit(body)
        return self.group_card(s)

    def card_invalid(self) -> str:
        prefix, n = self.r.choice([("622202", 16), ("622848", 19), ("4", 16), ("51", 16), ("6", 16)])
        body = prefix + self.digits(n - 1 - len(prefix))
        good = luhn_digit(body)
        return self.group_card(body + self.r.choice([c for c in "0123456789" if c != good]))

    def group_card(self, s: str) -> str:
        style = self.r.randrange(3)
        if style == 0 or len(s) == 19 and style == 2:
            return s
        sep = " " if style == 1 else "-"
        if len(s) == 15:
            return f"{s[:4]}{sep}{s[4:10]}{sep}{s[10:]}"
        return sep.join(s[i:i + 4] for i in range(0, len(s), 4))

    # phones
    def mobile(self) -> str:
        return self.r.choice(MOBILE) + self.digits(8)

    def phone(self) -> str:
        r, d = self.r, self.digits
        m = self.mobile()
        local8 = str(r.randint(2, 8)) + d(7)
        return r.choice([
            m, m, f"{m[:3]} {m[3:7]} {m[7:]}", f"{m[:3]}-{m[3:7]}-{m[7:]}", f"+86 {m}", f"+86 {m[:3]} {m[3:7]} {m[7:]}",
            f"+86-{m}", f"(+86) {m}", f"86{m}", f"0086 {m}",
            f"010-{local8}", f"(010) {local8[:4]} {local8[4:]}", f"021-{local8}", f"(0755) {local8}",
            f"0571-{r.randint(2, 8)}{d(6)}", f"+86 10 {local8[:4]} {local8[4:]}", f"020-{local8}-{r.randint(10, 9999)}",
            f"+852 {r.choice('2359')}{d(3)} {d(4)}", f"(852) {r.choice('69')}{d(3)}-{d(4)}",
            f"09{d(2)}-{d(3)}-{d(3)}", f"(02) {r.randint(2, 8)}{d(3)}-{d(4)}",
            f"+886 9{d(2)} {d(3)} {d(3)}", f"+886 2 {r.randint(2, 8)}{d(3)} {d(4)}",
            f"({self.npa()}) {self.nxx()}-{d(4)}", f"+1 {self.npa()}-{self.nxx()}-{d(4)}",
            f"{self.npa()}.{self.nxx()}.{d(4)}",
            f"+44 20 {r.randint(7, 8)}{d(3)} {d(4)}", f"+49 30 {r.randint(2, 9)}{d(7)}",
            f"+81 3-{r.randint(1, 9)}{d(3)}-{d(4)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+61 2 {r.randint(8, 9)}{d(3)} {d(4)}", f"+65 {r.choice('689')}{d(3)} {d(4)}",
            f"+7 495 {d(3)}-{d(2)}-{d(2)}",
        ])

    def npa(self) -> str:  # a geographic area code: [2-9][0-8][2-9], no N11, no N00, no 8xx
        return f"{self.r.randint(2, 7)}{self.r.randint(0, 8)}{self.r.randint(2, 9)}"

    def nxx(self) -> str:  # an exchange: [2-9]XX, not N11, not 555 (its 01xx numbers are fictional)
        return f"{self.r.choice('234678')}{self.r.randint(0, 9)}{self.r.randint(2, 9)}"

    def hk_bare(self) -> str:
        return f"{self.r.choice('2359')}{self.digits(3)} {self.digits(4)}"

    # e-mail
    def email(self) -> str:
        r = self.r
        local = r.choice(["zhang.wei", "li_na", "wang.fang88", "j.smith", "mary.k+news", "Chen.Jie", "info",
                          "hr-dept", "liu2021", "yang.yang.99"]) + (str(r.randint(1, 999)) if r.random() < 0.5 else "")
        domain = r.choice(["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com.cn",
                           "mail.ustc.edu.cn", "Fudan.EDU.cn", "acme-corp.cn", "hotmail.co.uk", "proton.me"])
        return f"{local}@{domain}"

    # addresses
    def ipv4(self) -> str:
        r = self.r
        ip = f"{r.choice(PUBLIC_V4_FIRST)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        if ip.startswith(("100.", "169.254", "172.", "192.")) or not C.ipv4_public(ip):
            ip = f"{r.randint(11, 99)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        return ip

    def ipv6(self) -> str:
        r = self.r
        head = r.choice(["2400:cb00", "2606:4700", "2a00:1450", "240e:3b4", "2408:8756", "2620:0:2d0"])
        tail = ":".join(f"{r.randint(0, 0xffff):x}" for _ in range(3))
        return r.choice([f"{head}::{tail}", f"{head}:{r.randint(1, 0xfff):x}::{r.randint(1, 0xffff):x}"])

    # secrets
    def secret(self) -> tuple[str, str, str]:
        """(text, the secret's substring, kind)"""
        r = self.r
        kind = r.randrange(8)
        if kind == 0:
            k = "AKIA" + self.alnum(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            return f'aws_access_key_id = "{k}"', k, "aws"
        if kind == 1:
            k = "ghp_" + self.alnum(36)
            return f"export GITHUB_TOKEN={k}", k, "github"
        if kind == 2:
            k = f"xoxb-{self.digits(12)}-{self.digits(13)}-{self.alnum(24)}"
            return f"SLACK_BOT = '{k}'", k, "slack"
        if kind == 3:
            k = "AIza" + self.alnum(35, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
            return f"maps.js?key={k}&v=3", k, "google"
        if kind == 4:
            k = "sk_live_" + self.alnum(24)
            return f"stripe.api_key = {k}", k, "stripe"
        if kind == 5:
            pw = self.alnum(r.randint(8, 16)) + r.choice("!^*~") + str(r.randint(0, 9))
            return f"DATABASE_URL=postgres://app:{pw}@db.internal:5432/shop", pw, "url"
        if kind == 6:
            pw = self.alnum(r.randint(10, 20))
            name = r.choice(["password", "db_password", "API_KEY", "client_secret", "auth_token", "SECRET_KEY"])
            q = r.choice("\"'")
            return f"{name} = {q}{pw}{q}", pw, "assigned"
        lines = "\n".join(self.alnum(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                          for _ in range(r.randint(3, 6)))
        block = f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"
        return block, block, "key"

    # look-alikes
    def lookalike(self, zh: bool) -> str:
        r = self.r
        y, mo, d = r.randint(2010, 2025), r.randint(1, 12), r.randint(1, 28)
        choices = [
            *[self.id_invalid] * 4, *[self.card_invalid] * 4,
            lambda: f"{y}-{mo:02d}-{d:02d}", lambda: f"{y}/{mo:02d}/{d:02d}", lambda: f"{y}{mo:02d}{d:02d}",
            lambda: f"{y}年{mo}月{d}日", lambda: f"{d:02d}.{mo:02d}.{y}", lambda: f"{y}-{mo:02d}-{d:02d}T12:{d:02d}:05Z",
            lambda: str(r.randint(1_300_000_000, 1_750_000_000)),  # Unix time, seconds
            lambda: str(r.randint(1_300_000_000_000, 1_750_000_000_000)),  # and milliseconds
            lambda: ("订单号：" if zh else "Order #") + f"{y}{mo:02d}{d:02d}{self.digits(r.randint(8, 12))}",
            lambda: ("订单号 " if zh else "order number ") + r.choice("3456") + self.digits(15),
            lambda: ("快递单号 " if zh else "tracking number ") + self.digits(r.randint(12, 15)),
            lambda: f"{y}{mo:02d}{d:02d}{self.digits(10)}",
            lambda: f"v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 30)}",
            lambda: ("版本 " if zh else "version ") + f"{r.randint(1, 12)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{d}",
            lambda: f"Chrome/{r.randint(100, 130)}.0.{r.randint(1000, 6999)}.{r.randint(10, 199)}",
            lambda: f"10.0.{r.randint(10000, 22631)}.{r.randint(100, 4000)}",
            lambda: f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
            lambda: ("型号 " if zh else "model ") + f"SM-G{r.randint(9000, 9999)}",
            lambda: ("货号 " if zh else "SKU ") + self.mobile(),
            lambda: ("型号 " if zh else "Part No. ") + f"{r.randint(200, 999)}-{r.randint(200, 999)}-{self.digits(4)}",
            lambda: ("编号 " if zh else "serial ") + f"{r.choice('2359')}{self.digits(3)}-{self.digits(4)}",
            lambda: f"ISBN 978-7-{r.randint(100, 999)}-{self.digits(5)}-{r.randint(0, 9)}",
            lambda: f"ISBN {978}{self.digits(10)}",
            lambda: f"GB {r.randint(10000, 40000)}-{r.randint(1990, 2024)}",
            lambda: f"AB{self.mobile()}", lambda: f"SN-{self.mobile()}",
            lambda: f"https://shop.example.cn/item/{self.mobile()}",
            lambda: f"{r.randint(1, 9)}.{self.mobile()}",
            lambda: "1" + r.choice("012") + self.digits(9),  # 11 digits, no mobile prefix
            lambda: "140" + self.digits(10),  # an IoT number
            lambda: f"{r.choice('2359')}{self.digits(3)} {self.digits(4)}",  # 8 digits without a phone word
            lambda: f"400-{self.digits(3)}-{self.digits(4)}", lambda: f"1-800-{r.randint(200, 999)}-{self.digits(4)}",
            lambda: f"(415) 555-01{self.digits(2)}", lambda: f"400-{r.randint(600, 999)}-{self.digits(4)}",
            lambda: r.choice(["127.0.0.1", "192.168.1.1", "10.0.0.5", "172.16.8.1", "0.0.0.0", "255.255.255.255",
                              "169.254.10.2", "100.64.1.1", "192.0.2.44", "198.51.100.3", "203.0.113.250",
                              "224.0.0.251", "198.18.3.4"]) + ("" if r.random() < 0.5 else ":8080"),
            lambda: r.choice(["::1", "fe80::1%eth0", "fd12:3456::1", "2001:db8::8a2e:370:7334", "ff02::1",
                              "00:1A:2B:3C:4D:5E", "12:34:56", "std::vector<int>", "2001:0db8:85a3::8a2e"]),
            lambda: f"{r.randint(256, 999)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}",
            lambda: "@" + r.choice(["zhangwei", "dev_team", "alice"]), lambda: f"logo@{r.randint(2, 3)}x.png",
            lambda: r.choice(["user@localhost", "admin@example.com", "test@test", "someone@example.org",
                              "git@github.com:acme/tools.git", "name@domain", "a@b.c"]),
            lambda: "AKIAIOSFODNN7EXAMPLE", lambda: 'api_key = "YOUR_API_KEY"', lambda: 'password = "${DB_PASSWORD}"',
            lambda: "postgres://user:password@localhost/db", lambda: 'eos_token = "</s>"',
            lambda: 'tokenizer = "bert-base-chinese"', lambda: "-----BEGIN PUBLIC KEY-----",
            lambda: f"commit {self.alnum(40, HEX)}",
            lambda: f"{self.alnum(8, HEX)}-{self.alnum(4, HEX)}-4{self.alnum(3, HEX)}",  # a UUID's start
            lambda: ("价格 " if zh else "price ") + f"{r.randint(1, 9999)}.{r.randint(0, 99):02d}",
            lambda: f"{r.randint(1, 999)},{r.randint(100, 999)},{r.randint(100, 999)}",
        ]
        return r.choice(choices)()


PHONE_INTRO_ZH = ["联系电话：", "手机 ", "请拨打", "电话 ", "如需帮助请致电 ", "我的号码是"]
PHONE_INTRO_EN = ["Call ", "Phone: ", "Tel. ", "reach me at ", "Mobile ", "contact "]
INTROS = {
    "email": (["邮箱：", "请发邮件至 ", "联系邮箱 "], ["Email: ", "write to ", "mailto:"]),
    "id_card": (["身份证号：", "证件号码 ", "身份证 "], ["ID number ", "ID: ", "passport and ID "]),
    "bank_card": (["银行卡号 ", "卡号：", "退款至 "], ["card number ", "Card: ", "paid with "]),
    "ip": (["来源地址 ", "服务器 ", "访问IP："], ["from ", "server at ", "host "]),
}


def make_items(n: int = 2400, seed: int = 11) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    """``n`` documents (id, text, truth spans (start, end, type)), half Chinese and half English,
    each with one to three items between filler sentences; about half the items are look-alikes."""
    g = Gen(seed)
    r = g.r
    docs = []
    for i in range(n):
        zh = i % 2 == 0
        fill = ZH_FILL if zh else EN_FILL
        text, truth = "", []
        for _ in range(r.randint(1, 3)):
            text += r.choice(fill) + ("" if zh else " ")
            if r.random() < 0.45:
                text += g.lookalike(zh) + ("。" if zh else ". ")
                continue
            kind = r.choice(["email", "phone", "phone", "id_card", "bank_card", "ip", "secret"])
            if kind == "secret":
                item, secret, _ = g.secret()
                text += "\n"
                start = len(text) + item.index(secret)
                truth.append((start, start + len(secret), "secret"))
                text += item + "\n"
                continue
            if kind == "phone":
                hk = r.random() < 0.1
                intro = r.choice(["電話：", "WhatsApp "] if hk else (PHONE_INTRO_ZH if zh else PHONE_INTRO_EN))
                item = g.hk_bare() if hk else g.phone()
            else:
                item = {"email": g.email, "id_card": g.id_valid, "bank_card": g.card_valid,
                        "ip": lambda: g.ipv4() if r.random() < 0.7 else g.ipv6()}[kind]()
                intro = r.choice(INTROS[kind][0 if zh else 1])
            text += intro
            truth.append((len(text), len(text) + len(item), kind))
            text += item + ("。" if zh else ". ")
        docs.append((f"doc-{i:05d}", text, truth))
    return docs


ITEMS = make_items()


def score(docs, found_by_doc):
    stats = {t: {"tp": 0, "fp": 0, "fn": 0} for t in TYPES}
    misses = []
    for (doc_id, text, truth), found in zip(docs, found_by_doc):
        want = set(truth)
        got = {(sp.start, sp.end, sp.type) for sp in found}
        for s, e, t in got & want:
            stats[t]["tp"] += 1
        for s, e, t in got - want:
            stats[t]["fp"] += 1
            misses.append(("false positive", t, text[s:e], text))
        for s, e, t in want - got:
            stats[t]["fn"] += 1
            misses.append(("missed", t, text[s:e], text))
    return stats, misses


@pytest.fixture(scope="module")
def evaluated():
    column = pa.array([text for _, text, _ in ITEMS], pa.large_string())
    rows, _, found = find_spans_column(column, ALL)
    by_row = dict(zip(rows, found))
    return score(ITEMS, [by_row.get(i, []) for i in range(len(ITEMS))])


def test_the_evaluation_set_is_large_and_mixed():
    assert len(ITEMS) >= 2000
    counts = {t: sum(1 for _, _, truth in ITEMS for *_, tt in truth if tt == t) for t in TYPES}
    assert min(counts.values()) >= 150, counts
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", text)) for _, text, _ in ITEMS) >= 1000
    # a pattern alone would take many of the look-alikes: the validators have work to do
    def blank(text, truth):
        for s, e, _ in truth:
            text = text[:s] + " " * (e - s) + text[e:]
        return text

    outside = "\n".join(blank(text, truth) for _, text, truth in ITEMS)
    ids = re.findall(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{9}[0-9Xx](?![0-9])", outside)
    assert sum(not C.resident_id_ok(i.upper()) for i in ids) >= 100
    cards = [c.replace(" ", "").replace("-", "") for c in
             re.findall(r"(?<![0-9])(?:[0-9]{4}[ -]?){3}[0-9]{4}(?:[0-9]{3})?(?![0-9])", outside)]
    assert sum(not C.luhn_ok(c) for c in cards) >= 100
    assert len(re.findall(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])", outside)) >= 50  # mobile-shaped, not phones
    assert len(re.findall(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])", outside)) >= 100


@pytest.mark.parametrize("type_", TYPES)
def test_recall_and_precision_per_type(evaluated, type_):
    stats, misses = evaluated
    s = stats[type_]
    recall = s["tp"] / max(s["tp"] + s["fn"], 1)
    precision = s["tp"] / max(s["tp"] + s["fp"], 1)
    examples = [m[:3] for m in misses if m[1] == type_][:8]
    assert recall >= 0.99 and precision >= 0.99, (type_, s, examples)


def test_column_path_finds_what_the_per_document_path_finds():
    column = pa.array([text for _, text, _ in ITEMS], pa.large_string())
    rows, docs, found = find_spans_column(column, ALL)
    by_row = dict(zip(rows, found))
    for i, (_, text, _) in enumerate(ITEMS):
        assert by_row.get(i, []) == find_spans(text, ALL), text
    for types in (["email"], ["phone", "id_card"], ["secret", "ip"]):
        rows, _, found = find_spans_column(column, types)
        by_row = dict(zip(rows, found))
        for i in range(0, len(ITEMS), 7):
            assert by_row.get(i, []) == find_spans(ITEMS[i][1], types)


FRAGMENTS = ["13812345678", "+86 139 1234 5678", "010-6552 9988", "(02) 2345-6789", "8.8.8.8", "192.168.0.1",
             "2606:4700::1111", "a.b@qq.com", "@", "11010519491231002X", "4111 1111 1111 1111", "2024-01-15",
             "AKIA" + "Q" * 16, 'password="hunter22x"', "://u:pw12345@h", "-----BEGIN PRIVATE KEY-----", "订单号",
             "电话", " ", "\n", "-", ".", "(", ")", "+", "x", "9", "0", "中", "Tel", "X", "/", ":"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join), min_size=1, max_size=8))
def test_column_path_equals_per_document_path_on_any_text(texts):
    rows, docs, found = find_spans_column(pa.array(texts, pa.large_string()), ALL)
    assert docs == [texts[r] for r in rows]
    by_row = dict(zip(rows, found))
    for i, text in enumerate(texts):
        assert by_row.get(i, []) == find_spans(text, ALL)


@pytest.mark.parametrize("region", ["1700000000", "1700000000123", "1234567", "123456789", "123456789012",
                                    "123456789012345678901", "8.8.8.8", "192.168.100.200"])
def test_hopeless_regions_hold_nothing(region):
    assert re.fullmatch(HOPELESS, region)
    for text in (region, f"电话 {region}", f"身份证 {region}", f"card {region}", f"+{region}"):
        assert [sp for sp in find_spans(text, NUMBER_TYPES)] == []


@pytest.mark.parametrize("region", ["13812345678", "0912345678", "075588886666", "8613812345678", "21234567",
                                    "4111111111111111", "11010519491231002X", "110105194912310021"])
def test_regions_that_may_hold_a_number_are_kept(region):
    assert not re.fullmatch(HOPELESS, region)


def test_prefilters_pass_every_candidate():
    """The column path runs a family's locator only on texts its prefilters pass: every locator match
    passes them (for numbers, every region that holds a finding)."""
    for fam in FAMILIES:
        loc = re.compile(fam.locator)
        for _, text, _ in ITEMS:
            for m in loc.finditer(text):
                found = m.group()
                if fam.name == "number":
                    out = []
                    numbers_in(text, m.start(), m.end(), ALL, out)
                    if not out:
                        continue
                for test in fam.prefilter:
                    if isinstance(test, str):
                        assert re.search(test, found), (fam.name, test, found)
                    else:
                        hay = found.lower() if fam.anycase else found
                        assert any((w.lower() if fam.anycase else w) in hay for w in test), (fam.name, found)


# --- the stage -----------------------------------------------------------------------------------------


def invoke(*args, env=None):
    result = CliRunner().invoke(cli, list(map(str, args)), env=env)
    assert "Traceback" not in result.output
    return result


def ingest(tmp_path, docs, shard_rows=None):
    write_jsonl(tmp_path / "in.jsonl", [{"id": d, "text": t} for d, t, *_ in docs])
    extra = ["--shard-rows", shard_rows] if shard_rows else []
    r = invoke("ingest", "-i", tmp_path / "in.jsonl", "-o", tmp_path / "raw", "-q", *extra)
    assert r.exit_code == 0, r.output
    return tmp_path / "raw"


def edits_of(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    tables = [pq.read_table(folder / f["file"]) for f in manifest["files"] if f["file"].startswith("_edits/")]
    return pa.concat_tables(tables).to_pylist() if tables else []


def test_redaction_leaves_the_rest_of_the_text_byte_identical(tmp_path):
    docs = ITEMS[:600]
    raw = ingest(tmp_path, docs, shard_rows=150)
    r = invoke("pii", "-i", raw, "-o", tmp_path / "pii", "-q", "--workers", 1)
    assert r.exit_code == 0, r.output
    out = {row["id"]: row["text"] for row in read_corpus(tmp_path / "pii")}
    original = {d: t for d, t, _ in docs}
    assert set(out) == set(original)
    edits: dict = {}
    for e in edits_of(tmp_path / "pii"):
        edits.setdefault(e["id"], []).append(e)
    changed = 0
    for doc_id, text in original.items():
        rebuilt, pos = [], 0
        for e in sorted(edits.get(doc_id, []), key=lambda e: e["start"]):
            assert e["replacement"] == f"<{e['type'].upper()}>"
            rebuilt += [text[pos:e["start"]], e["replacement"]]
            pos = e["end"]
        rebuilt.append(text[pos:])
        assert "".join(rebuilt).encode() == out[doc_id].encode()
        # the text between findings sits, byte for byte, between the tokens of the output
        at = 0
        for part, token in zip(rebuilt[::2], rebuilt[1::2] + [""]):
            assert out[doc_id].encode()[at:at + len(part.encode())] == part.encode()
            at += len(part.encode()) + len(token.encode())
        changed += out[doc_id] != text
    assert changed >= 250
    m = json.loads((tmp_path / "pii" / "manifest.json").read_text())
    assert m["rows_in"] == m["rows_kept"] == 600 and m["rows_rejected"] == 0
    assert sum(m["pii"]["found"].values()) == len(edits_of(tmp_path / "pii"))
    assert m["pii"]["docs_with_pii"] == len(edits)
    assert m["chars_out"] == sum(len(t) for t in out.values())


def test_same_input_gives_the_same_bytes_for_any_worker_count(tmp_path):
    raw = ingest(tmp_path, ITEMS[:400], shard_rows=60)
    for workers in (1, 2):
        r = invoke("pii", "-i", raw, "-o", tmp_path / f"w{workers}", "-q", "--workers", workers,
                   "--replacement", "hash", "--salt", "k")
        assert r.exit_code == 0, r.output
    m1, m2 = (json.loads((tmp_path / f"w{w}" / "manifest.json").read_text()) for w in (1, 2))
    assert len(m1["shards"]) >= 6
    for f1, f2 in zip(m1["shards"] + m1["files"], m2["shards"] + m2["files"]):
        assert (tmp_path / "w1" / f1["file"]).read_bytes() == (tmp_path / "w2" / f2["file"]).read_bytes()


def test_hash_replacement_is_consistent_and_keyed(tmp_path, monkeypatch):
    text = "电话 13812345678，再说一次：+86 138 1234 5678。Mail Li.Na@QQ.com or li.na@qq.com"
    kw = {"replacement": "hash", "salt": "one"}
    stage = PiiStage(parse(PiiConfig, kw, "pii"))
    spans = find_spans(text, ALL)
    tokens = [stage.token(sp) for sp in spans]
    assert tokens[0] == tokens[1] and tokens[2] == tokens[3]  # the same number and address, however written
    assert re.fullmatch(r"<PHONE:[0-9a-f]{8}>", tokens[0]) and tokens[0] != tokens[2]
    other = PiiStage(parse(PiiConfig, {**kw, "salt": "two"}, "pii"))
    assert other.token(spans[0]) != tokens[0]
    monkeypatch.setenv("PII_TEST_SALT", "one")
    from_env = PiiStage(parse(PiiConfig, {**kw, "salt": "env:PII_TEST_SALT"}, "pii"))
    assert from_env.token(spans[0]) == tokens[0]
    monkeypatch.setenv("PII_TEST_SALT", "three")
    assert PiiStage(parse(PiiConfig, {**kw, "salt": "env:PII_TEST_SALT"}, "pii")).version != from_env.version
    custom = PiiStage(parse(PiiConfig, {**kw, "tokens": {"phone": "[tel {hash}]"}, "hash_chars": 12}, "pii"))
    assert re.fullmatch(r"\[tel [0-9a-f]{12}\]", custom.token(spans[0]))


def test_tag_mode_keeps_text_and_adds_spans(tmp_path):
    docs = [("a", "电话 13812345678，邮箱 a.b@qq.com"), ("b", "nothing to see"), ("c", "from 8.8.8.8 only")]
    raw = ingest(tmp_path, docs)
    r = invoke("pii", "-i", raw, "-o", tmp_path / "tag", "-q", "--mode", "tag", "--types", "phone",
               "--types", "ip")
    assert r.exit_code == 0, r.output
    rows = {row["id"]: row for row in read_corpus(tmp_path / "tag")}
    assert [rows[d]["text"] for d, _ in docs] == [t for _, t in docs]
    assert rows["a"]["pii"] == [{"type": "phone", "kind": "cn_mobile", "start": 3, "end": 14}]
    assert rows["b"]["pii"] == [] and rows["c"]["pii"][0]["type"] == "ip"
    assert [e["replacement"] for e in edits_of(tmp_path / "tag")] == [None, None]


def test_too_many_findings_are_rejected_with_a_reason(tmp_path):
    dump = "\n".join(f"用户{i} 电话 139{i:04d}{i:04d}" for i in range(1000, 1012))
    raw = ingest(tmp_path, [("dump", dump), ("one", "电话 13812345678")])
    r = invoke("pii", "-i", raw, "-o", tmp_path / "p", "-q", "--max-findings", 5)
    assert r.exit_code == 0, r.output
    assert [(row["id"], row["text"]) for row in read_corpus(tmp_path / "p")] == [("one", "电话 <PHONE>")]
    assert [(row["id"], row["reason"], row["text"]) for row in read_rejected(tmp_path / "p")] == [
        ("dump", "pii:too_many", dump)]
    assert [e["id"] for e in edits_of(tmp_path / "p")] == ["one"]


def test_yaml_stage_and_a_pipeline(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "联系我：13812345678 或 zhang@163.com"}])
    (tmp_path / "p.yaml").write_text(
        f"workdir: {tmp_path / 'w'}\nstages:\n  - ingest: {{paths: ['{tmp_path / 'in.jsonl'}']}}\n"
        "  - clean: {}\n  - pii: {types: [email, phone], tokens: {email: '[email]'}}\n")
    r = invoke("run", tmp_path / "p.yaml", "-q")
    assert r.exit_code == 0, r.output
    assert read_corpus(tmp_path / "w" / "03-pii")[0]["text"] == "联系我：<PHONE> 或 [email]"


@pytest.mark.parametrize("args,message", [
    (["--types", "nope"], "types: unknown type 'nope'"),
    (["--replacement", "hash"], "salt: `replacement: hash` needs a secret salt"),
    (["--replacement", "hash", "--salt", "env:PII_NOT_SET_ANYWHERE"], "environment variable PII_NOT_SET_ANYWHERE"),
    (["--tokens", "{phone: '<P>'}", "--replacement", "hash", "--salt", "x"], "tokens.phone: with `replacement: hash`"),
    (["--tokens", "{phone: '<P {hash}>'}"], "tokens.phone: {hash} needs `replacement: hash`"),
    (["--tokens", "{fax: '<F>'}"], "tokens.fax: unknown type"),
    (["--hash-chars", "2"], "hash_chars: a number from 4 to 64"),
    (["--text-column", "body"], "the corpus has no column 'body'"),
])
def test_mistakes_are_one_line_errors(tmp_path, args, message):
    raw = ingest(tmp_path, [("a", "x")])
    r = invoke("pii", "-i", raw, "-o", tmp_path / "out", *args)
    assert r.exit_code != 0 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_column_that_holds_no_text_is_a_clear_error(tmp_path):
    from dataprep.stage import StageError, Task, TaskOutput

    pq.write_table(pa.table({"id": ["a"], "text": ["x"], "n": [1]}), tmp_path / "shard.parquet")
    stage = PiiStage(parse(PiiConfig, {"text_column": "n"}, "pii"))
    with pytest.raises(StageError, match="column 'n' holds int64, not text"):
        stage.run_task(Task("t", (str(tmp_path / "shard.parquet"),)), None, TaskOutput(tmp_path, "t"))


def test_help_shows_examples_and_every_option():
    r = invoke("pii", "--help")
    assert r.exit_code == 0 and "Examples:" in r.output
    for opt in ("--types", "--mode", "--replacement", "--tokens", "--salt", "--hash-chars", "--max-findings"):
        assert opt in r.output


def test_config_defaults_and_checks():
    cfg = parse(PiiConfig, {}, "pii")
    assert cfg.types == list(TYPES) and cfg.mode == "redact" and cfg.token_for("bank_card") == "<BANK_CARD>"
    assert parse(PiiConfig, {"replacement": "hash", "salt": "s"}, "pii").token_for("ip") == "<IP:{hash}>"
    with pytest.raises(ConfigError, match=r"pii\.types: give at least one"):
        parse(PiiConfig, {"types": []}, "pii")
    assert redact("abcdef", [], []) == "abcdef"
