"""Text units on Chinese, Japanese, Korean, English, Russian and Arabic."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep import text as T


def test_script_counts_by_language():
    assert T.script_counts("数据清洗 資料處理") == {"han": 8}
    assert T.script_counts("ひらがなとカタカナ、漢字") == {"kana": 9, "han": 2}
    assert T.script_counts("한국어 문장입니다") == {"hangul": 8}
    assert T.script_counts("Hello, world! 123 🎉") == {"latin": 10}
    assert T.script_counts("Привет мир") == {"cyrillic": 9}
    assert T.script_counts("مرحبا بالعالم") == {"arabic": 12}
    assert T.script_counts("... 123 🎉") == {}
    assert T.script_shares("ab你好") == {"latin": 0.5, "han": 0.5}
    assert T.cjk_share("ab你好") == 0.5 and T.cjk_share("") == 0.0
    assert T.dominant_script("日本語のテキストです") == "kana"


def test_paragraphs_are_non_empty_lines_with_exact_spans():
    text = "  第一段。 \n\n\r\nSecond para\r\n\t \nthird\u2028fourth"
    assert T.split_paragraphs(text) == ["第一段。", "Second para", "third", "fourth"]
    for (a, b), p in zip(T.paragraph_spans(text), T.split_paragraphs(text)):
        assert text[a:b] == p


def test_chinese_sentences_end_at_cjk_punctuation_with_closing_quotes():
    text = "今天天气很好。我们去公园吧！真的吗？他说：“好的。”然后……我们走了；结束"
    assert T.split_sentences(text) == ["今天天气很好。", "我们去公园吧！", "真的吗？", "他说：“好的。”",
                                       "然后……", "我们走了；", "结束"]


def test_traditional_chinese_and_japanese_sentences():
    assert T.split_sentences("這是第一句。這是第二句！") == ["這是第一句。", "這是第二句！"]
    assert T.split_sentences("「こんにちは。」と言った。元気ですか？") == ["「こんにちは。」", "と言った。", "元気ですか？"]


def test_english_sentences_keep_decimals_and_abbreviations():
    text = "Dr. Smith paid $3.14 for it, e.g. at the U.S. store. Then he left! Did he? Yes.\nNew line"
    assert T.split_sentences(text) == ["Dr. Smith paid $3.14 for it, e.g. at the U.S. store.", "Then he left!",
                                       "Did he?", "Yes.", "New line"]


def test_russian_arabic_korean_sentences():
    assert T.split_sentences("Это первое. Это второе!") == ["Это первое.", "Это второе!"]
    assert T.split_sentences("هذه جملة. وهذه أخرى!") == ["هذه جملة.", "وهذه أخرى!"]
    assert T.split_sentences("첫 문장입니다. 두 번째 문장!") == ["첫 문장입니다.", "두 번째 문장!"]


def test_words_by_script():
    assert T.words("我爱北京") == ["我", "爱", "北", "京"]
    assert T.words("東京タワーに行った") == ["東", "京", "タ", "ワ", "ー", "に", "行", "っ", "た"]
    assert T.words("한국어 문장입니다") == ["한국어", "문장입니다"]
    assert T.words("Don't stop state-of-the-art, ok?") == ["Don't", "stop", "state-of-the-art", "ok"]
    assert T.words("Привет, мир!") == ["Привет", "мир"]
    assert T.words("مرحبا بالعالم") == ["مرحبا", "بالعالم"]
    assert T.words("mixed中文text") == ["mixed", "中", "文", "text"]
    assert T.words("🎉 ... !!") == []
    assert T.count_words("我爱 NLP 2024") == 4


def test_normalize_for_dedup_folds_width_case_digits_and_punctuation():
    assert T.normalize_for_dedup("ＡＢＣ１２３") == "abc000"
    assert T.normalize_for_dedup("Hello,   WORLD!! 2024") == "hello world 0000"
    assert T.normalize_for_dedup("你好，世界。「引号」") == "你好 世界 引号"
    assert T.normalize_for_dedup("Straße ١٢٣ 😀") == "strasse 000"


def test_units_and_shingles():
    assert T.units(T.normalize_for_dedup("Hello 世界 again")) == ["hello", "世", "界", "again"]
    assert T.shingles("a b c d e f", n=5) == ["a b c d e", "b c d e f"]
    assert T.shingles("数据清洗是关键", n=5) == ["数 据 清 洗 是", "据 清 洗 是 关", "清 洗 是 关 键"]
    assert T.shingles("one two", n=5) == ["one two"]
    assert T.shingles("x x x x x x x", n=3) == ["x x x"]
    assert T.shingles("!!! 🎉", n=5) == []
    assert T.shingles("ＡＢＣ, abc") == T.shingles("abc abc")
    assert T.shingles_batch(["a", "b c"], n=2) == [["a"], ["b c"]]


def test_stats():
    s = T.stats("我爱北京。Hello world!\nSecond line.")
    assert s["words"] == 8 and s["paragraphs"] == 2 and s["sentences"] == 3
    assert s["dominant_script"] == "latin" and round(s["cjk_share"], 3) == round(4 / 24, 3)


def test_long_document_is_linear():
    text = ("数据清洗。Data cleaning! " * 200_000)
    assert len(T.shingles(text)) > 0
    assert len(T.sentence_spans(text)) == 400_000


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_spans_cover_exactly_the_stripped_pieces(text):
    for a, b in T.paragraph_spans(text) + T.sentence_spans(text):
        piece = text[a:b]
        assert piece and piece == piece.strip()


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_shingles_exist_whenever_there_is_a_unit(text):
    assert bool(T.shingles(text)) == bool(T.units(T.normalize_for_dedup(text)))
    assert len(T.shingles(text)) == len(set(T.shingles(text)))
