"""Config loading: env interpolation, validation errors naming key, file and line; plugin sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from suitecrm_ext.config import ConfigError, load_config, load_config_text

ROOT = Path(__file__).parent.parent
CONFIGS = Path(__file__).parent / "fixtures" / "configs"
EXAMPLE = ROOT / "config" / "suitecrm-ext.example.yaml"


class HelloSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "Welcome"


def problems(path: Path, env=None, schemas=None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        cfg = load_config(path, env=env or {})
        cfg.validate_plugin_sections(schemas or {})
    return exc.value.problems


def test_example_config_is_valid_and_documents_every_core_key():
    cfg = load_config(EXAMPLE, env={"SUITECRM_PASSWORD": "pw"})
    assert cfg.settings.suitecrm.rest.password.get_secret_value() == "pw"
    assert cfg.settings.suitecrm.url == "http://127.0.0.1:8080"
    text = EXAMPLE.read_text()
    from suitecrm_ext.config import Settings

    def keys(model, prefix=""):
        for name, f in model.model_fields.items():
            yield name
            ann = f.annotation
            for sub in getattr(ann, "__args__", (ann,)):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    yield from keys(sub)

    missing = {k for k in keys(Settings) if f"{k}:" not in text}
    assert not missing, f"keys not documented in the example config: {missing}"


@pytest.mark.parametrize(
    "name, key, line, words",
    [
        ("unknown_key.yaml", "suitecrm.rest.pagesize", 6, "unknown key"),
        ("wrong_type.yaml", "suitecrm.timeout", 3, "number"),
        ("missing_required.yaml", "suitecrm.rest.username", 3, "required"),
        ("missing_env.yaml", "suitecrm.rest.password", 5, "SXT_TEST_UNSET_PASSWORD is not set"),
        ("bad_enum.yaml", "state.backend", 4, "'sqlite' or 'mysql'"),
        ("bad_plugin_setting.yaml", "plugins.hello.greting", 6, "unknown key"),
        ("unknown_plugin.yaml", "plugins.collegial_actionz", 4, "no installed plugin"),
    ],
)
def test_broken_config_names_key_file_and_line(name, key, line, words):
    errs = problems(CONFIGS / name, schemas={"hello": HelloSettings, "collegial_actions": None})
    assert len(errs) == 1, errs
    assert errs[0].startswith(f"{CONFIGS / name}:{line}: {key}:"), errs[0]
    assert words in errs[0]


def test_bad_yaml_names_line():
    errs = problems(CONFIGS / "bad_yaml.yaml")
    assert errs[0].startswith(f"{CONFIGS / 'bad_yaml.yaml'}:"), errs
    assert "not valid YAML" in errs[0]


def test_missing_file_says_how_to_fix(tmp_path):
    errs = problems(tmp_path / "nope.yaml")
    assert "config file not found" in errs[0] and "example" in errs[0]


def test_several_problems_reported_at_once():
    text = "suitecrm:\n  url: ftp://x\n  retries: many\nbogus: 1\n"
    with pytest.raises(ConfigError) as exc:
        load_config_text(text)
    found = "\n".join(exc.value.problems)
    assert "<config>:2: suitecrm.url: must be an http:// or https:// URL" in found
    assert "<config>:3: suitecrm.retries:" in found
    assert "<config>:4: bogus: unknown key" in found


def test_duplicate_key_is_an_error():
    with pytest.raises(ConfigError) as exc:
        load_config_text("suitecrm:\n  url: http://a\n  url: http://b\n")
    assert exc.value.problems == ["<config>:3: suitecrm.url: duplicate key"]


def test_env_interpolation_default_and_types():
    text = (
        "suitecrm:\n  url: ${URL:-http://crm.local}\n  retries: ${RETRIES}\n"
        "  rest:\n    username: u\n    password: ${PW}\n"
    )
    cfg = load_config_text(text, env={"RETRIES": "7", "PW": "s3cr3t-value"})
    assert cfg.settings.suitecrm.url == "http://crm.local"
    assert cfg.settings.suitecrm.retries == 7
    assert "s3cr3t-value" in cfg.secrets


def test_quoted_env_value_stays_a_string():
    text = 'suitecrm:\n  url: http://a\n  rest:\n    username: "${U}"\n    password: "${P}"\n'
    cfg = load_config_text(text, env={"U": "12345", "P": "007"})
    assert cfg.settings.suitecrm.rest.username == "12345"
    assert cfg.settings.suitecrm.rest.password.get_secret_value() == "007"


def test_plugin_section_validated_and_enabled_flag():
    text = "suitecrm:\n  url: http://a\nplugins:\n  hello:\n    greeting: Hi\n  other:\n    enabled: false\n"
    cfg = load_config_text(text)
    cfg.validate_plugin_sections({"hello": HelloSettings, "other": None})
    assert cfg.plugin_settings["hello"].greeting == "Hi"
    assert cfg.plugin_enabled("hello") and not cfg.plugin_enabled("other")
    assert cfg.plugin_enabled("not-mentioned")


def test_plugin_without_schema_refuses_settings():
    cfg = load_config_text("suitecrm:\n  url: http://a\nplugins:\n  other:\n    colour: red\n")
    with pytest.raises(ConfigError) as exc:
        cfg.validate_plugin_sections({"other": None})
    assert exc.value.problems[0].startswith("<config>:5: plugins.other: this plugin takes no settings")


def test_plugin_defaults_apply_without_section():
    cfg = load_config_text("suitecrm:\n  url: http://a\n")
    cfg.validate_plugin_sections({"hello": HelloSettings})
    assert cfg.plugin_settings["hello"].greeting == "Welcome"
