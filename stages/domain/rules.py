"""Domain rules: per-domain scores for a batch of documents, computed column-wise with polars.

Every pattern is a Rust ``regex`` (the engine polars uses), counted over a whole column of texts
(code: of lines) at once; no Python code runs per document. A domain's score is in [0, 1]:

- ``code``: the share of lines that look like code (comment lines left out, so a Python file
  commented in Chinese is still code), together with the density of code symbols among the
  characters that are not Han or spaces: ``min(line_share / 0.5, symbol_density / 0.04)``.
- every other domain: weighted cue matches against what a full score needs,
  ``evidence / max(min_hits, per_kchar * characters / 1000)``. Density keeps a long report that
  mentions a probability or a formula from passing for mathematics; ``min_hits`` keeps a short
  document from reaching a full score on one cue.

Both are capped at 1. See docs/domain.md for every cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from dataprep.text import HAN


@dataclass(frozen=True)
class Cue:
    name: str
    pattern: str
    weight: float = 1.0
    unless: str | None = None  # a document that matches this gets nothing from the cue


@dataclass(frozen=True)
class Spec:
    """How a domain is scored from its cues."""

    cues: tuple[Cue, ...]
    per_kchar: float  # weighted cue matches per 1000 characters for a full score
    min_hits: float  # ... and at least this many, however short the document


# --- code -----------------------------------------------------------------------------------------

# Code is judged line by line. A comment line (Python/shell "# ", C-style "//", "/*", " * ", SQL/Lua
# "-- ", HTML "<!--") counts neither for nor against code: a Python file commented in Chinese is
# still code. Markdown headings and bullets count as prose lines.
COMMENT_LINE = r"^[ \t]*(?:#(?:[ \t]|$)|//|/\*|\*(?:[ \t/]|$)|--[ \t]|<!--)"
BULLET_LINE = r"^[ \t]*(?:[-*+•][ \t]|\d{1,2}[.)、][ \t])"
# A line that looks like code by its start or shape (case-sensitive: prose lines start with a capital).
CODE_LINE = (
    r"^[ \t]*(?:"
    r"(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*[(:]"  # Python/JS definitions
    r"|import[ \t]+[\w.{*]|from[ \t]+[\w.]+[ \t]+import[ \t]"  # imports (Python, JS, Java, Go)
    r"|(?:if|elif|else|while|for|with|try|except|finally|match|case)\b.*:[ \t]*$"  # Python blocks
    r"|(?:return|yield|raise|throw|break|continue|pass|await|delete|goto)\b"
    r"|#[ \t]*(?:include|define|undef|ifn?def|if|elif|endif|pragma|import)\b|#!"  # C preprocessor, shebang
    r"|(?:using|namespace|template|typedef|package|use|mod|impl|fn|func|struct|enum|union|interface|trait)\b.*[;{<(=]"
    r"|(?:public|private|protected|static|final|abstract|override|virtual|export|default)\b"
    r"|(?:const|let|var|auto|void|int|long|short|double|float|char|bool|boolean|string|size_t|unsigned|signed)"
    r"[ \t]+[\w*&$\[\]{}<>:]+.*[=;(,{]"  # declarations
    r"|(?:async[ \t]+)?function\b|console\.|System\.|std::|printf\(|print\(|<\?php"
    r"|(?:SELECT|INSERT[ \t]+INTO|UPDATE|DELETE[ \t]+FROM|CREATE[ \t]+(?:TABLE|INDEX|VIEW)|ALTER[ \t]+TABLE)\b"
    r"|(?:FROM|RUN|COPY|ADD|CMD|ENTRYPOINT|WORKDIR|ENV|EXPOSE|ARG)[ \t]+\S"  # Dockerfile
    r"|(?:sudo|apt|apt-get|yum|brew|pip3?|conda|npm|npx|yarn|git|docker|kubectl|curl|wget|chmod|chown|mkdir|rm|cp|mv"
    r"|cd|ls|grep|echo|export|python3?|gcc|cargo)[ \t]+[-\w./$\"'~]"  # shell commands
    r"|[A-Z_][A-Z0-9_]*=\S|(?:fi|done|esac|then|do)[ \t]*$|.*\$\(|.*\$\{\w"  # shell variables and blocks
    r"|</?[A-Za-z][\w-]*(?:[ \t][^>]*)?/?>"  # markup
    r"|>>>[ \t]|\$[ \t]+[a-z]"  # interactive prompts
    r"|```"  # a Markdown code fence
    r"|[\w.\[\]'\"]+[ \t]*(?:[-+*/%&|^]|<<|>>|\*\*|//)=[^=]"  # compound assignment: total += v
    r"|(?:self|this)\.\w+|[A-Za-z_]\w*(?:_\w+|\.\w+)+[ \t]*(?:=[^=]|\()"  # attribute or snake_case use
    r"|[a-z_][a-z0-9_]{2,}(?:[ \t]*,[ \t]*[a-z_]\w*)*[ \t]*=[^=]"  # lower-case assignment: total, out = ...
    r"|[})\]]+[;,)]*[ \t]*$"  # closing brackets
    r")"
)
# Weaker: a line that ends like a statement or block ({ ; ): =>) or is indented counts when it holds
# at least one code punctuation mark for every two words, so "Violets are blue;" and a clause of a
# law ending in ";" stay prose.
CODE_ENDING = r"(?:[{;]|\)[ \t]*:|=>[ \t]*\{?)[ \t]*$|^(?:\t|  )"
CODE_PUNCT = r"[=(){}\[\]<>+*&|]|\.\w|::|->"
WORD = r"[A-Za-z]{2,}"
# What is left of a line without its string literals and comments holds no Han characters in code;
# a line that still does is prose, even when it ends in ";" (Chinese text with ASCII punctuation).
STRING_OR_COMMENT = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|/\*.*?\*/|(?:#|//).*$"
HAN_CHAR = rf"[{HAN}]"
CODE_SYMBOL = r"[{}()\[\];=<>&|_*#\\$]"
SPACE_OR_HAN = rf"[\s{HAN}]"
CODE_FULL_SHARE = 0.5  # code-like lines among non-comment lines for a full score
CODE_FULL_DENSITY = 0.04  # code symbols among characters that are not Han or spaces, for a full score

# --- math -----------------------------------------------------------------------------------------

NUMBER = r"\d+(?:\.\d+)?"
MATH = Spec(per_kchar=10.0, min_hits=5.0, cues=(
    Cue("latex_command", r"\\(?:frac|dfrac|tfrac|int|iint|oint|sum|prod|sqrt|lim|log|ln|sin|cos|tan|cdot|times|div"
                         r"|pm|mp|leq?|geq?|neq?|approx|equiv|infty|partial|nabla|alpha|beta|gamma|delta|epsilon"
                         r"|varepsilon|theta|lambda|mu|pi|sigma|omega|phi|left|right|mathbb|mathrm|mathbf|mathcal"
                         r"|binom|dots|ldots|cdots|to|in|subset|subseteq|cup|cap|forall|exists|det|sup|inf|begin"
                         r"|hat|bar|vec|overline)\b"),
    Cue("math_span", r"\$[^$\n]*?[\\^_=+\-*/<>{}][^$\n]*?\$|\\\(|\\\[|\$\$", 2.0),
    Cue("math_symbol", r"[√π∫∑∏∞≤≥≠≈±×÷∠△⊥∥∴∵∈∉⊂⊆∪∩∀∃²³½¼¾]", 0.5),
    Cue("arithmetic", r"\d[ \t]*[+×÷*^=<>≤≥][ \t]*\(?\d|\d[ \t]+[-−/][ \t]+\d"),
    Cue("variable_equation", r"(?:^|[\s(（，,])[a-zA-Z](?:\([a-z]\))?[ \t]*=[ \t]*-?[\d(a-zA-Z\\]"),
    Cue("math_marker", r"应用题|解方程|求证|(?:解|证明|证|答|分析)[：:]|已知[^。？！\n]{1,60}求"
                       r"|(?i)\bword problem\b|\bsolution[ \t]*:|\bproof[.:]|\bQED\b|∎", 2.0),
    Cue("math_term_zh", r"方程|求解|证明|定理|引理|推论|公式|函数|导数|积分|微分|极限|矩阵|行列式|不等式|未知数|因式分解"
                        r"|最大公约数|最小公倍数|平方根|勾股|数列|等差|等比|概率|周长|体积|半径|直径|分数|小数|余数"),
    Cue("math_term_en", r"(?i)\b(?:theorems?|lemmas?|corollary|proofs?|propositions?|equations?|integrals?|derivatives?"
                        r"|polynomials?|eigenvalues?|determinants?|inequalit(?:y|ies)|induction|quadratic|logarithms?"
                        r"|factorial|hypotenuse|perimeter|solve|solving|prove|arithmetic|algebra|calculus|geometry"
                        r"|trigonometry|probability|discriminant|recurrence|matrix|matrices|divisible|remainder)\b"),
))
# A word problem: a question about a quantity ("……还剩几张？", "How far has it gone?") or an
# instruction to work one out ("Find the total cost.", "求这块菜地的周长。") in a document with at
# least two numbers. Only then do quantities ("15支", "9 km") and arithmetic words ("每盒", "left")
# count: in other prose (a drug's doses, a star catalogue) they are no sign of mathematics.
QUANTITY_QUESTION = (r"(?:多少|多远|多长|多久|多高|多重|多大|几(?:[个张本只支条块天岁次元米人辆头棵册盒倍分秒年周页道题组箱袋]"
                     r"|小时|分钟|千米|公里))[^。！？\n]*？"
                     r"|(?i)\b(?:how (?:many|much|far|old|fast|tall|heavy|wide|deep)"
                     r"|how long (?:would|will|does|did|do|is|was|has)"
                     r"|what (?:is|was|are|were|will be|does|do|did) (?:the|its|their|his|her|it|they|he|she)\b)"
                     r"[^.?!\n]*\?")
QUANTITY_TASK = (r"(?:^|[。！？；：:.!?\n][ \t]*)(?:求|试求|计算|列式计算|请计算)"
                 r"|(?:^|[.!?:\n][ \t]*)(?:Find|Calculate|Compute|Determine|Work out|Evaluate|Simplify|Show that"
                 r"|Prove that)\b")
WORD_PROBLEM = (
    Cue("quantity_question", QUANTITY_QUESTION, 2.0),
    Cue("quantity_task", QUANTITY_TASK, 2.0),
    Cue("quantity_zh", NUMBER + r"[ \t]*(?:个|张|本|只|支|条|块|元|角|分钟|小时|天|米|千米|厘米|毫米|平方米|千克|公斤|克|吨|升"
                                r"|毫升|册|盒|箱|袋|辆|棵|岁|倍|页|道|次|人)", 0.5),
    Cue("quantity_en", r"(?i)\b" + NUMBER + r"[ \t]*(?:%|percent|dollars?|cents?|km|kilomet(?:re|er)s?"
                                            r"|met(?:re|er)s?|cm|kg|grams?|litres?|liters?|hours?|minutes?|seconds?"
                                            r"|days?|weeks?|miles?|mph|apples?|books?|boxes|workers?|students?"
                                            r"|pages?)\b", 0.5),
    Cue("arithmetic_word_zh", r"一共|共有|还剩|剩下|平均|每(?:[个人天盒张本只元辆箱袋组]|小时|分钟|千米|米|公斤|千克)|原价|折扣"
                              r"|速度|路程|面积|[多少]多少|倍", 0.5),
    Cue("arithmetic_word_en", r"(?i)\b(?:per|each|total|left|remain(?:s|ing)?|altogether|sum|product|rate|average|area"
                              r"|volume|divided|multiplied|twice|half|more than|less than|fewer)\b", 0.5),
    Cue("hint", r"提示[：:]|(?i)\bhint[ \t]*:", 1.0),
)
MIN_NUMBERS = 2

# --- cue-only domains ----------------------------------------------------------------------------

WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"

ACADEMIC = Spec(per_kchar=4.0, min_hits=4.0, cues=(
    Cue("citation", r"\[\d{1,3}(?:[ \t]*[,–-][ \t]*\d{1,3})*\]"),
    Cue("et_al", r"\bet al\.?", 2.0),
    Cue("identifier", r"(?i)\bdoi:|doi\.org/|\barxiv:?[ \t]*\d{4}\.\d{4,5}|\bISBN\b|\bISSN\b", 2.0),
    Cue("author_year", r"\(\p{Lu}[\p{L}-]+(?: et al\.| and \p{Lu}[\p{L}-]+)?,? (?:19|20)\d{2}[a-z]?\)", 2.0),
    Cue("section", r"(?m)^[ \t]*(?:\d+(?:\.\d+)*\.?[ \t]*)?(?:Abstract|ABSTRACT|References|REFERENCES|Bibliography"
                   r"|Related [Ww]ork|Methodology|Conclusions?|Acknowledge?ments?|Keywords|Key words|摘[ \t]*要|关键词"
                   r"|关键字|参考文献|引言|结论|致谢|基金项目|作者简介|中图分类号|文献标识码)\b", 3.0),
    Cue("paper_phrase", r"(?i)\bin this (?:paper|work|study|article)\b|\bwe propose\b|\bour (?:method|model|approach"
                        r"|results|experiments)\b|\bstate[- ]of[- ]the[- ]art\b|本文|本研究|实验结果表明"),
    Cue("figure_table", r"\bFig(?:ure)?\.?[ \t]*\d|\bTable[ \t]+\d"
                        r"|[图表][ \t]*\d+[-.]?\d*[ \t]*[所中]"),
    Cue("statistic", r"\bp[ \t]*[<=][ \t]*0?\.\d+"),
))

QA_FORUM = Spec(per_kchar=4.0, min_hits=3.0, cues=(
    Cue("qa_marker", r"(?m)^[ \t]*(?:问|答|问题|回答|提问|追问|Q|A|Question|Answer)[ \t]*\d*[ \t]*[:：]", 2.0),
    Cue("forum_zh", r"楼主|沙发|板凳|楼上|楼下|\d+楼|回复|帖子|发帖|跟帖|顶一下|最佳答案|满意答案|追问|提问者|采纳|求助|请问"),
    Cue("forum_en", r"(?i)\b(?:asked|answered|edited) (?:[a-z]{3} \d{1,2}\b|\d+ [a-z]+ ago)"
                    r"|\b(?:best|accepted) answer\b"
                    r"|\b\d+ (?:replies|answers|votes|upvotes|comments)\b|\bposted by\b|\bthanks in advance\b"
                    r"|\bany (?:help|ideas|suggestions)\b|\bI have a question\b|\b(?:IMO|IMHO|AFAIK|OP)\b|(?m)^Re:"),
    Cue("question_line", r"(?m)[?？][ \t]*$", 0.5),
    Cue("netizen", r"网友", 0.5),
))

NEWS = Spec(per_kchar=5.0, min_hits=3.0, cues=(
    Cue("dateline_zh", r"(?:新华社|中新社|中新网|人民网|央视网|本报)[^\n，。]{0,12}(?:\d{1,2}月\d{1,2}日)?电|本报讯|（记者[^）]{1,20}）",
        3.0),
    Cue("dateline_en", r"(?m)^[A-Z][A-Z .'-]{2,30}(?:,[ \t]*[A-Z][a-z]+\.?[ \t]*\d{1,2})?[ \t]*(?:\([A-Za-z .]+\))?"
                       r"[ \t]*[—–-][ \t]", 3.0),
    Cue("agency", r"\((?:Reuters|AP|AFP|Bloomberg|Xinhua)\)", 3.0),
    Cue("reporting_zh", r"记者|报道|通讯员|据悉|据了解|消息称|发布会|日前|近日|昨日|昨天|新闻"),
    Cue("reporting_en", r"(?i)\b(?:reported|reporters?|according to|told (?:reporters|the)|officials? said|spokes"
                        r"(?:man|woman|person)|press (?:conference|release)|announced|said on " + WEEKDAY + r")\b"),
    Cue("date_zh", r"\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日"),
    Cue("date_en", r"\b(?:on|last|this) " + WEEKDAY + r"\b|\b" + MONTH + r" \d{1,2}(?:, \d{4})?\b"),
))

ENCYCLOPEDIA = Spec(per_kchar=3.0, min_hits=3.0, cues=(
    # the first sentence defines the subject: "X是一种……", "X (born 1950) is a ..."
    Cue("definition_zh", r"^[^。！？\n]{1,40}?(?:是|为)(?:一种|一个|一座|一位|一部|一家|一条|一门|一类|一项|中国|指)", 3.0,
        unless=r"^(?:[这那他她它我你咱]|请问)"),
    Cue("definition_en", r"^[^.\n]{1,100}? (?:is|was|are|were) (?:a|an|the|one of)\b", 3.0,
        unless=r"^(?:It|This|That|These|Those|There|Here|He|She|They|We|I|You|What|Which|Who|Where|When|Why|How)\b"),
    Cue("alias_zh", r"又称|又名|简称|别称|亦称|俗称|古称|也称|英语[：:]|英文名|学名|拉丁学名"),
    Cue("fact_zh", r"位于|坐落于|地处|海拔|始建于|成立于|出生于|毕业于|总面积|总人口|属于|分布于|（\d{4}年\d{1,2}月\d{1,2}日[—－-]"),
    Cue("fact_en", r"\(born |\((?:c\. )?\d{3,4}[ \t]*[–-][ \t]*\d{3,4}\)|\balso (?:known|called) as\b|\brefers to\b"
                   r"|\bis located in\b|\bpopulation of\b|\bfounded in\b|\bestablished in\b|\bborn in\b"
                   r"|\bis the capital\b"
                   r"|\bis a (?:genus|species|family|city|town|village|river|mountain|county|district)\b"),
))

# Built-in domains in their default priority order (which wins a tie of scores).
CUE_SPECS = {"math": MATH, "academic": ACADEMIC, "qa/forum": QA_FORUM, "news": NEWS, "encyclopedia": ENCYCLOPEDIA}
BUILTIN = ("code", "math", "academic", "qa/forum", "news", "encyclopedia")
FALLBACK = "web"


# --- scores ---------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def fast(pattern: str) -> str:
    """A built-in pattern with ASCII word boundaries: the words around ``\\b`` are English, and
    Rust's regex runs an ASCII boundary many times faster than a Unicode one on Chinese text."""
    return re.sub(r"(?<!\\)\\b", lambda m: r"(?-u:\b)", pattern)


