"""The plugin's schema.yaml is valid and names what the writers write."""

from __future__ import annotations

import plugins.onec_bridge.plugin as plugin_module
from plugins.onec_bridge.writers import FIELDS, LINK, MODULE, REL_LHS, REL_RHS, REL_TABLE, TABLE
from suitecrm_ext.testing import load_plugin_schema


def test_schema_declares_the_module_table_and_relationship_the_writers_use():
    schema = load_plugin_schema(plugin_module)
    module = schema.module(MODULE)
    assert module is not None and module.table == TABLE and module.assignable
    assert set(FIELDS) - {"name", "assigned_user_id"} <= {f.name for f in module.fields}
    assert schema.dropdown("onec_payment_status_list").keys == ("matched", "unmatched", "ignored")
    (rel,) = schema.relationships
    assert (rel.name, rel.type, rel.lhs, rel.rhs, rel.subpanels) == (LINK, "one-to-many", "Accounts", MODULE,
                                                                      ("Accounts",))
    assert (rel.join_table, rel.join_key_lhs, rel.join_key_rhs) == (REL_TABLE, REL_LHS, REL_RHS)
