"""What a package schema may say: field types, templates, layouts, languages, and the limits and
reserved words its names are checked against (MySQL/MariaDB and SuiteCRM's own column sizes)."""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_VARCHAR_LEN", "FIELD_NAME_RE", "FIELD_TYPES", "HOOK_KINDS", "LANGUAGES", "LAYOUTS",
    "MAX_DB_IDENTIFIER", "MAX_MODULE_NAME", "MAX_RELATIONSHIP_NAME", "MODULE_NAME_RE", "PACKAGE_ID_RE",
    "RELATIONSHIP_TYPES", "RESERVED_WORDS", "TEMPLATES", "TEMPLATE_FIELDS", "VERSION_RE",
]

#: SuiteCRM field types a schema may use.
FIELD_TYPES = (
    "bool",
    "currency",
    "date",
    "datetime",
    "decimal",
    "enum",
    "int",
    "multienum",
    "relate",
    "text",
    "varchar",
)
TEMPLATES = ("basic", "assignable", "security_groups")
RELATIONSHIP_TYPES = ("one-to-many", "many-to-many")
LAYOUTS = ("list", "detail", "edit", "search")
LANGUAGES = ("en_us", "ru_ru")
HOOK_KINDS = ("push", "validate")

#: MySQL/MariaDB identifier limit (tables, columns, indexes).
MAX_DB_IDENTIFIER = 64
#: Longest module name: SuiteCRM stores module names in varchar(25) columns
#: (``linked_documents.parent_type``, ``folders_rel.polymorphic_module``).
MAX_MODULE_NAME = 25
#: ``relationships.relationship_name`` is varchar(150); the join-table column names (see
#: :meth:`Relationship.join_key_lhs`) are the tighter limit and are checked separately.
MAX_RELATIONSHIP_NAME = 150
#: ``varchar`` default length, as Module Builder uses.
DEFAULT_VARCHAR_LEN = 255

#: Fields SuiteCRM's templates add to every module (basic) or assignable / security-groups modules.
TEMPLATE_FIELDS = {
    "basic": (
        "id",
        "name",
        "date_entered",
        "date_modified",
        "modified_user_id",
        "modified_by_name",
        "created_by",
        "created_by_name",
        "description",
        "deleted",
        "created_by_link",
        "modified_user_link",
    ),
    "assignable": ("assigned_user_id", "assigned_user_name", "assigned_user_link"),
    "security_groups": ("securitygroups", "SecurityGroups"),
}

#: MySQL 8 / MariaDB reserved words (a column may not be named like these without quoting, and
#: SuiteCRM does not quote column names in its generated SQL).
RESERVED_WORDS = frozenset(
    """
accessible add all alter analyze and as asc asensitive before between bigint binary blob both by call
cascade case change char character check collate column condition constraint continue convert create
cross cube cume_dist current_date current_role current_time current_timestamp current_user cursor database
databases day_hour day_microsecond day_minute day_second dec decimal declare default delayed delete
dense_rank desc describe deterministic distinct distinctrow div double drop dual each else elseif empty
enclosed escaped except exists exit explain false fetch first_value float float4 float8 for force foreign
from fulltext function general generated get grant group grouping groups having high_priority
hour_microsecond hour_minute hour_second if ignore ignore_server_ids in index infile inner inout
insensitive insert int int1 int2 int3 int4 int8 integer intersect interval into io_after_gtids
io_before_gtids is iterate join json_table key keys kill lag last_value lateral lead leading leave left
like limit linear lines load localtime localtimestamp lock long longblob longtext loop low_priority
master_bind master_heartbeat_period master_ssl_verify_server_cert match maxvalue mediumblob mediumint
mediumtext middleint minute_microsecond minute_second mod modifies natural not no_write_to_binlog
nth_value ntile null numeric of offset on optimize optimizer_costs option optionally or order out outer
outfile over page_checksum parse_vcol_expr partition percent_rank precision primary procedure purge range
rank read reads read_write real recursive ref_system_id references regexp release rename repeat replace
require resignal restrict return returning revoke right rlike row row_number rows schema schemas
second_microsecond select sensitive separator set show signal slow smallint spatial specific sql
sql_big_result sql_calc_found_rows sql_small_result sqlexception sqlstate sqlwarning ssl starting
stats_auto_recalc
stats_persistent stats_sample_pages stored straight_join system table terminated then tinyblob tinyint
tinytext to trailing trigger true undo union unique unlock unsigned update usage use using utc_date
utc_time utc_timestamp values varbinary varchar varcharacter varying virtual when where while window with
write xor year_month zerofill
""".split()
)


#: names of fields (and tables, relationships, dropdowns): lower-case, as SuiteCRM's DB layer expects
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: module names (and package ids)
MODULE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
PACKAGE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: package versions: 1.2.3, up to four parts, an optional suffix (1.0-beta)
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+){0,3}([.-][A-Za-z0-9]+)?$")
