"""Load and validate the YAML configuration.

One YAML file, ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``) interpolation for secrets, validated with
pydantic at start. Every error names the key, the file and the line, e.g.::

    config/suitecrm-ext.yaml:12: suitecrm.rest.timeout: Input should be a valid number

Per-plugin sections (``plugins.<name>``) are validated by the settings model the plugin registers
through the ``ext_settings_schema`` hook.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = Path("config/suitecrm-ext.yaml")
CONFIG_ENV_VAR = "SUITECRM_EXT_CONFIG"

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


class ConfigError(Exception):
    """The configuration is invalid. ``problems`` lists one human-readable line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# --- core sections ---------------------------------------------------------------------------


class RestSettings(StrictModel):
    """REST v4_1 transport (``/service/v4_1/rest.php``)."""

    enabled: bool = True
    username: str
    password: SecretStr
    path: str = "/service/v4_1/rest.php"
    page_size: int = Field(200, ge=1, le=1000)


class V8Settings(StrictModel):
    """V8 JSON:API transport with OAuth2 (``/Api/access_token``, ``/Api/V8``)."""

    enabled: bool = True
    client_id: str
    client_secret: SecretStr
    grant: Literal["client_credentials", "password"] = "client_credentials"
    username: str | None = None
    password: SecretStr | None = None
    page_size: int = Field(100, ge=1, le=1000)


class SoapSettings(StrictModel):
    """SOAP v4_1 transport (zeep). ``wsdl``: None = the packaged 7.14.6 copy, "server", or a file/URL."""

    enabled: bool = True
    username: str
    password: SecretStr
    wsdl: str | None = None
    page_size: int = Field(200, ge=1, le=1000)


class MySQLSettings(StrictModel):
    """Direct read access to SuiteCRM's MySQL/MariaDB database."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    user: str
    password: SecretStr = SecretStr("")
    database: str
    unix_socket: str | None = None
    page_size: int = Field(1000, ge=1, le=100000)
    # module name -> table name, for custom modules whose table is not the lower-cased module name
    tables: dict[str, str] = Field(default_factory=dict)
    # "Module.link" -> relationship name, where the MySQL reader cannot tell which relationship a link means
    links: dict[str, str] = Field(default_factory=dict)


class SuiteCRMSettings(StrictModel):
    """Where SuiteCRM is and how the sidecar talks to it."""

    url: str
    # SuiteCRM's installation directory when the sidecar runs on the SuiteCRM host (package install,
    # doctor's check of the push secret in config_override.php); None when it runs elsewhere
    root: str | None = None
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(4, ge=0, le=20)
    verify_tls: bool = True
    write_via: Literal["rest", "v8", "soap"] = "rest"
    read_via: Literal["api", "mysql"] = "api"
    rest: RestSettings | None = None
    v8: V8Settings | None = None
    soap: SoapSettings | None = None
    mysql: MySQLSettings | None = None

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL, e.g. https://crm.example.com")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _via_names_a_configured_transport(self) -> SuiteCRMSettings:
        # write_via/read_via must name an enabled section; a config with no API section at all is allowed
        # (tests, plugin listing) and fails later, at first use, with the same message (crm/gateway.py)
        on = [n for n in ("rest", "v8", "soap") if (sec := getattr(self, n)) is not None and sec.enabled]
        named = getattr(self, self.write_via)
        if (on or named is not None) and self.write_via not in on:
            raise ValueError(f"write_via: {self.write_via!r} is not configured: add an enabled "
                             f"suitecrm.{self.write_via}: section (configured: {', '.join(on) or 'none'})")
        if self.read_via == "mysql" and (self.mysql is None or not self.mysql.enabled):
            raise ValueError("read_via: 'mysql' needs an enabled suitecrm.mysql: section")
        return self


class StateSettings(StrictModel):
    """Where the sidecar keeps its own operational state."""

    backend: Literal["sqlite", "mysql"] = "sqlite"
    path: str = "var/state.sqlite3"
    mysql: MySQLSettings | None = None

    @model_validator(mode="after")
    def _mysql_backend_has_its_section(self) -> StateSettings:
        if self.backend == "mysql" and self.mysql is None:
            raise ValueError("backend: mysql needs a state.mysql: section (host, user, password, database)")
        return self


class PushSettings(StrictModel):
    """HTTP endpoint receiving events from the generated SuiteCRM logic hook."""

    enabled: bool = False
    listen: str = "127.0.0.1:8765"
    # the push URL as SuiteCRM reaches it, baked into the logic hooks of built packages
    public_url: str | None = None
    secret: SecretStr | None = None
    # older secrets still accepted (and used to sign answers) while a new one is rolled out
    previous_secrets: list[SecretStr] = Field(default_factory=list)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_clock_skew_seconds: int = Field(300, ge=1)
    validation_budget_ms: int = Field(2000, ge=10)
    # the receiver's bounds: requests served at once, and connections waiting for a worker
    # (beyond them a request gets 503 with Retry-After)
    max_workers: int = Field(8, ge=1, le=256)
    max_queue: int = Field(32, ge=1, le=10_000)


class EventsSettings(StrictModel):
    """Change feed and dispatcher settings."""

    poll_interval_seconds: float = Field(5.0, gt=0)
    overlap_seconds: int = Field(120, ge=0)
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(2.0, gt=0)
    push: PushSettings = Field(default_factory=PushSettings)
    # module -> "open" | "closed": what the PHP validation hook does when the sidecar is unreachable
    validation_fail_mode: dict[str, Literal["open", "closed"]] = Field(default_factory=dict)


class SmtpSettings(StrictModel):
    """Outgoing e-mail."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    sender: str = "suitecrm-ext@localhost"


