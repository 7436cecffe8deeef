"""Validators. A candidate found by a pattern is personal data only when its checksum, date, number
plan or address range says so; these functions decide, each on the candidate's characters alone.

Sources of the facts used here:
- Resident identity number: GB 11643-1999 (layout AAAAAA YYYYMMDD SSS C; check character by
  ISO 7064 MOD 11-2, weights 2^(18-i) mod 11, C = "10X98765432"[sum mod 11]); province codes
  from GB/T 2260 (11-15, 21-23, 31-37, 41-46, 50-54, 61-65; 71 Taiwan, 81 Hong Kong, 82 Macao,
  83 for residence permits of Taiwan residents).
- Card numbers: ISO/IEC 7812-1 (issuer identification number, Luhn mod-10 check digit); network
  ranges and lengths as the card schemes publish them (Visa 4; Mastercard 51-55 and 2221-2720;
  American Express 34/37, 15 digits; JCB 3528-3589; Diners Club 300-305, 36, 38, 39; Discover 6011,
  644-649, 65; UnionPay 62, 16-19 digits; Maestro 50, 56-69).
- IP ranges: the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and the RFCs each
  entry names), RFC 1918 (private), RFC 6598 (shared), RFC 5737 and RFC 3849 / RFC 9637
  (documentation), RFC 5771 (multicast), RFC 4291 (IPv6 global unicast is 2000::/3).
- Phone numbers: ITU-T E.164 (at most 15 digits; assigned country codes per the ITU list);
  mainland mobile prefixes per MIIT number allocations (130-139, 145/147/149, 150-153, 155-159,
  162, 165-167, 170-178, 180-189, 190-193, 195-199); mainland area codes 010, 02x, 0xxx; Hong
  Kong and Macao 8-digit numbers; Taiwan 09 mobile and 0x area codes; the North American
  Numbering Plan (NPA and NXX start 2-9, no N11, 555-0100..0199 fictional).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from operator import mul

# --- resident identity number (GB 11643-1999) ------------------------------------------------------

ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
ID_CHECK = "10X98765432"
PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                      "61 62 63 64 65 71 81 82 83".split())
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def valid_date(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or not 1 <= day <= _MONTH_DAYS[month]:
        return False
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def resident_id_ok(s: str) -> bool:
    """``s``: 17 digits and a digit or X. Province code, birth date (1800-2099) and check character."""
    if len(s) != 18 or s[:2] not in PROVINCES:
        return False
    total = sum(map(mul, map(int, s[:17]), ID_WEIGHTS))
    if ID_CHECK[total % 11] != s[17].upper():
        return False
    year = int(s[6:10])
    return 1800 <= year <= 2099 and valid_date(year, int(s[10:12]), int(s[12:14]))


# --- payment card numbers (ISO/IEC 7812) -------------------------------------------------------------

_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    odd = sum(map(int, digits[-1::-2]))
    even = sum(_LUHN_DOUBLE[int(c)] for c in digits[-2::-2])
    return (odd + even) % 10 == 0


def card_range_ok(d: str) -> bool:
    """Whether a number of this length and prefix is issued by a card network (14-19 digits)."""
    n = len(d)
    if not 14 <= n <= 19:
        return False
    two, four = d[:2], d[:4]
    if d[0] == "4":
        return n in (16, 19)
    if "51" <= two <= "55" or "2221" <= four <= "2720":
        return n == 16
    if two in ("34", "37"):
        return n == 15
    if "3528" <= four <= "3589":
        return n >= 16
    if "300" <= d[:3] <= "305" or two in ("36", "38", "39"):
        return True
    if two == "50" or "56" <= two <= "69":  # Maestro, UnionPay, Discover
        return n >= 16
    return False


def card_ok(digits: str) -> bool:
    return card_range_ok(digits) and luhn_ok(digits)


# --- IP addresses -------------------------------------------------------------------------------------


def _ranges(cidrs: list[str]) -> tuple[list[int], list[int]]:
    nets = sorted(ipaddress.ip_network(c) for c in cidrs)
    return [int(n.network_address) for n in nets], [int(n.broadcast_address) for n in nets]


# Not public: every IPv4 block of the IANA special-purpose registry, multicast and the reserved 240/4.
V4_SPECIAL = _ranges([
    "0.0.0.0/8",        # "this network" (RFC 791)
    "10.0.0.0/8",       # private (RFC 1918)
    "100.64.0.0/10",    # shared address space, carrier-grade NAT (RFC 6598)
    "127.0.0.0/8",      # loopback (RFC 1122)
    "169.254.0.0/16",   # link local (RFC 3927)
    "172.16.0.0/12",    # private (RFC 1918)
    "192.0.0.0/24",     # IETF protocol assignments (RFC 6890)
    "192.0.2.0/24",     # documentation TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",   # 6to4 relay anycast (RFC 7526)
    "192.168.0.0/16",   # private (RFC 1918)
    "198.18.0.0/15",    # benchmarking (RFC 2544)
    "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",   # documentation TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",      # multicast (RFC 5771)
    "240.0.0.0/4",      # reserved (RFC 1112), with 255.255.255.255 broadcast (RFC 919)
])
# Inside global unicast 2000::/3 (RFC 4291), the blocks that are not one host's public address.
V6_SPECIAL = _ranges([
    "2001::/23",        # IETF protocol assignments: Teredo, benchmarking, ORCHID (RFC 2928, 6890)
    "2001:db8::/32",    # documentation (RFC 3849)
    "2002::/16",        # 6to4 (RFC 3056)
    "3fff::/20",        # documentation (RFC 9637)
])


def _in(ranges: tuple[list[int], list[int]], value: int) -> bool:
    i = bisect_right(ranges[0], value) - 1
    return i >= 0 and value <= ranges[1][i]


def ipv4_value(s: str) -> int | None:
    """The address as an integer, or None: four decimal octets 0-255 without leading zeros."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not p.isdigit() or not p.isascii() or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return None
        value = value * 256 + int(p)
    return value


