"""open_store: the config picks the backend; unusable settings fail with a message naming the key."""

from __future__ import annotations

import pytest

from suitecrm_ext.config import MySQLSettings, StateSettings
from suitecrm_ext.state import StateError, open_store
from suitecrm_ext.state.mysql import MySQLStore, _skip_locked_supported
from suitecrm_ext.state.sqlite import SQLiteStore


def test_sqlite_path_is_relative_to_base_dir_and_directory_is_created(tmp_path):
    store = open_store(StateSettings(path="var/deep/state.sqlite3"), base_dir=tmp_path)
    try:
        assert isinstance(store, SQLiteStore)
        assert (tmp_path / "var/deep/state.sqlite3").exists()
        store.ping()
    finally:
        store.close()


def test_sqlite_file_that_is_not_a_database_is_named(tmp_path):
    bad = tmp_path / "state.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=r"state.path: .*state.sqlite3 is not a usable SQLite state file"):
        open_store(StateSettings(path=str(bad)), base_dir=tmp_path)


def test_mysql_backend_needs_its_section():
    with pytest.raises(StateError, match="state.mysql: required when state.backend is mysql"):
        # the config refuses this too (StateSettings validator); open_store still guards settings built
        # without validation
        open_store(StateSettings.model_construct(backend="mysql", path="var/state.sqlite3", mysql=None),
                   base_dir=".")


def test_mysql_store_opens_from_settings(mysql_server, mysql_db):
    settings = StateSettings(backend="mysql", mysql=MySQLSettings(**mysql_server.params(mysql_db)))
    store = open_store(settings)
    try:
        assert isinstance(store, MySQLStore)
        store.ping()
        store.close()
        store.close()  # twice is fine
        with pytest.raises(StateError, match="closed"):
            store.ping()
    finally:
        store.close()


def test_mysql_bad_password_is_reported_without_the_password(mysql_server, mysql_db):
    params = mysql_server.params(mysql_db)
    params.update(password="Sup3r-s3cret-pw", unix_socket=None, host="127.0.0.1")
    settings = StateSettings(backend="mysql", mysql=MySQLSettings(**params))
    with pytest.raises(StateError) as info:
        open_store(settings)
    assert f"state.mysql: cannot connect to {params['user']}@127.0.0.1" in str(info.value)
    assert "Sup3r-s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("version, ok", [
    ("10.11.19-MariaDB-0+deb12u1", True), ("10.5.23-MariaDB", False), ("8.0.36", True), ("5.7.44-log", False),
])
def test_skip_locked_detection(version, ok):
    assert _skip_locked_supported(version) is ok
