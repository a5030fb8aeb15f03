"""The AOW action "Run BP-script": the package's generated PHP class, run in php-cli, posts to a real push
receiver over the bp_scripts plugin on a FakeCRM; the bp-advance pass runs the script once per workflow
run, however often that run is delivered."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from suitecrm_ext.events.push import PushServer
from suitecrm_ext.packaging.builder import package_files
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import load_plugin_schema

from .kit import bp_app, bp_crm

PHP = shutil.which("php")
RUNNER = Path(__file__).resolve().parents[2] / "packaging" / "php" / "run_aow_action.php"
SECRET = "aow-test-secret-0123456789"
ACTION_ID = "5b1c9d7e-0000-4000-8000-00000000a0a1"
WORKFLOW_ID = "5b1c9d7e-0000-4000-8000-00000000b0b1"
# SuiteCRM 7.14.6 modules/AOW_Actions/actions/actionBase.php (licence header left out)
ACTION_BASE = """<?php
class actionBase
{
    public $id;
    public function __construct($id = '') { $this->id = $id; }
    public function loadJS() { return array(); }
    public function edit_display($line, SugarBean $bean = null, $params = array()) { return ''; }
    public function run_action(SugarBean $bean, $params = array(), $in_save = false) { return true; }
}
"""


@pytest.fixture
def sidecar(tmp_path):
    crm = bp_crm()
    app, reg = bp_app(crm, tmp_path, push_secret=SECRET)
    store = SQLiteStore(tmp_path / "push.sqlite3")
    server = PushServer(app, reg, store=store, listen="127.0.0.1:0").start()
    yield crm, app, server
    server.stop()
    store.close()


def engine_of(app):
    from plugins.bp_scripts.service import engine_for

    return engine_for(app.for_plugin("bp_scripts"))


def install_action(tmp_path: Path, url: str) -> Path:
    """The package's files as ModuleInstaller places them, in a SuiteCRM-like root."""
    pkg = package_files(load_plugin_schema("bp_scripts"), sidecar_url=url)
    root = tmp_path / "suitecrm"
    for copy in pkg.installdefs["copy"]:
        if "AOW_Actions" in copy["to"]:
            target = root / copy["to"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(pkg.files[copy["from"].replace("<basepath>/", "")], encoding="utf-8")
    base = root / "modules/AOW_Actions/actions/actionBase.php"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(ACTION_BASE, encoding="utf-8")
    return root


def run_php(tmp_path: Path, root: Path, *, params: dict, record: str, processed: str, runs: int = 1,
            secret: str | None = SECRET, url: str | None = None) -> dict:
    config: dict = {"suitecrm_ext": {"secret": secret}} if secret else {}
    if url:
        config.setdefault("suitecrm_ext", {})["url"] = url
    scenario = {
        "root": str(root),
        "class_file": str(root / "custom/modules/AOW_Actions/actions/actionRunBPScript.php"),
        "class": "actionRunBPScript", "action_id": ACTION_ID, "workflow_id": WORKFLOW_ID,
        "processed_id": processed, "module": "Accounts", "id": record, "params": params,
        "sugar_config": config, "runs": runs, "edit_line": 3,
        "app_list_strings": {"bp_script_list": {"set_fields": "Set fields", "send_sms": "Send an SMS"}},
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    proc = subprocess.run([PHP, str(RUNNER), str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


pytestmark = pytest.mark.skipif(PHP is None, reason="php-cli is not installed")

SETTINGS = "fields:\n  description: 'Checked: {{ record.name }}'\n"


def test_a_workflow_run_runs_the_script_once_however_often_it_is_delivered(tmp_path, sidecar):
    crm, app, server = sidecar
    account = crm.save("Accounts", {"name": "ООО Ромашка"})
    root = install_action(tmp_path, server.url)
    out = run_php(tmp_path, root, params={"script": "set_fields", "settings": SETTINGS}, record=account,
                  processed="5b1c9d7e-0000-4000-8000-0000000c0c01", runs=3)
    assert out["results"] == [True, True, True], out["errors"]
    # the run is found as AOW_WorkFlow::run_actions left it: this workflow, this record, Running
    assert all(f"aow_workflow_id = '{WORKFLOW_ID}'" in q and f"parent_id = '{account}'" in q
               and "status = 'Running'" in q for q in out["sql"])
    engine = engine_of(app)
    # taken, not run inside SuiteCRM's request: the bp-advance pass runs it
    assert crm.get("Accounts", account).get("description") in (None, "")
    engine.tick()
    assert crm.get("Accounts", account).get("description") == "Checked: ООО Ромашка"
    runs = engine.runs.of_record("Accounts", account)
    assert [(r.status, r.adhoc["script"]) for r in runs] == [("done", "set_fields")]
    [mirror] = crm.records("bp_Runs")
    assert mirror.get("parent_id") == account and mirror.get("status") == "done"

    # a new run of a repeating workflow (another AOW_Processed row) is a new run of the script
    crm.save("Accounts", {"id": account, "description": "by hand"})
    out = run_php(tmp_path, root, params={"script": "set_fields", "settings": SETTINGS}, record=account,
                  processed="5b1c9d7e-0000-4000-8000-0000000c0c02")
    assert out["results"] == [True]
    engine.tick()
    assert crm.get("Accounts", account).get("description") == "Checked: ООО Ромашка"
    assert len(engine.runs.of_record("Accounts", account)) == 2


@pytest.mark.parametrize("params, error", [
    ({"script": "no_such", "settings": ""}, "no BP-script 'no_such'"),
    ({"script": "set_fields", "settings": "fields: [unclosed"}, "not YAML"),
    ({"script": "set_fields", "settings": "- a list"}, "a mapping of setting: value"),
    ({"script": "set_fields", "settings": "fieldz: {name: x}"}, "settings of set_fields"),
])
def test_a_wrong_script_or_settings_fails_the_action_and_stores_nothing(tmp_path, sidecar, params, error):
    crm, app, server = sidecar
    account = crm.save("Accounts", {"name": "ООО Ромашка"})
    out = run_php(tmp_path, install_action(tmp_path, server.url), params=params, record=account,
                  processed="5b1c9d7e-0000-4000-8000-0000000c0c03")
    assert out["results"] == [False]
    assert any(error in e for e in out["errors"]), out["errors"]
    assert engine_of(app).runs.of_record("Accounts", account) == []


def test_no_secret_a_wrong_secret_or_no_sidecar_fail_the_action(tmp_path, sidecar):
    crm, app, server = sidecar
    account = crm.save("Accounts", {"name": "ООО Ромашка"})
    root = install_action(tmp_path, server.url)
    params = {"script": "set_fields", "settings": SETTINGS}
    processed = "5b1c9d7e-0000-4000-8000-0000000c0c04"
    out = run_php(tmp_path, root, params=params, record=account, processed=processed, secret=None)
    assert out["results"] == [False] and "secret'] is not set" in out["errors"][0]
    out = run_php(tmp_path, root, params=params, record=account, processed=processed,
                  secret="wrong-secret-xyz")
    assert out["results"] == [False] and "HTTP 401" in out["errors"][0]
    out = run_php(tmp_path, root, params=params, record=account, processed=processed, url="http://127.0.0.1:9")
    assert out["results"] == [False] and "POST /aow failed" in out["errors"][0]
    assert engine_of(app).runs.of_record("Accounts", account) == []


def test_the_edit_view_shows_the_scripts_and_the_stored_settings(tmp_path, sidecar):
    crm, app, server = sidecar
    out = run_php(tmp_path, install_action(tmp_path, server.url), runs=0, record="x", processed="",
                  params={"script": "send_sms", "settings": "to: '{{ record.phone }}' <b>"})
    html = out["edit"]
    assert "<select name='aow_actions_param[3][script]' id='aow_actions_param_script3'>" in html
    assert '<option value="send_sms" selected>Send an SMS</option>' in html
    assert "<textarea name='aow_actions_param[3][settings]'" in html
    assert "to: &#039;{{ record.phone }}&#039; &lt;b&gt;</textarea>" in html
    assert "T:LBL_RUNBPSCRIPT_SCRIPT" in html


def test_the_dropdown_offers_every_shipped_script():
    from plugins.bp_scripts.scripts import SHIPPED

    schema = load_plugin_schema("bp_scripts")
    assert list(schema.dropdown("bp_script_list").keys) == [s.name for s in SHIPPED]
