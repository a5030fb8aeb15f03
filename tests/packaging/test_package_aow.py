"""Schema ``aow_actions``: a package ships a SuiteCRM workflow action (class, list extension, labels)."""

from __future__ import annotations

import json
import subprocess

import pytest
from pkg_helpers import PUBLISHED, SIDECAR_URL

from suitecrm_ext.packaging.builder import PackageError, package_files
from suitecrm_ext.packaging.schema import SchemaError, load_schema

L = {"en_us": "Run it", "ru_ru": "Запустить"}


def schema(actions, dropdowns=None):
    return load_schema({"package": {"id": "sxt_t", "name": "t", "version": "1.0.0"},
                        "dropdowns": dropdowns or {"t_list": {"a": {"en_us": "A", "ru_ru": "А"}}},
                        "aow_actions": actions}, "t")


ACTION = {"name": "RunThing", "label": L,
          "params": [{"name": "what", "type": "enum", "options": "t_list", "required": True, "label": L},
                     {"name": "notes", "type": "text", "label": L}]}


def test_the_package_carries_the_class_the_list_extension_and_the_labels():
    pkg = package_files(schema([ACTION]), PUBLISHED, sidecar_url=SIDECAR_URL)
    assert {"from": "<basepath>/SugarModules/aow_actions/actionRunThing.php",
            "to": "custom/modules/AOW_Actions/actions/actionRunThing.php"} in pkg.installdefs["copy"]
    # ModuleInstaller::installExt('aow_actions', 'Actions', 'AOW_Actions') -> Ext/Actions/sxt_t.php
    assert pkg.installdefs["aow_actions"] == [{"from": "<basepath>/SugarModules/aow_actions/Ext/sxt_t.php",
                                               "to_module": "AOW_Actions"}]
    cls = pkg.files["SugarModules/aow_actions/actionRunThing.php"]
    assert "class actionRunThing extends actionBase" in cls and "'url' => 'http://sidecar.test:8765'" in cls
    assert "'options' => 't_list'" in cls
    ru = pkg.files["SugarModules/language/AOW_Actions/ru_ru.lang.php"]
    assert "$mod_strings['LBL_RUNTHING'] = 'Запустить';" in ru and "LBL_RUNTHING_WHAT" in ru
    assert {"from": "<basepath>/SugarModules/language/AOW_Actions/en_us.lang.php", "to_module": "AOW_Actions",
            "language": "en_us"} in pkg.installdefs["language"]
    assert "'aow_actions' =>" in pkg.files["manifest.php"]


@pytest.mark.php
def test_the_list_extension_appends_to_the_stock_list_once(tmp_path):
    ext = package_files(schema([ACTION]), PUBLISHED, sidecar_url=SIDECAR_URL).files[
        "SugarModules/aow_actions/Ext/sxt_t.php"]
    path = tmp_path / "ext.php"
    path.write_text(ext, encoding="utf-8")
    # as modules/AOW_Actions/actions.php fills the list and then requires the extension (twice: harmless)
    code = (f"$aow_actions_list = array('CreateRecord', 'ModifyRecord', 'SendEmail', 'ComputeField'); "
            f"require '{path}'; require '{path}'; print json_encode($aow_actions_list);")
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["CreateRecord", "ModifyRecord", "SendEmail", "ComputeField", "RunThing"]
    for name, text in package_files(schema([ACTION]), PUBLISHED, sidecar_url=SIDECAR_URL).files.items():
        if "aow_actions" in name:
            (tmp_path / "lint.php").write_text(text, encoding="utf-8")
            lint = subprocess.run(["php", "-l", str(tmp_path / "lint.php")], capture_output=True, text=True)
            assert lint.returncode == 0, name + lint.stdout + lint.stderr


def test_building_it_needs_the_sidecar_url():
    with pytest.raises(PackageError, match=r"ships the workflow action\(s\) RunThing .*--sidecar-url"):
        package_files(schema([ACTION]), PUBLISHED)


@pytest.mark.parametrize("action, problem", [
    ({"name": "runThing", "label": L},
     "aow_actions[0].name (runThing): action name 'runThing': a capital letter"),
    ({"name": "SendEmail", "label": L}, "SendEmail is one of SuiteCRM's own actions"),
    ({"name": "RunThing"}, "aow_actions[0].label (RunThing): is required"),
    ({"name": "RunThing", "label": L, "colour": 1}, "aow_actions[0].colour (RunThing): unknown key"),
    ({"name": "RunThing", "label": L,
      "params": [{"name": "x", "type": "enum", "options": "nope", "label": L}]},
     "params[0].options (RunThing): an enum parameter names a list under dropdowns:, not 'nope'"),
    ({"name": "RunThing", "label": L, "params": [{"name": "x", "type": "date", "label": L}]},
     "params[0].type (RunThing): unknown type 'date'; expected one of enum, varchar, text"),
    ({"name": "RunThing", "label": L, "params": [{"name": "Bad", "type": "text", "label": L}]},
     "parameter name 'Bad'"),
    ({"name": "RunThing", "label": L,
      "params": [{"name": "x", "type": "text", "options": "t_list", "label": L}]},
     "only an enum parameter has options"),
])
def test_a_wrong_action_is_refused_naming_the_key(action, problem):
    with pytest.raises(SchemaError) as exc:
        schema([action])
    assert any(problem in p for p in exc.value.problems), exc.value.problems


def test_an_action_declared_twice_is_refused():
    with pytest.raises(SchemaError, match="action RunThing is declared twice"):
        schema([ACTION, ACTION])
