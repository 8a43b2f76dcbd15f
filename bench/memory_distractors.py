"""Unrelated memories (about other people and things) that fill a user of
bench/memory_retrieval.py to 10,000 memories around the facts it asks about."""

from __future__ import annotations

import random

NAMES = [
    "Anh",
    "Bao",
    "Chi",
    "Dung",
    "Giang",
    "Ha",
    "Khanh",
    "Long",
    "My",
    "Ngoc",
    "Phuc",
    "Quynh",
    "Son",
    "Trang",
    "Uyen",
    "Viet",
    "Xuan",
    "Yen",
    "Peter",
    "Sarah",
]
EN_TEMPLATES = [
    "My colleague {n} likes {t}.",
    "{n} from the gym recommended {t}.",
    "I read an article about {t} on {d}.",
    "The shop near {p} sells {t}.",
    "{n} asked me to bring {t} on {d}.",
    "I saw {t} in {p} last {d}.",
    "Our team discussed {t} with {n}.",
    "Remind me that {n} prefers {t}.",
]
EN_THINGS = [
    "green tea",
    "old maps",
    "electric scooters",
    "board games",
    "jazz records",
    "hiking boots",
    "sourdough bread",
    "mechanical watches",
    "garden tools",
    "paper notebooks",
    "winter jackets",
    "solar lamps",
    "river fish",
    "kites",
    "ceramic bowls",
    "pocket radios",
    "bamboo chairs",
    "chess clocks",
    "umbrellas",
]
VI_TEMPLATES = [
    "Đồng nghiệp {n} thích {t}.",
    "Chị {n} ở phòng gym giới thiệu {t}.",
    "Tôi đọc một bài báo về {t} vào {d}.",
    "Cửa hàng gần {p} có bán {t}.",
    "{n} nhờ tôi mang {t} vào {d}.",
    "Tôi thấy {t} ở {p} hôm {d}.",
    "Nhóm tôi bàn về {t} với {n}.",
    "Anh {n} thích {t} hơn.",
]
VI_THINGS = [
    "bánh cuốn",
    "nón lá",
    "xe đạp điện",
    "cờ tướng",
    "đĩa than",
    "giày leo núi",
    "bánh mì nướng",
    "đồng hồ cơ",
    "chậu cây cảnh",
    "sổ tay giấy",
    "áo khoác len",
    "đèn năng lượng mặt trời",
    "cá sông",
    "diều giấy",
    "bát gốm",
    "đài radio",
    "ghế tre",
    "ấm trà",
    "ô dù",
]
PLACES = [
    "the station",
    "Hoàn Kiếm",
    "the market",
    "chợ Đồng Xuân",
    "the river",
    "Hội An",
    "the airport",
    "Bến Nghé",
    "the school",
    "Tây Hồ",
]
DAYS = ["Monday", "thứ hai", "Friday", "thứ sáu", "the weekend", "cuối tuần", "May", "tháng năm"]


def distractors(count: int, seed: int = 7) -> list[str]:
    """Unrelated memories (about other people and things) to fill a user to ``count``."""
    rng = random.Random(seed)
    made: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        vi = rng.random() < 0.5
        template = rng.choice(VI_TEMPLATES if vi else EN_TEMPLATES)
        text = template.format(
            n=rng.choice(NAMES),
            t=rng.choice(VI_THINGS if vi else EN_THINGS),
            p=rng.choice(PLACES),
            d=rng.choice(DAYS),
        )
        text += f" ({rng.randrange(1000)})"
        if text not in made:
            made.add(text)
            out.append(text)
    return out
