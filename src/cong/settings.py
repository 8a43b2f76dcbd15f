"""The one typed settings object: defaults < config file (TOML) < ``CONG_*`` environment.

Nested sections use ``__`` in environment names, e.g. ``CONG_MODEL_SERVER__THREADS=2``.
The object is created once at start-up (``Settings.load()``) and passed down.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cong.file_settings import FilesSettings
from cong.providers.registry import ProtocolName

DEFAULT_CONFIG_FILE = "cong.toml"


class EmbeddedChatModelSettings(BaseModel):
    """Another GGUF chat model served by the embedded model server."""

    id: str = Field(min_length=1, description="the public model id")
    path: str = Field(min_length=1, description="the GGUF file; chat template read from it")
    context: int | None = Field(
        None, ge=256, description="tokens per request; default: model_server.context_size"
    )
    aliases: list[str] = Field(default_factory=list, description="other names for it")


class ModelServerSettings(BaseModel):
    """The embedded model server: a child process speaking the OpenAI protocol."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port at start")
    chat_model: str = "smollm2-135m-instruct"
    chat_model_path: str | None = Field(None, description="GGUF file; default: the packaged one")
    embedding_model: str = "all-minilm-l6-v2"
    embedding_model_path: str | None = Field(
        None, description="sentence-transformers folder; default: the packaged one"
    )
    context_size: int = Field(8192, ge=256)
    threads: int = Field(0, ge=0, description="0 = number of cores")
    max_queue: int = Field(
        64, ge=1, description="chat requests waiting for a slot, per model, before 429"
    )
    parallel: int = Field(4, ge=1, description="requests decoded together per chat model")
    kv_cache_tokens: int = Field(
        0, ge=0, description="KV cells of a model; 0 = 2 x context; parallel x context: per slot"
    )
    max_output_tokens: int = Field(
        2048, ge=1, description="completion tokens of a request that sets no max_tokens"
    )
    models: list[EmbeddedChatModelSettings] = Field(
        default_factory=list, description="extra GGUF chat models"
    )
    embedding_batch_size: int = Field(32, ge=1)
    onnx_cache: str | None = Field(
        None,
        description="folder of the embedding model's ONNX Runtime graph (exported there on "
        "first start); default: ~/.cache/cong/onnx; empty: PyTorch only",
    )
    startup_timeout: float = Field(180.0, gt=0)
    health_interval: float = Field(2.0, gt=0)
    watchdog_seconds: float = Field(
        120.0, gt=0, description="restart after this long without decode progress or answer"
    )
    key: SecretStr | None = Field(
        None, description="set by cong serve at each start: the model server's access key"
    )


class UpstreamSettings(BaseModel):
    """An upstream (channel) declared in the config file. Channels can also be managed in
    the database with ``cong channels …`` or the admin API."""

    name: str
    type: ProtocolName = Field("openai", description="the upstream's protocol")
    base_url: str
    api_key: SecretStr | None = None
    api_version: str | None = Field(None, description="Azure api-version / Anthropic version")
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="several keys: requests rotate over them"
    )
    image_models: list[str] = Field(default_factory=list)
    priority: int = Field(0, description="higher tiers are tried first")
    weight: int = Field(1, ge=1, description="share of traffic inside a priority tier")
    groups: list[str] | None = Field(None, description="user groups allowed; None = all")
    enabled: bool = True
    models: list[str] = Field(default_factory=list, description="chat model ids")
    embedding_models: list[str] = Field(default_factory=list)
    text_only_models: list[str] = Field(
        default_factory=list, description="chat models that must not be sent images"
    )
    owned_by: str = ""
    model_map: dict[str, str] = Field(
        default_factory=dict, description="public model id -> upstream model name"
    )
    native_responses: bool = Field(
        False,
        description="an OpenAI-compatible upstream that serves /v1/responses itself: "
        "Responses requests are passed through to it instead of translated to chat",
    )


class RoutingSettings(BaseModel):
    max_attempts: int = Field(4, ge=1, description="upstream attempts per request, at most")
    retries_per_channel: int = Field(1, ge=0, description="retries on the same channel")
    backoff_base: float = Field(0.2, ge=0, description="first retry delay (s), doubled each time")
    backoff_max: float = Field(4.0, ge=0)
    max_retry_after: float = Field(
        10.0, ge=0, description="longest upstream retry-after the gateway waits for in-request"
    )
    failure_threshold: int = Field(
        3, ge=1, description="failures in the window that open a circuit"
    )
    failure_window: float = Field(60.0, gt=0)
    cooldown: float = Field(30.0, gt=0, description="seconds a failing channel is skipped")
    refresh_seconds: float = Field(5.0, gt=0, description="how often workers reload channels")


