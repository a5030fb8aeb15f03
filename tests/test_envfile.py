"""The env file holding the secrets: 0600 from the start, read the same by a shell, systemd-style quoting,
and the config's ``env_file:`` filling in ``${NAME}`` (the process environment wins)."""

from __future__ import annotations

import stat
import subprocess

import pytest

from suitecrm_ext.config import ConfigError, load_config
from suitecrm_ext.envfile import EnvFileError, quote, read_env_file, write_env_file

NASTY = 'p@ss "w0rd" $HOME `id` \\ \'single\' #hash'


def test_written_with_mode_0600_and_read_back_by_us_and_by_a_shell(tmp_path):
    path = write_env_file(tmp_path / "s.env", {"PW": NASTY, "EMPTY": ""}, header="secrets\nkeep it safe")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == {"PW": NASTY, "EMPTY": ""}
    out = subprocess.run(["bash", "-c", f'set -a; . "{path}"; printf %s "$PW"'], capture_output=True,
                         text=True)
    assert out.stdout == NASTY
    assert path.read_text().startswith("# secrets\n# keep it safe\n")


def test_bad_lines_name_file_and_line(tmp_path):
    path = tmp_path / "s.env"
    path.write_text('# ok\nexport A="1"\nB="unterminated\n')
    with pytest.raises(EnvFileError, match=r"s\.env:3: B: no closing quotation"):
        read_env_file(path)
    path.write_text("C=two words\n")
    with pytest.raises(EnvFileError, match=r"s\.env:1: C: quote a value that contains spaces"):
        read_env_file(path)
    path.write_text("just words\n")
    with pytest.raises(EnvFileError, match=r"s\.env:1: expected NAME=value"):
        read_env_file(path)
    with pytest.raises(ValueError):
        quote("two\nlines")


def test_config_env_file_fills_variables_and_the_environment_wins(tmp_path):
    write_env_file(tmp_path / "suitecrm-ext.env", {"SXT_PW": "from-file-pw", "SXT_USER": "filed"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("env_file: suitecrm-ext.env\nsuitecrm:\n  url: http://crm.test\n  rest:\n"
                   "    username: ${SXT_USER}\n    password: ${SXT_PW}\n")
    config = load_config(cfg, env={})
    assert config.settings.suitecrm.rest.password.get_secret_value() == "from-file-pw"
    assert config.env_file == tmp_path / "suitecrm-ext.env"
    assert "from-file-pw" in config.secrets
    config = load_config(cfg, env={"SXT_PW": "from-env"})
    assert config.settings.suitecrm.rest.password.get_secret_value() == "from-env"
    assert config.settings.suitecrm.rest.username == "filed"


def test_a_missing_env_file_is_a_config_error_with_its_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("suitecrm:\n  url: http://crm.test\nenv_file: nowhere.env\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env={})
    assert err.value.problems[0].startswith(f"{cfg}:3: env_file: {tmp_path / 'nowhere.env'}: cannot read")
