"""Effective settings: defaults < TOML settings file < ``.env`` < environment < command line.

Environment variables use the prefix ``LMS_SYNC_`` and ``__`` for nesting, for example
``LMS_SYNC_MOODLE__URL`` and ``LMS_SYNC_MOODLE__TOKEN``. The settings object is built once by the
CLI (``load_settings``) and passed down; library code never reads the environment itself.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from .errors import ConfigError, Problem
from .files import MAX_TOML_BYTES, read_bytes, read_secret, read_text, read_toml

DEFAULT_SETTINGS_FILE = Path("config/settings.toml")
DEFAULT_PROGRAM_FILE = Path("config/program.toml")
DEFAULT_PROGRAMS_DIR = Path("config/programs")
DEFAULT_STATE_PATH = Path("var/lms_sync.sqlite3")
ENV_PREFIX = "LMS_SYNC_"

_settings_file: ContextVar[Path | None] = ContextVar("_settings_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoodleSettings(_Section):
    """How to reach Moodle's REST web services."""

    url: str | None = Field(default=None, description="Moodle site root, e.g. https://formation.ena.tn/")
    token: SecretStr | None = Field(default=None, description="web-service token of the sync account")
    token_file: Path | None = Field(default=None, description="file holding the token (systemd credential)")
    verify_tls: bool = Field(default=True, description="verify the server certificate; turn off only for a lab")
    ca_bundle: Path | None = Field(default=None, description="CA bundle for a private certificate authority")
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0, description="longest wait for one read from the socket")
    deadline: float = Field(
        default=120.0, gt=0, description="longest one call may take, from connecting to the answer's last byte"
    )
    max_response_mb: float = Field(default=64.0, gt=0, description="larger answers are refused (MB)")
    retry_attempts: int = Field(default=5, ge=1, description="attempts per call for transient faults")
    retry_max_seconds: float = Field(default=120.0, gt=0, description="give up retrying a call after this")
    # 8 parallel reads ~ 8 php-fpm workers of a modest production site; the rate cap only binds on a
    # fast LAN. Lower both on a small (2-core) site. See benchmarks/bench_pull.py for the measurements.
    concurrency: int = Field(default=8, ge=1, le=32, description="parallel read calls")
    requests_per_second: float = Field(default=160.0, gt=0, description="rate limit for parallel reads")
    max_input_vars: int = Field(default=1000, ge=20, description="PHP max_input_vars of the site")
    completion_report_id: int | None = Field(
        default=None, description="Report builder custom report with participants' completion (faster pull)"
    )

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _web_url(value, "https://formation.ena.tn (or http:// for a lab site)").rstrip("/")

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle_readable(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise ValueError(f"{value} is not a file; give the PEM file of your certificate authority")
        if not os.access(value, os.R_OK):
            raise ValueError(f"{value} cannot be read by this user; make it readable (it holds no secret)")
        try:
            pem = read_bytes(value, missing_hint="", max_bytes=MAX_TOML_BYTES)
        except ConfigError as err:
            raise ValueError(f"{value} {err.problems[0].message}") from None
        if b"-----BEGIN CERTIFICATE-----" not in pem:
            raise ValueError(f"{value} holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a .cer/.der "
                             "file with: openssl x509 -inform der -in ca.cer -out ca.pem")
        return value

    @model_validator(mode="after")
    def _token_from_file(self) -> MoodleSettings:
        if self.token is None and self.token_file is not None:
            text = read_secret(self.token_file, "token_file")
            object.__setattr__(self, "token", SecretStr(text))
        return self


def _web_url(value: str, example: str) -> str:
    """An http(s) URL without user name or password, or ValueError saying what to write."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with https://, like {example}")
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # Never echo the value: it holds a password.
        raise ValueError("must not hold a user name or password (user:pass@); remove them: Moodle's web "
                         "services authenticate with the token, and a URL is printed in messages")
    if not parts.hostname:
        raise ValueError(f"has no host name; write it like {example}")
    return value


class PushSettings(_Section):
    """How the programme is pushed into Moodle."""

    category_idnumber: str | None = Field(default=None, description="overrides [course].category_idnumber")
    auth: str = Field(default="manual", description="Moodle auth plugin for created users")
    role_id: int = Field(default=5, ge=1, description="role given on enrolment (5 = student in a default Moodle)")
    max_deletes: int = Field(default=3, ge=0, description="refuse plans deleting more objects, without --force-delete")


class PullSettings(_Section):
    """How completion is pulled from Moodle (`lms-sync pull`)."""

    report_page_size: int = Field(default=1000, ge=1, description="rows per Report builder call")
    enrolled_page_size: int = Field(default=1000, ge=1, description="users per core_enrol_get_enrolled_users call")
    role_id: int = Field(default=5, ge=1, description="participants are the users holding this role (5 = student)")
    attendance_final_days: float = Field(
        default=7.0, ge=0, description="attendance of a session ended this long ago is not read again (Report builder)"
    )
    full_reread_days: float = Field(
        default=7.0, gt=0, description="read every participant again after this long, to catch what teachers "
        "changed (in between, only those who opened the course since)"
    )


class FeedSettings(_Section):
    """The iCalendar feed participants subscribe to."""

    out_path: Path = Field(default=Path("var/sessions.ics"), description="where `lms-sync feed` writes")
    uid_domain: str | None = Field(default=None, description="right-hand side of UIDs; default: programme URL host")
    refresh_interval: timedelta = Field(default=timedelta(hours=12), description="REFRESH-INTERVAL hint")
    public_url: str | None = Field(default=None, description="public https URL of sessions.ics, for subscribe links")
    name: str | None = Field(default=None, min_length=1,
                             description="name of the calendar of every programme (default: Séances de formation)")

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _web_url(value, "https://formation.ena.tn/lms-sync/sessions.ics")


class ReportSettings(_Section):
    """Completion reports for DGIDT."""

    lang: Literal["fr", "en"] = "fr"
    csv_delimiter: Literal[";", ","] = ";"
    out_dir: Path = Field(default=Path("var/reports"))


class ServeSettings(_Section):
    """The HTTP service (`lms-sync serve`)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    report_tokens: list[SecretStr] = Field(default_factory=list, description="bearer tokens allowed to read reports")
    report_token_hashes: list[str] = Field(
        default_factory=list, description="sha256 hex of generated tokens (`lms-sync token new`)"
    )
    max_run_age_hours: float = Field(default=36.0, gt=0, description="/healthz fails when the last run is older")
    threads: int = Field(default=4, ge=1, le=64, description="worker threads; half of them at most render reports")
    max_connections: int = Field(default=1000, ge=10, le=100_000, description="open connections served at once")
    trusted_proxies: int = Field(
        default=0, ge=0, le=5,
        description="reverse proxies in front whose X-Forwarded-Proto/-Host/-Prefix are believed (1 behind nginx)",
    )
    idle_timeout: int = Field(default=30, ge=1, le=3600, description="seconds before a silent connection is closed")


class LogSettings(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    """All of lms_sync's settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
    )

    program_file: Path = Field(default=DEFAULT_PROGRAM_FILE, description="the programme (sessions), when there is one")
    programs_dir: Path = Field(default=DEFAULT_PROGRAMS_DIR,
                               description="one <programme>.toml per programme; used when it holds any")
    roster_file: Path | None = Field(default=None, description="participants CSV; none means no users are pushed")
    state_path: Path = Field(default=DEFAULT_STATE_PATH, description="SQLite state store")
    moodle: MoodleSettings = Field(default_factory=MoodleSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    pull: PullSettings = Field(default_factory=PullSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line, then environment, then ``.env``, then the TOML settings file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, _OwnKeysOnly(dotenv_settings)]
        toml_file = _settings_file.get()
        if toml_file is not None:
            sources.append(_TomlFile(settings_cls, toml_file=toml_file))
        return tuple(sources)


class _TomlFile(TomlConfigSettingsSource):
    """The settings file, read like the programme: a BOM is fine, a syntax error names its line."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return read_toml(Path(file_path), missing_hint="pass an existing file with --settings")


class _OwnKeysOnly(PydanticBaseSettingsSource):
    """A ``.env`` source that ignores other programs' variables (they are not typos of ours)."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        fields = self.settings_cls.model_fields
        return {k: v for k, v in data.items() if k in fields or k.lower().startswith(ENV_PREFIX.lower())}


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def load_settings(settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once; bad values raise ConfigError naming the key and its variable."""
    if not os.access(".", os.R_OK | os.X_OK):
        # config/settings.toml and .env are looked for here; an unreadable folder would fail later, obscurely.
        raise ConfigError(
            f"the current folder cannot be read by this user (uid {os.getuid()}): lms_sync looks for "
            "config/settings.toml and .env in it",
            hint="cd to a folder this user can read (the installed `lms-sync` command does so itself)",
        )
    explicit = settings_file is not None
    path = settings_file if explicit else DEFAULT_SETTINGS_FILE
    if explicit and not path.is_file():  # type: ignore[union-attr]
        raise ConfigError(
            [Problem(str(path), "", "settings file not found")],
            hint="pass an existing file with --settings, or leave it out to use config/settings.toml",
        )
    token = _settings_file.set(path if path is not None and path.is_file() else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        toml_file = path if path is not None and path.is_file() else None
        problems = [_problem(err, toml_file) for err in exc.errors(include_url=False, include_input=False)]
        raise ConfigError(problems, hint="fix these settings in the file or the environment") from None
    except SettingsError as exc:  # an environment value that is not valid JSON for a list or table
        raise ConfigError(
            [Problem("environment", "", str(exc))],
            hint=f"nested values in {ENV_PREFIX}* variables are JSON, or use __ for each key",
        ) from None
    finally:
        _settings_file.reset(token)


def _problem(err: Any, toml_file: Path | None) -> Problem:
    """One invalid setting, blamed on the place it came from, in that place's own words."""
    loc = tuple(err["loc"])
    source = _source_of(loc, toml_file)
    message = _clean_msg(err["msg"])
    if err["type"] == "extra_forbidden":
        message = _unknown_key(loc)
    if source == "environment":
        message += f" (environment variable {_env_name(loc)})"
    elif source == ".env":
        message += f" (variable {_env_name(loc)} in .env)"
    return Problem(source, ".".join(str(p) for p in loc), message)


def _unknown_key(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    keys = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
    where = f" in [{'.'.join(str(p) for p in loc[:-1])}]" if len(loc) > 1 else ""
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {str(loc[-1])!r}{where}; {guess}allowed keys: {', '.join(keys)}"


def _dotenv_names() -> set[str]:
    try:
        text = read_text(Path(".env"), missing_hint="", max_bytes=MAX_TOML_BYTES)
    except ConfigError:
        return set()
    return {line.split("=", 1)[0].strip().removeprefix("export ").strip().upper()
            for line in text.splitlines() if "=" in line}


def _source_of(loc: tuple[Any, ...], toml_file: Path | None) -> str:
    """Where a bad value most likely came from, so the message points at the right place."""
    names = {_env_name(loc[:i]) for i in range(1, len(loc) + 1)}
    if any(name in {k.upper() for k in os.environ} for name in names):
        return "environment"
    if Path(".env").is_file() and names & _dotenv_names():
        return ".env"
    return str(toml_file) if toml_file is not None else "settings"


def setting_variables() -> list[str]:
    """Every LMS_SYNC_* variable name that sets something (sections and their keys)."""
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        names.append(_env_name((name,)))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [_env_name((name, sub)) for sub in annotation.model_fields]
    return names


def unknown_variables(environ: Mapping[str, str]) -> list[Problem]:
    """A warning for each LMS_SYNC_* variable that matches no setting (it would be ignored), with the nearest name."""
    known = setting_variables()
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        guess = f"; did you mean {close[0]}?" if close else "; see `lms-sync config` for the settings"
        problems.append(Problem("environment", name, f"matches no setting and is ignored{guess}", "warning"))
    return problems


def _clean_msg(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def input_files(settings: Settings, settings_file: Path | None = None) -> dict[str, Path]:
    """Every file lms_sync reads or keeps, by what it is: no output may land on one of them."""
    state = Path(settings.state_path)
    files: dict[str, Path] = {
        "state store": state,
        "state store's write-ahead log": state.with_name(state.name + "-wal"),
        "state store's shared-memory file": state.with_name(state.name + "-shm"),
        "run lock": state.with_name(state.name + ".lock"),
        "programme": Path(settings.program_file),
    }
    if settings.roster_file is not None:
        files["roster"] = Path(settings.roster_file)
    if settings_file is not None:
        files["settings file"] = settings_file
    if settings.moodle.token_file is not None:
        files["token file"] = settings.moodle.token_file
    if settings.moodle.ca_bundle is not None:
        files["CA bundle"] = settings.moodle.ca_bundle
    if Path(".env").is_file():
        files[".env file"] = Path(".env")
    return files


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings (the Moodle token, report tokens), to mask wherever text goes out."""
    values = [settings.moodle.token] + list(settings.serve.report_tokens)
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def masked_settings(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with every secret masked."""
    return settings.model_dump(mode="json")

