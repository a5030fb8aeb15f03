"""The PHP of a relationship, as Module Builder's ``AbstractRelationships::build`` writes it: the
relationship metadata (join table, keys, indexes), the link (and, one-to-many, relate) vardefs added to
each side, and the subpanel layoutdef shown on a side."""

from __future__ import annotations

from typing import Any

from suitecrm_ext.packaging.model import Relationship, Schema
from suitecrm_ext.packaging.vardefs import is_person, rname

__all__ = ["rel_meta", "rel_subpanel", "rel_vardefs"]


def rel_meta(r: Relationship, schema: Schema) -> dict[str, Any]:
    """``$dictionary[<rel>]`` of ``relationships/<rel>MetaData.php``: the join table and its keys."""
    lt, rt = schema.table_of(r.lhs), schema.table_of(r.rhs)
    ka, kb = r.join_key_lhs, r.join_key_rhs
    fields: list[dict[str, Any]] = [
        {"name": "id", "type": "varchar", "len": 36},
        {"name": "date_modified", "type": "datetime"},
        {"name": "deleted", "type": "bool", "len": "1", "default": "0", "required": True},
        {"name": ka, "type": "varchar", "len": 36},
        {"name": kb, "type": "varchar", "len": 36},
    ]
    if "Documents" in (r.lhs, r.rhs):
        fields.append({"name": "document_revision_id", "type": "varchar", "len": "36"})
    base = r.name.lower()
    indices: list[dict[str, Any]] = [{"name": f"{base}spk", "type": "primary", "fields": ["id"]}]
    if r.type == "one-to-many":
        indices.append({"name": f"{base}_ida1", "type": "index", "fields": [ka]})
        indices.append({"name": f"{base}_alt", "type": "alternate_key", "fields": [kb]})
    else:
        indices.append({"name": f"{base}_alt", "type": "alternate_key", "fields": [ka, kb]})
    return {
        "true_relationship_type": r.type,
        "relationships": {
            r.name: {
                "lhs_module": r.lhs,
                "lhs_table": lt,
                "lhs_key": "id",
                "rhs_module": r.rhs,
                "rhs_table": rt,
                "rhs_key": "id",
                "relationship_type": "many-to-many",
                "join_table": r.join_table,
                "join_key_lhs": ka,
                "join_key_rhs": kb,
            }
        },
        "table": r.join_table,
        "fields": fields,
        "indices": indices,
    }


def rel_vardefs(r: Relationship, schema: Schema) -> dict[str, list[dict[str, Any]]]:
    """Module → the vardefs the relationship adds to it (links; one-to-many: the relate field and id link
    on the rhs)."""
    lhs_obj, rhs_obj = schema.object_of(r.lhs), schema.object_of(r.rhs)
    from_l, from_r = r.title_key(r.rhs), r.title_key(r.lhs)  # key shown on rhs / on lhs
    out: dict[str, list[dict[str, Any]]] = {r.rhs: [], r.lhs: []}
    link_on_rhs = {
        "name": r.name,
        "type": "link",
        "relationship": r.name,
        "source": "non-db",
        "module": r.lhs,
        "bean_name": lhs_obj,
        "vname": from_l,
    }
    link_on_lhs = {
        "name": r.name,
        "type": "link",
        "relationship": r.name,
        "source": "non-db",
        "module": r.rhs,
        "bean_name": rhs_obj,
        "vname": from_r,
    }
    if r.type == "one-to-many":
        link_on_rhs["id_name"] = r.join_key_lhs
        link_on_lhs = {**link_on_lhs, "side": "right"}
        relate = {
            "name": r.relate_field,
            "type": "relate",
            "source": "non-db",
            "vname": from_l,
            "save": True,
            "id_name": r.join_key_lhs,
            "link": r.name,
            "table": schema.table_of(r.lhs),
            "module": r.lhs,
            "rname": rname(r.lhs, schema),
        }
        if is_person(r.lhs, schema):
            relate["db_concat_fields"] = ["first_name", "last_name"]
        link2 = {
            "name": r.join_key_lhs,
            "type": "link",
            "relationship": r.name,
            "source": "non-db",
            "reportable": False,
            "side": "right",
            "vname": from_r,
        }
        out[r.rhs] = [link_on_rhs, relate, link2]
    else:
        out[r.rhs] = [link_on_rhs]
    out[r.lhs] = [link_on_lhs]
    return out


def rel_subpanel(r: Relationship, module: str) -> dict[str, Any]:
    """The ``subpanel_setup`` entry of the subpanel ``module`` shows, listing the other side's records."""
    other = r.rhs if module == r.lhs else r.lhs
    return {
        "order": 100,
        "module": other,
        "subpanel_name": "default",
        "sort_order": "asc",
        "sort_by": "id",
        "title_key": r.title_key(module),
        "get_subpanel_data": r.name,
        "top_buttons": [
            {"widget_class": "SubPanelTopButtonQuickCreate"},
            {"widget_class": "SubPanelTopSelectButton", "mode": "MultiSelect"},
        ],
    }
