"""The SQL guard: refuses every statement that could write a table the sidecar does not own.

:class:`SqlGuard` checks each statement the MySQL transport sends (reads, and the owned-table writer's
inserts); :data:`STOCK_TABLES` lists SuiteCRM's own tables, which no writer may own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from suitecrm_ext.crm.base import PermissionDenied
from suitecrm_ext.crm.mysql.schema import IDENT

READ_ONLY_MESSAGE = "the MySQL transport is read-only towards SuiteCRM tables; writes go through the API"

#: Every table of a stock SuiteCRM 7.14.6 install (from its schema dump). ``owned_writer`` refuses them
#: even when a caller claims to own one: the sidecar never writes stock tables directly.
STOCK_TABLES: frozenset[str] = frozenset("""
    accounts accounts_audit accounts_bugs accounts_cases accounts_contacts accounts_cstm
    accounts_opportunities acl_actions acl_roles acl_roles_actions acl_roles_users address_book alerts
    am_projecttemplates am_projecttemplates_audit am_projecttemplates_contacts_1_c
    am_projecttemplates_project_1_c am_projecttemplates_users_1_c am_tasktemplates
    am_tasktemplates_am_projecttemplates_c am_tasktemplates_audit aobh_businesshours aod_index
    aod_index_audit aod_indexevent aod_indexevent_audit aok_knowledge_base_categories
    aok_knowledge_base_categories_audit aok_knowledgebase aok_knowledgebase_audit
    aok_knowledgebase_categories aop_case_events aop_case_events_audit aop_case_updates
    aop_case_updates_audit aor_charts aor_conditions aor_fields aor_reports aor_reports_audit
    aor_scheduled_reports aos_contracts aos_contracts_audit aos_contracts_documents aos_invoices
    aos_invoices_audit aos_line_item_groups aos_line_item_groups_audit aos_pdf_templates
    aos_pdf_templates_audit aos_product_categories aos_product_categories_audit aos_products
    aos_products_audit aos_products_quotes aos_products_quotes_audit aos_quotes
    aos_quotes_aos_invoices_c aos_quotes_audit aos_quotes_os_contracts_c aos_quotes_project_c
    aow_actions aow_conditions aow_processed aow_processed_aow_actions aow_workflow aow_workflow_audit
    bugs bugs_audit calls calls_contacts calls_leads calls_reschedule calls_reschedule_audit calls_users
    campaign_log campaign_trkrs campaigns campaigns_audit cases cases_audit cases_bugs cases_cstm config
    contacts contacts_audit contacts_bugs contacts_cases contacts_cstm contacts_users
    cron_remove_documents currencies custom_fields document_revisions documents documents_accounts
    documents_bugs documents_cases documents_contacts documents_opportunities eapm email_addr_bean_rel
    email_addresses email_addresses_audit email_cache email_marketing email_marketing_prospect_lists
    email_templates emailman emails emails_beans emails_email_addr_rel emails_text
    external_oauth_connections external_oauth_providers favorites fields_meta_data folders folders_rel
    folders_subscriptions fp_event_locations fp_event_locations_audit fp_event_locations_fp_events_1_c
    fp_events fp_events_audit fp_events_contacts_c fp_events_fp_event_delegates_1_c
    fp_events_fp_event_locations_1_c fp_events_leads_1_c fp_events_prospects_1_c import_maps
    inbound_email inbound_email_autoreply inbound_email_cache_ts jjwg_address_cache
    jjwg_address_cache_audit jjwg_areas jjwg_areas_audit jjwg_maps jjwg_maps_audit
    jjwg_maps_jjwg_areas_c jjwg_maps_jjwg_markers_c jjwg_markers jjwg_markers_audit job_queue leads
    leads_audit leads_cstm linked_documents meetings meetings_contacts meetings_cstm meetings_leads
    meetings_users notes oauth2clients oauth2tokens oauth_consumer oauth_nonce oauth_tokens
    opportunities opportunities_audit opportunities_contacts opportunities_cstm outbound_email
    outbound_email_audit project project_contacts_1_c project_cstm project_task project_task_audit
    project_users_1_c projects_accounts projects_bugs projects_cases projects_contacts
    projects_opportunities projects_products prospect_list_campaigns prospect_lists
    prospect_lists_prospects prospects prospects_cstm relationships releases reminders
    reminders_invitees roles roles_modules roles_users saved_search schedulers securitygroups
    securitygroups_acl_roles securitygroups_audit securitygroups_default securitygroups_records
    securitygroups_users spots sugarfeed surveyquestionoptions surveyquestionoptions_audit
    surveyquestionoptions_surveyquestionresponses surveyquestionresponses surveyquestionresponses_audit
    surveyquestions surveyquestions_audit surveyresponses surveyresponses_audit surveys surveys_audit
    tasks templatesectionline tracker upgrade_history user_preferences users users_feeds
    users_last_import users_password_link users_signatures vcals
