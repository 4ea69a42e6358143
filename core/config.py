"""Settings: one object read from a TOML file and ``METERHUB_*`` environment variables.

Precedence, highest first: keyword arguments (tests), environment variables, the TOML file named
by ``METERHUB_CONFIG`` (or ``meterhub.toml`` in the working directory when it exists), defaults.
The default is an embedded SQLite database in the data directory, so a laptop needs no service.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from meterhub.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Environment variable naming the TOML settings file.
CONFIG_ENV = "METERHUB_CONFIG"
DEFAULT_CONFIG_FILE = "meterhub.toml"
#: Prefix of every environment variable MeterHub reads.
ENV_PREFIX = "METERHUB_"
#: ``METERHUB_*`` variables that are not settings: the settings file, and the switches of the
#: test suite, CI and benchmarks (``tests/conftest.py``, ``Makefile``, ``bench/``). Any other
#: unknown one is warned about.
OTHER_VARIABLES = frozenset(
    {
        CONFIG_ENV,
        "METERHUB_TEST_DB",
        "METERHUB_TEST_PG_URL",
        "METERHUB_REQUIRE_POSTGRESQL",
        "METERHUB_BENCH_DIR",
        "METERHUB_BENCH_PG_URL",
    }
)
#: The log levels ``log_level`` accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_URL_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "oracle": "oracle+oracledb",
    "oracle+oracledb": "oracle+oracledb",
}


def _config_file() -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_ENV} names {path}, which is not a file")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_FILE
    return local if local.is_file() else None


class _TomlFile(TomlConfigSettingsSource):
    """The TOML settings file; a file that cannot be read or parsed is named with the place."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        try:
            with file_path.open("rb") as file:
                return tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:  # the message ends "(at line L, column C)"
            raise ConfigurationError(
                f"settings file {file_path} is not valid TOML: {exc}"
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigurationError(
                f"settings file {file_path} is not UTF-8 text (byte {exc.start})"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"settings file {file_path} cannot be read: {exc.strerror}"
            ) from None


def normalize_database_url(url: str) -> str:
    """Return ``url`` with the driver MeterHub uses for its scheme.

    ``postgresql://`` becomes ``postgresql+psycopg://`` and ``oracle://`` becomes
    ``oracle+oracledb://``; any other scheme is refused with the list of accepted ones, and a URL
    whose parts cannot be parsed (a port that is no number or out of range) is refused without
    repeating it (it may hold a password).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _URL_SCHEMES:
        accepted = "sqlite, postgresql, oracle"
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use one of {accepted}")
    normalized = f"{_URL_SCHEMES[scheme]}://{rest}"
    try:
        port = make_url(normalized).port
    except ValueError:
        raise ValueError("the port of the database URL is not a number") from None
    except ArgumentError:  # the URL as a whole does not parse
        raise ValueError("not a database URL (scheme://user:password@host:port/database)") from None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"the port of the database URL must be 1 to 65535, not {port}")
    return normalized


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``METERHUB_*`` environment variables that name no setting, each with a suggestion.

    Returns lines such as ``METERHUB_PROT names no setting (did you mean METERHUB_PORT?)``.
    """
    environ = os.environ if environ is None else environ
    names = sorted(name.upper() for name in Settings.model_fields)
    known = {ENV_PREFIX + name for name in names}
    lines = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), names, n=1)
        hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
        lines.append(f"{variable} names no setting and is ignored{hint}")
    return lines