class BillingSettings(BaseModel):
    currency: str = Field("USD", description="the currency wallets and prices are in")
    unpriced: Literal["free", "reject"] = Field(
        "free", description="models with no price: serve free, or refuse with 403"
    )
    default_output_tokens: int = Field(
        4096, ge=1, description="output budget reserved when a request sets no max_tokens"
    )
    reservation_ttl: float = Field(
        1200.0, gt=0, description="the sweeper releases reservations older than this (s)"
    )
    sweep_interval: float = Field(60.0, gt=0)
    drain_seconds: float = Field(
        10.0, ge=0, description="after a client disconnects, read upstream this long for usage"
    )
    max_concurrent_drains: int = Field(
        100, ge=0, description="streams drained at once after disconnects; more stop at once"
    )
    usage_retention_days: int = Field(90, ge=1)
    price_cache_seconds: float = Field(
        5.0, ge=0, description="how long a worker trusts its copy of the prices table"
    )


class ServerSettings(BaseModel):
    drain_seconds: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="on SIGTERM, how long requests in flight may run on before streams are "
        "ended (0: stop at once)",
    )


class TimeoutSettings(BaseModel):
    connect: float = Field(10.0, gt=0)
    first_byte: float = Field(300.0, gt=0)
    idle: float = Field(300.0, gt=0)
    total: float = Field(900.0, gt=0)


class WebSettings(BaseModel):
    """Web sign-in: sessions, cookies and login attempt limits."""

    session_hours: float = Field(168.0, gt=0, description="a session ends this long after sign-in")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: Secure when the request came over https"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed",
    )
    login_attempts_per_account: int = Field(10, ge=1, description="per minute, per user name")
    login_attempts_per_ip: int = Field(30, ge=1, description="per minute, per client address")


class MemorySettings(BaseModel):
    """Conversations and memories (docs/memory.md)."""

    enabled: bool = Field(True, description="off: every key behaves as memory mode off")
    default_mode: Literal["off", "history", "full"] = Field(
        "history", description="mode of keys whose key and group set none"
    )
    web_mode: Literal["off", "history", "full"] = Field(
        "full", description="mode of the web chat (a key session keeps its key's own mode)"
    )
    embedding_model: str = Field(
        "all-minilm-l6-v2", description="model id (in the catalog) that embeds memories"
    )
    extractor_model: str | None = Field(
        None, description="chat model that extracts memories after an answer; None: off"
    )
    summary_model: str | None = Field(
        None, description="chat model that summarises old turns; None: the request's model"
    )
    inject_tokens: int = Field(400, ge=0, description="budget of the injected memories")
    top_k: int = Field(6, ge=1, le=50, description="memories injected at most")
    min_similarity: float = Field(
        0.25,
        ge=0,
        le=1,
        description="cosine a memory needs to be injected for an English question (a "
        "Vietnamese one's vector matches: 0.6); 0: the top_k closest always",
    )
    context_tokens: int = Field(
        8192, ge=256, description="context length of models whose length is unknown"
    )
    dedup_similarity: float = Field(
        0.92, gt=0, le=1, description="an extracted memory this close to one kept is dropped"
    )


DEFAULT_ALIASES = {
    "gpt-4o": "smollm2-135m-instruct",
    "gpt-4o-mini": "smollm2-135m-instruct",
    "gpt-3.5-turbo": "smollm2-135m-instruct",
    "text-embedding-3-small": "all-minilm-l6-v2",
    "text-embedding-ada-002": "all-minilm-l6-v2",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONG_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    data_dir: Path = Path("data")
    database_url: str = Field("", description="default: SQLite file in the data dir")
    admin_token: SecretStr | None = None
    secret_key: SecretStr | None = Field(
        None, description="HMAC key for API key hashes; default: generated in the data dir"
    )
    config: Path | None = None
    public_url: str = Field("", description="base URL shown to users; default http://host:port")
    log_level: str = "info"
    access_log: bool = True
    key_cache_seconds: float = Field(5.0, ge=0)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    keepalive_seconds: float = Field(15.0, gt=0)
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ALIASES))
    upstreams: list[UpstreamSettings] = Field(default_factory=list)
    model_server: ModelServerSettings = Field(default_factory=ModelServerSettings)
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    files: FilesSettings = Field(default_factory=FilesSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    redis_url: str | None = Field(
        None, description="rate limits shared by several gateway processes"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _config_file(init_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build the effective settings (config file, then environment, then overrides)."""
        return cls(**overrides)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cong.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.files.dir if self.files.dir is not None else self.data_dir / "files"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, with every secret masked."""
        data = self.model_dump(mode="json")
        data["database_url"] = mask_url(self.effective_database_url)
        if self.redis_url:
            data["redis_url"] = mask_url(self.redis_url)
        for upstream in data.get("upstreams", []):
            upstream["base_url"] = mask_url(upstream["base_url"])
        return data


def _config_file(init_settings: PydanticBaseSettingsSource) -> Path | None:
    explicit = init_settings().get("config") or os.environ.get("CONG_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@]*:)(?P<password>[^@]+)(?P<tail>@)")


def mask_url(url: str) -> str:
    """Hide the password part of a URL (``scheme://user:***@host``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['tail']}", url)
