"""Groups, prices, the wallet ledger, open reservations and redemption codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cong.money import PPM
from cong.storage.tables import ID_TYPE, Base, utcnow


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None = all
    multiplier_ppm: Mapped[int] = mapped_column(BigInteger, default=PPM)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The memory mode of its users' keys that set none ("off", "history", "full").
    memory_mode: Mapped[str | None] = mapped_column(String(8), nullable=True)


class Price(Base):
    """Per model: micro-units per 1M tokens (input, cached input, output), per call, per
    image. A row of zeros is a free model."""

    __tablename__ = "prices"

    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    input_per_m: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_input_per_m: Mapped[int] = mapped_column(BigInteger, default=0)
    output_per_m: Mapped[int] = mapped_column(BigInteger, default=0)
    per_call: Mapped[int] = mapped_column(BigInteger, default=0)
    per_image: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class LedgerEntry(Base):
    """Append-only. Kinds: topup, redemption, reservation, release, settlement,
    adjustment, refund. A request id has at most one entry of each request kind."""

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("request_id", "kind", name="uq_ledger_request_kind"),
        Index("ix_ledger_user_time", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reservation(Base):
    """An open hold on a wallet (and key cap); deleted exactly once when settled."""

    __tablename__ = "reservations"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_pk: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class RedemptionCode(Base):
    __tablename__ = "redemption_codes"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last4: Mapped[str] = mapped_column(String(4))
    batch: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    redeemed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