class Settings(BaseSettings):
    """Every setting of a MeterHub deployment; see ``docs/installation.md`` for each."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    #: Where the embedded database, keys and logs live.
    data_dir: Path = Path("var")
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``.
    database_url: str = ""
    #: The signed license file; empty means ``data_dir/license.json`` when present, else the
    #: development license.
    license_file: Path | None = None
    #: PEM file of the Ed25519 public key that verifies licenses; empty means the vendor key
    #: shipped with MeterHub.
    license_public_key: Path | None = None
    #: Key that encrypts meter credentials (passwords, DLMS keys); empty means
    #: ``data_dir/credentials.key``, created by ``meterhub init``. Keep it out of backups of the
    #: database.
    credential_key_file: Path | None = None
    #: Fail at start-up when any plugin fails to load (default: report and run on).
    plugins_strict: bool = False
    #: Load only these plugin names (comma separated in the environment); empty means all.
    plugins_only: Annotated[list[str], NoDecode] = []
    #: Do not discover installed plugins at all; only the ones registered in code.
    plugins_disable_autoload: bool = False
    #: Log every hook call (for plugin authors).
    plugins_trace: bool = False
    #: Address the web UI and REST API listen on.
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    #: Level of the log on stderr: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str = "INFO"
    #: Acquisition: sessions at once in the default line pool (IP devices, meters without one).
    acquisition_default_capacity: Annotated[int, Field(ge=1, le=100_000)] = 64
    #: Acquisition: results of at most this many tasks are committed in one transaction.
    acquisition_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 500
    #: Acquisition: a batch is committed at the latest this many seconds after its first result.
    acquisition_batch_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    #: Acquisition: share of each line pool a large group job started by a user may take.
    acquisition_user_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    #: Acquisition: a user-started job with more tasks than this is "large" (gets the share).
    acquisition_large_job: Annotated[int, Field(ge=1)] = 100
    #: Acquisition: session counters (DLMS invocation counter) reserved per block.
    acquisition_counter_block: Annotated[int, Field(ge=16, le=1_000_000)] = 1000
    #: Acquisition: seconds the scheduler lease lasts without renewal (renewed every 1/6 of it);
    #: a waiting ``meterhub scheduler`` takes over this long after the active one died.
    acquisition_lease_seconds: Annotated[float, Field(ge=3, le=3600)] = 30.0
    #: Acquisition: seconds a thread may hold the interpreter before another one that waits
    #: gets it (CPython's default is 0.005; see :mod:`meterhub.acquisition.interpreter`).
    acquisition_switch_interval: Annotated[float, Field(ge=0.001, le=1)] = 0.05
    #: Acquisition: allocations between collections of the young generation while an engine
    #: runs (CPython's default is 700; 0 leaves the garbage collector as it is).
    acquisition_gc_threshold: Annotated[int, Field(ge=0, le=10_000_000)] = 50_000
    #: Scaled-out acquisition: the RabbitMQ broker (an AMQP URL) ``meterhub scheduler`` and
    #: ``meterhub worker`` meet at.
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    #: Scaled-out acquisition: the name of the durable priority queue of the tickets.
    broker_queue: Annotated[str, Field(min_length=1, max_length=200)] = "meterhub.acquisition"
    #: Scaled-out acquisition: meters whose tickets share one broker message at most (a worker
    #: acknowledges a message once all its tasks are committed; 1: a message per meter).
    broker_message_meters: Annotated[int, Field(ge=1, le=1000)] = 10
    #: Debug logs: keep the frame traces of "all" sessions, only "failed" ones, or "none".
    trace_keep: str = "all"
    #: Debug logs: frame traces older than this many days are cleared (statistics stay).
    trace_retention_days: Annotated[float, Field(gt=0)] = 14.0
    #: Meters that call in: ``HOST:PORT`` the acquisition engine listens on; empty: no listener.
    inbound_listen: str = ""
    #: Meters that call in: the driver that reads what they push.
    inbound_driver: str = "dlms"

    @field_validator("inbound_listen")
    @classmethod
    def _inbound_listen(cls, value: str) -> str:
        text = value.strip()
        if text:
            host, _, port = text.rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) < 65536:
                raise ValueError(f"must be HOST:PORT with a port 0..65535, not {value!r}")
        return text

    #: Communication statistics per virtual meter, device and path older than this many days
    #: are deleted (the summary stays).
    statistics_retention_days: Annotated[float, Field(gt=0)] = 400.0

    @field_validator("trace_keep")
    @classmethod
    def _trace_keep(cls, value: str) -> str:
        keep = value.strip().lower()
        if keep not in ("all", "failed", "none"):
            raise ValueError(f"must be all, failed or none, not {value!r}")
        return keep

    #: Bearer token a Prometheus scrape of ``/metrics`` must send; empty: ``/metrics`` is open
    #: (it never needs a login).
    metrics_token: SecretStr = SecretStr("")

    #: Send the login cookie only over HTTPS (``Secure``); browsers treat localhost as secure.
    secure_cookies: bool = True
    #: LDAP / Active Directory server (``ldap://host:389``, ``ldaps://host:636``); empty: none.
    ldap_url: str = ""
    #: The account MeterHub binds as to look users up (empty: anonymous look-ups).
    ldap_bind_dn: str = ""
    ldap_bind_password: SecretStr = SecretStr("")
    #: Where users are searched, and how (``{username}`` is the name typed, escaped).
    ldap_user_base: str = ""
    ldap_user_filter: str = "(uid={username})"
    #: Where groups are searched, and how (``{dn}``: the user's entry; ``{username}``).
    ldap_group_base: str = ""
    ldap_group_filter: str = "(member={dn})"
    #: The attribute that names a group (matched against the roles' directory groups).
    ldap_group_name_attribute: str = "cn"
    #: Upgrade ``ldap://`` connections with StartTLS.
    ldap_start_tls: bool = False
    #: Seconds to wait for the directory.
    ldap_timeout: Annotated[float, Field(gt=0, le=120)] = 5.0

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value) if value else value

    @field_validator("plugins_only", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(_TomlFile(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the configured one or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'meterhub.sqlite3').resolve()}"

    @property
    def effective_credential_key_file(self) -> Path:
        """The credential key file in use."""
        if self.credential_key_file is not None:
            return self.credential_key_file
        return self.data_dir / "credentials.key"

    @property
    def effective_license_file(self) -> Path | None:
        """The license file in use, or ``None`` for the development license."""
        if self.license_file is not None:
            return self.license_file
        default = self.data_dir / "license.json"
        return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any invalid value into a :class:`ConfigurationError`.

    A ``METERHUB_*`` environment variable that names no setting is logged as a warning (by name,
    with the closest setting), since a misspelt variable is otherwise silently ignored.
    """
    for line in unknown_variables():
        log.warning(line)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
