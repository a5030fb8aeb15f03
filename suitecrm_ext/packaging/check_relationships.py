"""Checks of the ``relationships`` section: sides, subpanels, titles, and the DB names a relationship
makes (join table, key columns, indexes) against MySQL's identifier limit."""

from __future__ import annotations

from typing import Any

from suitecrm_ext.packaging.checker import Checker, kind_of
from suitecrm_ext.packaging.model import Module, Relationship
from suitecrm_ext.packaging.vocabulary import MAX_DB_IDENTIFIER, MAX_RELATIONSHIP_NAME, RELATIONSHIP_TYPES

__all__ = ["RelationshipChecks"]


class RelationshipChecks(Checker):
    """The ``relationships`` section."""

    def relationships(self, raw: Any, known: set[str], modules: list[Module]) -> list[Relationship]:
        items = self.seq(("relationships",), raw)
        out: list[Relationship] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items or []):
            loc = ("relationships", i)
            m = self.mapping(loc, item)
            if m is None:
                continue
            name = m.get("name")
            label = name if isinstance(name, str) else None
            self.keys(
                loc,
                m,
                ("name", "type", "lhs", "rhs", "subpanels", "titles"),
                ("name", "type", "lhs", "rhs"),
                label,
            )
            self.identifier(loc + ("name",), name, "relationship", limit=MAX_RELATIONSHIP_NAME)
            if isinstance(name, str):
                if name in seen:
                    self.err(
                        loc + ("name",),
                        f"duplicate relationship name (also relationships[{seen[name]}])",
                        label,
                    )
                seen[name] = i
            rtype = m.get("type")
            if rtype is not None and rtype not in RELATIONSHIP_TYPES:
                self.err(
                    loc + ("type",),
                    f"unknown relationship type {rtype!r}; expected one of {', '.join(RELATIONSHIP_TYPES)}",
                    label,
                )
            sides = {}
            for side in ("lhs", "rhs"):
                mod = m.get(side)
                if mod is not None and not isinstance(mod, str):
                    self.err(loc + (side,), f"must be a module name (text), not {kind_of(mod)}", label)
                elif mod is not None and mod not in known:
                    self.err(loc + (side,), self.unknown_module(mod), label)
                sides[side] = mod if isinstance(mod, str) else ""
            if sides["lhs"] and sides["lhs"] == sides["rhs"]:
                self.err(loc + ("rhs",), "relationships of a module with itself are not supported", label)
            default_subpanels = [sides["lhs"]] if rtype == "one-to-many" else [sides["lhs"], sides["rhs"]]
            subpanels_raw = m.get("subpanels", default_subpanels)
            subpanels = []
            for j, s in enumerate(self.seq(loc + ("subpanels",), subpanels_raw, label) or []):
                if s not in (sides["lhs"], sides["rhs"]):
                    self.err(
                        loc + ("subpanels", j),
                        f"subpanel on {s!r}: must be lhs ({sides['lhs']}) or rhs "
                        f"({sides['rhs']}) of the relationship",
                        label,
                    )
                elif rtype == "one-to-many" and s == sides["rhs"]:
                    self.err(
                        loc + ("subpanels", j),
                        f"a one-to-many relationship shows its subpanel on the lhs "
                        f"(the one side, {sides['lhs']}); {s} gets a relate field instead",
                        label,
                    )
                else:
                    subpanels.append(s)
            titles = {}
            tm = self.mapping(loc + ("titles",), m.get("titles"), label) or {}
            for mod_name, t in tm.items():
                if mod_name not in (sides["lhs"], sides["rhs"]):
                    self.err(loc + ("titles", mod_name), "titles are keyed by the lhs or rhs module", label)
                    continue
                titles[mod_name] = self.labels(loc + ("titles", mod_name), t, label)
            rel = Relationship(
                name=str(name or ""),
                type=str(rtype or ""),
                lhs=sides["lhs"],
                rhs=sides["rhs"],
                subpanels=tuple(subpanels),
                titles=titles,
            )
            if isinstance(name, str) and sides["lhs"] and sides["rhs"]:
                for col in (
                    rel.join_table,
                    rel.join_key_lhs,
                    rel.join_key_rhs,
                    f"{name.lower()}_alt",
                    f"{name.lower()}_ida1",
                ):
                    if len(col) > MAX_DB_IDENTIFIER:
                        self.err(
                            loc + ("name",),
                            f"relationship name too long: it makes the DB name {col!r} "
                            f"({len(col)} characters; MySQL allows {MAX_DB_IDENTIFIER})",
                            label,
                        )
                        break
            if rtype == "one-to-many" and sides["rhs"]:
                target = next((mm for mm in modules if mm.name == sides["rhs"]), None)
                for req in self.required if target is None else ():
                    target = target or req.module(sides["rhs"])
                if target and target.field(rel.relate_field):
                    self.err(
                        loc + ("name",),
                        f"the relate field {rel.relate_field!r} this relationship adds to "
                        f"{sides['rhs']} clashes with a field of that module",
                        label,
                    )
            out.append(rel)
        return out

