"""Writing the push secret into SuiteCRM's config_override.php: in place, valid PHP (php -l), read back
through php as SuiteCRM would, owner and mode kept, the old file untouched on any problem."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from suitecrm_ext.config_override import OverrideError, read_settings, render, secret_problem, write_settings

pytestmark = pytest.mark.skipif(shutil.which("php") is None, reason="needs php-cli")

SUITECRM_WRITTEN = "<?php\n/***CONFIGURATOR***/\n$sugar_config['disable_persistent_connections'] = false;\n" \
                   "$sugar_config['default_theme'] = 'SuiteP';\n/***CONFIGURATOR***/"


def php_sees(root, key: str) -> str:
    """What SuiteCRM's own loading (config.php, then config_override.php) gives for suitecrm_ext.key."""
    code = ("$sugar_config = array(); include 'config.php'; include 'config_override.php'; "
            f"$v = $sugar_config['suitecrm_ext']; echo isset($v['{key}']) ? $v['{key}'] : '-';")
    return subprocess.run(["php", "-r", code], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def root(tmp_path):
    (tmp_path / "config.php").write_text("<?php\n$sugar_config = array('dbconfig' => array());\n")
    (tmp_path / "config_override.php").write_text(SUITECRM_WRITTEN)
    (tmp_path / "config_override.php").chmod(0o640)
    return tmp_path


def test_the_secret_goes_before_the_closing_marker_and_suitecrm_sees_it(root):
    write_settings(root, {"secret": "s3cr3t-'quoted'\\value"})
    text = (root / "config_override.php").read_text()
    assert text.endswith("$sugar_config['suitecrm_ext']['secret'] = 's3cr3t-\\'quoted\\'\\\\value';\n"
                         "/***CONFIGURATOR***/")
    assert "$sugar_config['default_theme'] = 'SuiteP';" in text
    assert php_sees(root, "secret") == "s3cr3t-'quoted'\\value"
    assert read_settings(root) == {"secret": "s3cr3t-'quoted'\\value"}
    assert stat.S_IMODE((root / "config_override.php").stat().st_mode) == 0o640


def test_a_second_write_replaces_the_line_and_drops_duplicates(root):
    (root / "config_override.php").write_text(SUITECRM_WRITTEN.replace(
        "/***CONFIGURATOR***/\n$sugar",
        "/***CONFIGURATOR***/\n$sugar_config['suitecrm_ext']['secret'] = 'a';\n"
        "$sugar_config['suitecrm_ext']['url'] = 'http://sidecar:8765';\n$sugar", 1)
        .replace("'SuiteP';\n", "'SuiteP';\n$sugar_config[\"suitecrm_ext\"][\"secret\"] = \"b\";\n"))
    write_settings(root, {"secret": "new-one"})
    text = (root / "config_override.php").read_text()
    assert text.count("['secret']") == 1 and php_sees(root, "secret") == "new-one"
    assert php_sees(root, "url") == "http://sidecar:8765"  # other keys stay


def test_a_missing_file_is_created_like_suitecrm_writes_it(root):
    (root / "config_override.php").unlink()
    write_settings(root, {"secret": "x" * 32})
    assert (root / "config_override.php").read_text() == (
        "<?php\n/***CONFIGURATOR***/\n$sugar_config['suitecrm_ext']['secret'] = '" + "x" * 32 + "';\n"
        "/***CONFIGURATOR***/")
    assert php_sees(root, "secret") == "x" * 32


def test_a_file_the_edit_cannot_make_effective_is_left_unchanged(root):
    # an admin's whole-array assignment after our line would win over it
    ours = "/***CONFIGURATOR***/\n$sugar_config['suitecrm_ext']['secret'] = 'old';\n$sugar"
    original = SUITECRM_WRITTEN.replace("/***CONFIGURATOR***/\n$sugar", ours, 1) + \
        "\n$sugar_config['suitecrm_ext'] = array('secret' => 'old');\n"
    (root / "config_override.php").write_text(original)
    with pytest.raises(OverrideError, match="would still not see"):
        write_settings(root, {"secret": "new"})
    assert (root / "config_override.php").read_text() == original
    assert not list(root.glob(".config_override.*"))


def test_broken_php_is_refused_and_named(root):
    (root / "config_override.php").write_text("<?php\n$sugar_config['x'] = ;\n")
    with pytest.raises(OverrideError, match="config_override.php"):
        read_settings(root)
    with pytest.raises(OverrideError, match="not be valid PHP|php cannot load"):
        write_settings(root, {"secret": "new"})


def test_values_that_are_not_one_line_are_refused(root):
    with pytest.raises(OverrideError, match="one line"):
        write_settings(root, {"secret": "a\nb"})
    with pytest.raises(ValueError):
        render("", {"bad key": "x"})


def test_secret_problem_names_missing_and_different(root):
    assert "has no $sugar_config['suitecrm_ext']['secret']" in secret_problem(root, "abc")
    write_settings(root, {"secret": "abc"})
    assert secret_problem(root, "abc") is None
    assert "differs from events.push.secret" in secret_problem(root, "abd")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files to another owner")
def test_owner_is_kept_when_root_edits_the_file(root):
    os.chown(root / "config_override.php", 33, 33)
    write_settings(root, {"secret": "abc"})
    st = (root / "config_override.php").stat()
    assert (st.st_uid, st.st_gid) == (33, 33)


def test_without_php_the_lines_are_parsed(root, monkeypatch):
    write_settings(root, {"secret": "it's"})
    monkeypatch.setenv("PATH", "/nonexistent")
    assert read_settings(root, php="php-that-is-not-there") == {"secret": "it's"}
