"""Memory retrieval: quality (recall@5, MRR) of embeddings-only, full-text-only and
hybrid retrieval on 200 facts with 200 paraphrased questions (100 Vietnamese, 100
English), by language and by half (the even-numbered questions tuned the parameters,
the odd-numbered ones are held out), and on a blind set of 100 more (50 + 50, written
before the lexicon and the retrieval code were read, never tuned on); and the latency
that retrieval + injection adds to a request at 10,000 memories per user, on SQLite and
PostgreSQL.

Vectors come from the embedded all-minilm-l6-v2 loaded in process (the model server runs
the same code); retrieval runs through ``cong.memory.store.Memories`` on a migrated
database exactly as on the request path.

    .venv/bin/python bench/memory_retrieval.py                 # ~5 minutes on 2 cores
    .venv/bin/python bench/memory_retrieval.py --only latency  # latency alone, both databases
    .venv/bin/python bench/memory_retrieval.py --quick         # 2,000 memories, fewer timings
    .venv/bin/python bench/memory_retrieval.py --only quality --set blind --databases sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from cong.memory.store import Memories  # noqa: E402
from cong.memory.vectors import to_blob  # noqa: E402
from cong.memory.words import fold  # noqa: E402
from cong.modelserver.embedding_model import EmbeddingModel  # noqa: E402
from cong.modelserver.options import DEFAULT_EMBEDDING_MODEL_ID, ServerOptions  # noqa: E402
from cong.storage import memories as memory_queries  # noqa: E402
from cong.storage.database import Database, migrate_async  # noqa: E402
from cong.storage.memory_tables import Memory  # noqa: E402
from cong.storage.tables import User, utcnow  # noqa: E402
from memory_distractors import distractors  # noqa: E402
from memory_facts_blind import BLIND_EN, BLIND_VI  # noqa: E402
from memory_facts_en import FACTS_EN  # noqa: E402
from memory_facts_vi import FACTS_VI  # noqa: E402
from memory_injection import HEADER, UNRELATED, injection_rows  # noqa: E402
from memory_latency import latency, table  # noqa: E402

K = 5


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


def on_pytorch(options: ServerOptions) -> Callable[[list[str]], Awaitable[object]]:
    """The same model without ONNX Runtime (``model_server.onnx_cache = ""``)."""
    path = options.resolved_embedding_model_path()
    model = EmbeddingModel(DEFAULT_EMBEDDING_MODEL_ID, path, batch_size=64, onnx_cache=None)
    return model.embed


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
# name: (vectors, full text, the lexicon's related words, Vietnamese typed without accents)
MODES = {
    "embeddings": (True, False, True, False),
    "full-text": (False, True, True, False),
    "full-text without the lexicon": (False, True, False, False),
    "hybrid": (True, True, True, False),
    "hybrid without the lexicon": (True, True, False, False),
    "hybrid, Vietnamese typed without accents": (True, True, True, True),
}


@dataclass(frozen=True)
class QuestionSet:
    """Facts and their questions, Vietnamese first; ``halves``: the even-numbered
    questions tuned the parameters, the odd-numbered ones are held out."""

    name: str
    vi: list[tuple[str, str]]
    en: list[tuple[str, str]]
    halves: bool
    first_user: int

    @property
    def facts(self) -> list[str]:
        return [f for f, _ in self.vi + self.en]

    @property
    def queries(self) -> list[str]:
        return [q for _, q in self.vi + self.en]

    def parts(self) -> dict[str, range]:
        size, vi = len(self.vi) + len(self.en), len(self.vi)
        parts = {"all": range(size), "vi": range(vi), "en": range(vi, size)}
        if self.halves:
            parts |= {"even (tuning)": range(0, size, 2), "odd (held out)": range(1, size, 2)}
        return parts

    def unaccented(self) -> list[str]:
        """The Vietnamese questions as typed without accents (English ones as they are)."""
        return [fold(q) if i < len(self.vi) else q for i, q in enumerate(self.queries)]


SETS = {
    "main": QuestionSet("main", FACTS_VI, FACTS_EN, halves=True, first_user=1),
    # Written before the lexicon and the retrieval code were read; never tuned on.
    "blind": QuestionSet("blind", BLIND_VI, BLIND_EN, halves=False, first_user=11),
}


def quality(ranks: Ranks, part: range) -> tuple[float, float]:
    """recall@K and MRR of the questions in ``part``."""
    chosen = [ranks[i] for i in part if i < len(ranks)]
    recall = sum(1 for r in chosen if r is not None and r < K) / len(chosen)
    mrr = sum(1 / (r + 1) for r in chosen if r is not None) / len(chosen)
    return recall, mrr


async def evaluate(
    memories: Memories,
    user_id: int,
    fact_ids: list[int],
    vectors: dict[bool, np.ndarray],
    questions: QuestionSet,
) -> dict[str, Ranks]:
    out: dict[str, Ranks] = {}
    for name, (use_vectors, use_text, related, folded) in MODES.items():
        asked = questions.unaccented() if folded else questions.queries
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


def quality_table(
    parts: dict[str, range], results: list[tuple[int, dict[str, Ranks]]]
) -> list[str]:
    head = " | ".join(f"recall@5 {p}" for p in parts)
    lines = [
        f"| memories | retrieval | {head} | MRR all | MRR vi | MRR en |",
        "|---|---|" + "---|" * (len(parts) + 3),
    ]
    for count, scores in results:
        for name, ranks in scores.items():
            recalls = " | ".join(f"{quality(ranks, part)[0]:.3f}" for part in parts.values())
            mrrs = " | ".join(f"{quality(ranks, parts[p])[1]:.3f}" for p in ("all", "vi", "en"))
            lines.append(f"| {count:,} | {name} | {recalls} | {mrrs} |")
    return lines


def misses(questions: QuestionSet, ranks: Ranks, part: str) -> list[str]:
    """The questions of ``part`` whose fact is not in the top K (for looking into the
    tuning half; the held-out questions are better left unread)."""
    return [
        f"- rank {'-' if ranks[i] is None else ranks[i] + 1}: {questions.queries[i]} "
        f"-> {questions.facts[i]}"
        for i in questions.parts()[part]
        if ranks[i] is None or ranks[i] >= K
    ]


async def run(args: argparse.Namespace) -> str:
    options = ServerOptions()  # the model server's defaults (ONNX Runtime for a question)
    path = options.resolved_embedding_model_path()
    model = EmbeddingModel(
        DEFAULT_EMBEDDING_MODEL_ID, path, batch_size=64, onnx_cache=options.resolved_onnx_cache()
    )
    pytorch = None
    if args.only in (None, "latency") and model.runtime == "onnxruntime":
        pytorch = on_pytorch(options)
    chosen = [SETS[name] for name in (SETS if args.set == "both" else [args.set])]
    filler = distractors(args.memories - min(len(s.facts) for s in chosen))
    started = time.perf_counter()
    filler_vectors = np.asarray(cached_encode(model, filler))
    encoded = {
        s.name: (
            np.asarray(cached_encode(model, s.facts)),
            {False: cached_encode(model, s.queries), True: cached_encode(model, s.unaccented())},
        )
        for s in chosen
    }
    unrelated_vectors = np.asarray(cached_encode(model, UNRELATED))
    print(f"embedded the texts in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    lines = ["## Memory retrieval (bench/memory_retrieval.py)", ""]
    for kind in args.databases:
        async with database(kind) as db:
            memories = Memories(db, InProcessEmbedder(model))
            lines += [f"### {kind}", ""]
            for questions in chosen:
                facts, user = questions.facts, questions.first_user
                fact_vectors, query_vectors = encoded[questions.name]
                small = await fill(db, user, facts, fact_vectors)
                extra = args.memories - len(facts)
                big_texts = facts + filler[:extra]
                big_vectors = np.concatenate([fact_vectors, filler_vectors[:extra]])
                big = await fill(db, user + 1, big_texts, big_vectors)
                # A third user with the same facts: nothing of theirs may come back.
                await fill(db, user + 2, facts, fact_vectors)
                if args.only in (None, "quality"):
                    results = []
                    for who, ids, count in (
                        (user, small, len(facts)),
                        (user + 1, big, len(big_texts)),
                    ):
                        scores = await evaluate(memories, who, ids, query_vectors, questions)
                        results.append((count, scores))
                    lines += [
                        f"#### {questions.name} set: {len(facts)} facts and questions "
                        f"({len(questions.vi)} Vietnamese, {len(questions.en)} English), "
                        f"all-minilm-l6-v2 in process, top {K}",
                        "",
                        *quality_table(questions.parts(), results),
                        "",
                    ]
                    injected = HEADER[:]
                    for who, ids, count in (
                        (user, small, len(facts)),
                        (user + 1, big, len(big_texts)),
                    ):
                        injected += await injection_rows(
                            memories,
                            who,
                            ids,
                            questions.queries,
                            query_vectors[False],
                            len(questions.vi),
                            unrelated_vectors,
                            count,
                        )
                    lines += [f"Injected ({questions.name} set, memory.min_similarity):", ""]
                    lines += [*injected, ""]
                    if args.misses and questions.halves:  # never the blind set
                        for count, scores in results:
                            lines += [f"Hybrid misses, {args.misses}, {count:,} memories:"]
                            lines += [*misses(questions, scores["hybrid"], args.misses), ""]
                if args.only in (None, "latency") and questions.name == "main":
                    queries = questions.queries
                    sample = list(
                        range(0, len(queries), max(1, len(queries) // args.latency_queries))
                    )
                    times, load = await latency(
                        db,
                        memories,
                        lambda: Memories(db, InProcessEmbedder(model)),
                        user + 1,
                        [queries[i] for i in sample],
                        query_vectors[False][sample],
                        args.rounds,
                        pytorch,
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
    parser.add_argument(
        "--set",
        choices=["main", "blind", "both"],
        default="both",
        help="questions for quality: main (200, tuned on its even half), blind (100, never "
        "tuned on) or both; latency always uses main",
    )
    parser.add_argument(
        "--misses",
        choices=["even (tuning)", "vi", "en", "all"],
        help="list the main set's hybrid misses (never the blind set's)",
    )
    args = parser.parse_args()
    if args.quick:
        args.memories, args.rounds, args.latency_queries = 2_000, 1, 40
    if args.only == "latency":
        args.set = "main"
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
