"""``suitecrm-ext doctor`` lines of bp_scripts: the package's modules, the fields processes use, SMS
providers."""

from __future__ import annotations

from typing import Any

from suitecrm_ext import AuthError, Check, PluginContext, TransientError

from .processes import _walk_conditions, _walk_strings
from .settings import Settings
from .templating import is_template, record_fields

RUN_FIELDS = (
    "process",
    "status",
    "current_step",
    "steps_log",
    "last_error",
    "parent_type",
    "parent_id",
    "script",
)


def process_fields(p: Any) -> set[str]:
    """Every field of its module a process reads (conditions, templates)."""
    out = set(p.trigger.when.fields()) | set(p.trigger.where) | set(p.trigger.once_per)
    for s in p.steps:
        out |= s.when.fields()
        for _, cond in _walk_conditions(s.parsed):
            out |= cond.fields()
        for _, text in _walk_strings(s.settings):
            if is_template(text):
                out |= record_fields(text)
    return out


def doctor_checks(ctx: PluginContext) -> list[Check]:
    """The checks (SuiteCRM unreachable: raises TransientError/AuthError for one line instead)."""
    s: Settings = ctx.settings or Settings()
    hint = "install the bp_scripts package: suitecrm-ext package install bp_scripts --suitecrm-root DIR"
    out = []
    try:
        have = ctx.crm.fields(s.runs_module)
        missing = [f for f in RUN_FIELDS if f not in have]
        out.append(
            Check(
                f"bp_scripts module {s.runs_module}",
                not missing,
                f"missing field(s): {', '.join(missing)}" if missing else "present",
                hint if missing else "",
            )
        )
    except (TransientError, AuthError):
        raise
    except Exception as exc:  # noqa: BLE001
        out.append(Check(f"bp_scripts module {s.runs_module}", False, str(exc), hint))
    for p in s.processes:
        if not p.enabled:
            continue
        try:
            have = ctx.crm.fields(p.module)
        except (TransientError, AuthError):
            raise
        except Exception as exc:  # noqa: BLE001
            out.append(Check(f"bp process {p.name}", False, f"module {p.module}: {exc}", hint))
            continue
        missing = sorted(f for f in process_fields(p) if f not in have)
        out.append(
            Check(
                f"bp process {p.name}",
                not missing,
                f"{p.module} lacks field(s) {', '.join(missing)}"
                if missing
                else f"{p.module}: {len(p.steps)} step(s), fields present",
                "add the fields in Studio or install the bp_scripts package" if missing else "",
            )
        )
    from .service import providers_for

    for name, provider in providers_for(s).items():
        try:
            out.append(Check(f"bp SMS provider {name}", True, f"{provider.kind}: {provider.check()}"))
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check
            out.append(
                Check(
                    f"bp SMS provider {name}",
                    False,
                    f"{provider.kind}: {exc}",
                    "check the provider's credentials and address",
                )
            )
    return out