def _capped(value: pl.Expr) -> pl.Expr:
    return value.clip(0.0, 1.0).fill_nan(0.0)


def code_scores(texts: pl.Series, extra: list[str]) -> pl.Series:
    """Score of the ``code`` domain per text; ``extra`` patterns mark more code lines."""
    n = len(texts)
    line = fast(CODE_LINE) if not extra else fast(CODE_LINE)[:-1] + "|" + "|".join(f"(?:{p})" for p in extra) + ")"
    lines = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32), "t": texts})
             .with_columns(pl.col("t").str.split("\n")).explode("t")
             .filter(pl.col("t").str.contains(r"\S"))
             .filter(~pl.col("t").str.contains(COMMENT_LINE)))
    bare = pl.col("t").str.replace_all(STRING_OR_COMMENT, "")
    weak = (pl.col("t").str.contains(CODE_ENDING) & (bare.str.count_matches(CODE_PUNCT) > 0)
            & (bare.str.count_matches(CODE_PUNCT) * 2 >= bare.str.count_matches(WORD)))
    per_doc = (lines.lazy().with_columns(code=(pl.col("t").str.contains(line) | weak)
                                  & ~bare.str.contains(HAN_CHAR) & ~pl.col("t").str.contains(BULLET_LINE))
               .group_by("doc").agg(lines=pl.len(), code=pl.col("code").sum()).collect())
    share = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32)}).join(per_doc, on="doc", how="left")
             .sort("doc").select(pl.when(pl.col("lines") > 0).then(pl.col("code") / pl.col("lines"))
                                 .otherwise(0.0).fill_null(0.0))).to_series()
    t = pl.col("t")
    chars = (t.str.len_chars() - t.str.count_matches(SPACE_OR_HAN)).cast(pl.Float64)
    density = pl.when(chars > 0).then(t.str.count_matches(CODE_SYMBOL).cast(pl.Float64) / chars).otherwise(0.0)
    # lazily, so that common-subexpression elimination counts each pattern once (an eager select
    # evaluates ``density`` and ``chars`` again wherever the expression repeats them)
    return (pl.DataFrame({"t": texts, "share": share}).lazy()
            .select(_capped(pl.min_horizontal(pl.col("share") / CODE_FULL_SHARE, density / CODE_FULL_DENSITY)))
            .collect().to_series())


