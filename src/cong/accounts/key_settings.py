"""The settings of an API key (models, expiry, spend caps, IP allow-list, rate limits),
their validation, and the rule that a non-admin never grants a key more than the caller
has."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from cong.accounts.principal import Principal
from cong.accounts.views import as_utc
from cong.money import MAX_AMOUNT
from cong.protocol.errors import invalid_request, permission_denied

PERIODS = ("day", "month")
# Limits that add up across keys: a key that has one cannot mint or raise keys, since
# two keys under the same limit would together have twice as much.
ADDITIVE = ("spend_cap", "period_cap", "rpm", "tpm")


class Unset:
    """Marks a field a patch leaves alone."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()


@dataclass
class KeySettings:
    """A key's settings; in a patch, fields left at UNSET are not changed. Money is in
    micro-units."""

    name: str | None = UNSET
    models: list[str] | None = UNSET
    enabled: bool | None = UNSET
    expires_at: datetime | None = UNSET
    spend_cap: int | None = UNSET
    period_cap: int | None = UNSET
    period: str | None = UNSET
    ip_allow: list[str] | None = UNSET
    rpm: int | None = UNSET
    tpm: int | None = UNSET

    def changes(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }


def normalized(settings: KeySettings, *, creating: bool) -> dict[str, Any]:
    """The set fields, validated and in canonical form (400 on a bad value)."""
    values = settings.changes()
    if creating:
        values.setdefault("name", "")
        values.setdefault("enabled", True)
    if values.get("name") is None and "name" in values:
        values["name"] = ""
    if len(values.get("name") or "") > 128:
        raise invalid_request("A key name has at most 128 characters.", param="name")
    if values.get("enabled") is None and "enabled" in values:
        raise invalid_request("enabled must be true or false.", param="enabled")
    if "models" in values:
        models = sorted({m.strip() for m in values["models"] or [] if m.strip()})
        values["models"] = models or None
    if "ip_allow" in values:
        values["ip_allow"] = _networks(values["ip_allow"])
    if "\x00" in (values.get("name") or ""):
        raise invalid_request("A key name may not contain NUL characters.", param="name")
    if "expires_at" in values:
        values["expires_at"] = as_utc(values["expires_at"])
        expires = values["expires_at"]
        if creating and expires is not None and expires <= datetime.now(UTC):
            raise invalid_request(
                "expires_at is in the past: the new key would be expired already.",
                param="expires_at",
            )
    for name in ("spend_cap", "period_cap"):
        cap = values.get(name)
        if cap is not None and not 0 <= cap <= MAX_AMOUNT:
            raise invalid_request(f"{name} must be between 0 and {MAX_AMOUNT}.", param=name)
    for name in ("rpm", "tpm"):
        limit = values.get(name)
        if limit is not None and not 1 <= limit <= 2**31 - 1:
            raise invalid_request(f"{name} must be a positive integer.", param=name)
    period = values.get("period")
    if period is not None and period not in PERIODS:
        raise invalid_request("period must be 'day' or 'month'.", param="period")
    return values


def with_period(state: dict[str, Any]) -> dict[str, Any]:
    """A key's full settings made consistent: a period cap is per month unless it says
    otherwise, and no period cap means no period."""
    if state.get("period_cap") is None:
        state["period"] = None
    elif state.get("period") is None:
        state["period"] = "month"
    return state


def _networks(value: list[str] | None) -> list[str] | None:
    networks = []
    for item in value or []:
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise invalid_request(
                f"'{item}' is not an IP address or CIDR network.", param="ip_allow"
            ) from None
    return sorted(set(networks)) or None


def check_grant(principal: Principal, values: dict[str, Any], *, creating: bool) -> None:
    """Refuse (403) a non-admin's key settings that go beyond what the calling key and
    the user's group have. On creation, restrictions of the calling key that the request
    leaves out are inherited (a restricted key only makes keys as restricted)."""
    if principal.is_admin:
        return
    caller_limits = [n for n in ADDITIVE if _caller_limit(principal, n)]
    if caller_limits and (creating or any(n in values for n in (*ADDITIVE, "period"))):
        raise _beyond(
            "This API key has its own spend or rate limits, so it cannot create keys or "
            "change their limits; use a key without limits."
        )
    ceiling = _model_ceiling(principal)
    if principal.allowed_models is not None:
        if creating and values.get("models") is None:
            if not ceiling:
                raise _beyond("This key may use no model, so it cannot grant any.", "models")
            values["models"] = sorted(ceiling)
        elif "models" in values and values["models"] is None:
            raise _beyond("This key may not lift the model restriction of a key.", "models")
    if ceiling is not None and values.get("models"):
        extra = set(values["models"]) - ceiling
        if extra:
            raise _beyond(
                f"You may not grant models you cannot use: {', '.join(sorted(extra))}.",
                "models",
            )
    for name, group_limit in (("rpm", principal.user_rpm), ("tpm", principal.user_tpm)):
        wanted = values.get(name)
        if group_limit is not None and wanted is not None and wanted > group_limit:
            raise _beyond(f"{name} may not exceed your group's limit of {group_limit}.", name)
    if principal.expires_at is not None:
        if creating and values.get("expires_at") is None:
            values["expires_at"] = datetime.fromtimestamp(principal.expires_at, UTC)
        if "expires_at" in values and (
            values["expires_at"] is None or values["expires_at"].timestamp() > principal.expires_at
        ):
            raise _beyond("A key may not outlive the key that sets it.", "expires_at")
    if principal.ip_allow is not None:
        if creating and values.get("ip_allow") is None:
            values["ip_allow"] = sorted(str(n) for n in principal.ip_allow)
        if "ip_allow" in values:
            for item in values["ip_allow"] or ["0.0.0.0/0", "::/0"]:
                network = ipaddress.ip_network(item, strict=False)
                if not any(
                    network.version == mine.version and network.subnet_of(mine)  # type: ignore[arg-type]
                    for mine in principal.ip_allow
                ):
                    raise _beyond(f"{item} is outside the addresses this key may use.", "ip_allow")


def _caller_limit(principal: Principal, name: str) -> bool:
    if name in ("spend_cap", "period_cap"):
        return principal.has_caps
    return (principal.key_rpm if name == "rpm" else principal.key_tpm) is not None


def _model_ceiling(principal: Principal) -> frozenset[str] | None:
    key, group = principal.allowed_models, principal.group_models
    if key is None:
        return group
    return key if group is None else key & group


def _beyond(message: str, param: str | None = None) -> Exception:
    error = permission_denied(message, code="grant_exceeds_own")
    error.param = param
    return error
