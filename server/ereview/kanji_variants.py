"""The kanji variant table (異体字表) e-review folds names and addresses with.

Each line of `TABLE` is one family of characters that resident registers and applicants use
for the same name character: the form we fold to first (usually the 新字体 of 常用漢字 /
人名用漢字), then the variants that fold to it. Sources, all public:

* 旧字体 ↔ 新字体: the old forms listed beside their new forms in the 常用漢字表 (2010) and
  the 人名用漢字 許容字体 (戸籍法施行規則 別表第二 二); only characters seen in names or
  place names are kept.
* Register-only forms that 住基 systems keep as 外字 or JIS X 0213 characters and applicants
  type with the common form: 髙 (はしごだか), 﨑 / 嵜 (たつさき), 邉 / 邊, 𠮷 (つちよし), 濵, ….
* Forms that are distinct characters in the standard but that applicants and clerks
  interchange in surnames, which SPEC section 6 asks us to match as variants: 齋 / 齊 / 斎 / 斉,
  嶋 / 嶌 / 島, 舘 / 館, 渕 / 淵, 冨 / 富, 桧 / 檜, 篭 / 籠.

A match through this table is reported as variant-matched (rule KANJI_VARIANT), never as an
exact match, so a reviewer always sees it.

Why not the `ja-itaiji` package (PyPI, MIT, 16,660 head characters): its coverage is broad, but
it mixes semantic and simplified-Chinese variants with errors (澤→途, 禮→豊, 祐→右, 圓→元,
斗→闘), is not transitive (斎 and 斉 are not linked), and the transitive closure of even its
mutual, JIS-encodable links joins unrelated common characters into components of up to 21
(広 with 岸 and 庵; 亜 with 聖). Folding names through it would merge different people. It is
used only as a cross-check in the tests (`tests/unit/test_normalize_variants.py`), which
reports how many of our pairs it knows.

Compatibility ideographs (U+F900–U+FAFF, U+2F800–U+2FA1F, e.g. 神 U+FA19) and ideographic
variation sequences (a base character followed by a selector U+E0100–U+E01EF) are folded by
code in `normalize.py`, not listed here.
"""

from __future__ import annotations

from functools import cache

# canonical form, then its variants; `#` starts a note.
TABLE = """
高 髙  # はしごだか
崎 﨑 嵜 碕  # たつさき and 山偏の崎
斎 齋 斉 齊 亝  # 斎藤 / 齋藤 / 斉藤 / 齊藤 are interchanged in applications
辺 邊 邉 邉  # 渡辺: 戸籍 keeps dozens of 邊/邉 glyphs, applicants write 辺
島 嶋 嶌
沢 澤
浜 濱 濵
吉 𠮷  # つちよし
広 廣
国 國
桜 櫻
実 實
恵 惠
徳 德
昇 曻
真 眞
浅 淺
関 關
万 萬
蔵 藏
竜 龍
瀬 瀨
槙 槇
富 冨
籠 篭
弥 彌
条 條
桧 檜
芦 蘆
館 舘
淵 渕
伝 傳
寿 壽
礼 禮
芸 藝
栄 榮
静 靜
県 縣
黒 黑
増 增
穂 穗
亜 亞
円 圓
恒 恆
凛 凜
柳 栁
桑 桒
晋 晉
豊 豐
旧 舊
挙 擧
弁 辯 瓣 辨
悪 惡
為 爲
応 應
奥 奧
横 橫
温 溫
価 價
壊 壞
懐 懷
楽 樂
巻 卷
寛 寬
気 氣
偽 僞
戯 戲
虚 虛
峡 峽
狭 狹
暁 曉
勲 勳
薫 薰
掲 揭
鶏 鷄
撃 擊
倹 儉
剣 劍
険 險
圏 圈
検 檢
顕 顯
験 驗
厳 嚴
黄 黃
砕 碎
雑 雜
児 兒
湿 濕
収 收
従 從
渋 澁
獣 獸
縦 縱
緒 緖
叙 敍
将 將
渉 涉
焼 燒
奨 奬
状 狀
乗 乘
浄 淨
剰 剩
畳 疊
嬢 孃
譲 讓
醸 釀
寝 寢
慎 愼
尽 盡
粋 粹
酔 醉
摂 攝
専 專
戦 戰
繊 纖
禅 禪
壮 壯
争 爭
荘 莊
捜 搜
巣 巢
曽 曾
装 裝
痩 瘦
騒 騷
臓 臟
即 卽
帯 帶
滞 滯
滝 瀧
単 單
団 團
弾 彈
昼 晝
鋳 鑄
庁 廳
徴 徵
聴 聽
鎮 鎭
転 轉
灯 燈
盗 盜
稲 稻
拝 拜
杯 盃
売 賣
髪 髮
抜 拔
晩 晚
秘 祕
払 拂
仏 佛
歩 步
峰 峯
翻 飜
毎 每
黙 默
野 埜
薬 藥
与 與
揺 搖
様 樣
謡 謠
来 來
頼 賴
覧 覽
涼 凉
緑 綠
涙 淚
塁 壘
暦 曆
歴 歷
錬 鍊
郎 郞
録 錄
営 營
駅 驛
円 圓
塩 鹽
欧 歐
殴 毆
桜 櫻
仮 假
会 會
絵 繪
拡 擴
覚 覺
学 學
岳 嶽
陥 陷
勧 勸
歓 歡
観 觀
関 關
帰 歸
亀 龜
犠 犧
旧 舊
拠 據
挙 擧
区 區
駆 驅
径 徑
経 經
継 繼
軽 輕
芸 藝
欠 缺
研 硏
県 縣
権 權
広 廣
恒 恆
効 效
鉱 鑛
号 號
済 濟
斎 齋
参 參
蚕 蠶
惨 慘
賛 贊
残 殘
糸 絲
歯 齒
辞 辭
釈 釋
寿 壽
処 處
称 稱
証 證
縄 繩
触 觸
図 圖
声 聲
窃 竊
浅 淺
践 踐
銭 錢
総 總
属 屬
続 續
堕 墮
対 對
体 體
台 臺
沢 澤
担 擔
胆 膽
断 斷
遅 遲
虫 蟲
聴 聽
逓 遞
鉄 鐵
点 點
当 當
党 黨
闘 鬭
独 獨
読 讀
届 屆
弐 貳
悩 惱
脳 腦
覇 霸
廃 廢
発 發
蛮 蠻
浜 濱
変 變
宝 寶
豊 豐
訳 譯
予 豫
余 餘
誉 譽
揺 搖
乱 亂
両 兩
猟 獵
霊 靈
励 勵
恋 戀
炉 爐
労 勞
湾 灣
"""


@cache
def variant_map() -> dict[str, str]:
    """Variant character → the character we fold it to. Built once, on first use."""
    mapping: dict[str, str] = {}
    for raw in TABLE.splitlines():
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        canonical, *variants = line
        for v in variants:
            if v == canonical:
                continue
            previous = mapping.setdefault(v, canonical)
            if previous != canonical:
                raise ValueError(f"{v} is listed under both {previous} and {canonical}")
    if any(c in mapping for c in set(mapping.values())):
        raise ValueError("a canonical form is itself listed as a variant")
    return mapping


def families() -> dict[str, tuple[str, ...]]:
    """Canonical character → every variant listed for it (for tests and the corruption model)."""
    out: dict[str, list[str]] = {}
    for variant, canonical in variant_map().items():
        out.setdefault(canonical, []).append(variant)
    return {k: tuple(v) for k, v in out.items()}