def _count(cue: Cue) -> pl.Expr:
    t = pl.col("t")
    count = t.str.count_matches(fast(cue.pattern)).cast(pl.Float64) * cue.weight
    return count if cue.unless is None else pl.when(t.str.contains(fast(cue.unless))).then(0.0).otherwise(count)


def cue_score(spec: Spec, extra: list[str], per_kchar: float | None = None, min_hits: float | None = None,
              word_problems: bool = False) -> pl.Expr:
    """Weighted cue matches in ``t`` against what a full score needs (see the module docstring)."""
    t = pl.col("t")
    terms = [_count(c) for c in spec.cues]
    terms += [t.str.count_matches(p).cast(pl.Float64) for p in extra]
    if word_problems:
        asked = t.str.contains(fast(QUANTITY_QUESTION)) | t.str.contains(fast(QUANTITY_TASK))
        problem = pl.sum_horizontal([_count(c) for c in WORD_PROBLEM])
        terms.append(pl.when(asked & (t.str.count_matches(NUMBER) >= MIN_NUMBERS)).then(problem).otherwise(0.0))
    evidence = pl.sum_horizontal(terms) if terms else pl.lit(0.0)
    per = spec.per_kchar if per_kchar is None else per_kchar
    least = spec.min_hits if min_hits is None else min_hits
    need = pl.max_horizontal(pl.lit(least), t.str.len_chars().cast(pl.Float64) * (per / 1000.0))
    return _capped(evidence / need)
