"""Redemption codes: an admin creates a batch (each code shown once), a user redeems a
code into their wallet. Only a keyed hash of a code and its last 4 characters are
stored. A code credits exactly once: claiming it is one conditional UPDATE, and the
credit and its ledger entry are written in the same transaction."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cong.accounts.credentials import hash_key
from cong.accounts.views import as_utc
from cong.money import MAX_AMOUNT
from cong.protocol.errors import invalid_request
from cong.storage import codes as queries
from cong.storage import wallets as wallet_queries
from cong.storage.database import Database
from cong.storage.tables import User

# Crockford's base32: no I, L, O or U, so codes survive being read aloud or retyped.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LENGTH = 4, 5  # 20 characters, 100 random bits
PREFIX = "CONG"
MAX_COUNT = 1000
BATCH = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class CodeView:
    """A code as listings show it: never the code itself nor its hash."""

    id: int
    batch: str
    masked: str
    amount: int
    expires_at: datetime | None
    redeemed_by: str | None
    redeemed_at: datetime | None
    created_at: datetime

    @property
    def state(self) -> str:
        if self.redeemed_at is not None:
            return "redeemed"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewBatch:
    batch: str
    amount: int
    expires_at: datetime | None
    codes: list[str]


@dataclass(frozen=True)
class Redeemed:
    amount: int
    balance: int


def normalize(code: str) -> str:
    """What is hashed: the random part, upper-case, without dashes, spaces or prefix."""
    body = re.sub(r"[^0-9A-Za-z]", "", code).upper()
    if body.startswith(PREFIX) and len(body) == len(PREFIX) + GROUPS * GROUP_LENGTH:
        body = body[len(PREFIX) :]
    return body


class Codes:
    def __init__(self, db: Database, secret_key: bytes) -> None:
        self._db = db
        self._secret = secret_key

    def _hash(self, code: str) -> str:
        return hash_key(self._secret, "redemption-code:" + normalize(code))

    async def create(
        self,
        amount: int,
        count: int,
        *,
        batch: str | None = None,
        expires_at: datetime | None = None,
    ) -> NewBatch:
        """Make ``count`` codes worth ``amount`` micro-units each; the codes are in the
        result and nowhere else."""
        if not 0 < amount <= MAX_AMOUNT:
            raise invalid_request("amount must be positive.", param="amount")
        if not 1 <= count <= MAX_COUNT:
            raise invalid_request(f"count must be between 1 and {MAX_COUNT}.", param="count")
        now = datetime.now(UTC)
        name = (batch or f"batch-{now:%Y%m%d-%H%M%S}").strip()
        if not BATCH.match(name):
            raise invalid_request(
                "A batch name has 1 to 64 letters, digits, '_', '.', ':' or '-'.", param="batch"
            )
        if expires_at is not None:
            expires_at = as_utc(expires_at)
            if expires_at is not None and expires_at <= now:
                raise invalid_request("expires_at must be in the future.", param="expires_at")
        codes = [_generate() for _ in range(count)]
        rows = [
            {
                "code_hash": self._hash(code),
                "last4": normalize(code)[-4:],
                "batch": name,
                "amount": amount,
                "expires_at": expires_at,
                "created_at": now,
            }
            for code in codes
        ]
        async with self._db.session() as session, session.begin():
            await queries.add_codes(session, rows)
        return NewBatch(name, amount, expires_at, codes)

    async def redeem(self, user_id: int, code: str) -> Redeemed:
        """Credit a code's amount to the user's wallet, once; 400 when the code is
        unknown, already redeemed or expired."""
        code_hash = self._hash(code)
        now = datetime.now(UTC)
        async with self._db.session() as session, session.begin():
            claimed = await queries.claim(session, code_hash, user_id, now)
            if claimed is not None:
                code_id, amount, last4 = claimed
                await wallet_queries.credit_wallet(session, user_id, amount)
                # One redemption entry per code: the ledger's (request_id, kind)
                # uniqueness is a second guard against crediting a code twice.
                await wallet_queries.add_entry(
                    session,
                    user_id,
                    "redemption",
                    amount,
                    request_id=f"code-{code_id}",
                    note=f"code …{last4}",
                )
                balance = await session.get(User, user_id, populate_existing=True)
                return Redeemed(amount, balance.balance if balance else 0)
            found = await queries.find_code(session, code_hash)
        if found is not None and found.redeemed_by is not None:
            raise _refused("This code has already been redeemed.", "code_redeemed")
        if found is not None:
            raise _refused("This code has expired.", "code_expired")
        raise _refused("This code is not valid.", "code_invalid")

    async def list_codes(
        self, *, batch: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[CodeView]:
        async with self._db.session() as session:
            rows = await queries.list_codes(session, batch=batch, before_id=before_id, limit=limit)
        return [
            CodeView(
                id=row.id,
                batch=row.batch,
                masked=f"{PREFIX}-…{row.last4}",
                amount=row.amount,
                expires_at=as_utc(row.expires_at),
                redeemed_by=(name or f"#{row.redeemed_by}") if row.redeemed_by else None,
                redeemed_at=as_utc(row.redeemed_at),
                created_at=as_utc(row.created_at),
            )
            for row, name in rows
        ]


def _generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    parts = [body[i : i + GROUP_LENGTH] for i in range(0, len(body), GROUP_LENGTH)]
    return "-".join([PREFIX, *parts])


def _refused(message: str, code: str) -> Exception:
    return invalid_request(message, param="code", code=code)