class LoggingSettings(StrictModel):
    """Logging defaults; the CLI's ``-v`` and ``--log-format`` override them."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class PluginSection(BaseModel):
    """A ``plugins.<name>`` section before the plugin's own schema sees it."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = True


class Settings(StrictModel):
    """The whole configuration file."""

    # env file with the secrets referenced as ${NAME} (relative to the config file; see envfile.py)
    env_file: str | None = None
    suitecrm: SuiteCRMSettings
    state: StateSettings = Field(default_factory=StateSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    plugins: dict[str, PluginSection] = Field(default_factory=dict)


# --- loading -------------------------------------------------------------------------------


@dataclass
class Config:
    """A loaded, validated configuration.

    ``settings`` is the core, ``plugin_settings`` the validated per-plugin sections (a pydantic model
    when the plugin registered one, else the raw dict), ``secrets`` every secret value found, for the
    log redaction filter.
    """

    settings: Settings
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple, int] = field(default_factory=dict)
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    #: the env file named by ``env_file:`` (resolved), whose variables filled in ${NAME}s
    env_file: Path | None = None

    def plugin_enabled(self, name: str) -> bool:
        """A plugin is enabled unless its section says ``enabled: false``."""
        section = self.settings.plugins.get(name)
        return section is None or section.enabled

    def where(self, loc: tuple) -> str:
        """``file:line`` of a key path, as precise as the YAML allows."""
        return _where(self.path, self.lines, loc)

    def validate_plugin_sections(self, schemas: Mapping[str, type[BaseModel] | None | object]) -> None:
        """Validate each ``plugins.<name>`` section with the model its plugin registered.

        Raises ConfigError naming the key and line. Sections of plugins that are not installed are
        errors too (a typo in a plugin name must not be silently ignored); a plugin mapped to
        ``PLUGIN_NOT_LOADED`` (installed, left out by ``$SUITECRM_EXT_LOAD_PLUGINS``) keeps its section
        unvalidated.

        The models are validated with the pydantic context ``{"registry": ...}`` when ``schemas`` came from
        ``PluginRegistry.settings_schemas()`` (validators read ``info.context["registry"]`` to ask other
        plugins' hooks, e.g. for the scripts they add); a validator may raise ConfigError with lines of
        its own (the files a section names), which are reported as they are.
        """
        context = {"registry": getattr(schemas, "registry", None)}
        problems: list[str] = []
        raw_plugins = self.raw.get("plugins") or {}
        for name, section in raw_plugins.items():
            if name not in schemas:
                known = ", ".join(sorted(schemas)) or "none"
                problems.append(
                    f"{self.where(('plugins', name))}: plugins.{name}: no installed plugin of that name "
                    f"(installed: {known})"
                )
                continue
            model = schemas[name]
            if model is PLUGIN_NOT_LOADED:
                continue
            body = {k: v for k, v in (section or {}).items() if k != "enabled"}
            if model is None:
                if body:
                    keys = ", ".join(sorted(body))
                    problems.append(
                        f"{self.where(('plugins', name, next(iter(body))))}: plugins.{name}: "
                        f"this plugin takes no settings (got {keys})"
                    )
                continue
            try:
                self.plugin_settings[name] = model.model_validate(body, context=context)
            except ValidationError as exc:
                problems.extend(_format_errors(exc, self.path, self.lines, prefix=("plugins", name)))
            except ConfigError as exc:  # a section naming files of its own (e.g. process files) reports them
                problems.extend(exc.problems)
        for name, model in schemas.items():
            if (name not in self.plugin_settings and model is not None and model is not PLUGIN_NOT_LOADED
                    and name not in raw_plugins):
                try:
                    self.plugin_settings[name] = model.model_validate({}, context=context)
                except ConfigError as exc:
                    problems.extend(exc.problems)
                except ValidationError as exc:
                    problems.extend(
                        _format_errors(exc, self.path, self.lines, prefix=("plugins", name))
                    )
        if problems:
            raise ConfigError(problems)
        self.secrets |= _collect_secrets(self.plugin_settings)


