"""langid: fastText language identification with script-aware corrections for CJK.

The default model is fastText's lid.176 (the compressed ``lid.176.ftz``, shipped inside this package
as ``dataprep/models/lid.176.ftz``, so it works offline); any fastText LID model can be given by path,
including GlotLID's ``__label__xxx_Scrp`` labels. Adds ``lang``, ``lang_score`` and
``zh_script`` (Hans/Hant for Chinese), optionally ``lang_top`` and per-paragraph
``lang_shares``/``lang_mix``; drops documents outside the allowlist or below their threshold.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa

from dataprep import text as T
from dataprep.config import ConfigError, option
from dataprep.corpus import split_by_reason
from dataprep.stage import Stage, StageError, gc_paused

MODEL_HELP = ("reinstall dataprep (it ships lid.176.ftz), or download lid.176.bin "
              "from https://fasttext.cc/docs/en/language-identification.html and pass its path as `model:`")

# CCNet (Wenzek et al. 2020, section 3.3) drops documents whose fastText language score is below 0.5;
# FineWeb (Penedo et al. 2024) keeps English documents scoring above 0.65.
CCNET_THRESHOLD = 0.5
FINEWEB_EN_THRESHOLD = 0.65


@dataclass
class LangidConfig:
    model: Optional[str] = option(None, help="Path to a fastText LID model (.bin/.ftz); default: lid.176.ftz, "
                                             "which ships with dataprep.")
    allow: list[str] = option([], help="Languages to keep (ISO 639-1, or group names); empty keeps all.")
    min_score: float = option(CCNET_THRESHOLD, help="Reject documents whose top score is lower "
                                                    "(0.5 as in CCNet; 0 disables).")
    thresholds: dict[str, float] = option({}, help="Per-language minimum scores overriding min_score, e.g. "
                                                   "{en: 0.65} as in FineWeb.")
    groups: dict[str, list[str]] = option({}, help="Report these languages as one, e.g. {sh: [sr, hr, bs]}.")
    exempt: dict[str, list[str]] = option({}, help="Label but never filter rows whose column has one of these "
                                                    "values, e.g. {source: [code]} (fastText scores code low).")
    correct_scripts: bool = option(True, help="Use script evidence: Han text (no kana or hangul, >= 75% of "
                                              "words Han) is `zh` whatever the model says, `ja` with "
                                              "Japanese-only kanji; kana means `ja`, hangul `ko`.")
    top_k: int = option(1, help="Also store the k best labels with scores in `lang_top` (when > 1).")
    paragraphs: bool = option(False, help="Also identify each paragraph; adds `lang_shares` (characters per "
                                          "language) and `lang_mix` (share not in the document's language).")
    max_chars: int = option(2000, help="Characters of each document (or paragraph) given to the model.")
    batch_size: int = option(4096, help="Documents per model call.")

    def validate(self) -> None:
        if self.top_k < 1:
            raise ConfigError("top_k: must be >= 1")
        if self.max_chars < 1:
            raise ConfigError("max_chars: must be >= 1")
        for lang, score in {"min_score": self.min_score, **self.thresholds}.items():
            if not 0.0 <= score <= 1.0:
                raise ConfigError(f"thresholds.{lang}: a score between 0 and 1 is expected, got {score}")


# --- the model ----------------------------------------------------------------------------------


def default_model_path() -> Path:
    """fastText's lid.176.ftz (CC BY-SA 3.0, Joulin et al. 2016), installed with the package."""
    import dataprep

    path = Path(dataprep.__file__).resolve().parent / "models" / "lid.176.ftz"
    if not path.is_file():
        raise StageError(f"{path}: the language model that ships with dataprep is missing; {MODEL_HELP}")
    return path


_models: dict[str, Any] = {}


