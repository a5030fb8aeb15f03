"""The ``plugins.collegial_actions`` config section: module and field names, process map, notifications."""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.collegial_actions.rules import Catalog, CatalogError, Process, ProcessDef, load_default_catalog

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class NotifySettings(BaseModel):
    """How assignees and document owners are told."""

    model_config = ConfigDict(extra="forbid")

    #: create a SuiteCRM Task (assigned to the assignee, linked to the document) when their stage starts
    tasks: bool = True
    #: send an e-mail (smtp: section) to the assignee's primary address when their stage starts
    email: bool = True
    #: also tell the assignee's deputies in force (for that kind) when the stage starts
    deputies: bool = True
    #: tell the document's assigned user when a stage is complete (Task + e-mail, per the flags above)
    owner_on_stage_complete: bool = True
    #: prefix of e-mail subjects
    subject_prefix: str = Field("[SuiteCRM]", max_length=40)


class Settings(BaseModel):
    """Settings of the ``plugins.collegial_actions`` section. Every key has a default."""

    model_config = ConfigDict(extra="forbid")

    #: the module whose records follow the processes, and its document-type / workflow-status fields
    documents_module: str = "Documents"
    type_field: str = "ca_doc_type_c"
    status_field: str = "ca_status_c"
    #: the plugin's own module (created by its package, schema.yaml); deputies are the core's
    #: (plugins.workflow.deputies_module, default sx_Deputies)
    actions_module: str = "ca_CollegialActions"
    #: document type (value of ``type_field``) -> process name
    document_types: dict[str, str] = Field(
        default_factory=lambda: {"flexible": "flexible", "classic": "classic", "simplified": "simplified"}
    )
    #: process for documents whose type is not in ``document_types``; none = such documents are not governed
    default_process: str | None = None
    #: extra processes (or replacements of shipped ones), same format as processes.yaml
    processes: dict[str, ProcessDef] = Field(default_factory=dict)
    #: no push/validation hook in SuiteCRM: a forbidden status change is reverted with a Note instead
    polling_only: bool = False
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @field_validator("documents_module", "type_field", "status_field", "actions_module")
    @classmethod
    def _is_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module/field name (letters, digits, underscore)")
        return v

    @model_validator(mode="after")
    def _processes_exist(self) -> Settings:
        try:
            catalog = load_default_catalog(self.processes)
        except CatalogError as exc:
            raise ValueError(str(exc)) from None
        known = ", ".join(catalog.processes)
        for doc_type, name in self.document_types.items():
            if name not in catalog.processes:
                raise ValueError(f"document_types.{doc_type}: unknown process {name!r} (known: {known})")
        if self.default_process and self.default_process not in catalog.processes:
            raise ValueError(f"default_process: unknown process {self.default_process!r} (known: {known})")
        return self

    @cached_property
    def catalog(self) -> Catalog:
        """The shipped processes plus the configured ones."""
        return load_default_catalog(self.processes)

    def process_for(self, doc_type: str | None) -> Process | None:
        """The process of a document type, the default process, or None (document not governed)."""
        name = self.document_types.get(doc_type or "") or self.default_process
        return self.catalog.process(name) if name else None
