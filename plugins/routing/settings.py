"""The ``plugins.routing`` config section: the routes (inline and from files), module names, escalation.

::

    plugins:
      routing:
        route_files: [config/routes/discount_approval.yaml, config/routes/portal_cases.yaml]
        routes: [...]                       # more routes, same format as the files (routes.py)
        role_hierarchy: [Sales rep, Sales manager, Sales director]   # lowest first, for next_role
        escalation_schedule: 1m

Route files are read when the config is loaded; a bad one is reported with its own file, line and key.
Relative paths are taken from the working directory, as ``state.path`` is.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from plugins.routing.routes import Route, RouteFile
from suitecrm_ext import ConfigError, load_yaml_files
from suitecrm_ext.workflow import AssigneeSpec

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")

#: routed module -> the package's one-to-many relationship (link) that shows its steps in a subpanel
SHIPPED_LINKS = {
    "Opportunities": "rt_opportunities_steps",
    "AOS_Quotes": "rt_quotes_steps",
    "Cases": "rt_cases_steps",
    "Documents": "rt_documents_steps",
}


class NotifySettings(BaseModel):
    """Who is told what."""

    model_config = ConfigDict(extra="forbid")

    #: a SuiteCRM Task for each assignee when a step opens (closed when their part is done)
    tasks: bool = True
    #: e-mails: step opened, reminder, escalation, the end of a run
    email: bool = True
    #: also e-mail the assignee's deputies in force when a step opens
    deputies: bool = True
    #: e-mail the initiator when a run ends
    initiator: bool = True
    #: prefix of e-mail subjects
    subject_prefix: str = Field("[SuiteCRM]", max_length=40)


class Settings(BaseModel):
    """Settings of the ``plugins.routing`` section. Every key has a default."""

    model_config = ConfigDict(extra="forbid")

    #: routes given inline (routes.py has the format)
    routes: list[Route] = Field(default_factory=list)
    #: YAML files of routes (``routes: [...]``): files, folders or glob patterns, e.g. config/routes/*.yaml
    route_files: list[str] = Field(default_factory=list)
    #: ACL roles from the lowest to the highest, for ``escalate: {to: next_role}``
    role_hierarchy: list[str] = Field(default_factory=list)
    #: the plugin's modules (its package, schema.yaml)
    runs_module: str = "rt_RouteRuns"
    steps_module: str = "rt_RouteSteps"
    #: routed module -> link to the steps module that shows them in the record's subpanel
    subpanel_links: dict[str, str] = Field(default_factory=lambda: dict(SHIPPED_LINKS))
    #: login of the SuiteCRM user the sidecar writes as (default: the user of suitecrm.<write_via>)
    service_user: str = ""
    #: the deputies' action kind that lets a deputy decide a step (core sx_Deputies kinds)
    deputy_kind: str = "approval"
    #: who gets a step whose assignee names nobody active (none: the run waits, `routing explain` says why)
    fallback_assignee: AssigneeSpec | None = None
    #: no validation hook in SuiteCRM: a vetoed change is reverted with a Note instead of refused
    polling_only: bool = False
    #: how often the reminder/escalation job runs
    escalation_schedule: str = "1m"
    #: the lease on one run while it is moved on; a worker killed mid-way holds it this long at most
    lock_seconds: float = Field(120.0, ge=2, le=3600)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    _all: list[Route] = PrivateAttr(default_factory=list)

    @field_validator("runs_module", "steps_module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @field_validator("subpanel_links")
    @classmethod
    def _links(cls, v: dict[str, str]) -> dict[str, str]:
        for module, link in v.items():
            if not _NAME.match(module) or not re.match(r"^[a-z][a-z0-9_]{0,63}$", link):
                raise ValueError(f"{module}: {link}: a module name and a (lower-case) link name")
        return v

    @model_validator(mode="after")
    def _load(self) -> Settings:
        routes = list(self.routes)
        try:
            files = load_yaml_files(self.route_files, RouteFile, what="route file")
        except ConfigError as exc:
            raise ValueError("route_files:\n  " + "\n  ".join(exc.problems)) from None
        for f in files:
            routes.extend(f.model.routes)  # type: ignore[attr-defined]
        seen: set[str] = set()
        for r in routes:
            if r.name in seen:
                raise ValueError(f"two routes are named {r.name!r} (inline routes and route_files together)")
            seen.add(r.name)
            if r.uses_next_role() and not (r.role_hierarchy or self.role_hierarchy):
                raise ValueError(
                    f"route {r.name}: escalate to next_role needs role_hierarchy (in the route or "
                    "in plugins.routing)"
                )
        self._all = routes
        return self

    def all_routes(self) -> list[Route]:
        """Every route: inline ones, then the files' (enabled or not)."""
        return list(self._all)

    def hierarchy(self, route: Route) -> list[str]:
        """The role hierarchy a route escalates through."""
        return list(route.role_hierarchy or self.role_hierarchy)