def load_model(path: str | Path | None) -> Any:
    """Load a fastText model once per process."""
    path = Path(path) if path else default_model_path()
    key = str(path)
    if key not in _models:
        if not path.is_file():
            raise StageError(f"{path}: language model file not found; {MODEL_HELP}")
        from dataprep import ftmodel

        fast = ftmodel.load(path)  # the compiled predictor: the binding's results, several times faster
        if fast is not None:
            _models[key] = fast
            return fast
        try:
            import fasttext
        except ImportError:
            raise StageError("the fasttext package is missing: pip install fasttext-numpy2-wheel") from None
        if not hasattr(fasttext, "load_model"):
            raise StageError("the installed `fasttext` module cannot load models (fasttext-predict may have replaced "
                             "it): pip install --force-reinstall fasttext-numpy2-wheel")
        try:
            fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time warning
            _models[key] = fasttext.load_model(str(path))
        except (ValueError, RuntimeError, MemoryError) as e:
            raise StageError(f"{path}: not a readable fastText model ({e}); {MODEL_HELP}") from None
    return _models[key]


# --- labels -------------------------------------------------------------------------------------

# ISO 639-3 (as in GlotLID labels such as __label__cmn_Hani) to ISO 639-1 where one exists.
ISO3_TO_1 = dict(pair.split(":") for pair in (
    "afr:af amh:am arb:ar ara:ar azj:az aze:az bel:be bul:bg ben:bn bos:bs cat:ca ces:cs cym:cy dan:da deu:de "
    "ell:el eng:en epo:eo spa:es est:et ekk:et eus:eu pes:fa fas:fa fin:fi fra:fr gle:ga glg:gl guj:gu hau:ha "
    "heb:he hin:hi hrv:hr hun:hu hye:hy ind:id ibo:ig isl:is ita:it jpn:ja kat:ka kaz:kk khm:km kan:kn kor:ko "
    "kir:ky lat:la ltz:lb lao:lo lit:lt lvs:lv lav:lv mkd:mk mal:ml khk:mn mon:mn mar:mr zsm:ms msa:ms mlt:mt "
    "mya:my npi:ne nep:ne nld:nl nno:nn nob:nb nor:no pan:pa pol:pl pbt:ps pus:ps por:pt ron:ro rus:ru sin:si "
    "slk:sk slv:sl som:so als:sq sqi:sq srp:sr swe:sv swh:sw swa:sw tam:ta tel:te tgk:tg tha:th tuk:tk tgl:tl "
    "tur:tr tat:tt uig:ug ukr:uk urd:ur uzn:uz uzb:uz vie:vi xho:xh yor:yo cmn:zh zho:zh zul:zu"
).split())
_GLOT = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")


@functools.lru_cache(maxsize=4096)
def parse_label(label: str) -> tuple[str, str | None]:
    """'__label__en' -> ('en', None); '__label__cmn_Hani' -> ('zh', 'Hani')."""
    name = label.removeprefix("__label__")
    m = _GLOT.match(name)
    if m:
        return ISO3_TO_1.get(m.group(1), m.group(1)), m.group(2)
    return name, None


# lid.176 labels of languages written in Han characters (Chinese varieties, Japanese): the model's
# probability mass on them is its confidence that Han text is in one of them.
HAN_LABELS = frozenset({"zh", "ja", "wuu", "yue", "gan", "hak", "nan", "lzh", "cdo", "hsn", "cjy"})


def han_probability(labels: list[str], probs: list[float]) -> float:
    return min(sum(float(p) for label, p in zip(labels, probs) if parse_label(label)[0] in HAN_LABELS), 1.0)


def label_probability(lang: str, labels: list[str], probs: list[float]) -> tuple[float, str | None] | None:
    """The model's probability for `lang` and its label's script, from labels listed best first
    (the best label when several map to `lang`); None when `lang` is not among them."""
    for label, prob in zip(labels, probs):
        code, script = parse_label(label)
        if code == lang:
            return min(float(prob), 1.0), script
    return None


# --- script evidence ----------------------------------------------------------------------------

# Kanji in their Japanese (shinjitai) form, which Chinese writes differently in both Simplified and
# Traditional script (権: 权/權, 総: 总/總, ...). Their presence marks Han-only text as Japanese.
JA_ONLY_KANJI = set(
    "権釈弁円図済経総関気歳楽単売読変戦労県鉄駅広様発伝転実験険検剣郷黒恵応対帰蔵浜沢辺価児営覚挙拠拡乗縄壊懐"
    "徳徴聴庁鶏亜悪圧囲隠栄駆謡塩桜穏絵勧陥巻観歓稲帯滝択団遅鋳逓闘届弐悩脳廃髪抜晩払仏塀舗豊満毎訳誉頼覧竜"
    "両猟緑涙塁霊齢暦歴戻")