def ipv4_public(s: str) -> bool:
    value = ipv4_value(s)
    return value is not None and not _in(V4_SPECIAL, value)


def ipv6_public(s: str) -> str | None:
    """The compressed address if ``s`` is a public IPv6 address (global unicast, not special), else None."""
    try:
        addr = ipaddress.IPv6Address(s)
    except ValueError:
        return None
    value = int(addr)
    if not 0x2000 <= value >> 112 <= 0x3FFF or _in(V6_SPECIAL, value):
        return None
    return addr.compressed


# --- phone numbers -----------------------------------------------------------------------------------

# ITU-T E.164 country codes; the set is prefix-free, so a number's code is its one prefix found here.
COUNTRY_CODES = frozenset(
    ["1", "7"]
    + "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 "
      "81 82 84 86 90 91 92 93 94 95 98".split()
    + "211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 "
      "240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 "
      "266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 "
      "376 377 378 379 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 "
      "590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 "
      "687 688 689 690 691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 "
      "973 974 975 976 977 979 992 993 994 995 996 998".split()
)
MOBILE_PREFIXES = frozenset(
    "130 131 132 133 134 135 136 137 138 139 145 147 149 150 151 152 153 155 156 157 158 159 162 165 166 "
    "167 170 171 172 173 174 175 176 177 178 180 181 182 183 184 185 186 187 188 189 190 191 192 193 195 "
    "196 197 198 199".split()
)
NEAR_CODES = ("86", "852", "853", "886")  # also written with the 00 international prefix


def split_country_code(digits: str) -> tuple[str, str] | None:
    for n in (1, 2, 3):
        if digits[:n] in COUNTRY_CODES:
            return digits[:n], digits[n:]
    return None


def cn_mobile_ok(d: str) -> bool:
    return len(d) == 11 and d[:3] in MOBILE_PREFIXES


def cn_area_split(national: str) -> int:
    """Length of the area code of a mainland number written without its trunk 0: 2 for Beijing (10)
    and the 2x codes, else 3."""
    return 2 if national[0] in "12" else 3


def cn_landline_ok(national: str) -> bool:
    """A mainland fixed-line number without the trunk 0: area code + 7-8 digit subscriber number
    starting 2-9. Service numbers (400, 800) are businesses, not people: not matched."""
    if not national or national[0] == "0" or national[:3] in ("400", "800"):
        return False
    if national[0] == "1" and national[:2] != "10":
        return False
    area = cn_area_split(national)
    sub = national[area:]
    return 7 <= len(sub) <= 8 and sub[0] in "23456789" and (area == 3 or len(sub) == 8)


def nanp_ok(d: str) -> bool:
    """10 digits: NPA and NXX start 2-9 and are not N11; N00 and N9X area codes are no places, toll-free
    NPAs (8xx service codes) and the fictional 555-0100..0199 are no person's number."""
    if len(d) != 10 or d[0] in "01" or d[3] in "01":
        return False
    if d[1:3] in ("11", "00") or d[4:6] == "11" or d[1] == "9":
        return False  # N11 service codes, N00 non-geographic codes, N9X reserved
    if d[:3] in ("800", "833", "844", "855", "866", "877", "888"):
        return False
    return not (d[3:6] == "555" and "0100" <= d[6:] <= "0199")


def national_ok(cc: str, national: str) -> str | None:
    """The kind of number, or None, for a national number after country code ``cc``."""
    if not national:
        return None
    if cc == "86":
        if national[0] == "0":
            national = national[1:]
        if cn_mobile_ok(national):
            return "cn_mobile"
        return "cn_landline" if cn_landline_ok(national) else None
    if cc in ("852", "853"):
        return "hk_macao" if len(national) == 8 and national[0] in "2345679" else None
    if cc == "886":
        if national[0] == "0":
            national = national[1:]
        return "tw" if len(national) in (8, 9) and national[0] in "23456789" else None
    if cc == "1":
        return "nanp" if nanp_ok(national) else None
    n = len(cc) + len(national)
    return "e164" if 8 <= n <= 15 and len(national) >= 6 else None
