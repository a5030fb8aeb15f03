"""Register a schema's modules, fields and links into a :class:`~suitecrm_ext.testing.FakeCRM`.

After :func:`register_schema`, the fake knows exactly what the installed package would give SuiteCRM:
each new module with its fields (relate fields as non-db, their id columns, ``currency_id``), the custom
fields on stock modules (``source="custom_fields"``), and both links of each relationship, named like
the relationship (as Module Builder names link fields). One-to-many relationships also give the "many"
side its non-db relate field ``<relationship>_name``. A module of the ``security_groups`` template gets
the ``SecurityGroups`` link (``securitygroups_records`` in SuiteCRM), as the stock modules have it. Field
defaults are given to new records, as SuiteCRM fills vardef defaults into every new bean. The schemas
of the packages it ``requires`` come first, when the fake lacks them.
"""

from __future__ import annotations

from typing import Any

from suitecrm_ext.crm.base import FieldInfo
from suitecrm_ext.packaging.ddl import stored_fields
from suitecrm_ext.packaging.schema import Field, Schema

__all__ = ["field_info", "register_schema"]


def field_info(f: Field, schema: Schema, source: str = "") -> FieldInfo:
    """FieldInfo of a schema field (label in en_us, enum keys as options)."""
    options: tuple[str, ...] = ()
    if f.options:
        dd = schema.dropdown(f.options)
        options = dd.keys if dd else ()
    length = f.length
    if length is None and f.type == "varchar":
        length = 255
    return FieldInfo(
        name=f.name,
        type=f.type,
        label=f.label.en_us,
        required=f.required,
        options=options,
        length=length,
        source="non-db" if f.type == "relate" else source,
    )


def register_schema(crm: Any, schema: Schema) -> None:
    """Add the schema's modules, custom fields and relationship links to a FakeCRM.

    Stock modules that get custom fields must already be in the fake (``FakeCRM()`` has the common
    ones); their existing records are kept. The packages the schema requires are registered first
    when the fake does not have their modules yet (as they are installed first in SuiteCRM).
    """
    for req in schema.requires:
        present = [m.name for m in req.modules if m.name in set(crm.modules())]
        if not present:
            register_schema(crm, req)
        elif len(present) < len(req.modules):
            missing = [m.name for m in req.modules if m.name not in present]
            raise ValueError(
                f"plugin {schema.plugin} requires {req.plugin}, whose modules this FakeCRM has only "
                f"in part (missing {', '.join(missing)})"
            )
    have = set(crm.modules())
    new = {m.name for m in schema.modules}
    for module, what in [(mod, "custom fields on") for mod in schema.custom_fields] + [
        (side, f"relationship {r.name} to") for r in schema.relationships for side in (r.lhs, r.rhs)
    ]:
        if module not in have and module not in new:
            raise ValueError(
                f"plugin {schema.plugin}: {what} {module}, which this FakeCRM does not have "
                f"(create it with FakeCRM() or FakeCRM(modules=[..., {module!r}]))"
            )
    for m in schema.modules:
        infos: list[FieldInfo] = []
        for f in m.fields:
            infos.append(field_info(f, schema))
        names = {i.name for i in infos}
        for col in stored_fields(m):
            if col.name not in names:
                infos.append(FieldInfo(name=col.name, type=col.type, label=col.label.en_us))
        for r in schema.relationships:
            if r.type == "one-to-many" and r.rhs == m.name:
                infos.append(FieldInfo(name=r.relate_field, type="relate", label=r.lhs, source="non-db"))
        # SuiteCRM fills vardef defaults into a new bean (SugarBean::populateDefaultValues), API creates too
        defaults = {f.name: f.default for f in m.fields if f.default is not None and f.type != "relate"}
        crm.add_module(m.name, infos, table=m.table, defaults=defaults)
    for module, fields in schema.custom_fields.items():
        crm.add_fields(module, [field_info(f, schema, source="custom_fields") for f in fields])
    for m in schema.modules:
        if m.template == "security_groups" and "SecurityGroups" in have:
            crm.add_link(m.name, "SecurityGroups", "SecurityGroups", relationship=f"securitygroups_{m.table}")
    for r in schema.relationships:
        if r.type == "one-to-many" and r.rhs not in new:  # a stock or required module gets it too
            relate = FieldInfo(name=r.relate_field, type="relate", label=r.lhs, source="non-db")
            crm.add_fields(r.rhs, [relate])
        crm.add_link(r.lhs, r.name, r.rhs, r.name, one_to_many=r.type == "one-to-many", relationship=r.name)