""".split())

# --- the SQL guard -------------------------------------------------------------------------------

_READ_VERBS = {"select", "show", "explain", "describe", "desc", "set", "begin", "start", "commit",
               "rollback", "savepoint", "release", "with"}
_WRITE_VERBS = {"insert", "replace", "update", "delete", "alter", "drop", "truncate", "create", "rename"}
_MODIFIERS = {"low_priority", "delayed", "high_priority", "ignore", "quick", "online"}
_TOKEN = re.compile(r"`(?:[^`]|``)*`|[A-Za-z0-9_$@]+|\S")
#: words that make a SET change more than the session (anywhere in its assignment list)
_SET_REFUSED = frozenset({"password", "global", "persist", "persist_only", "role", "@@global", "@@persist",
                          "@@persist_only"})
#: what may stand between EXPLAIN/DESCRIBE and the statement explained
_EXPLAIN_OPTIONS = frozenset({"analyze", "extended", "partitions", "format", "=", "json", "tree",
                              "traditional"})


class SqlGuard:
    """Refuses every statement that could write a table the sidecar does not own.

    ``check(sql)`` passes reads (SELECT, SHOW, SET of session variables, transaction control) and
    writes whose every target table is in ``owned``; everything else raises PermissionDenied naming
    the statement kind and table. It also refuses several statements in one string, MySQL
    executable comments (``/*! ... */``), ``SELECT ... INTO OUTFILE/DUMPFILE`` and qualified
    (``db.table``) names in writes; MariaDB's ``SET STATEMENT ... FOR <stmt>`` and MySQL's
    ``EXPLAIN ANALYZE <stmt>`` are checked as the ``<stmt>`` they run.
    It is a second line of defence: the transport builds its own SQL.
    """

    _CACHE_SIZE = 256

    def __init__(self, owned: Iterable[str] = ()):
        self.owned = frozenset(t.lower() for t in owned)
        # statement templates already found safe: a bulk insert repeats the same text per chunk, and
        # tokenising it char by char each time capped insert_many near 5,000 rows/s
        self._passed: dict[str, None] = {}

    def check(self, sql: str) -> None:
        """Raise PermissionDenied unless ``sql`` is a read or writes only owned tables."""
        if sql in self._passed:
            return
        self._check(sql)
        if len(self._passed) >= self._CACHE_SIZE:
            self._passed.pop(next(iter(self._passed)))
        self._passed[sql] = None

    def _check(self, sql: str) -> None:
        self._check_tokens(_tokens(sql), sql)

    def _check_tokens(self, tokens: list[str], sql: str) -> None:
        if not tokens:
            raise PermissionDenied("empty SQL statement", transport="mysql")
        verb = tokens[0].lower()
        words = [t.lower() for t in tokens]
        if verb in _READ_VERBS:
            if verb == "with" and any(w in ("insert", "update", "delete", "replace") for w in words):
                raise self._refuse("a WITH ... data-changing statement", sql)
            if {"outfile", "dumpfile"} & set(words):
                raise self._refuse("SELECT ... INTO OUTFILE/DUMPFILE", sql)
            if verb == "set" and len(words) > 1 and words[1] == "statement":
                # MariaDB's SET STATEMENT var=value[, ...] FOR <statement> runs <statement>
                if "for" not in words:
                    raise self._refuse("SET STATEMENT without FOR", sql)
                self._check_tokens(tokens[words.index("for") + 1:], sql)
                return
            if verb == "set" and len(words) > 1 and (words[1] == "default" or _SET_REFUSED & set(words)):
                # any assignment of the list may be GLOBAL/PERSIST (SET a = 1, GLOBAL b = 2)
                bad = words[1] if words[1] == "default" else sorted(_SET_REFUSED & set(words))[0]
                raise self._refuse(f"SET {bad.upper()}", sql)
            if verb in ("explain", "describe", "desc"):
                # MySQL 8's EXPLAIN ANALYZE executes the statement it explains: check that statement
                i = 1
                while i < len(words) and words[i] in _EXPLAIN_OPTIONS:
                    i += 1
                if i < len(words) and words[i] in _WRITE_VERBS | {"with", "set"}:
                    self._check_tokens(tokens[i:], sql)
            return
        if verb not in _WRITE_VERBS:
            raise self._refuse(f"{verb.upper()} statements", sql)
        for table in _write_targets(verb, tokens, sql):
            if table.lower() not in self.owned:
                raise PermissionDenied(
                    f"refused {verb.upper()} on table {table!r}: {READ_ONLY_MESSAGE}"
                    + (f" (tables this writer owns: {', '.join(sorted(self.owned))})" if self.owned else ""),
                    transport="mysql",
                )

    @staticmethod
    def _refuse(what: str, sql: str) -> PermissionDenied:
        return PermissionDenied(f"refused {what}: {READ_ONLY_MESSAGE}", transport="mysql")


def _tokens(sql: str) -> list[str]:
    """Tokens of one statement, with comments and string literals removed (literals become ``?``)."""
    out: list[str] = []
    i, n = 0, len(sql)
    buf: list[str] = []
    while i < n:
        ch = sql[i]
        if sql.startswith("/*", i):
            if sql.startswith("/*!", i) or sql.startswith("/*M!", i):
                raise PermissionDenied("refused SQL with an executable /*! ... */ comment", transport="mysql")
            end = sql.find("*/", i + 2)
            if end < 0:
                raise PermissionDenied("refused SQL with an unterminated comment", transport="mysql")
            buf.append(" ")
            i = end + 2
        elif ch == "#" or sql.startswith("-- ", i) or sql.startswith("--\t", i) or sql.startswith("--\n", i) \
                or (sql.startswith("--", i) and i + 2 == n):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise PermissionDenied("refused SQL with an unterminated string literal", transport="mysql")
            buf.append(" ? ")
            i = j + 1
        elif ch == "`":
            end = i + 1
            while True:
                end = sql.find("`", end)
                if end < 0:
                    raise PermissionDenied("refused SQL with an unterminated `identifier`", transport="mysql")
                if end + 1 < n and sql[end + 1] == "`":
                    end += 2
                    continue
                break
            buf.append(sql[i:end + 1])
            i = end + 1
        else:
            buf.append(ch)
            i += 1
    text = "".join(buf).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    out = _TOKEN.findall(text)
    if ";" in out:
        raise PermissionDenied("refused several SQL statements in one call", transport="mysql")
    return out


def _unquote(tok: str) -> str:
    return tok[1:-1].replace("``", "`") if tok.startswith("`") else tok


def _is_ident(tok: str) -> bool:
    return tok.startswith("`") or bool(IDENT.match(tok))


def _table_at(tokens: list[str], i: int, verb: str) -> tuple[str, int]:
    """The table name starting at tokens[i] (refusing ``db.table``) and the index after it."""
    if i >= len(tokens) or not _is_ident(tokens[i]):
        raise PermissionDenied(f"refused {verb.upper()}: cannot tell which table it writes",
                               transport="mysql")
    if i + 1 < len(tokens) and tokens[i + 1] == ".":
        raise PermissionDenied(
            f"refused {verb.upper()} on a qualified table name ({_unquote(tokens[i])}.…): writes may only "
            "name tables of the configured database", transport="mysql")
    return _unquote(tokens[i]), i + 1


def _write_targets(verb: str, tokens: list[str], sql: str) -> list[str]:
    words = [t.lower() for t in tokens]
    i = 1
    if verb in ("insert", "replace"):
        while i < len(words) and words[i] in _MODIFIERS:
            i += 1
        if i < len(words) and words[i] == "into":
            i += 1
        return [_table_at(tokens, i, verb)[0]]
    if verb == "truncate":
        if i < len(words) and words[i] == "table":
            i += 1
        return [_table_at(tokens, i, verb)[0]]
    if verb in ("alter", "drop", "create"):
        if verb == "create" and words[i:i + 2] == ["or", "replace"]:
            i += 2
        while i < len(words) and words[i] in _MODIFIERS | {"temporary"}:
            i += 1
        if verb == "create" and i < len(words) and words[i] in ("index", "unique", "fulltext", "spatial"):
            if "on" not in words[i:]:
                raise PermissionDenied("refused CREATE INDEX without ON <table>", transport="mysql")
            return [_table_at(tokens, words.index("on", i) + 1, verb)[0]]
        if i >= len(words) or words[i] != "table":
            kind = words[i].upper() if i < len(words) else "?"
            raise PermissionDenied(f"refused {verb.upper()} {kind}: {READ_ONLY_MESSAGE}", transport="mysql")
        i += 1
        if words[i:i + 2] == ["if", "exists"]:
            i += 2
        elif words[i:i + 3] == ["if", "not", "exists"]:
            i += 3
        names = []
        while True:
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            if verb == "drop" and i < len(words) and words[i] == ",":
                i += 1
                continue
            break
        if verb == "create" and "select" in words[i:]:
            raise PermissionDenied("refused CREATE TABLE ... SELECT: create the table, then insert",
                                   transport="mysql")
        return names
    if verb == "rename":
        if i < len(words) and words[i] == "table":
            i += 1
        names = []
        while i < len(words):
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            if i < len(words) and words[i] in ("to", ","):
                i += 1
        return names
    # UPDATE and DELETE: every table named in the table references (conservative: aliases too)
    stop = {"set"} if verb == "update" else {"where", "order", "limit", "returning"}
    names = []
    expect = True
    while i < len(words) and words[i] not in stop:
        w = words[i]
        if w in ("(", ")", "select"):
            raise PermissionDenied(f"refused {verb.upper()} with a subquery in its table list",
                                   transport="mysql")
        if w in (",", "join", "from", "using", "straight_join"):
            expect = True
            i += 1
            continue
        if w in _MODIFIERS or w in ("inner", "left", "right", "cross", "outer", "natural", "as", "on"):
            expect = w != "on" and expect
            i += 1
            continue
        if expect and _is_ident(tokens[i]) and w != "?":
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            expect = False
            continue
        i += 1
    if not names:
        raise PermissionDenied(f"refused {verb.upper()}: cannot tell which table it writes",
                               transport="mysql")
    return names

