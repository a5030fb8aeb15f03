"""The CRM interface over SuiteCRM's SOAP v4_1 API (``/service/v4_1/soap.php``), with zeep.

SOAP v4_1 is the same set of methods as REST v4_1 (both call ``SugarWebServiceImplv4_1``), so
:class:`SoapCRM` reuses :class:`~suitecrm_ext.crm.rest_v4.RestV4CRM` for everything above the wire —
paging, the safely compiled ``query`` strings (:mod:`suitecrm_ext.crm.sqlfilter`), re-login once on an
invalid session, retry-safe creates with client-chosen ids — and replaces only the wire format.

Wire details, as recorded from SuiteCRM 7.14.6 (docs/gateway.md):

- The WSDL is rpc/encoded; zeep reads it — by default from the copy shipped in this package
  (``suitecrm_ext/crm/wsdl/``), or from the server (``wsdl="server"``) or a file/URL. The two schemas it
  imports (SOAP encoding, WSDL) are always served from the package, so zeep never fetches from the
  internet. Requests go to ``<url>/service/v4_1/soap.php`` (the WSDL's ``soap:address`` may name another
  host or port).
- Every part is sent, positionally, in WSDL order. nusoap only reads an element as an array when it
  carries ``SOAP-ENC:arrayType`` (``xsd:string[3]``, ``tns:name_value[2]``; an empty one
  ``xsd:anyType[0]``). zeep does not write that attribute, so array parts are rendered here.
- Faults are HTTP 500 with ``faultcode`` = SuiteCRM's error number: 10 → AuthError, 11 → log in again
  once, 20 → NotFound, 40 → PermissionDenied. ``-1`` "Unknown error in SOAP call: service died
  unexpectedly" is what *every* call gets from an unmodified SuiteCRM 7.14 on PHP 8 (SuiteCRM#9741) →
  ProtocolError saying so and suggesting the rest or v8 transport.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
import zeep.helpers
import zeep.transports
from lxml import etree

from suitecrm_ext.crm.base import CRM, ProtocolError, ValidationError
from suitecrm_ext.crm.http import RetryPolicy, classify, excerpt, send
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.crm.rest_v4_wire import _DatabaseFailure, raise_for_error_number

log = logging.getLogger("suitecrm_ext.crm.soap")

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

DEFAULT_PATH = "/service/v4_1/soap.php"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
TNS = "http://www.sugarcrm.com/sugarcrm"

PHP8_HINT = (
    "SuiteCRM's SOAP service died on this call (fault -1 'service died unexpectedly'). An unmodified "
    "SuiteCRM 7.14 on PHP 8 fails every SOAP call this way (nusoap calls a non-static method statically, "
    "SuiteCRM issue #9741). Use suitecrm.write_via: rest or v8, or patch nusoap's invoke_method."
)


def wsdl_dir() -> Path:
    """The folder of the shipped WSDL and the schemas it imports."""
    return Path(str(resources.files("suitecrm_ext.crm") / "wsdl"))


def packaged_wsdl() -> Path:
    """The shipped copy of SuiteCRM 7.14.6's ``/service/v4_1/soap.php?wsdl``."""
    return wsdl_dir() / "soap-v4_1.wsdl"


#: Imported schemas served from the package instead of the internet.
LOCAL_SCHEMAS = {
    "http://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
    "http://schemas.xmlsoap.org/wsdl/": "wsdl.xsd",
}


