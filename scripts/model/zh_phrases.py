"""Short Chinese review phrases, the Chinese counterpart of build_builtin.py's English phrases,
made from a word list written for them. `build_builtin.py --zh-phrases N` adds N of them to the
built-in model's training data for a trial; the recipe leaves them out (its docstring says why).

What they are for: in zh-waimai and zh-shopping, 不 and 没 occur mostly in complaints, so a model
trained on those reads "不贵" (not expensive), "没让我失望" (did not disappoint) and "一点都没坏"
(not broken at all) as negative. The phrases pair each rated word with a thing people review,
plain and negated (the label turned), and join two clauses with 但是 and the like, labelled by the
second, so that negation and contrast decide rather than the words 不 and 没 themselves.
"""

# Adjectives, negated with 不 ("不干净"). Everyday words of reviews of any kind.
POSITIVE_ADJECTIVES = """好 棒 赞 干净 整洁 卫生 舒服 舒适 安静 宽敞 明亮 方便 便宜 实惠 划算 新鲜 好吃 美味 可口
好喝 香 正宗 地道 热情 周到 耐心 细心 专业 贴心 友好 客气 礼貌 及时 准时 快 迅速 精致 漂亮 好看 时尚
结实 耐用 稳定 流畅 清晰 灵敏 好用 实用 轻便 柔软 合身 正品 靠谱 满意 值 值得 完美 优秀 出色 难忘 开心
放心 省心 顺利 清楚 大方 透气 暖和 凉快 耐看 精彩 感人 有趣 好玩 温馨 亲切 厚道 良心""".split()
NEGATIVE_ADJECTIVES = """差 烂 糟糕 脏 乱 臭 吵 挤 破 旧 简陋 贵 坑 难吃 难喝 咸 淡 油腻 腥 硬 凉 冷 慢 迟
拖拉 敷衍 冷淡 粗鲁 傲慢 凶 恶心 失望 垃圾 劣质 粗糙 松 卡 烫 费电 难用 麻烦 复杂 模糊 闷 刺鼻 潮湿
发霉 变质 过期 假 坏 虚假 无聊 难看 尴尬 闹心 窝火 生气 后悔""".split()
# Verbs of things that go wrong or right, negated with 没 ("没坏", "没漏").
NEGATIVE_VERBS = """坏 漏 破 碎 洒 掉色 起球 变形 开线 褪色 缩水 死机 卡顿 闪退 断 裂 发霉 变质 迟到 出错
出问题 掉漆 生锈 跑味 失望 后悔 生气 吃亏 上当""".split()
POSITIVE_VERBS = """推荐 喜欢 爱 回购 点赞 满意 放心 惊喜""".split()
NOUNS = """房间 服务 态度 前台 早餐 位置 环境 床 卫生间 空调 菜 味道 分量 外卖 送餐 骑手 包装 快递 物流
客服 价格 质量 做工 衣服 鞋子 面料 手机 屏幕 电池 电脑 系统 软件 界面 耳机 音质 电影 剧情 书 老板
服务员 店家 商品 东西 饭 汤 水果 酒店 餐厅 司机 医生 售后""".split()
DEGREES = ["很", "非常", "特别", "超", "挺", "真", "太", "还算", "相当", "十分", ""]
NEGATIONS = ["不", "一点都不", "一点也不", "并不", "不太", "不算", "没那么", "也不", "都不"]
VERB_NEGATIONS = ["没", "没有", "一点都没", "都没", "从来没", "也没", "还没"]
BUTS = ["，但是", "，不过", "，可是", "，就是", "，但", "。但是", "，只是"]
ENDS = ["", "。", "！", "～", "!"]


def flip(label):
    return "0" if label == "1" else "1"


def clause(rng):
    """One clause about a noun and its label: a rated adjective or verb, plain or negated."""
    n = rng.choice(NOUNS)
    kind = rng.random()
    if kind < 0.5:
        positive = rng.random() < 0.5
        w = rng.choice(POSITIVE_ADJECTIVES if positive else NEGATIVE_ADJECTIVES)
        label = "1" if positive else "0"
        if rng.random() < 0.6:
            return f"{n}{rng.choice(DEGREES)}{w}", label
        return f"{n}{rng.choice(NEGATIONS)}{w}", flip(label)
    if kind < 0.8:
        w = rng.choice(NEGATIVE_VERBS)
        if rng.random() < 0.4:
            return f"{n}{rng.choice(['', '又', '已经', '老是', '直接'])}{w}了", "0"
        return f"{n}{rng.choice(VERB_NEGATIONS)}{w}", "1"
    w = rng.choice(POSITIVE_VERBS)
    if rng.random() < 0.5:
        return f"{rng.choice(['很', '真的', '非常', '特别'])}{w}这个{n}", "1"
    return f"{rng.choice(['不', '不会', '一点都不'])}{w}这个{n}", "0"


def phrase_rows(count, rng):
    """`count` (label, text) rows: one clause, or two joined by a "but" and labelled by the second."""
    rows = []
    while len(rows) < count:
        text, label = clause(rng)
        if rng.random() < 0.25:
            second, label = clause(rng)
            text = f"{text}{rng.choice(BUTS)}{second}"
        rows.append((label, text + rng.choice(ENDS)))
    return rows
