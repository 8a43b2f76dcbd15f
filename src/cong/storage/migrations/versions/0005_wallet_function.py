"""wallet operations as one PostgreSQL function (one round trip per batch)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:40:00

The same logic as storage/wallet_sqlite.py: a hold (1), a settlement (2) or a sweep (3),
each a set of conditional updates undone in the same transaction when a later condition
fails, so that an operation never fails for another's sake inside a batch. Nothing on
SQLite (its operations run in Python on the database thread).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION cong_wallet_op(
    p_kind integer, p_request text, p_user bigint, p_key bigint, p_key_id text,
    p_amount bigint, p_period text, p_note text, p_now timestamptz
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_held bigint;
    v_key bigint;
    v_user bigint;
    v_charge bigint;
    v_room bigint;
BEGIN
    IF p_kind = 1 THEN
        IF p_key IS NOT NULL THEN
            IF p_period IS NOT NULL THEN
                UPDATE api_keys SET period_start = p_period, period_spent = 0
                WHERE id = p_key AND period IS NOT NULL
                  AND (period_start IS NULL OR period_start <> p_period);
            END IF;
            UPDATE api_keys SET reserved = reserved + p_amount
            WHERE id = p_key
              AND (spend_cap IS NULL OR spent + reserved + p_amount <= spend_cap)
              AND (period_cap IS NULL OR period_spent + reserved + p_amount <= period_cap);
            IF NOT FOUND THEN RETURN 1; END IF;
        END IF;
        UPDATE users SET balance = balance - p_amount
        WHERE id = p_user AND balance - p_amount + credit_limit >= 0;
        IF NOT FOUND THEN
            IF p_key IS NOT NULL THEN
                UPDATE api_keys SET reserved = reserved - p_amount WHERE id = p_key;
            END IF;
            RETURN 2;
        END IF;
        INSERT INTO reservations (request_id, user_id, key_pk, amount, created_at)
        VALUES (p_request, p_user, p_key, p_amount, p_now) ON CONFLICT DO NOTHING;
        IF FOUND THEN
            INSERT INTO ledger (user_id, kind, amount, request_id, key_id, note, created_at)
            VALUES (p_user, 'reservation', -p_amount, p_request, p_key_id, '', p_now)
            ON CONFLICT DO NOTHING;
            IF FOUND THEN RETURN 0; END IF;
            DELETE FROM reservations WHERE request_id = p_request;
        END IF;
        UPDATE users SET balance = balance + p_amount WHERE id = p_user;
        IF p_key IS NOT NULL THEN
            UPDATE api_keys SET reserved = reserved - p_amount WHERE id = p_key;
        END IF;
        RETURN 3;
    END IF;

    DELETE FROM reservations WHERE request_id = p_request
    RETURNING amount, key_pk, user_id INTO v_held, v_key, v_user;

    IF p_kind = 3 THEN
        IF v_held IS NULL THEN RETURN -1; END IF;
        IF v_key IS NOT NULL THEN
            UPDATE api_keys SET reserved = reserved - v_held WHERE id = v_key;
        END IF;
        UPDATE users SET balance = balance + v_held WHERE id = v_user;
        INSERT INTO ledger (user_id, kind, amount, request_id, key_id, note, created_at)
        VALUES (v_user, 'release', v_held, p_request, NULL, p_note, p_now);
        RETURN v_held;
    END IF;

    IF v_held IS NULL THEN
        -- Settled already, or released by the sweeper: charge without the hold.
        PERFORM 1 FROM ledger WHERE request_id = p_request AND kind = 'settlement';
        IF FOUND THEN RETURN -1; END IF;
        IF p_key IS NOT NULL THEN
            PERFORM 1 FROM api_keys WHERE id = p_key FOR UPDATE;
        END IF;
        SELECT balance + credit_limit INTO v_room FROM users WHERE id = p_user FOR UPDATE;
        IF v_room IS NULL THEN RETURN -1; END IF;
        v_charge := GREATEST(0, LEAST(p_amount, v_room));
        INSERT INTO ledger (user_id, kind, amount, request_id, key_id, note, created_at)
        VALUES (p_user, 'settlement', -v_charge, p_request, NULL, p_note, p_now)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN RETURN -1; END IF;
        IF p_key IS NOT NULL THEN
            UPDATE api_keys SET spent = spent + v_charge, period_spent = period_spent + v_charge
            WHERE id = p_key;
        END IF;
        UPDATE users SET balance = balance - v_charge WHERE id = p_user;
        RETURN v_charge;
    END IF;

    v_charge := p_amount;
    IF v_charge > v_held THEN
        -- No output limit was set: the excess as far as the balance and credit allow.
        IF v_key IS NOT NULL THEN
            PERFORM 1 FROM api_keys WHERE id = v_key FOR UPDATE;
        END IF;
        SELECT balance + credit_limit INTO v_room FROM users WHERE id = v_user FOR UPDATE;
        v_charge := GREATEST(v_held, LEAST(v_charge, v_held + v_room));
    END IF;
    IF v_key IS NOT NULL THEN
        UPDATE api_keys SET reserved = reserved - v_held, spent = spent + v_charge,
            period_spent = period_spent + v_charge
        WHERE id = v_key;
    END IF;
    UPDATE users SET balance = balance + v_held - v_charge WHERE id = v_user;
    INSERT INTO ledger (user_id, kind, amount, request_id, key_id, note, created_at)
    VALUES (v_user, 'release', v_held, p_request, NULL, p_note, p_now),
           (v_user, 'settlement', -v_charge, p_request, NULL, p_note, p_now);
    RETURN v_charge;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS cong_wallet_op(integer, text, bigint, bigint, text,"
            " bigint, text, text, timestamptz)"
        )
