"""suitecrm-ext: a sidecar that extends SuiteCRM 7 through its APIs and database with pluggy plugins.

The public surface for plugin authors is re-exported here: ``hookimpl``, the hook argument types,
the CRM interface and its errors, and the event types. Import from ``suitecrm_ext`` (and
``suitecrm_ext.testing`` in tests, ``suitecrm_ext.demo`` for a demo scene), not from deeper modules.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("suitecrm-ext")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

PROJECT = "suitecrm_ext"
ENTRY_POINT_GROUP = "suitecrm_ext.plugins"

#: Decorator for hook implementations in plugins: ``@hookimpl def ext_watch(settings): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)

from suitecrm_ext.config import ConfigError, SuiteCRMSettings, load_yaml_model  # noqa: E402
from suitecrm_ext.config_files import YamlFile, load_yaml_files  # noqa: E402
from suitecrm_ext.context import AppContext, PluginContext  # noqa: E402
from suitecrm_ext.crm.base import (  # noqa: E402
    CRM,
    Attachment,
    AuthError,
    Cond,
    CRMError,
    FieldInfo,
    Filter,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Record,
    TransientError,
    Unsupported,
    ValidationError,
    ValidationRefused,
    all_of,
    any_of,
)
from suitecrm_ext.crm.gateway import build_gateway  # noqa: E402
from suitecrm_ext.crm.guid import new_guid  # noqa: E402
from suitecrm_ext.crm.stock_modules import STOCK_FIELDS  # noqa: E402
from suitecrm_ext.doctor import Check, transport_checks  # noqa: E402
from suitecrm_ext.events.aow import AowCall  # noqa: E402
from suitecrm_ext.events.model import Event, EventKind, FieldChange, RecordChange, WatchSpec  # noqa: E402
from suitecrm_ext.events.poller import ChangeFeed  # noqa: E402
from suitecrm_ext.events.signing import standard_headers as standard_webhook_headers  # noqa: E402
from suitecrm_ext.jobs_spec import JobSpec  # noqa: E402
from suitecrm_ext.state.base import StateError, StateStore  # noqa: E402
from suitecrm_ext.state.idmap import IdMap, IdMapConflict, IdPair  # noqa: E402

__all__ = [
    "AowCall",
    "AppContext",
    "Attachment",
    "AuthError",
    "CRM",
    "CRMError",
    "ChangeFeed",
    "Check",
    "Cond",
    "ConfigError",
    "ENTRY_POINT_GROUP",
    "Event",
    "EventKind",
    "FieldChange",
    "FieldInfo",
    "Filter",
    "IdMap",
    "IdMapConflict",
    "IdPair",
    "JobSpec",
    "NotFound",
    "PermissionDenied",
    "PluginContext",
    "ProtocolError",
    "Record",
    "RecordChange",
    "STOCK_FIELDS",
    "StateError",
    "StateStore",
    "SuiteCRMSettings",
    "TransientError",
    "Unsupported",
    "ValidationError",
    "ValidationRefused",
    "WatchSpec",
    "YamlFile",
    "__version__",
    "all_of",
    "any_of",
    "build_gateway",
    "hookimpl",
    "load_yaml_files",
    "load_yaml_model",
    "new_guid",
    "standard_webhook_headers",
    "transport_checks",
]
