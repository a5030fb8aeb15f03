"""Core services for workflow plugins (public surface; import from here, see docs/workflow.md).

- access model (SuiteCRM's users, ACL roles, security groups, managers): :class:`AccessModel`; role rights
  (what a role may do per module, read and set as Admin → Role Management does): :class:`RoleRights`;
- the safe condition language: :func:`parse_condition`, :class:`Facts`, :class:`Predicates`,
  ``condition_type`` for settings models;
- assignees (user / role / group / field / manager of ...): :class:`AssigneeSpec`, :class:`AssigneeResolver`;
- a declarative state machine: :class:`StateMachine`, ``machine_model``, :class:`Verdict`;
- the decision log kept in SuiteCRM: :class:`DecisionLog`;
- deputies kept in SuiteCRM: :class:`DeputyBook`, :func:`entitlement`;
- notices (Tasks + e-mails, idempotent by key) and Jinja2 templates: :class:`Notifier`, :class:`Templates`;
- the business calendar (working hours, Russian holidays and transfers): :class:`BusinessCalendar`;
- BP-scripts, the reusable automatic steps plugins add through ``ext_bp_scripts``: :class:`Script`,
  :class:`ScriptRun`, :class:`ScriptResult`, :class:`RetryLater`, :class:`ScriptError`, :class:`Waiting`;
- all of them over one plugin context: ``ctx.workflow`` (:class:`Workflow`).
"""

from suitecrm_ext.workflow.access import AccessError, AccessModel, Group, Role, User
from suitecrm_ext.workflow.assignees import AssigneeContext, AssigneeResolver, AssigneeSpec
from suitecrm_ext.workflow.calendar import BusinessCalendar, CalendarSettings, parse_duration
from suitecrm_ext.workflow.conditions import (
    ALWAYS,
    Condition,
    ConditionError,
    Facts,
    Predicates,
    check_condition,
    parse_condition,
)
from suitecrm_ext.workflow.decisions import DECISIONS_MODULE, Decision, DecisionLog
from suitecrm_ext.workflow.deputies import (
    ALL_KINDS,
    DEPUTIES_MODULE,
    DeputyAssignment,
    DeputyBook,
    Entitlement,
    check_assignment,
    entitlement,
)
from suitecrm_ext.workflow.effects import EffectContext, Effects
from suitecrm_ext.workflow.fields import ConditionField, condition_type, located_error
from suitecrm_ext.workflow.notices import Notice, Notifier, Rendered, TemplateError, Templates, notice_key
from suitecrm_ext.workflow.rights import LEVELS, RightsError, RoleRights, WebUI, check_rights
from suitecrm_ext.workflow.scripts import (
    Memo,
    RetryLater,
    Script,
    ScriptError,
    ScriptResult,
    ScriptRun,
    Waiting,
    as_result,
)
from suitecrm_ext.workflow.services import Workflow
from suitecrm_ext.workflow.settings import WorkflowSettings
from suitecrm_ext.workflow.statemachine import (
    EffectDef,
    MachineDef,
    StateMachine,
    Transition,
    Verdict,
    machine_model,
)

__all__ = [
    "ALL_KINDS",
    "ALWAYS",
    "AccessError",
    "AccessModel",
    "AssigneeContext",
    "AssigneeResolver",
    "AssigneeSpec",
    "BusinessCalendar",
    "CalendarSettings",
    "Condition",
    "ConditionError",
    "ConditionField",
    "DECISIONS_MODULE",
    "DEPUTIES_MODULE",
    "Decision",
    "DecisionLog",
    "DeputyAssignment",
    "DeputyBook",
    "EffectDef",
    "Entitlement",
    "Facts",
    "Group",
    "MachineDef",
    "Notice",
    "Notifier",
    "Predicates",
    "Rendered",
    "Role",
    "StateMachine",
    "TemplateError",
    "Templates",
    "Transition",
    "User",
    "Verdict",
    "Workflow",
    "WorkflowSettings",
    "check_assignment",
    "check_condition",
    "condition_type",
    "entitlement",
    "located_error",
    "machine_model",
    "notice_key",
    "parse_condition",
    "parse_duration",
    "LEVELS",
    "RightsError",
    "RoleRights",
    "WebUI",
    "check_rights",
    "EffectContext",
    "Effects",
    "Memo",
    "RetryLater",
    "Script",
    "ScriptError",
    "ScriptResult",
    "ScriptRun",
    "Waiting",
    "as_result",
]
