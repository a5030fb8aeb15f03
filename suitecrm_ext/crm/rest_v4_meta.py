"""REST v4_1 metadata: ``get_module_fields`` (fields, links, table), modules and server info.

:class:`RestMetadata` is a mixin of :class:`~suitecrm_ext.crm.rest_v4.RestV4CRM`; it fills the
``_fields`` / ``_links`` / ``_tables`` caches the reads and writes rely on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from suitecrm_ext.crm.base import FieldInfo, ProtocolError
from suitecrm_ext.crm.sqlfilter import check_identifier

ENUM_TYPES = {"enum", "multienum", "dynamicenum", "radioenum"}


class RestMetadata:
    """Module metadata of a RestV4CRM, cached per module."""

    def _meta(self, module: str) -> None:
        if module in self._fields:
            return
        check_identifier(module, "module")
        payload = self._call("get_module_fields", [module, []])
        try:
            raw_fields = payload["module_fields"]
            raw_links = payload.get("link_fields") or {}
            table = payload.get("table_name") or module.lower()
        except (TypeError, KeyError):
            raise ProtocolError(f"REST get_module_fields {module}: unexpected answer",
                                excerpt=json.dumps(payload)[:500], transport=self.name) from None
        if isinstance(raw_fields, list):  # PHP encodes an empty array as []
            raw_fields = {}
        if isinstance(raw_links, list):
            raw_links = {}
        self._fields[module] = {name: _field_info(name, f) for name, f in raw_fields.items()}
        self._links[module] = dict(raw_links)
        self._tables[module] = table

    def fields(self, module: str) -> dict[str, FieldInfo]:
        """Field metadata from ``get_module_fields`` (cached per module)."""
        self._meta(module)
        return dict(self._fields[module])

    def links(self, module: str) -> dict[str, str]:
        """Link field names of a module → the related module ("" where SuiteCRM does not say)."""
        self._meta(module)
        return {name: (link.get("module") or "") for name, link in self._links[module].items()}

    def modules(self) -> list[str]:
        """Module keys from ``get_available_modules``."""
        payload = self._call("get_available_modules", ["default"])
        try:
            return [m["module_key"] for m in payload["modules"]]
        except (TypeError, KeyError):
            raise ProtocolError("REST get_available_modules: unexpected answer",
                                excerpt=json.dumps(payload)[:500], transport=self.name) from None

    def server_info(self) -> dict[str, Any]:
        """``get_server_info``: flavor, version (Sugar), suitecrm_version, gmt_time."""
        payload = self.policy.call(self._post, "get_server_info", [])
        if not isinstance(payload, dict):
            raise ProtocolError("REST get_server_info: unexpected answer", excerpt=json.dumps(payload)[:500],
                                transport=self.name)
        return payload


def _field_info(name: str, raw: Mapping[str, Any]) -> FieldInfo:
    ftype = str(raw.get("type") or "varchar")
    options = raw.get("options")
    opts: tuple[str, ...] = ()
    if ftype in ENUM_TYPES and isinstance(options, Mapping):
        opts = tuple(str(k) for k in options)
    try:
        length = int(raw.get("len"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        length = None
    try:
        required = bool(int(raw.get("required") or 0))
    except (TypeError, ValueError):
        required = bool(raw.get("required"))
    # REST does not say where a field is stored; Studio/Module Loader custom fields always end in _c
    source = "custom_fields" if name.endswith("_c") else ""
    return FieldInfo(name=name, type=ftype, label=str(raw.get("label") or ""), required=required,
                     options=opts, length=length, source=source)


__all__ = ["ENUM_TYPES", "RestMetadata"]