#: in the schemas given to Config.validate_plugin_sections: an installed plugin that was not loaded
PLUGIN_NOT_LOADED = object()


def resolve_config_path(path: str | os.PathLike | None) -> Path:
    """The config file to use: the argument, else $SUITECRM_EXT_CONFIG, else config/suitecrm-ext.yaml."""
    if path:
        return Path(path)
    env = os.environ.get(CONFIG_ENV_VAR)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file. Raises ConfigError with every problem found."""
    p = resolve_config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"{p}: config file not found (give --config, set {CONFIG_ENV_VAR}, or copy "
             "config/suitecrm-ext.example.yaml to config/suitecrm-ext.yaml)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read config file: {exc}"]) from None
    return load_config_text(text, path=p, env=env)


def load_config_text(
    text: str, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Like load_config, from a string (``path`` is only used in messages)."""
    env = os.environ if env is None else env
    name = str(path) if path else "<config>"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}{line}: not valid YAML: {problem}"]) from None
    if node is None:
        raise ConfigError([f"{name}: the config file is empty"])
    lines: dict[tuple, int] = {}
    problems: list[str] = []
    secrets: set[str] = set()
    env_path, file_env = _env_file(node, path, name)
    if file_env:
        env = {**file_env, **env}  # the process environment wins (systemd EnvironmentFile, exports)
    try:
        data = _construct(node, (), lines, env, problems, name, secrets)
    except _DuplicateKey as exc:
        raise ConfigError([str(exc)]) from None
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: the top level must be a mapping of sections (suitecrm:, state:, ...)"])
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, path, lines)) from None
    cfg = Config(settings=settings, path=path, raw=data, lines=lines, env_file=env_path)
    cfg.secrets = secrets | _collect_secrets(settings) | _env_file_secrets(file_env)
    return cfg


def _env_file(node: yaml.Node, path: Path | None, name: str) -> tuple[Path | None, dict[str, str]]:
    """The top-level ``env_file:`` of a composed config, resolved against the config's folder, and its
    variables. Raises ConfigError (with the line) when it is named but cannot be read."""
    from suitecrm_ext.envfile import EnvFileError, read_env_file

    if not isinstance(node, yaml.MappingNode):
        return None, {}
    for key_node, value_node in node.value:
        if key_node.value != "env_file" or not isinstance(value_node, yaml.ScalarNode):
            continue
        if not value_node.value or value_node.tag.endswith(":null"):
            return None, {}
        target = Path(value_node.value).expanduser()
        if not target.is_absolute():
            target = (path.parent if path else Path.cwd()) / target
        try:
            return target, read_env_file(target)
        except EnvFileError as exc:
            raise ConfigError([f"{name}:{key_node.start_mark.line + 1}: env_file: {exc}"]) from None
    return None, {}


def _env_file_secrets(env: Mapping[str, str]) -> set[str]:
    """Values of an env file that look like secrets (by name), for the log redaction filter."""
    return {v for k, v in env.items() if v and len(v) >= 3 and any(w in k.lower() for w in _SECRET_WORDS)}


