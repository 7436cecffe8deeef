"""Regenerate sample_data/: a small multilingual web-like corpus with planted phenomena.

    python sample_data/generate.py [OUT_DIR]      # default: the folder of this script

Every sentence comes from templates and word pools written for this project. The output is
byte-identical on every run (one seeded random.Random, no set or hash ordering). See README.md
for what is planted and how truth.json describes it.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20261122
HERE = Path(__file__).resolve().parent
MIN_NEAR_JACCARD = 0.82

sys.path.insert(0, str(HERE.parent))
from dataprep.text import shingles  # noqa: E402  (the Jaccard below is the one dedup uses)


def jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the 5-unit shingle sets of two texts (dataprep.text.shingles)."""
    sa, sb = set(shingles(a)), set(shingles(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0

# --- word pools ---------------------------------------------------------------------------------

ZH_CITIES = "北京 上海 广州 深圳 杭州 成都 武汉 西安 南京 重庆 天津 苏州 长沙 郑州 青岛 沈阳 宁波 昆明 大连 厦门 合肥 福州 济南 哈尔滨 长春 石家庄 南宁 贵阳 兰州 太原 南昌 海口 呼和浩特 乌鲁木齐 拉萨 银川 西宁 无锡 佛山 东莞".split()
ZH_ORGS = "市政府 教育局 交通委员会 统计局 科技园 研究院 博物馆 图书馆 医院 体育中心 农业合作社 气象台 水务集团 文化馆 开发区管委会 商务局 卫生健康委员会 生态环境局 人力资源中心 铁路局".split()
ZH_TOPICS = "城市绿化 公共交通 基础教育 农村电商 智能制造 医疗保障 老旧小区改造 垃圾分类 新能源汽车 文化旅游 科技创新 养老服务 水资源保护 数字政务 职业培训 粮食生产 体育健身 夜间经济 社区治理 跨境贸易 海洋渔业 森林防火 非遗保护 人工智能 低空经济".split()
ZH_THINGS = "自行车道 充电桩 图书角 口袋公园 雨水花园 智能路灯 社区食堂 便民驿站 共享书房 儿童乐园 快递柜 无障碍坡道 污水管网 光伏屋顶 物流中心 实训基地 科普展厅 健身步道 农产品市场 数据中心".split()
ZH_PEOPLE = "王建国 李晓梅 张伟 刘芳 陈志强 杨丽 赵磊 黄静 周涛 吴敏 徐明 孙婷 马骏 朱琳 胡斌 郭倩 林海 何雪 高峰 罗佳".split()
ZH_ADJ = "显著 稳步 持续 明显 大幅 小幅 逐步 快速".split()
ZH_ROLES = "负责人 工程师 教师 研究员 志愿者 社区书记 店主 医生 农民 司机".split()

ZH_TEMPLATES = [
    "据{org}统计，{city}今年在{topic}方面的投入达到{n}亿元，比去年{adj}增长。",
    "{city}新建的{thing}已于{m}月正式开放，附近居民普遍反映出行更加方便。",
    "{person}是{city}一名{role}，他认为{topic}最难的地方在于长期坚持。",
    "为了推进{topic}，{city}{org}制定了为期{n}年的行动计划，并公开征求意见。",
    "记者在{city}走访时看到，{thing}周边的环境比过去整洁了许多。",
    "专家指出，{topic}不能只看短期数字，更要关注普通人的真实感受。",
    "{city}计划在年底前再建设{n}处{thing}，覆盖主要街道和大型社区。",
    "在{person}看来，做好{topic}需要政府、企业和居民共同参与。",
    "去年{city}{org}共受理相关咨询{n}万件，其中大部分与{topic}有关。",
    "不少市民表示，希望{thing}的开放时间能够再延长一些。",
    "{city}的做法引起了{city2}等地的关注，多个考察团前来学习经验。",
    "按照规划，{thing}将采用分期建设的方式，第一期工程预计{m}月完工。",
    "{person}介绍说，{org}会定期公布{topic}的进展情况，接受社会监督。",
    "从调查结果看，超过{n}成的受访者对{topic}的成效表示满意。",
    "一位{role}告诉记者，自从有了{thing}，孩子们放学后多了一个好去处。",
    "{city}还将{topic}纳入年度考核，对落实不力的单位进行通报。",
    "业内人士认为，{topic}的下一步重点是提高服务质量，而不是单纯扩大规模。",
    "为解决资金问题，{city}尝试引入社会资本参与{thing}的运营和维护。",
    "这项工作起步于{y}年，经过几年的探索，已经形成了一套比较成熟的办法。",
    "{org}提醒市民，如发现{thing}设施损坏，可以通过热线电话及时反映。",
    "数据显示，{city}的{topic}指标在全省排名第{n}位，位于前列。",
    "{person}说，接下来要把更多精力放在{topic}的细节上，让服务更贴心。",
    "{city2}的一位{role}也表示，类似的经验值得在更多地方推广。",
    "随着{thing}陆续投入使用，周边商户的客流量也有所增加。",
    "今年夏天，{city}组织了多场关于{topic}的讲座，吸引了大批市民参加。",
    "有网友在留言中建议，{thing}的标识应当更加清楚醒目。",
    "面对新的情况，{org}表示将及时调整{topic}的相关政策。",
    "在{city}的一些老街区，{thing}的建设受到场地限制，推进得比较缓慢。",
    "{person}回忆说，刚开始推动{topic}时，很多人并不理解。",
    "目前，{city}已有{n}个街道完成了{topic}的试点任务。",
]

EN_CITIES = "Portland Leeds Auckland Calgary Adelaide Dublin Halifax Tucson Bristol Boise Perth Omaha Raleigh Spokane Cardiff Tampa Hamilton Madison Reno Savannah Dayton Akron Fresno Lansing Ottawa Brighton Norwich Geelong Durham Eugene".split()
EN_ORGS = ["city council", "school board", "transit agency", "public library", "county health office",
           "parks department", "water utility", "chamber of commerce", "housing authority", "fire department",
           "university", "food bank", "planning office", "museum trust", "port authority"]
EN_TOPICS = ["bus rapid transit", "flood defences", "school lunches", "affordable housing", "urban trees",
             "bike lanes", "recycling rates", "broadband access", "youth sports", "street lighting",
             "library hours", "small business grants", "river cleanup", "night markets", "heat pumps",
             "rural clinics", "coastal erosion", "community gardens", "apprenticeships", "noise limits",
             "wildfire planning", "solar rooftops", "traffic calming", "public pools", "senior services"]
EN_THINGS = ["pedestrian bridge", "tool library", "repair cafe", "cooling centre", "skate park", "seed bank",
             "bus shelter", "rain garden", "maker space", "charging hub", "reading room", "bike depot",
             "farm stand", "climbing wall", "sound barrier", "pocket park", "water fountain", "ferry dock"]
EN_PEOPLE = ["Maria Lopez", "James Okafor", "Priya Nair", "Tom Becker", "Aisha Khan", "Daniel Kim",
             "Sofia Rossi", "Liam Walsh", "Hannah Cohen", "Kwame Mensah", "Elena Petrova", "Noah Turner",
             "Grace Liu", "Omar Haddad", "Chloe Martin", "Ben Fraser", "Ines Duarte", "Ravi Shah"]
EN_ROLES = ["teacher", "bus driver", "nurse", "shop owner", "retired engineer", "student", "volunteer",
            "farmer", "librarian", "plumber", "council member", "architect"]
EN_ADJ = ["steadily", "sharply", "slightly", "quietly", "quickly", "gradually", "unexpectedly"]

EN_TEMPLATES = [
    "The {org} in {city} reported that spending on {topic} rose {adj} to {n} million dollars this year.",
    "A new {thing} opened in {city} in {month}, and neighbours say it has already changed their routines.",
    "{person}, a {role} from {city}, argues that {topic} only works when people can see the results.",
    "Officials in {city} published a {n}-year plan for {topic} and asked residents for comments by {month}.",
    "Walking past the {thing} on a weekday morning, you notice how many families now use it.",
    "Experts caution that {topic} should be judged by everyday experience, not only by headline figures.",
    "The {org} plans to add {n} more sites like the {thing} before the end of the year.",
    "According to {person}, the hardest part of {topic} is keeping volunteers involved after the first season.",
    "Last year the {org} handled {n} thousand requests, most of them about {topic}.",
    "Several residents asked for the {thing} to stay open later during the summer months.",
    "Planners from {city2} visited {city} to study how the {thing} was funded and maintained.",
    "Construction will happen in phases, with the first section of the {thing} expected in {month}.",
    "{person} said the {org} will publish progress on {topic} every quarter so people can hold it to account.",
    "In a survey of {n} hundred households, most respondents said {topic} had improved since {y}.",
    "One {role} told us that children now have somewhere safe to go after school thanks to the {thing}.",
    "The council in {city} has made {topic} part of its annual review of every department.",
    "Industry observers think the next step for {topic} is better service rather than simply more capacity.",
    "To close a funding gap, {city} invited local businesses to help run the {thing}.",
    "The programme began in {y}, and after a few years of trial and error it has settled into a routine.",
    "The {org} reminds residents to report damage to the {thing} through the city's service line.",
    "Figures released on Tuesday put {city} at number {n} in the region for {topic}.",
    "{person} admitted that early attempts at {topic} in {city} were met with suspicion.",
    "A {role} from {city2} said the same approach could work in smaller towns as well.",
    "Shops near the {thing} have reported more foot traffic since it opened.",
    "This summer the {org} ran a series of evening talks on {topic} that drew large crowds.",
    "Some commenters online suggested that the signs pointing to the {thing} should be easier to read.",
    "Facing rising costs, the {org} said it would review its policy on {topic} in {month}.",
    "In the older neighbourhoods of {city}, space is tight, so the {thing} has taken longer to build.",
    "Only {n} districts have finished the pilot stage of {topic} so far.",
    "Nobody expected the {thing} to become the most photographed spot in {city}, but it did.",
]
MONTHS = "January February March April May June July August September October November December".split()

# Other languages: short templates with pools, enough to give each document its own wording.
OTHER = {
    "ja": {
        "pools": {"a": "東京 大阪 京都 札幌 福岡 名古屋 神戸 仙台 広島 横浜 金沢 那覇".split(),
                  "b": "図書館 公園 駅前広場 商店街 美術館 市民病院 小学校 港 温泉街 農園".split(),
                  "c": "子どもたち 高齢者 観光客 学生 地元の人々 研究者 店主 旅行者".split()},
        "t": ["{a}の{b}は、毎朝たくさんの{c}でにぎわっています。", "{a}では新しい{b}の計画が発表されました。",
              "{c}にとって、{b}は大切な場所になっています。", "昨年、{a}の{b}を訪れた{c}は大きく増えました。",
              "専門家によると、{b}の役割はこれからさらに重要になるそうです。", "{a}の{c}は、{b}の改修に期待を寄せています。",
              "週末になると、{b}の周りには屋台が並びます。", "{a}市は{b}の開館時間を延長することを決めました。",
              "雨の日でも、{c}は{b}に集まって話をしています。", "{b}の近くに住む{c}は、静かな環境を喜んでいます。"]},
    "ko": {
        "pools": {"a": "서울 부산 대구 인천 광주 대전 울산 수원 전주 제주 춘천 강릉".split(),
                  "b": "도서관 공원 시장 미술관 병원 학교 항구 기차역 체육관 박물관".split(),
                  "c": "아이들 노인들 관광객 학생들 주민들 상인들 연구자들 여행자들".split()},
        "t": ["{a}의 {b}은 아침마다 많은 {c}로 붐빕니다.", "{a}시는 새로운 {b} 건설 계획을 발표했습니다.",
              "{c}에게 {b}은 매우 중요한 장소가 되었습니다.", "지난해 {a}의 {b}을 찾은 {c}이 크게 늘었습니다.",
              "전문가들은 {b}의 역할이 앞으로 더 커질 것이라고 말합니다.", "주말이 되면 {b} 주변에 작은 장터가 열립니다.",
              "{a}의 {c}은 {b}의 개선 공사에 기대를 걸고 있습니다.", "비가 오는 날에도 {c}은 {b}에 모여 이야기를 나눕니다.",
              "{a}시는 {b}의 운영 시간을 늘리기로 결정했습니다.", "{b} 근처에 사는 {c}은 조용한 환경을 좋아합니다."]},
    "ru": {
        "pools": {"a": "Москве Казани Новосибирске Самаре Омске Перми Твери Туле Уфе Томске Иркутске Ярославле".split(),
                  "b": "библиотека парк рынок музей больница школа набережная станция стадион галерея".split(),
                  "c": "дети пенсионеры туристы студенты жители торговцы учёные волонтёры".split()},
        "t": ["В {a} новая {b} открылась в начале месяца.", "Местные {c} говорят, что {b} стала удобнее.",
              "Власти в {a} обещают отремонтировать {b} до конца года.", "По выходным {b} в {a} полна людей.",
              "Эксперты считают, что {b} должна работать дольше.", "Многие {c} в {a} приходят сюда каждый день.",
              "Прошлой зимой {b} в {a} закрывалась на ремонт.", "Теперь {c} могут бесплатно пользоваться услугами.",
              "Городской совет в {a} обсуждает новый бюджет.", "Иногда {c} устраивают здесь небольшие концерты."]},
    "fr": {
        "pools": {"a": "Lyon Nantes Lille Rennes Bordeaux Toulouse Nice Dijon Grenoble Reims Brest Metz".split(),
                  "b": ["la bibliothèque", "le parc", "le marché", "le musée", "la piscine", "la gare", "le port",
                        "le stade", "la médiathèque", "le jardin"],
                  "c": ["les enfants", "les retraités", "les touristes", "les étudiants", "les habitants",
                        "les commerçants", "les chercheurs", "les bénévoles"]},
        "t": ["À {a}, {b} a rouvert ses portes après des mois de travaux.", "Selon la mairie de {a}, {c} y viennent plus souvent.",
              "Le week-end, {c} se retrouvent près de {b}.", "La ville de {a} veut prolonger les horaires de {b}.",
              "Des experts estiment que {b} joue un rôle essentiel pour {c}.", "L'hiver dernier, {b} de {a} était fermé au public.",
              "Beaucoup de familles de {a} apprécient ce nouveau lieu.", "Le conseil municipal discute encore du budget de {b}.",
              "Parfois, {c} organisent de petits concerts en plein air.", "Un nouveau projet pour {b} sera présenté en automne."]},
    "de": {
        "pools": {"a": "Leipzig Bremen Kassel Freiburg Mainz Rostock Erfurt Augsburg Bonn Kiel Ulm Trier".split(),
                  "b": ["die Bibliothek", "der Park", "der Markt", "das Museum", "das Schwimmbad", "der Bahnhof",
                        "der Hafen", "das Stadion", "die Galerie", "der Stadtgarten"],
                  "c": ["Kinder", "Rentner", "Touristen", "Studierende", "Anwohner", "Händler", "Forscher",
                        "Ehrenamtliche"]},
        "t": ["In {a} ist {b} nach langer Renovierung wieder geöffnet.", "Laut Stadtverwaltung von {a} kommen mehr {c} als früher.",
              "Am Wochenende treffen sich viele {c} in der Nähe.", "Die Stadt {a} will die Öffnungszeiten verlängern.",
              "Fachleute meinen, {b} sei für {c} besonders wichtig.", "Im letzten Winter war {b} in {a} geschlossen.",
              "Viele Familien aus {a} schätzen den neuen Ort sehr.", "Der Stadtrat berät noch über das Budget.",
              "Manchmal veranstalten {c} dort kleine Konzerte.", "Ein neues Konzept soll im Herbst vorgestellt werden."]},
    "es": {
        "pools": {"a": "Valencia Sevilla Bilbao Málaga Granada Zaragoza Murcia Oviedo Cádiz Toledo Vigo Burgos".split(),
                  "b": ["la biblioteca", "el parque", "el mercado", "el museo", "la piscina", "la estación", "el puerto",
                        "el estadio", "la galería", "el jardín botánico"],
                  "c": ["los niños", "los jubilados", "los turistas", "los estudiantes", "los vecinos",
                        "los comerciantes", "los investigadores", "los voluntarios"]},
        "t": ["En {a}, {b} volvió a abrir tras meses de obras.", "Según el ayuntamiento de {a}, {c} acuden con más frecuencia.",
              "Los fines de semana, {c} se reúnen cerca de {b}.", "La ciudad de {a} quiere ampliar el horario de {b}.",
              "Los expertos creen que {b} es fundamental para {c}.", "El invierno pasado, {b} de {a} estuvo cerrado.",
              "Muchas familias de {a} valoran mucho este nuevo espacio.", "El pleno municipal todavía debate el presupuesto.",
              "A veces {c} organizan pequeños conciertos al aire libre.", "Un nuevo proyecto se presentará en otoño."]},
    "ar": {
        "pools": {"a": "القاهرة عمان بيروت تونس الرباط الدوحة مسقط جدة دبي الكويت الجزائر بغداد".split(),
                  "b": ["المكتبة", "الحديقة", "السوق", "المتحف", "المستشفى", "المدرسة", "الميناء", "الملعب",
                        "المحطة", "المركز الثقافي"],
                  "c": ["الأطفال", "المتقاعدون", "السياح", "الطلاب", "السكان", "التجار", "الباحثون", "المتطوعون"]},
        "t": ["في {a} أعيد افتتاح {b} بعد أشهر من الأعمال.", "يقول {c} في {a} إن {b} أصبحت أفضل من قبل.",
              "في نهاية الأسبوع يجتمع {c} قرب {b}.", "قررت بلدية {a} تمديد ساعات عمل {b}.",
              "يرى الخبراء أن {b} مهمة جدا بالنسبة إلى {c}.", "في الشتاء الماضي أغلقت {b} في {a} للصيانة.",
              "تقدر عائلات كثيرة في {a} هذا المكان الجديد.", "ما زال المجلس البلدي يناقش الميزانية.",
              "أحيانا ينظم {c} حفلات صغيرة في الهواء الطلق.", "سيعرض مشروع جديد في فصل الخريف."]},
}

SITES_BOILERPLATE = {
    "news.hualian.example": ["首页 | 新闻 | 财经 | 科技 | 体育 | 娱乐 | 汽车 | 房产",
                             "本站所有内容未经许可不得转载，违者必究。",
                             "联系我们 | 广告服务 | 隐私政策 | 网站地图",
                             "扫码关注官方公众号，获取更多本地资讯"],
    "www.dailyharbor.example": ["Home | World | Business | Tech | Sport | Culture | Opinion",
                                "We use cookies to improve your experience. By continuing you accept our cookie policy.",
                                "Subscribe to our newsletter for the latest local stories.",
                                "© Daily Harbor Media. All rights reserved. Terms | Privacy | Contact"],
}
NEAR_DUP_FOOTERS = {"zh": "本文转载自网络，如有侵权请联系删除。", "en": "This article first appeared on a partner site and is republished with permission."}

ZH_SPAM = ["加微信{w}领取优惠券", "月入过万不是梦", "正品保障，假一赔十", "全网最低价，手慢无", "点击链接立即下单",
           "免费领取试用装", "专业代开发票", "无抵押快速放款", "包邮到家，七天无理由退货", "扫码进群领红包",
           "网赚项目日结", "高仿名表批发", "减肥神药一周瘦十斤", "澳门线上娱乐城注册送彩金", "代写论文包过"]
EN_SPAM = ["BUY NOW and save {w}%", "cheap pills online no prescription", "click here to claim your prize",
           "best casino bonus today", "work from home and earn fast", "limited offer act now",
           "free shipping on all replica watches", "instant payday loans approved", "lose weight in days guaranteed",
           "hot singles in your area", "crypto doubling scheme join today", "100% free gift card",
           "miracle supplement doctors hate", "unlock premium followers instantly", "win an iPhone survey"]


def pick(rng: random.Random, pool: list[str]) -> str:
    return pool[rng.randrange(len(pool))]


def deck(rng: random.Random, pool: list[str]):
    """Templates in a shuffled order, each once before any repeats: a document does not say the
    same kind of sentence twice, as real prose does not."""
    while True:
        order = list(pool)
        rng.shuffle(order)
        yield from order


def zh_sentence(rng: random.Random, template: str | None = None) -> str:
    city, city2 = rng.sample(ZH_CITIES, 2)
    return (template or pick(rng, ZH_TEMPLATES)).format(
        city=city, city2=city2, org=pick(rng, ZH_ORGS), topic=pick(rng, ZH_TOPICS), thing=pick(rng, ZH_THINGS),
        person=pick(rng, ZH_PEOPLE), adj=pick(rng, ZH_ADJ), role=pick(rng, ZH_ROLES), n=rng.randint(2, 90),
        m=rng.randint(1, 12), y=rng.randint(2012, 2024))


def en_sentence(rng: random.Random, template: str | None = None) -> str:
    city, city2 = rng.sample(EN_CITIES, 2)
    return (template or pick(rng, EN_TEMPLATES)).format(
        city=city, city2=city2, org=pick(rng, EN_ORGS), topic=pick(rng, EN_TOPICS), thing=pick(rng, EN_THINGS),
        person=pick(rng, EN_PEOPLE), adj=pick(rng, EN_ADJ), role=pick(rng, EN_ROLES), n=rng.randint(2, 90),
        month=pick(rng, MONTHS), y=rng.randint(2012, 2024))


_PARAGRAPHS: set[str] = set()  # membership only; never iterated, so the output does not depend on hashing


def prose(rng: random.Random, lang: str, paragraphs: tuple[int, int], sentences: tuple[int, int]) -> str:
    make = zh_sentence if lang == "zh" else en_sentence
    joiner = "" if lang == "zh" else " "
    templates = deck(rng, ZH_TEMPLATES if lang == "zh" else EN_TEMPLATES)
    paras = []
    for _ in range(rng.randint(*paragraphs)):
        while True:  # a paragraph never recurs by chance: only planted duplicates and boilerplate repeat
            para = joiner.join(make(rng, next(templates)) for _ in range(rng.randint(*sentences)))
            if para not in _PARAGRAPHS:
                _PARAGRAPHS.add(para)
                break
        paras.append(para)
    return "\n".join(paras)


def other_lang_doc(rng: random.Random, lang: str) -> str:
    spec = OTHER[lang]
    joiner = "" if lang == "ja" else " "
    paras = []
    templates = deck(rng, spec["t"])
    for _ in range(rng.randint(2, 3)):
        sents = [next(templates).format(**{k: pick(rng, v) for k, v in spec["pools"].items()})
                 for _ in range(3)]
        paras.append(joiner.join(sents))
    return "\n".join(paras)


# --- code and math ------------------------------------------------------------------------------

PY_FUNCS = {
    "rolling_mean": ["def rolling_mean(values, window):", "    total, out = 0.0, []",
                     "    for i, v in enumerate(values):", "        total += v",
                     "        if i >= window:", "            total -= values[i - window]",
                     "        out.append(total / min(i + 1, window))", "    return out"],
    "top_k_words": ["from collections import Counter", "", "def top_k_words(text, k):",
                    "    counts = Counter(word.lower() for word in text.split() if word.isalpha())",
                    "    return [word for word, _ in counts.most_common(k)]"],
    "flatten_dict": ["def flatten_dict(tree, prefix=''):", "    flat = {}", "    for key, value in tree.items():",
                     "        path = f'{prefix}.{key}' if prefix else key", "        if isinstance(value, dict):",
                     "            flat.update(flatten_dict(value, path))", "        else:",
                     "            flat[path] = value", "    return flat"],
    "retry_call": ["import time", "", "def retry_call(fn, attempts=3, delay=0.5):", "    last_error = None",
                   "    for attempt in range(attempts):", "        try:", "            return fn()",
                   "        except OSError as error:", "            last_error = error",
                   "            time.sleep(delay * 2 ** attempt)", "    raise last_error"],
    "chunk_list": ["def chunk_list(items, size):", "    if size <= 0:",
                   "        raise ValueError('size must be positive')",
                   "    return [items[i:i + size] for i in range(0, len(items), size)]"],
    "group_by_key": ["from collections import defaultdict", "", "def group_by_key(pairs):",
                     "    groups = defaultdict(list)", "    for key, value in pairs:",
                     "        groups[key].append(value)", "    return dict(groups)"],
    "read_csv_rows": ["import csv", "", "def read_csv_rows(path):", "    with open(path, newline='') as handle:",
                      "        reader = csv.DictReader(handle)", "        return [row for row in reader if any(row.values())]"],
    "binary_gap": ["def binary_gap(n):", "    best = current = 0", "    seen_one = False", "    while n:",
                   "        if n & 1:", "            best = max(best, current) if seen_one else best",
                   "            seen_one, current = True, 0", "        else:", "            current += 1",
                   "        n >>= 1", "    return best"],
}
JS_FUNCS = {
    "debounce": ["export function debounce(fn, wait) {", "  let timer;", "  return (...args) => {",
                 "    clearTimeout(timer);", "    timer = setTimeout(() => fn(...args), wait);", "  };", "}"],
    "formatPrice": ["export const formatPrice = (cents, currency = 'EUR') =>",
                    "  new Intl.NumberFormat('de-DE', { style: 'currency', currency }).format(cents / 100);"],
    "parseQuery": ["export function parseQuery(search) {", "  return Object.fromEntries(",
                   "    search.replace(/^\\?/, '').split('&').filter(Boolean)",
                   "      .map(pair => pair.split('=').map(decodeURIComponent))", "  );", "}"],
    "groupBy": ["export function groupBy(list, keyOf) {", "  return list.reduce((acc, item) => {",
                "    (acc[keyOf(item)] ||= []).push(item);", "    return acc;", "  }, {});", "}"],
    "deepClone": ["export function deepClone(value) {", "  if (Array.isArray(value)) return value.map(deepClone);",
                  "  if (value && typeof value === 'object') {",
                  "    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepClone(v)]));",
                  "  }", "  return value;", "}"],
    "sleep": ["export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));", "",
              "async function demo() {", "  console.time('nap');", "  await sleep(250);", "  console.timeEnd('nap');",
              "}", "demo();"],
    "fetchJson": ["export async function fetchJson(url, retries = 2) {", "  const response = await fetch(url);",
                  "  if (!response.ok && retries > 0) return fetchJson(url, retries - 1);",
                  "  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);",
                  "  return response.json();", "}"],
    "toggleTheme": ["const button = document.querySelector('#theme');", "button.addEventListener('click', () => {",
                    "  document.body.classList.toggle('dark');",
                    "  localStorage.setItem('theme', document.body.className);", "});"],
}
CPP_FUNCS = {
    "binary_search": ["#include <vector>", "", "int binary_search(const std::vector<int>& a, int key) {",
                      "    int lo = 0, hi = static_cast<int>(a.size()) - 1;", "    while (lo <= hi) {",
                      "        int mid = lo + (hi - lo) / 2;", "        if (a[mid] == key) return mid;",
                      "        if (a[mid] < key) lo = mid + 1; else hi = mid - 1;", "    }", "    return -1;", "}"],
    "gcd": ["long long gcd(long long a, long long b) {", "    while (b != 0) {", "        long long r = a % b;",
            "        a = b;", "        b = r;", "    }", "    return a < 0 ? -a : a;", "}"],
    "is_prime": ["bool is_prime(unsigned n) {", "    if (n < 2) return false;",
                 "    for (unsigned d = 2; d * d <= n; ++d)", "        if (n % d == 0) return false;", "    return true;", "}"],
    "reverse_words": ["#include <sstream>", "#include <string>", "#include <vector>", "",
                      "std::string reverse_words(const std::string& line) {", "    std::istringstream in(line);",
                      "    std::vector<std::string> words;", "    for (std::string w; in >> w;) words.push_back(w);",
                      "    std::string out;", "    for (auto it = words.rbegin(); it != words.rend(); ++it)",
                      "        out += (out.empty() ? \"\" : \" \") + *it;", "    return out;", "}"],
    "max_subarray": ["#include <algorithm>", "#include <vector>", "",
                     "long max_subarray(const std::vector<long>& xs) {", "    long best = xs.at(0), here = 0;",
                     "    for (long x : xs) {", "        here = std::max(x, here + x);",
                     "        best = std::max(best, here);", "    }", "    return best;", "}"],
    "transpose": ["#include <vector>", "using Matrix = std::vector<std::vector<double>>;", "",
                  "Matrix transpose(const Matrix& m) {", "    Matrix t(m[0].size(), std::vector<double>(m.size()));",
                  "    for (size_t r = 0; r < m.size(); ++r)", "        for (size_t c = 0; c < m[r].size(); ++c)",
                  "            t[c][r] = m[r][c];", "    return t;", "}"],
    "histogram": ["#include <map>", "#include <string>", "",
                  "std::map<char, int> histogram(const std::string& s) {", "    std::map<char, int> counts;",
                  "    for (char ch : s) ++counts[ch];", "    return counts;", "}"],
    "stack_class": ["#include <stdexcept>", "#include <vector>", "", "template <typename T>", "class Stack {",
                    " public:", "    void push(const T& v) { data_.push_back(v); }",
                    "    T pop() {", "        if (data_.empty()) throw std::runtime_error(\"empty stack\");",
                    "        T v = data_.back();", "        data_.pop_back();", "        return v;", "    }",
                    " private:", "    std::vector<T> data_;", "};"],
}


def code_doc(rng: random.Random, lang: str, name: str, body: list[str]) -> str:
    comment = {"py": "#", "js": "//", "cpp": "//"}[lang]
    header = f"{comment} {name} ({pick(rng, ['utils', 'helpers', 'common', 'core', 'lib'])} module, rev {rng.randint(2, 40)})"
    return "\n".join([header, *body])


ZH_PROBLEMS = [
    "应用题：{p}有{a}个苹果，又买了{b}盒，每盒{c}个。请问现在一共有多少个苹果？\n解：{b} × {c} + {a} = 结果。",
    "一列火车每小时行驶{a}千米，{p}乘坐这列火车走了{b}小时，中途停车{c}分钟。问火车一共行驶了多远？\n解：路程等于速度乘以行驶时间。",
    "学校图书馆原有图书若干册，借出{a}册后还剩{b}册，后来又购进{c}册新书。现在图书馆有多少册书？\n分析：先求原有的数量，再加上新书。",
    "一块长方形菜地长{a}米，宽{b}米，{p}在四周围上篱笆，每米篱笆{c}元。围篱笆需要花多少钱？\n提示：先算周长。",
    "{p}把{a}张邮票平均分给{b}个同学，每人分到几张，还剩几张？如果再买{c}张，能否正好分完？",
    "某商店打{a}折促销，一件衣服原价{b}元，{p}用了一张满减{c}元的优惠券，实际付款多少元？",
]
EN_PROBLEMS = [
    "Word problem: {p} has {a} apples and buys {b} boxes with {c} apples each. How many apples are there now?\nSolution: multiply the boxes by the apples per box, then add the first ones.",
    "A train travels at {a} km per hour for {b} hours and then waits {c} minutes at a station. How far has it gone?\nHint: waiting time adds no distance.",
    "A library lends out {a} books and has {b} left on its shelves. It then receives {c} donated books. What does it hold now?",
    "{p} fences a rectangular garden that is {a} metres long and {b} metres wide; fencing costs {c} dollars per metre. Find the total cost.",
    "If {a} workers can paint a hall in {b} days, how long would {c} workers need, assuming they all work at the same rate?",
    "A shop marks a jacket down by {a} percent from {b} dollars, and {p} also redeems a {c} dollar voucher. What is the final price?",
]


MATH_OPENERS = ["We now work through", "Consider", "In this note we derive", "Recall", "The exercise asks for",
                "Let us revisit", "A standard homework problem is", "Students often struggle with"]
MATH_CLOSERS = ["This completes the derivation.", "Checking a numerical example confirms the answer.",
                "The same idea extends to higher dimensions.", "Note how the boundary terms cancel.",
                "A sketch of the graph makes the behaviour obvious.", "We leave the general case as an exercise.",
                "Symmetry would have given the same result faster.", "Dimensional analysis is a quick sanity check.",
                "Try the edge cases before trusting the formula.", "The bound is tight, as the extremal case shows.",
                "Compare this with the discrete version of the argument.", "Uniqueness follows from convexity."]
MATH_TOPICS = [
    ("quadratic", "the roots of ${a}{v}^2 + {b}{v} - {c} = 0$ via the quadratic formula",
     "${v} = \\frac{{-{b} \\pm \\sqrt{{{b}^2 + 4 \\cdot {a} \\cdot {c}}}}}{{2 \\cdot {a}}}$, and the discriminant is positive"),
    ("derivative", "the derivative of $f({v}) = {v}^{a} \\sin({b}{v})$ with the product rule",
     "$f'({v}) = {a}{v}^{{{a}-1}} \\sin({b}{v}) + {b}{v}^{a} \\cos({b}{v})$"),
    ("integral", "the integral $\\int_0^1 {v} e^{{{a}{v}}} \\, d{v}$ by parts",
     "$\\int_0^1 {v} e^{{{a}{v}}} d{v} = \\left[ \\frac{{{v} e^{{{a}{v}}}}}{{{a}}} \\right]_0^1 - \\frac{{1}}{{{a}}} \\int_0^1 e^{{{a}{v}}} d{v}$"),
    ("series", "the sum of the geometric series $\\sum_{{k=0}}^\\infty r^k$ with $r = 1/{a}$",
     "$S = \\frac{{1}}{{1 - r}}$ because the partial sums telescope once multiplied by $(1 - r)$"),
    ("matrix", "the determinant of a $2 \\times 2$ matrix with entries {a}, {b}, {c}, {a}",
     "$\\det A = {a} \\cdot {a} - {b} \\cdot {c}$, and $A$ is invertible exactly when this is nonzero"),
    ("probability", "the probability of at least one six in {a} rolls of a fair die",
     "$P = 1 - (5/6)^{a}$ by taking the complement of the event that no roll shows a six"),
    ("limit", "the limit $\\lim_{{{v} \\to 0}} \\frac{{\\sin({a}{v})}}{{{b}{v}}}$",
     "the value ${a}/{b}$ after substituting $y = {a}{v}$ and using the standard limit of $\\sin y / y$"),
    ("induction", "the identity $1 + 2 + \\dots + n = n(n+1)/2$ by induction",
     "the step $n \\to n+1$ adds $n+1$ to both sides, and the algebra closes the induction"),
    ("eigen", "the eigenvalues of the matrix $\\begin{{pmatrix}} {a} & {b} \\\\ {b} & {a} \\end{{pmatrix}}$",
     "the characteristic polynomial $(\\lambda - {a})^2 - {b}^2$, whose roots are ${a} \\pm {b}$"),
    ("inequality", "the AM-GM inequality for two positive numbers {v} and y",
     "$({v} + y)/2 \\ge \\sqrt{{{v} y}}$ since $(\\sqrt{{{v}}} - \\sqrt{{y}})^2 \\ge 0$"),
    ("recurrence", "a closed form for the recurrence $a_n = {a} a_{{n-1}} + {b}$",
     "$a_n = {a}^n a_0 + {b} \\frac{{{a}^n - 1}}{{{a} - 1}}$, verified by substitution"),
    ("optimisation", "the rectangle of largest area with perimeter {c}",
     "a square of side {c}/4, found by setting the derivative of ${v}({c}/2 - {v})$ to zero"),
]


def latex_doc(rng: random.Random, topic: tuple[str, str, str], closer: str) -> str:
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
    v = pick(rng, ["x", "t", "u", "s", "z"])
    _, task, result = topic
    return "\n".join([f"{pick(rng, MATH_OPENERS)} {task.format(a=a, b=b, c=c, v=v)}.",
                      f"The key step gives {result.format(a=a, b=b, c=c, v=v)}.",
                      closer])


# --- edits for near-duplicates ------------------------------------------------------------------


def substitute(rng: random.Random, text: str, lang: str, rate: float) -> str:
    if lang == "zh":
        chars = list(text)
        idx = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
        for i in rng.sample(idx, max(1, int(len(idx) * rate))):
            chars[i] = pick(rng, list("的了是在有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经"))
        return "".join(chars)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = pick(rng, ["local", "new", "small", "public", "recent", "main", "several", "other"])
    return " ".join(words)


def near_variant(rng: random.Random, text: str, lang: str, edit: str) -> str:
    paras = text.split("\n")
    if edit == "substitution":
        return substitute(rng, text, lang, 0.005 if lang == "zh" else 0.015)
    if edit == "boilerplate":
        return text + "\n" + NEAR_DUP_FOOTERS[lang]
    if edit == "reorder":
        i, j = rng.sample(range(len(paras)), 2)
        paras[i], paras[j] = paras[j], paras[i]
        return "\n".join(paras)
    if edit == "sentence_added":
        i = rng.randrange(len(paras))
        extra = zh_sentence(rng) if lang == "zh" else en_sentence(rng)
        paras[i] = paras[i] + ("" if lang == "zh" else " ") + extra
        return "\n".join(paras)
    raise ValueError(edit)


# --- the corpus ---------------------------------------------------------------------------------


class Corpus:
    def __init__(self) -> None:
        self.files: dict[str, list[dict]] = {}
        self.labels: dict[str, dict] = {}
        self.clusters: list[dict] = []

    def add(self, file: str, doc_id: str, text: str, url: str, source: str, lang: str, quality: str,
            domain: str) -> None:
        self.files.setdefault(file, []).append({"id": doc_id, "text": text, "url": url, "source": source})
        self.labels[doc_id] = {"lang": lang, "quality": quality, "domain": domain, "file": f"raw/{file}"}


def build(rng: random.Random) -> Corpus:
    c = Corpus()
    counter = {"n": 0}

    def new_id(prefix: str) -> str:
        counter["n"] += 1
        return f"{prefix}-{counter['n']:05d}"

    for lang, file, n_docs in (("zh", "web-zh.jsonl", 520), ("en", "web-en.jsonl", 460)):
        domains = ["news", "encyclopedia", "howto"]
        originals = []
        for _ in range(n_docs):
            doc_id = new_id(f"{lang}-web")
            text = prose(rng, lang, (3, 6), (2, 4))
            dom = pick(rng, domains)
            c.add(file, doc_id, text, f"https://{pick(rng, ['daily', 'metro', 'city', 'wiki', 'guide'])}"
                  f"{rng.randint(1, 40)}.example/{lang}/{doc_id}", "crawl", lang, "good", dom)
            originals.append((doc_id, text, dom))
        # formatting noise for the clean stage: CRLF, zero-width spaces, runs of spaces, a BOM-like mark
        for doc in c.files[file][-10:]:
            doc["text"] = doc["text"].replace("\n", "\r\n", 2).replace("，" if lang == "zh" else ", ", "\u200b  ", 3)
            c.labels[doc["id"]]["noise"] = True
        # exact duplicates: 15 clusters of 2-5 copies
        for k in range(15):
            orig_id, text, dom = originals[k]
            members = [orig_id]
            for _ in range(rng.randint(1, 4)):
                dup = new_id(f"{lang}-dup")
                c.add(file, dup, text, f"https://mirror{rng.randint(1, 9)}.example/{dup}", "crawl", lang, "good", dom)
                members.append(dup)
            c.clusters.append({"kind": "exact", "lang": lang, "original": orig_id, "members": members, "edits": []})
        # near duplicates: 20 clusters of 2-4 members with one or two light edits each
        for k in range(15, 35):
            orig_id, text, dom = originals[k]
            members, edits = [orig_id], []
            for _ in range(rng.randint(1, 3)):
                while True:  # light edits only: keep shingle Jaccard with the original >= MIN_NEAR_JACCARD
                    kinds = rng.sample(["substitution", "boilerplate", "reorder", "sentence_added"], rng.randint(1, 2))
                    variant = text
                    for e in kinds:
                        variant = near_variant(rng, variant, lang, e)
                    seen = [text] + [d["text"] for d in c.files[file] if d["id"] in members]
                    if variant not in seen and jaccard(variant, text) >= MIN_NEAR_JACCARD:
                        break
                dup = new_id(f"{lang}-near")
                c.add(file, dup, variant, f"https://repost{rng.randint(1, 9)}.example/{dup}", "crawl", lang, "good", dom)
                members.append(dup)
                edits.extend(e for e in kinds if e not in edits)
            c.clusters.append({"kind": "near", "lang": lang, "original": orig_id, "members": members, "edits": edits})
        # spam and ads
        spam = ZH_SPAM if lang == "zh" else EN_SPAM
        for _ in range(15):
            lines = []
            for _ in range(rng.randint(4, 9)):
                phrases = rng.sample(spam, rng.randint(2, 4))
                sep = "！" if lang == "zh" else "!!! "
                lines.append(sep.join(p.format(w=rng.randint(10, 99)) for p in phrases) + sep.strip())
            doc_id = new_id(f"{lang}-spam")
            c.add(file, doc_id, "\n".join(lines), f"https://deal{rng.randint(100, 999)}.example/{doc_id}", "crawl",
                  lang, "spam", "ads")
        # machine-like repetition: one sentence (or a listing row) repeated
        for k in range(6):
            s = zh_sentence(rng) if lang == "zh" else en_sentence(rng)
            doc_id = new_id(f"{lang}-rep")
            if k % 2:
                text = "\n".join(f"{s[:12]} {i + 1}" for i in range(rng.randint(30, 60)))
            else:
                text = (("" if lang == "zh" else " ").join([s] * rng.randint(20, 40)))
            c.add(file, doc_id, text, f"https://auto{k}.example/{doc_id}", "crawl", lang, "repetitive", "web")

    # boilerplate-heavy pages: each site repeats its navigation and footer on every page
    for site, lines in SITES_BOILERPLATE.items():
        lang = "zh" if site.startswith("news.hualian") else "en"
        file = "web-zh.jsonl" if lang == "zh" else "web-en.jsonl"
        for _ in range(12):
            body = prose(rng, lang, (4, 7), (3, 5))
            text = "\n".join([lines[0], body, lines[2], lines[1], lines[3]])
            doc_id = new_id(f"{lang}-site")
            c.add(file, doc_id, text, f"https://{site}/article/{doc_id}", "crawl", lang, "boilerplate", "news")

    for lang in ("ja", "ko", "ru", "fr", "de", "es", "ar"):
        for _ in range(20):
            doc_id = new_id(f"{lang}-web")
            c.add("web-multi.jsonl", doc_id, other_lang_doc(rng, lang), f"https://{lang}-site{rng.randint(1, 20)}.example/{doc_id}",
                  "crawl", lang, "good", "news")

    for lang, funcs in (("py", PY_FUNCS), ("js", JS_FUNCS), ("cpp", CPP_FUNCS)):
        for name, body in funcs.items():
            doc_id = new_id(f"code-{lang}")
            c.add("code-math.jsonl", doc_id, code_doc(rng, lang, name, body), f"https://git.example/{lang}/{name}.{lang}",
                  "code", "en", "good", "code")
    for topic, closer in zip(MATH_TOPICS, rng.sample(MATH_CLOSERS, len(MATH_TOPICS))):
        doc_id = new_id("math-tex")
        c.add("code-math.jsonl", doc_id, latex_doc(rng, topic, closer), f"https://notes.example/{doc_id}", "papers", "en", "good", "math")
    for lang, problems, people in (("zh", ZH_PROBLEMS, ZH_PEOPLE), ("en", EN_PROBLEMS, EN_PEOPLE)):
        for template in problems:
            doc_id = new_id(f"math-{lang}")
            text = template.format(p=pick(rng, people), a=rng.randint(3, 40), b=rng.randint(2, 15), c=rng.randint(2, 9))
            c.add("code-math.jsonl", doc_id, text, f"https://edu.example/{doc_id}", "edu", lang, "good", "math")
    shorts = [("zh", "你好"), ("zh", "谢谢"), ("zh", "点击这里"), ("zh", "第一页"), ("zh", "暂无评论"), ("en", "Hello"),
              ("en", "Read more"), ("en", "Page 2 of 9"), ("en", "Thanks!"), ("en", "No comments yet"), ("en", "OK"),
              ("ja", "ありがとう")]
    for lang, text in shorts:
        doc_id = new_id(f"{lang}-short")
        c.add("web-multi.jsonl", doc_id, text, f"https://short.example/{doc_id}", "crawl", lang, "short", "web")

    # one very long document (~1 MB): a long zh report
    doc_id = new_id("zh-long")
    long_text = "\n".join(prose(rng, "zh", (1, 1), (4, 6)) for _ in range(2600))
    c.add("web-zh.jsonl", doc_id, long_text, f"https://report.example/{doc_id}", "crawl", "zh", "long", "encyclopedia")

    for i, cl in enumerate(c.clusters, start=1):
        cl["cluster"] = f"c{i:04d}"
    return c


# Synthetic unsafe pages for the safety stage (gambling and porn ads, extremist slogans; short,
# non-graphic, each saying it is test text). Written after the generated files, in this order, and
# without the random generator, so adding them changed no other file.
UNSAFE = [
    ('unsafe-zh-gambling-01', 'zh', 'https://unsafe-00.example.invalid/unsafe-zh-gambling-01',
     '【澳门线上娱乐城】新会员注册送彩金888元！百家乐、龙虎斗、真人荷官二十四小时在线。\n首存100送100，提款秒到，大额无忧，每日返水1.5%无上限。\n时时彩、北京赛车、幸运飞艇全天开奖，稳赚不赔的在线投注平台，开户送38元！\n娱乐城客服在线，注册送彩金活动限时进行中。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-zh-gambling-02', 'zh', 'https://unsafe-01.example.invalid/unsafe-zh-gambling-02',
     '澳門線上娛樂城，註冊送彩金！百家樂真人荷官，首存即送，提款秒到。\n赌 球 外 围 投 注，足球投注首选，一码中特，特码天天开，必赢！\n真 人 视 讯 ２４小时开户送，娛 樂 城 开户送彩金，信誉赌场开户。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-zh-gambling-03', 'zh', 'https://unsafe-02.example.invalid/unsafe-zh-gambling-03',
     '六合彩开奖直播，一码中特，特码资料免费看！\n香港六合彩、重庆时时彩、北京赛车投注平台，老虎机、电子游艺、百家乐应有尽有。\n首充送豪礼，洗码返水天天结算，网上赌场稳赚不赔，下注平台注册送彩金。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-en-gambling-01', 'en', 'https://unsafe-03.example.invalid/unsafe-en-gambling-01',
     "BEST ONLINE CASINO 2025 - claim your bonus today!\n200 free spins, a no deposit bonus and a 100% match bonus for every new player. Instant withdrawals, fast payouts.\nPlay slots online and win real money: live casino, roulette, blackjack and baccarat. Free bets on every sportsbook market - bet now!\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-en-gambling-02', 'en', 'https://unsafe-04.example.invalid/unsafe-en-gambling-02',
     "C.A.S.I.N.O B.O.N.U.S for you!!! fr33 sp1ns at our crypt0 casin0, ｎｏ ｄｅｐｏｓｉｔ ｂｏｎｕｓ,\nb e t  n o w and w1n real m0ney. Online-slots, jackpot-slots, real money casino - place your bets, claim your bonus.\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-zh-porn-01', 'zh', 'https://unsafe-05.example.invalid/unsafe-zh-porn-01',
     '午夜福利！免费成人视频、成人电影在线看，日本av高清无码。\n同城约会，寂寞少妇在线裸聊，一夜情、约炮就来这里。\n激情视频、三级片、自拍偷拍每日更新，成人直播二十四小时不停。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-zh-porn-02', 'zh', 'https://unsafe-06.example.invalid/unsafe-zh-porn-02',
     '色 情 视 频 免 费 看！成*人*电*影、黃片、毛片合集。\n約炮、一夜情、援交、楼凤信息，同城約會找外围女。\n午 夜 福 利 ｜ 福利视频 ｜ 18禁 ｜ 激情聊天，av女优全集。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-en-porn-01', 'en', 'https://unsafe-07.example.invalid/unsafe-en-porn-01',
     "Free porn videos in HD! Watch xxx videos, sex videos and adult videos free.\nLive sex cams with hot camgirls, adult chat 24/7, nude pics and naked girls.\nHorny singles near you - hookup tonight. Hot milfs, webcam girls and free porn every day.\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-en-porn-02', 'en', 'https://unsafe-08.example.invalid/unsafe-en-porn-02',
     "p*o*r*n for free - ｐｏｒｎ ｖｉｄｅｏｓ every hour.\ns3x c4ms and l1ve s3x, n u d e p i c s, XXX-VIDEOS, h0t m1lfs.\nPоrn site with аdult chat (no signup), cam-girls and sex-chat. Hookup-tonight!\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-zh-violence-01', 'zh', 'https://unsafe-09.example.invalid/unsafe-zh-violence-01',
     '兄弟们，拿起武器，加入圣战！发动圣战，杀光异教徒！\n为圣战献身是最高的荣耀，殉道者万岁，光荣的殉道属于圣战士。\n叛徒必须死，敌人必须死，以血还血，血洗敌人的城市！\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-zh-violence-02', 'zh', 'https://unsafe-10.example.invalid/unsafe-zh-violence-02',
     '出售枪支，枪支弹药出售，自制枪支教程。\n自制炸药配方、土制炸弹、炸弹制作全套资料，暴恐音视频、斩首视频打包下载。\n制 作 炸 弹 教 程 更新，自 制 炸 药 配 方 免费领取。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
    ('unsafe-en-violence-01', 'en', 'https://unsafe-11.example.invalid/unsafe-en-violence-01',
     "Brothers, the hour has come: join the jihad and take up arms against the unbelievers.\nKill the infidels, death to the infidels! Glory to the martyrs; become a martyr in a martyrdom operation.\nSoldiers of the caliphate, pledge allegiance to the caliph and attack the infidels.\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-en-violence-02', 'en', 'https://unsafe-12.example.invalid/unsafe-en-violence-02',
     "RACE WAR NOW. Purify the nation, cleanse the land - traitors must die and our enemies will burn.\nDownload: how to make a bomb, pipe bomb instructions, homemade explosives, ghost gun kit.\nShoot them all. Kill them all. R4CE W4R N0W.\n(Synthetic text written to test dataprep's safety filter.)"),
    ('unsafe-mixed-gambling-01', 'zh', 'https://unsafe-13.example.invalid/unsafe-mixed-gambling-01',
     'Online Casino 线上赌场 | Free Spins 免费旋转 | 注册送彩金 | Bet Now 立即投注\n百家乐 baccarat、真人荷官 live casino、老虎机 online slots。\n首存即送 deposit bonus，提现秒到 instant withdrawals。\n（本文为 dataprep 安全过滤测试用的合成文本。）'),
]


# Pages that quote items of eval/sample_eval.jsonl (a forum post, homework help, a blog) with light
# edits, for the decontaminate stage; the item each one quotes is its label's `eval_item`. Written
# like UNSAFE: fixed text, no random draws.
# what the pages are (a blog post, a forum question, ...), not what they quote
QUOTE_DOMAINS = {"en-quote-01": "web", "en-quote-02": "math", "en-quote-03": "qa/forum",
                 "zh-quote-01": "qa/forum", "zh-quote-02": "web", "zh-quote-03": "qa/forum"}
CONTAMINATED = [
    ("en-quote-01", "en", "en-03", "history",
     "Notes from our towpath walk last Sunday.\n"
     "We started at the old basin and followed the water east for about six miles.\n"
     "The Orvelle canal was dug by hand between 1821 and 1834 to carry slate from the upland quarries to the "
     "river port at Dunmere. Its forty-two locks lift barges more than two hundred metres, and the keepers' "
     "cottages beside each lock were built from the same grey slate the canal was made to carry. When the "
     "railway reached Dunmere in 1869 the canal lost most of its trade within a decade.\n"
     "Lunch was at the lock cottage cafe, which opens at weekends from April."),
    ("en-quote-02", "en", "en-07", "homework",
     "Homework help thread, maths, year 9.\n"
     "Can someone check this one? A cyclist rides uphill at 12 kilometers per hour and returns along the same\n"
     "road at 20   kilometres per hour. What is her average speed for the whole round trip, in kilometres per hour?\n"
     "I got 16 but the book says otherwise."),
    ("en-quote-03", "en", "en-11", "forum",
     "Birdwatching forum: autumn passage questions.\n"
     "\uff37\uff48\uff59 \uff44\uff4f \uff4d\uff49\uff47\uff52\uff41\uff54\uff49\uff4e\uff47 "
     "\uff43\uff52\uff41\uff4e\uff45\uff53 \uff46\uff4c\uff59 \uff49\uff4e \uff41 "
     "\uff4c\uff4f\uff4f\uff53\uff45 \uff36 \uff46\uff4f\uff52\uff4d\uff41\uff54\uff49\uff4f\uff4e "
     "\uff52\uff41\uff54\uff48\uff45\uff52 \uff54\uff48\uff41\uff4e \uff53\uff49\uff44\uff45 "
     "\uff42\uff59 \uff53\uff49\uff44\uff45 \uff57\uff48\uff45\uff4e "
     "\uff43\uff52\uff4f\uff53\uff53\uff49\uff4e\uff47 \uff4f\uff50\uff45\uff4e "
     "\uff57\uff41\uff54\uff45\uff52 \uff44\uff55\uff52\uff49\uff4e\uff47 \uff54\uff48\uff45 "
     "\uff41\uff55\uff54\uff55\uff4d\uff4e \uff50\uff41\uff53\uff53\uff41\uff47\uff45\uff1f\n"
     "Someone on the reserve's board posted the question above in wide letters, so here it is again for "
     "anyone searching the forum. We counted more than four hundred cranes over the estuary on Tuesday "
     "morning, most of them in long loose lines heading south-west with the wind behind them.\n"
     "Answers welcome, photos even more so, and please add the date and place of any sighting."),
    ("zh-quote-01", "zh", "zh-02", "homework",
     "数学作业求助，谢谢大家。\n"
     "古代驿站每隔三十里设一站,信使骑马一天能跑五站。按照这个速度,从京都送信到相距六百里的州府需要几天?\n"
     "我算出来是四天，不知道对不对。"),
    ("zh-quote-02", "zh", "zh-09", "blog",
     "周末回老家，路过镇上的老街。\n"
     "老周在山脚下经营一间修表铺已经30多年。他有一个习惯， 每修好一块表， 都要在一个牛皮本子上记下表的牌子、毛病和主人的名字。"
     "本子一共写满了十一册，街坊们说，镇上差不多每户人家的名字都能在里面找到。\n"
     "铺子还开着，只是来修表的人越来越少了。"),
    ("zh-quote-03", "zh", "zh-14", "homework",
     "问：在一个装满水的量杯里放入一块石头，溢出的水是八十毫升，取出石头后再加满水需要多少毫升？为什么？\n"
     "答：需要八十毫升，因为石头的体积等于溢出的水的体积。"),
]


def write(out_dir: Path) -> None:
    rng = random.Random(SEED)
    _PARAGRAPHS.clear()
    corpus = build(rng)
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for file, docs in sorted(corpus.files.items()):
        order = list(range(len(docs)))
        rng.shuffle(order)  # duplicates are not next to their originals
        with open(raw / file, "w", encoding="utf-8", newline="\n") as f:
            for i in order:
                f.write(json.dumps(docs[i], ensure_ascii=False, sort_keys=True) + "\n")
    with open(raw / "unsafe.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for doc_id, lang, url, text in UNSAFE:
            f.write(json.dumps({"id": doc_id, "source": "crawl", "text": text, "url": url}, ensure_ascii=False,
                               sort_keys=True) + "\n")
            corpus.labels[doc_id] = {"lang": lang, "quality": "unsafe", "domain": "ads", "file": "raw/unsafe.jsonl"}
    with open(raw / "quotes.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for doc_id, lang, item, site, text in CONTAMINATED:
            f.write(json.dumps({"id": doc_id, "source": "crawl", "text": text,
                                "url": f"https://{site}.example/{doc_id}"}, ensure_ascii=False, sort_keys=True) + "\n")
            domain = QUOTE_DOMAINS[doc_id]
            corpus.labels[doc_id] = {"lang": lang, "quality": "contaminated", "domain": domain,
                                     "file": "raw/quotes.jsonl", "eval_item": item}
    boilerplate = {**SITES_BOILERPLATE, "republished-footer": sorted(NEAR_DUP_FOOTERS.values())}
    truth = {"duplicate_clusters": corpus.clusters, "boilerplate_lines": boilerplate, "docs": corpus.labels}
    (out_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, sort_keys=True, indent=1) + "\n",
                                        encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