# Common characters written differently in Simplified and Traditional Chinese (our own list of
# unambiguous pairs: each character here is used in one script only).
_SIMP_TRAD = (
    "这這 个個 们們 来來 时時 为為 说說 国國 学學 会會 对對 过過 发發 经經 还還 现現 开開 关關 进進 动動 种種 长長 "
    "问問 实實 点點 见見 员員 门門 东東 车車 书書 听聽 语語 话話 万萬 与與 专專 业業 两兩 严嚴 临臨 丽麗 举舉 义義 "
    "乐樂 习習 乡鄉 买買 乱亂 争爭 亏虧 亚亞 产產 亲親 亿億 仅僅 从從 仓倉 仪儀 价價 众眾 优優 伞傘 伟偉 传傳 伤傷 "
    "伦倫 体體 侦偵 侧側 侨僑 俭儉 债債 倾傾 偿償 储儲 儿兒 党黨 兰蘭 兴興 养養 内內 册冊 写寫 军軍 农農 决決 况況 "
    "冻凍 净淨 凉涼 减減 凤鳳 凭憑 击擊 刘劉 则則 刚剛 创創 删刪 别別 剂劑 剑劍 剧劇 劝勸 办辦 务務 励勵 劲勁 劳勞 "
    "势勢 区區 医醫 华華 协協 单單 卖賣 卢盧 卫衛 却卻 厂廠 厅廳 历歷 压壓 厌厭 县縣 参參 双雙 变變 叙敘 号號 叹嘆 "
    "吓嚇 吗嗎 启啟 吴吳 响響 团團 园園 围圍 图圖 圆圓 圣聖 场場 坏壞 块塊 坚堅 坛壇 报報 执執 扩擴 扫掃 扬揚 护護 "
    "担擔 拟擬 拥擁 择擇 挂掛 挥揮 损損 换換 据據 摄攝 摆擺 敌敵 数數 断斷 无無 旧舊 显顯 晓曉 暂暫 术術 机機 杀殺 "
    "杂雜 权權 条條 杨楊 极極 构構 枪槍 标標 树樹 样樣 桥橋 梦夢 检檢 欢歡 欧歐 残殘 毁毀 毕畢 气氣 汉漢 汤湯 沟溝 "
    "泪淚 泽澤 洁潔 济濟 浅淺 测測 浓濃 润潤 涨漲 渐漸 温溫 湾灣 湿濕 满滿 滚滾 灭滅 灯燈 灵靈 灾災 炉爐 炼煉 烟煙 "
    "烦煩 烧燒 热熱 爱愛 爷爺 牵牽 犹猶 独獨 猎獵 环環 电電 画畫 畅暢 疗療 监監 盖蓋 盘盤 确確 礼禮 祸禍 离離 积積 "
    "称稱 穷窮 竞競 笔筆 筑築 签簽 简簡 类類 粮糧 紧緊 红紅 纪紀 约約 级級 纯純 纳納 纸紙 线線 练練 组組 细細 织織 "
    "终終 绍紹 结結 给給 络絡 绝絕 统統 继繼 续續 维維 综綜 绿綠 编編 缓緩 网網 罗羅 职職 联聯 聪聰 肃肅 肤膚 胜勝 "
    "脑腦 脚腳 脱脫 舰艦 艺藝 节節 苏蘇 荣榮 药藥 获獲 营營 蓝藍 虑慮 虽雖 补補 装裝 观觀 规規 视視 览覽 觉覺 认認 "
    "让讓 训訓 议議 记記 讲講 许許 论論 设設 访訪 证證 评評 识識 诉訴 词詞 译譯 试試 诗詩 诚誠 询詢 该該 详詳 误誤 "
    "请請 读讀 课課 谁誰 调調 谈談 谢謝 贝貝 负負 财財 责責 败敗 货貨 质質 购購 贵貴 贸貿 费費 资資 赏賞 赛賽 赶趕 "
    "跃躍 践踐 转轉 轮輪 软軟 轻輕 载載 较較 输輸 辞辭 边邊 达達 迁遷 运運 远遠 违違 连連 迟遲 选選 递遞 邮郵 邻鄰 "
    "释釋 钟鐘 钢鋼 钱錢 铁鐵 银銀 锁鎖 错錯 键鍵 闭閉 间間 闻聞 阅閱 队隊 阳陽 阴陰 阵陣 际際 陆陸 陈陳 险險 随隨 "
    "隐隱 难難 雾霧 静靜 韩韓 页頁 顶頂 项項 顺順 须須 顾顧 预預 领領 频頻 题題 颜顏 风風 飞飛 饭飯 饮飲 馆館 马馬 "
    "驾駕 验驗 骑騎 鱼魚 鸟鳥 鸡雞 黄黃 齐齊 龙龍 权權 宪憲 废廢 岁歲 护護 宣宣"
).split()
SIMPLIFIED_ONLY = {p[0] for p in _SIMP_TRAD if p[0] != p[1]}
TRADITIONAL_ONLY = {p[1] for p in _SIMP_TRAD if p[0] != p[1]}
# dataprep.text's KANA less the katakana middle dot ・ (U+30FB), which Chinese web text also writes
# between names.
_KANA = re.compile("[\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(f"[{T.HANGUL}]")
_HAN = re.compile(f"[{T.HAN}]")
_LETTER = re.compile(r"[^\W\d_]")


SCRIPT_SAMPLE_CHARS = 1000  # enough Han characters to tell Simplified from Traditional
_SIMP_RE = re.compile("[" + "".join(sorted(SIMPLIFIED_ONLY)) + "]")
_TRAD_RE = re.compile("[" + "".join(sorted(TRADITIONAL_ONLY)) + "]")
_JA_KANJI_RE = re.compile("[" + "".join(sorted(JA_ONLY_KANJI)) + "]")


def chinese_script(text: str) -> str | None:
    """'Hans' or 'Hant' by which script-specific characters dominate; None if neither appears."""
    return _script_of(len(_SIMP_RE.findall(text)), len(_TRAD_RE.findall(text)))


def _script_of(simp: int, trad: int) -> str | None:
    if simp == trad:
        return None
    return "Hans" if simp > trad else "Hant"


def _rust_class(chars: set[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


def chinese_scripts(texts: list[str]) -> list[str | None]:
    """``chinese_script`` of each text's first SCRIPT_SAMPLE_CHARS characters, counted column-wise
    by polars (the same counts as the per-text regexes, several times faster)."""
    import polars as pl

    sample = pl.Series(texts, dtype=pl.String).str.slice(0, SCRIPT_SAMPLE_CHARS)
    simp = sample.str.count_matches(_rust_class(SIMPLIFIED_ONLY)).to_list()
    trad = sample.str.count_matches(_rust_class(TRADITIONAL_ONLY)).to_list()
    return [_script_of(a, b) for a, b in zip(simp, trad)]


CJK_LABELS = frozenset({"zh", "ja", "ko", "wuu", "yue"})
# Characters of written Cantonese that standard written Chinese does not use (嘅: 的, 咗: 了,
# 佢: 他, 哋: 们, 冇: 没有, 喺: 在, ...). A `yue` call on Han text stands only with one of them.
YUE_ONLY = set("嘅咗佢哋冇啲嘢喺嚟嗰唔噉")
_YUE_RE = re.compile("[" + "".join(sorted(YUE_ONLY)) + "]")
# Han text: at least this share of its words are Han characters. Parallel "中文 / English" lines
# measure 0.55-0.67 and keep the model's call; "MySQL索引优化实战" measures 0.86.
MOSTLY_HAN = 0.75


def han_share(text: str) -> float:
    """Share of the words that are Han characters, words as in `dataprep.text.words`: a Han (or
    kana) character is one word, a run of other letters (`Baichuan2`, `LLM`) is one word; words
    without a letter (numbers) do not count, nor do punctuation, spaces and emoji."""
    words = [w for w in T.words(text) if _LETTER.search(w)]
    return sum(1 for w in words if _HAN.match(w)) / len(words) if words else 0.0


def correct_cjk(lang: str, text: str) -> str:
    """The language script evidence gives where it overrules the model's call `lang`.

    Han text (no kana, no hangul, at least `MOSTLY_HAN` of its words Han characters) is Chinese
    whatever the call (lid.176 calls some of it `ja`, `ko`, `wuu`, `yue`, or a language of another
    script: `bg`, `pt`, ...), or Japanese when it has Japanese-only kanji; a `yue` call stands
    when the text has Cantonese-only characters. A CJK call on text with hangul making up most
    of its CJK characters is `ko`, with kana at 5% or more `ja`."""
    cjk_call = lang in CJK_LABELS
    if not cjk_call and (text.isascii() or not _HAN.search(text)):
        return lang
    if _KANA.search(text) or _HANGUL.search(text):
        if not cjk_call:
            return lang
        kana, hangul = len(_KANA.findall(text)), len(_HANGUL.findall(text))
        cjk = kana + hangul + len(_HAN.findall(text))
        if hangul / cjk > 0.5:
            return "ko"
        if kana / cjk >= 0.05:
            return "ja"
        return lang
    if lang == "zh" or (lang == "yue" and _YUE_RE.search(text)) or han_share(text) < MOSTLY_HAN:
        return lang
    return "ja" if _JA_KANJI_RE.search(text) else "zh"


# --- text preparation ---------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+|www\.\S+")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MARKUP = re.compile(r"<[^<>\n]{1,200}>|&[a-z]{2,8};|&#\d{1,6};")


def prepare_text(text: str, max_chars: int) -> str:
    """One line for fastText: URLs, e-mails and markup become spaces, line breaks too (the stored
    text is unchanged). Each pattern runs only when its marker character is present."""
    t = text[:max_chars]
    if "://" in t or "www." in t:
        t = _URL.sub(" ", t)
    if "@" in t:
        t = _EMAIL.sub(" ", t)
    if "<" in t or "&" in t:
        t = _MARKUP.sub(" ", t)
    return t.replace("\n", " ")


# --- the stage ----------------------------------------------------------------------------------


class LangidStage(Stage):
    """Identify each document's language with fastText (lid.176 by default, offline).

    Adds `lang`, `lang_score` and `zh_script` (Hans/Hant for Chinese). Han text is Chinese
    whatever lid.176 calls it (Japanese, Bulgarian, ...) unless it has Japanese-only kanji; its
    score is the model's probability for zh. Documents outside
    `allow` are rejected as `langid:not_allowed`, those under their threshold as
    `langid:below_threshold` (default 0.5 as in CCNet).

    \b
    Examples:
      dataprep langid -i work/clean -o work/lang --allow zh --allow en
      dataprep langid -i work/clean -o work/lang --thresholds '{en: 0.65}' --paragraphs
      dataprep langid -i work/clean -o work/lang --model /models/glotlid/model_v3.bin
    """

    name = "langid"
    Config = LangidConfig

    def prepare(self, ctx: Any) -> None:
        load_model(self.config.model)  # fail before any task starts if the model is missing

    def predict(self, texts: list[str]) -> tuple[list[str], list[float], list[str | None], list[list]]:
        """Languages, scores, label scripts and top-k lists for raw texts (batched)."""
        cfg = self.config
        group = {member: name for name, members in cfg.groups.items() for member in members}
        langs, scores, scripts, tops = [], [], [], []
        with gc_paused():
            self._predict_into(texts, group, langs, scores, scripts, tops)
        return langs, scores, scripts, tops

    def _predict_into(self, texts: list[str], group: dict, langs: list, scores: list, scripts: list,
                      tops: list) -> None:
        cfg = self.config
        model = load_model(cfg.model)
        for start in range(0, len(texts), cfg.batch_size):
            batch = texts[start:start + cfg.batch_size]
            prepared = [prepare_text(t, cfg.max_chars) for t in batch]
            labels, probs = model.predict(prepared, k=cfg.top_k)
            pending = []  # (row, text, lang): corrected calls scored from the model's whole distribution
            for text, lab, prob in zip(prepared, labels, probs):
                if not lab or not _LETTER.search(text):  # no letters (empty, digits, emoji): no language
                    langs.append("und"), scores.append(0.0), scripts.append(None), tops.append([])
                    continue
                top, script = parse_label(lab[0])
                lang, score = top, min(float(prob[0]), 1.0)
                if cfg.correct_scripts:
                    lang = correct_cjk(top, text)
                    if lang != top:
                        found = label_probability(lang, lab, prob)
                        if found is None or (lang in ("zh", "ja") and top != "zh"):
                            pending.append((len(scores), text, lang))
                        score, script = found or (0.0, None)
                langs.append(group.get(lang, lang))
                scores.append(score)
                scripts.append(script)
                if cfg.top_k > 1:
                    tops.append([(group.get(code, code), min(float(p), 1.0))
                                 for code, p in ((parse_label(l)[0], p) for l, p in zip(lab, prob))])
            if pending:  # every label the model gives at least ~1e-5 (fastText leaves out the rest)
                every_lab, every_prob = model.predict([text for _, text, _ in pending], k=-1, threshold=0.0)
                for (row, text, lang), lab, prob in zip(pending, every_lab, every_prob):
                    found = label_probability(lang, lab, prob) or (0.0, None)
                    scripts[row] = found[1]
                    # Han text: the model's mass on Han-script languages (which the script narrows to
                    # `lang`), not the share it happened to give `lang` among them
                    han = not _KANA.search(text) and not _HANGUL.search(text)
                    scores[row] = han_probability(lab, prob) if lang in ("zh", "ja") and han else found[0]

    def _paragraph_shares(self, texts: list[str], doc_langs: list[str]) -> tuple[list, list]:
        owners, paras = [], []
        for i, text in enumerate(texts):
            for p in T.split_paragraphs(text):
                owners.append(i)
                paras.append(p)
        plangs = self.predict(paras)[0] if paras else []
        chars: list[dict[str, int]] = [{} for _ in texts]
        for i, p, lang in zip(owners, paras, plangs):
            if T.script_counts(p):
                chars[i][lang] = chars[i].get(lang, 0) + len(p)
        shares, mix = [], []
        for c, lang in zip(chars, doc_langs):
            total = sum(c.values())
            shares.append([(k, v / total) for k, v in sorted(c.items())] if total else [])
            mix.append(1.0 - c.get(lang, 0) / total if total else 0.0)
        return shares, mix

    def apply(self, table: pa.Table, state: Any) -> tuple[pa.Table, pa.Table]:
        cfg = self.config
        texts = table["text"].to_pylist()
        langs, scores, scripts, tops = self.predict(texts)
        zh_rows = [i for i, lang in enumerate(langs) if lang == "zh"]
        zh_script: list[str | None] = [None] * len(texts)
        for i, script in zip(zh_rows, chinese_scripts([texts[i] for i in zh_rows])):
            zh_script[i] = script
        columns: dict[str, pa.Array] = {
            "lang": pa.array(langs, pa.string()),
            "lang_score": pa.array(scores, pa.float32()),
            "zh_script": pa.array(zh_script, pa.string()),
        }
        if any(scripts):
            columns["lang_script"] = pa.array(scripts, pa.string())
        if cfg.top_k > 1:
            columns["lang_top"] = pa.array(tops, pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float32())])))
        if cfg.paragraphs:
            shares, mix = self._paragraph_shares(texts, langs)
            columns["lang_shares"] = pa.array(shares, pa.map_(pa.string(), pa.float32()))
            columns["lang_mix"] = pa.array(mix, pa.float32())
        for name, col in columns.items():
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, col)
        allow = set(cfg.allow)
        exempt = [False] * len(langs)
        for column, values in cfg.exempt.items():
            if column not in table.column_names:
                raise StageError(f"langid.exempt: the corpus has no column {column!r}")
            wanted = set(values)
            exempt = [e or v in wanted for e, v in zip(exempt, table[column].to_pylist())]
        reasons = []
        for lang, score, free in zip(langs, scores, exempt):
            if free:
                reasons.append(None)
            elif allow and lang not in allow:
                reasons.append("langid:not_allowed")
            elif score < cfg.thresholds.get(lang, cfg.min_score):
                reasons.append("langid:below_threshold")
            else:
                reasons.append(None)
        return split_by_reason(table, reasons, self.name)
