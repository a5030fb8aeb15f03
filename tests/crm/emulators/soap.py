"""A stateful emulator of SuiteCRM 7.14.6's SOAP v4_1 endpoint (nusoap), for ``responses``.

The methods are SuiteCRM's ``SugarWebServiceImplv4_1`` ones, so the emulator reuses the REST v4_1
emulator's method implementations (same FakeCRM data, same ``query`` SQL parsing, same ``set_entry`` id
semantics) and only speaks SOAP on the wire, in the shapes recorded from a real server
(tests/fixtures/soap/*.json, compared by tests/crm/test_soap_emulator.py):

- the request is read the way nusoap reads it: parts by position, an element is an array only when it
  carries ``SOAP-ENC:arrayType`` (without it an array part is read as a string — which the SuiteCRM
  methods then choke on; here: fault -1), scalars converted by the WSDL part type;
- answers are rpc/encoded: ``<ns1:{method}Response><return xsi:type="tns:...">`` with typed scalars and
  ``SOAP-ENC:Array`` elements carrying ``SOAP-ENC:arrayType="tns:entry_value[2]"``;
- errors are SOAP Faults with HTTP 500, ``faultcode`` the SuiteCRM error number (10, 11, 20);
- ``php8_stock=True`` answers every call with the fault -1 "service died unexpectedly" of an unmodified
  7.14 on PHP 8 (SuiteCRM#9741).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import requests
import responses
from crm.emulators.rest import DB_FAILURE, ERRORS, HTML_CT, SIGNATURES, RestV4Emulator, _ApiError, _Fatal
from lxml import etree

from suitecrm_ext.crm.soap import packaged_wsdl

SOAP_PATH = "/service/v4_1/soap.php"
XML_CT = "text/xml; charset=UTF-8"
NS = {
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "env": "http://schemas.xmlsoap.org/soap/envelope/",
    "enc": "http://schemas.xmlsoap.org/soap/encoding/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
ENVELOPE_OPEN = (
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" {tns}'
    'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
)
TNS_DECL = 'xmlns:tns="http://www.sugarcrm.com/sugarcrm" '


class WsdlTypes:
    """The rpc/encoded types of the v4_1 WSDL: structs (element name → type), arrays (item type), parts."""

    def __init__(self, path: Path):
        root = etree.parse(str(path)).getroot()
        self.structs: dict[str, list[tuple[str, str]]] = {}
        self.arrays: dict[str, str] = {}
        for ctype in root.iter(f"{{{NS['xsd']}}}complexType"):
            name = ctype.get("name")
            attr = ctype.find(".//xsd:attribute", NS)
            if attr is not None and attr.get(f"{{{NS['wsdl']}}}arrayType"):
                self.arrays[name] = attr.get(f"{{{NS['wsdl']}}}arrayType")[:-2]
            else:
                elements = ctype.iter(f"{{{NS['xsd']}}}element")
                self.structs[name] = [(e.get("name"), e.get("type")) for e in elements]
        self.messages: dict[str, list[tuple[str, str]]] = {}
        for msg in root.iterfind("wsdl:message", NS):
            parts = msg.iterfind("wsdl:part", NS)
            self.messages[msg.get("name")] = [(p.get("name"), p.get("type")) for p in parts]


class SoapEmulator(RestV4Emulator):
    """SuiteCRM SOAP v4_1 over a FakeCRM: REST emulator methods, SOAP wire; see ``install(rsps)``."""

    def __init__(self, *args: Any, php8_stock: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.soap_endpoint = self.base_url + SOAP_PATH
        self.php8_stock = php8_stock
        self.types = WsdlTypes(packaged_wsdl())
        self.envelopes: list[bytes] = []  # raw request envelopes

    def install(self, rsps: responses.RequestsMock) -> SoapEmulator:
        """Answer POSTs to the SOAP endpoint on ``rsps``."""
        rsps.add_callback(responses.POST, self.soap_endpoint, callback=self._handle_soap)
        return self

    # --- request ------------------------------------------------------------------------

    def _handle_soap(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body or b""
        body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.envelopes.append(body)
        try:
            call = etree.fromstring(body).find("env:Body", NS)[0]
        except (etree.XMLSyntaxError, TypeError, IndexError):
            return self._fault("Client", "error in msg parsing", "")
        method = etree.QName(call).localname
        fault = self._take_fault(method)
        if fault and fault[0] == "status":
            status, retry_after = fault[1]
            headers = {"Content-Type": HTML_CT}
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            return status, headers, ""
        if fault and fault[0] == "drop":
            raise requests.ConnectionError("connection refused (emulated)")
        if self.php8_stock:
            return self._fault("-1", "Unknown error in SOAP call: service died unexpectedly", "")
        if method not in SIGNATURES or f"{method}Request" not in self.types.messages:
            return self._fault("Client", f"Operation '{method}' is not defined in the WSDL for this service",
                               "")
        parts = self.types.messages[f"{method}Request"]
        children = list(call)
        if len(children) != len(parts):  # nusoap binds by position; a missing part is an ArgumentCountError
            return self._fault("-1", "Unknown error in SOAP call: service died unexpectedly", "")
        args = [self._read(child, ptype) for child, (_, ptype) in zip(children, parts, strict=True)]
        self.calls.append((method, args))
        try:
            answer = getattr(self, f"_m_{method}")(*args)
        except _ApiError as err:
            name, description = ERRORS[err.number]
            return self._fault(str(err.number), name, description)
        except _Fatal as fatal:
            return 500, {"Content-Type": fatal.content_type}, fatal.body or DB_FAILURE
        except (TypeError, AttributeError, KeyError, ValueError):
            return self._fault("-1", "Unknown error in SOAP call: service died unexpectedly", "")
        if fault and fault[0] == "lose":
            raise requests.ReadTimeout("read timed out (emulated: the answer was lost)")
        out_parts = self.types.messages.get(f"{method}Response") or []
        inner = "".join(self._render(name, answer, ptype) for name, ptype in out_parts)
        env = (ENVELOPE_OPEN.format(tns=TNS_DECL) + "<SOAP-ENV:Body>"
               f'<ns1:{method}Response xmlns:ns1="http://www.sugarcrm.com/sugarcrm">{inner}'
               f"</ns1:{method}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>")
        return 200, {"Content-Type": XML_CT}, env

    def _read(self, el: etree._Element, ptype: str) -> Any:
        """One part as nusoap decodes it: arrays only with SOAP-ENC:arrayType, structs as dicts."""
        if el.get(f"{{{NS['enc']}}}arrayType") is not None:
            return [self._read(item, "") for item in el]
        if len(el):
            # a struct (PHP associative array): repeated <item>s collapse to the last one, which is what
            # SuiteCRM gets for an array part sent without SOAP-ENC:arrayType
            out = {etree.QName(c).localname: self._read(c, "") for c in el}
            return list(out.values()) if set(out) == {"item"} else out
        text = el.text or ""
        if ptype == "xsd:int":
            return int(text) if text.strip().lstrip("-").isdigit() else 0
        if ptype == "xsd:boolean":
            return text.strip().lower() in ("1", "true")
        if ptype.startswith("tns:") and ptype[4:] in self.types.arrays:
            return text  # no arrayType: nusoap hands the method a string
        return text

    # --- answer -------------------------------------------------------------------------

    def _render(self, tag: str, value: Any, xtype: str) -> str:
        local = xtype.split(":", 1)[-1]
        if xtype.startswith("tns:") and local in self.types.arrays:
            item_type = self.types.arrays[local]
            items = list(value.values()) if isinstance(value, Mapping) else list(value or [])
            inner = "".join(self._render("item", i, item_type) for i in items)
            head = (f'<{tag} xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="{item_type}[{len(items)}]"')
            return head + ("/>" if not items else f">{inner}</{tag}>")
        if xtype.startswith("tns:") and local in self.types.structs:
            value = value if isinstance(value, Mapping) else {}
            inner = "".join(self._render(n, value[n], t) for n, t in self.types.structs[local] if n in value)
            return f'<{tag} xsi:type="{xtype}">{inner}</{tag}>'
        if value is None:
            return f'<{tag} xsi:nil="true" xsi:type="{xtype or "xsd:string"}"/>'
        if xtype == "xsd:boolean":
            text = "true" if value in (True, 1, "1", "true") else "false"
        elif isinstance(value, bool):
            text = "1" if value else "0"
        else:
            text = str(value)
        return f'<{tag} xsi:type="{xtype or "xsd:string"}">{escape(text)}</{tag}>'

    def _fault(self, code: str, string: str, detail: str) -> tuple[int, dict[str, str], str]:
        code_type = "xsd:int" if code.lstrip("-").isdigit() else "xsd:string"
        detail_xml = f'<detail xsi:type="xsd:string">{escape(detail)}</detail>' if detail else \
            '<detail xsi:type="xsd:string"/>'
        env = (ENVELOPE_OPEN.format(tns="") + "\n<SOAP-ENV:Body><SOAP-ENV:Fault>"
               f'<faultcode xsi:type="{code_type}">{escape(code)}</faultcode>'
               '<faultactor xsi:type="xsd:string"/>'
               f'<faultstring xsi:type="xsd:string">{escape(string)}</faultstring>{detail_xml}'
               "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n")
        return 500, {"Content-Type": XML_CT}, env