class _DuplicateKey(Exception):
    pass


def _construct(node, loc, lines, env, problems, name, secrets):
    """Turn a composed YAML node into Python data, recording the line of every key path."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise _DuplicateKey(
                    f"{name}:{key_node.start_mark.line + 1}: {_dotted(loc + (key,))}: duplicate key"
                )
            child = loc + (key,)
            out[key] = _construct(value_node, child, lines, env, problems, name, secrets)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, loc + (i,), lines, env, problems, name, secrets)
            for i, item in enumerate(node.value)
        ]
    loader = yaml.SafeLoader("")
    value = loader.construct_object(node)
    if isinstance(value, str) and "${" in value:
        value = _interpolate(value, loc, lines[loc], env, problems, name, secrets)
        if value is not None and node.style is None:
            # an unquoted ${X} gets the YAML type of what X holds (e.g. a port number)
            resolved = yaml.safe_load(value) if value.strip() else value
            value = resolved if isinstance(resolved, (int, float, bool)) else value
    return value


def _interpolate(value, loc, line, env, problems, name, secrets):
    def repl(m: re.Match) -> str:
        var, default = m.group(1), m.group(2)
        if var in env and env[var] != "":
            if _is_secret_key(loc):
                secrets.add(env[var])
            return env[var]
        if default is not None:
            return default
        problems.append(
            f"{name}:{line}: {_dotted(loc)}: environment variable {var} is not set"
        )
        return ""

    return _ENV_RE.sub(repl, value)


_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey")


def _is_secret_key(loc: tuple) -> bool:
    return bool(loc) and isinstance(loc[-1], str) and any(w in loc[-1].lower() for w in _SECRET_WORDS)


def _collect_secrets(obj: Any) -> set[str]:
    """Every SecretStr value (and every value under a secret-looking key) in a settings tree."""
    found: set[str] = set()

    def walk(o: Any, key: str = "") -> None:
        if isinstance(o, SecretStr):
            v = o.get_secret_value()
            if v:
                found.add(v)
        elif isinstance(o, BaseModel):
            for k in type(o).model_fields:
                walk(getattr(o, k), k)
            for k, v in (o.model_extra or {}).items():
                walk(v, k)
        elif isinstance(o, Mapping):
            for k, v in o.items():
                walk(v, str(k))
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v, key)
        elif isinstance(o, str) and o and any(w in key.lower() for w in _SECRET_WORDS):
            found.add(o)

    walk(obj)
    return found


def _dotted(loc: tuple) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "<top>"


def _where(path: Path | None, lines: dict[tuple, int], loc: tuple) -> str:
    name = str(path) if path else "<config>"
    probe = tuple(loc)
    while probe not in lines and probe:
        probe = probe[:-1]
    line = lines.get(probe)
    return f"{name}:{line}" if line else name


def _format_errors(exc: ValidationError, path, lines, prefix: tuple = ()) -> list[str]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        inner = (err.get("ctx") or {}).get("loc")
        if isinstance(inner, tuple):  # a validator that checked nested data names where inside (workflow)
            loc += inner
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/suitecrm-ext.example.yaml)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append(f"{_where(path, lines, loc)}: {_dotted(loc)}: {msg}")
    return out


def load_yaml_model(path: str | os.PathLike, model: type[BaseModel], *, prefix: tuple = (),
                    env: Mapping[str, str] | None = None, context: Any = None) -> BaseModel:
    """Read a YAML file of definitions (e.g. ``config/routes/*.yaml``) and validate it with ``model``.

    Raises ConfigError whose lines name the file, the line and the key, like the main config's errors
    (``prefix`` is put before every key path in the messages). ``context`` is handed to the model's
    validators (pydantic's validation context).
    """
    p = Path(path)
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read: {exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{name}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    if node is None:
        raise ConfigError([f"{name}: the file is empty"])
    lines: dict[tuple, int] = {}
    problems: list[str] = []
    try:
        data = _construct(node, prefix, lines, os.environ if env is None else env, problems, name, set())
    except _DuplicateKey as exc:
        raise ConfigError([str(exc)]) from None
    if problems:
        raise ConfigError(problems)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, p, lines, prefix=prefix)) from None
