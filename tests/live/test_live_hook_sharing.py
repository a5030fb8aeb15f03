"""Two packages hooking one module on the real SuiteCRM: both packages' hooks are installed (SuiteCRM
skips a hook whose description equals one already there, so equal descriptions left the second
package's hooks out and uninstalling the first took the module's hooks away), and one save still
reaches the sidecar once (the second package's hook takes the first one's answer); a delete posts
no relationship events for sides without a link (the receiver refused those as malformed).

collegial_actions and routing both push Documents.
"""

from __future__ import annotations

import json
import subprocess
import time

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.testing import load_plugin_schema


class DocWatcher:
    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Documents")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


def hook_array(root, module: str) -> dict:
    code = ("define('sugarEntry', true); $hook_array = array();"
            f" include 'custom/modules/{module}/logic_hooks.php'; echo json_encode($hook_array);")
    out = subprocess.run(["php", "-r", code], cwd=root, capture_output=True, text=True, check=True,
                         timeout=60)
    return json.loads(out.stdout)


def test_both_packages_hooks_are_installed_and_a_save_is_pushed_once(live_kit, live_lab, run_tag):
    live_kit.install("collegial_actions")
    live_kit.install("routing")
    classes = {f"SuiteCRMExtHook_{load_plugin_schema(p).package.id}"
               for p in ("collegial_actions", "routing")}
    hooks = hook_array(live_lab.root, "Documents")
    for event in ("after_save", "after_delete"):
        assert classes <= {h[3] for h in hooks.get(event, [])}, f"{event}: {hooks.get(event)}"
    descriptions = [h[1] for h in hooks["after_save"] if h[3] in classes]
    assert len(descriptions) == len(set(descriptions)) == 2

    gw = live_lab.gateway("rest")
    with live_kit.receiver({"docs": DocWatcher()}) as server:
        def pushed() -> int:
            return server.stats.snapshot()["accepted"].get("events", 0)

        before = pushed()
        doc_id = gw.save("Documents", {"document_name": f"{run_tag} two hooks", "status_id": "Active"})
        try:
            deadline = time.monotonic() + 10
            while pushed() == before and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # a second POST from the other package's hook would arrive by now
            stored = [q for q in server.store.recent_events(limit=200) if q.event.record_id == doc_id]
            assert pushed() - before == len(stored) == 1, (pushed() - before, [q.event for q in stored])
            # a delete runs after_relationship_delete for sides without a link: those are not posted
            gw.delete("Documents", doc_id)
            doc_id, deleted = None, doc_id
            deadline = time.monotonic() + 10
            while not any(q.event.record_id == deleted and q.event.kind.value == "deleted"
                          for q in server.store.recent_events(limit=200)) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            assert server.stats.snapshot()["refused_total"] == 0, server.stats.snapshot()
        finally:
            if doc_id:
                gw.delete("Documents", doc_id)
            gw.close()
