"""bp_scripts' AOW action "Run BP-script" in a real SuiteCRM workflow.

The package (installed with the package scan on) puts the action into SuiteCRM's own list of workflow
actions next to the stock four; a real AOW workflow (AOW_WorkFlow + AOW_Conditions + AOW_Actions rows,
as the workflow editor stores them) on Accounts with a condition on the account's name runs it when
the account is saved through REST; SuiteCRM posts to ``suitecrm-ext run``, which runs ``set_fields`` on
the account; the workflow's Processed Flows row says Complete. The same run delivered again (the same
body signed anew) stores no second run. Everything made here is deleted at the end.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import requests

from suitecrm_ext import Cond, new_guid, standard_webhook_headers

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_bp_scripts_live import wait  # noqa: E402


def php_serialize(params: dict[str, str]) -> str:
    """PHP's serialize() of an array of strings (AOW stores an action's parameters so, base64'd)."""
    def s(text: str) -> str:
        return f's:{len(text.encode("utf-8"))}:"{text}";'

    return f"a:{len(params)}:{{" + "".join(s(k) + s(v) for k, v in params.items()) + "}"


def _db(lab):
    return pymysql.connect(**lab.db_params())


def _workflow(conn, name: str, account_name: str, settings: str) -> tuple[str, str]:
    wid, cid, aid = new_guid(), new_guid(), new_guid()
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    stored = php_serialize({"script": "set_fields", "settings": settings})
    params = base64.b64encode(stored.encode()).decode()
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO aow_workflow (id, name, date_entered, date_modified, modified_user_id, created_by, "
            "deleted, assigned_user_id, flow_module, flow_run_on, status, run_when, multiple_runs, "
            "run_on_import) "
            "VALUES (%s, %s, %s, %s, '1', '1', 0, '1', 'Accounts', 'All_Records', 'Active', 'Always', 0, 0)",
            (wid, name, now, now))
        cur.execute(
            "INSERT INTO aow_conditions (id, name, date_entered, date_modified, modified_user_id, "
            "created_by, deleted, aow_workflow_id, condition_order, module_path, field, operator, "
            "value_type, value) "
            "VALUES (%s, '', %s, %s, '1', '1', 0, %s, 1, %s, 'name', 'Equal_To', 'Value', %s)",
            (cid, now, now, wid, base64.b64encode(b'a:1:{i:0;s:8:"Accounts";}').decode(), account_name))
        cur.execute(
            "INSERT INTO aow_actions (id, name, date_entered, date_modified, modified_user_id, created_by, "
            "deleted, aow_workflow_id, action_order, action, parameters) "
            "VALUES (%s, 'Run BP-script', %s, %s, '1', '1', 0, %s, 1, 'RunBPScript', %s)",
            (aid, now, now, wid, params))
    return wid, aid


def _drop_workflow(conn, wid: str) -> None:
    with conn.cursor() as cur:
        cur.execute("DELETE FROM aow_processed_aow_actions WHERE aow_processed_id IN "
                    "(SELECT id FROM aow_processed WHERE aow_workflow_id = %s)", (wid,))
        for table in ("aow_processed", "aow_actions", "aow_conditions"):
            cur.execute(f"DELETE FROM {table} WHERE aow_workflow_id = %s", (wid,))  # noqa: S608 - fixed names
        cur.execute("DELETE FROM aow_workflow WHERE id = %s", (wid,))


def _processed(conn, wid: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("SELECT p.id, p.status, pa.status FROM aow_processed p "
                    "LEFT JOIN aow_processed_aow_actions pa ON pa.aow_processed_id = p.id "
                    "WHERE p.aow_workflow_id = %s AND p.deleted = 0", (wid,))
        return list(cur.fetchall())


def test_a_suitecrm_workflow_runs_a_bp_script(live_kit, live_lab, live_crm, run_tag):
    live_kit.install("bp_scripts")
    root = live_lab.root
    # the editor's list: the stock actions and ours (appended by the Ext/Actions extension)
    listed = subprocess.run(
        ["php", "-r", "define('sugarEntry', true); $aow_actions_list = array(); "
                      "include 'modules/AOW_Actions/actions.php'; print json_encode($aow_actions_list);"],
        cwd=root, capture_output=True, text=True, check=True).stdout
    stock = ["CreateRecord", "ModifyRecord", "SendEmail", "ComputeField"]
    assert json.loads(listed) == [*stock, "RunBPScript"]
    assert (root / "custom/modules/AOW_Actions/actions/actionRunBPScript.php").exists()

    crm = live_crm
    name = f"ООО Автоматика {run_tag}"
    conn = _db(live_lab)
    settings = "fields:\n  description: 'Обработано БП-скриптом: {{ record.name }}'\n"
    wid, aid = _workflow(conn, f"bp aow {run_tag}", name, settings)
    made: list[str] = []
    config = live_kit.config(
        plugins={**live_kit.plugins_off(), "workflow": {},
                 "bp_scripts": {"process_files": [], "advance_every": "1s"}},
        events={"poll_interval_seconds": 1.0})
    try:
        with live_kit.sidecar(config, "--worker-id", f"bp-aow-{run_tag}") as proc:
            other = crm.save("Accounts", {"name": f"Другая {run_tag}"})  # the condition does not hold
            made.append(other)
            account = crm.save("Accounts", {"name": name})
            made.append(account)

            def described():
                return crm.get("Accounts", account).get("description") or ""

            try:
                got = wait(described, 60, "the BP-script's field", proc)
            except AssertionError as exc:  # say what SuiteCRM's workflow did, if anything
                log = root / "suitecrm.log"
                tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
                raise AssertionError(f"{exc}\n--- aow_processed of the workflow: {_processed(conn, wid)}"
                                     "\n--- suitecrm.log:\n" + "\n".join(tail)) from None
            assert got == f"Обработано БП-скриптом: {name}"
            [(pid, status, action_status)] = _processed(conn, wid)
            assert (status, action_status) == ("Complete", "Complete")  # the action took the work

            def runs():
                found = crm.find("bp_Runs", Cond("parent_id", "eq", account),
                                 fields=["id", "status", "script"])
                return [(r.get("status"), r.get("script")) for r in found]

            wait(lambda: runs() == [("done", "set_fields")], 30, "the run done (bp_Runs)", proc)
            assert not crm.get("Accounts", other).get("description")

            # the same workflow run delivered again: taken, nothing new stored
            body = json.dumps({"action": "RunBPScript", "package": "sxt_bp_scripts", "action_id": aid,
                               "workflow_id": wid, "processed_id": pid, "module": "Accounts", "id": account,
                               "user_id": "1", "in_save": True,
                               "params": {"script": "set_fields", "settings": settings}}).encode()
            answer = requests.post(f"{live_kit.push_url}/aow", data=body, timeout=10, headers={
                "Content-Type": "application/json", **standard_webhook_headers([live_kit.secret], body)})
            assert answer.status_code == 200 and answer.json()["ok"] is True and answer.json()["new"] is False
            # the workflow ran on this account (not repeating): a later save does not run it again
            crm.save("Accounts", {"id": account, "description": "changed by a person"})
            time.sleep(3)
            assert crm.get("Accounts", account).get("description") == "changed by a person"
            assert len(list(crm.find("bp_Runs", Cond("parent_id", "eq", account), fields=["id"]))) == 1
    finally:
        _drop_workflow(conn, wid)
        conn.close()
        for rid in made:
            for run in crm.find("bp_Runs", Cond("parent_id", "eq", rid), fields=["id"]):
                crm.delete("bp_Runs", run.id)
            crm.delete("Accounts", rid)