class LocalSchemaTransport(zeep.transports.Transport):
    """zeep transport that serves the SOAP-encoding and WSDL schemas from the package."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.loaded: dict[str, bytes] = {}  # documents fetched so far, so nothing is fetched twice

    def load(self, url: str) -> bytes:
        """The document at ``url``; the two well-known schema URLs come from local files."""
        local = LOCAL_SCHEMAS.get(url) or LOCAL_SCHEMAS.get(url.rstrip("/") + "/")
        if local:
            return (wsdl_dir() / local).read_bytes()
        if url not in self.loaded:
            self.loaded[url] = super().load(url)
        return self.loaded[url]


def array_item_types(wsdl_text: bytes) -> dict[str, str]:
    """``{array type: item type}`` for every SOAP-ENC array type of a WSDL (select_fields → xsd:string)."""
    root = etree.fromstring(wsdl_text)
    out: dict[str, str] = {}
    for ctype in root.iter(f"{{{XSD}}}complexType"):
        for attr in ctype.iter(f"{{{XSD}}}attribute"):
            item = attr.get(f"{{{WSDL_NS}}}arrayType")
            if item and ctype.get("name"):
                out[ctype.get("name")] = item[:-2] if item.endswith("[]") else item
    return out


def _qn(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


class SoapCRM(RestV4CRM):
    """SuiteCRM through SOAP v4_1 (zeep). Same interface, errors and retry safety as the REST transport.

    ``wsdl``: None for the shipped copy, ``"server"`` for ``<endpoint>?wsdl``, or a file path / URL.
    """

    name = "soap"
    #: REST's, less nul_values (XML 1.0 cannot carry NUL: ValidationError before sending) and
    #: server_version (the WSDL's get_server_info result has no suitecrm_version).
    #: and attachments: the REST transport's get/set_note_attachment are not wired for SOAP's structs.
    capabilities = RestV4CRM.capabilities - {"nul_values", "server_version", "attachments"}
    get_attachment = CRM.get_attachment
    set_attachment = CRM.set_attachment

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        wsdl: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = 200,
        verify: bool | str = True,
        path: str = DEFAULT_PATH,
        batch_size: int = 100,
        application_name: str = "suitecrm-ext",
        session: requests.Session | None = None,
        retry_policy: RetryPolicy | None = None,
    ):
        super().__init__(url, username, password, timeout=timeout, retries=retries, page_size=page_size,
                         verify=verify, path=path, batch_size=batch_size, application_name=application_name,
                         session=session, retry_policy=retry_policy)
        self.timeout = timeout
        self.wsdl = wsdl
        self._client: zeep.Client | None = None
        self._arrays: dict[str, str] = {}

    @classmethod
    def from_settings(cls, s: Any, **kwargs: Any) -> SoapCRM:
        """Build from ``SuiteCRMSettings`` (its ``soap`` section must be present)."""
        if s.soap is None:
            raise ValueError("suitecrm.soap is not configured (username and password are needed)")
        return cls(
            s.url, s.soap.username, s.soap.password.get_secret_value(), wsdl=s.soap.wsdl,
            timeout=s.timeout, retries=s.retries, page_size=s.soap.page_size, verify=s.verify_tls, **kwargs,
        )

    def __repr__(self) -> str:
        return f"SoapCRM({self.endpoint!r}, user={self.username!r})"

    # --- WSDL -------------------------------------------------------------------------

    @property
    def client(self) -> zeep.Client:
        """The zeep client, built on first use from the configured WSDL."""
        if self._client is None:
            source = self.wsdl
            if source is None:
                source = str(packaged_wsdl())
            elif source == "server":
                source = f"{self.endpoint}?wsdl"
            transport = LocalSchemaTransport(session=self.http, timeout=self.timeout,
                                             operation_timeout=self.timeout)
            try:
                raw = transport.load(source)
                self._client = zeep.Client(source, transport=transport)
            except (OSError, requests.RequestException, zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
                raise ProtocolError(f"SOAP: cannot load the WSDL from {source}: {exc}",
                                    transport=self.name) from None
            self._arrays = array_item_types(raw)
        return self._client

    def _operation(self, method: str):
        binding = self.client.service._binding
        try:
            return binding._operations[method]
        except KeyError:
            raise ProtocolError(f"SOAP: the WSDL has no operation {method!r}", transport=self.name) from None

    def _check_values(self, module: str, values: Mapping[str, Any], where: str = "") -> None:
        """RestV4CRM's checks, plus: XML 1.0 cannot carry NUL and most control characters."""
        super()._check_values(module, values, where)
        bad = [k for k, v in values.items() if isinstance(v, str) and _XML_ILLEGAL.search(v)]
        if bad:
            raise ValidationError(
                f"{module}: SOAP (XML 1.0) cannot carry control characters such as NUL in "
                f"{', '.join(bad)}" + (f" ({where})" if where else "") + "; use the rest or v8 transport",
                fields=bad, transport=self.name, module=module)

    # --- wire -------------------------------------------------------------------------

    def build_envelope(self, method: str, args: list[Any]) -> tuple[bytes, str]:
        """The request envelope for ``method(*args)`` and its SOAPAction. Arrays get SOAP-ENC:arrayType."""
        op = self._operation(method)
        parts = op.input.body.type.elements
        if len(args) != len(parts):
            raise ValueError(f"SOAP {method} takes {len(parts)} parts ({', '.join(n for n, _ in parts)}), "
                             f"got {len(args)}")
        arrays: dict[str, tuple[str, Any]] = {}
        zeep_args = []
        for (name, element), value in zip(parts, args, strict=True):
            tname = getattr(element.type, "name", None) or ""
            if tname in self._arrays:
                arrays[name] = (tname, value)
                zeep_args.append(zeep.xsd.SkipValue)
            else:
                zeep_args.append(value)
        try:
            envelope = self.client.create_message(self.client.service, method, *zeep_args)
        except ValueError as exc:  # lxml: a string XML cannot carry
            raise ValidationError(f"SOAP {method}: {exc}", transport=self.name) from None
        body = envelope.find(_qn(SOAP_ENV, "Body"))
        call = body[0]
        rendered = {child.tag: child for child in call}
        for child in list(call):
            call.remove(child)
        tns = call.prefix or "tns"  # "tns:name_value" must use the prefix in scope for the tns URI
        for name, _ in parts:
            if name in arrays:
                tname, value = arrays[name]
                call.append(self._render_array(name, tname, value, tns))
            else:
                call.append(rendered[name])
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8"), op.soapaction or ""

    def _render_array(self, tag: str, tname: str, value: Any, tns: str) -> etree._Element:
        el = etree.Element(tag, nsmap={"SOAP-ENC": SOAP_ENC, "xsi": XSI, "xsd": XSD})
        self._fill_array(el, self._arrays.get(tname, "xsd:anyType"), list(value or []), tns)
        return el

    def _fill_array(self, el: etree._Element, item_type: str, items: list[Any], tns: str) -> None:
        if not items:
            el.set(_qn(SOAP_ENC, "arrayType"), "xsd:anyType[0]")
            return
        local = item_type.split(":", 1)[-1]
        typed = f"{tns}:{local}" if item_type.startswith("tns:") else item_type
        el.set(_qn(SOAP_ENC, "arrayType"), f"{typed}[{len(items)}]")
        for item in items:
            child = etree.SubElement(el, "item")
            child.set(_qn(XSI, "type"), typed)
            if local in self._arrays:  # an array of arrays (name_value_lists)
                self._fill_array(child, self._arrays[local], list(item or []), tns)
            elif isinstance(item, Mapping):
                for key, val in item.items():
                    sub = etree.SubElement(child, str(key))
                    if isinstance(val, (list, tuple)):
                        self._fill_array(sub, "xsd:string", list(val), tns)
                    else:
                        sub.set(_qn(XSI, "type"), "xsd:string")
                        sub.text = _text(val)
            else:
                child.text = _text(item)

    def _post(self, method: str, args: list[Any]) -> Any:
        """One SOAP call; faults → typed errors (11 → re-login in RestV4CRM), answers → REST-shaped data."""
        envelope, action = self.build_envelope(method, args)
        log.debug("SOAP v4_1 %s", method)  # never the envelope: it carries the session / password hash
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        resp = send(self.http, "POST", self.endpoint, data=envelope, headers=headers, transport=self.name,
                    what=f"SOAP {method}")
        is_fault = b"Fault>" in resp.content[:4000] and b"Envelope" in resp.content[:400]
        if resp.status_code == 500 and resp.text.lstrip().startswith("Database failure"):
            raise _DatabaseFailure(excerpt(resp))
        if not is_fault:
            classify(resp, transport=self.name, what=f"SOAP {method}")
        op = self._operation(method)
        try:
            result = self.client.service._binding.process_reply(self.client, op, resp)
        except zeep.exceptions.Fault as fault:
            self._raise_fault(method, fault)
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            raise ProtocolError(f"SOAP {method}: cannot read the answer ({type(exc).__name__})",
                                excerpt=excerpt(resp), transport=self.name) from None
        data = zeep.helpers.serialize_object(result, dict)
        # zeep unwraps a result struct of one element (get_entries_count → 51); REST keeps the struct
        body = op.output.body if op.output is not None else None
        parts = body.type.elements if body is not None else []
        inner = getattr(parts[0][1].type, "elements", []) if len(parts) == 1 else []
        if len(inner) == 1 and not isinstance(data, Mapping):
            data = {inner[0][0]: data}
        return _restify(method, data)

    def _raise_fault(self, method: str, fault: zeep.exceptions.Fault) -> None:
        code = str(fault.code or "").strip()
        detail = fault.detail.text if fault.detail is not None and fault.detail.text else ""
        text = f"SOAP {method}: SuiteCRM fault {code} {fault.message}" + (f": {detail}" if detail else "")
        try:
            number = int(code)
        except ValueError:
            number = None
        raise_for_error_number(number, text, reason=detail, transport=self.name)
        if number == -1 and "died unexpectedly" in (fault.message or ""):
            raise ProtocolError(f"SOAP {method}: {PHP8_HINT}", transport=self.name)
        raise ProtocolError(text, transport=self.name)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _nvl_dict(nvl: Any) -> Any:
    """A SOAP name_value_list (list of {name, value}) → the REST dict shape, except the "deleted" warning.

    ``get_entry`` of a missing or deleted id answers with a warning list; REST keeps that list-shaped and
    RestV4CRM reads the list shape as NotFound, so it stays a list here too.
    """
    if not isinstance(nvl, list):
        return nvl if nvl is not None else {}
    if any(isinstance(i, Mapping) and i.get("name") == "warning" for i in nvl):
        return nvl
    return {i["name"]: {"name": i["name"], "value": "" if i.get("value") is None else i["value"]}
            for i in nvl if isinstance(i, Mapping) and i.get("name")}


def _restify(method: str, data: Any) -> Any:
    """zeep's answer (plain dicts/lists) → the shape the REST v4_1 JSON answer has."""
    if method == "get_module_fields" and isinstance(data, Mapping):
        fields = {}
        for f in data.get("module_fields") or []:
            f = dict(f)
            opts = f.get("options") or []
            f["options"] = {o["name"]: o for o in opts
                            if isinstance(o, Mapping) and o.get("name") is not None}
            fields[f["name"]] = f
        links = {lf["name"]: dict(lf) for lf in (data.get("link_fields") or [])}
        return {**data, "module_fields": fields, "link_fields": links}
    return _walk(data)


def _walk(data: Any) -> Any:
    if isinstance(data, list):
        return [_walk(x) for x in data]
    if isinstance(data, Mapping):
        out = {k: _walk(v) for k, v in data.items() if k != "name_value_list"}
        if "name_value_list" in data:
            out["name_value_list"] = _nvl_dict(data["name_value_list"])
        return out
    return data


__all__ = ["LocalSchemaTransport", "PHP8_HINT", "SoapCRM", "array_item_types", "packaged_wsdl", "wsdl_dir"]
