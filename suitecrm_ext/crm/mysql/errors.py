"""pymysql exceptions as the gateway's typed errors."""

from __future__ import annotations

import pymysql
from pymysql.constants import ER

from suitecrm_ext.crm.base import (
    AuthError,
    CRMError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TransientError,
    ValidationError,
)

_TRANSIENT_CODES = {2002, 2003, 2006, 2013, 2014, 2055, ER.LOCK_DEADLOCK, ER.LOCK_WAIT_TIMEOUT, 1040, 1053}
_AUTH_CODES = {ER.ACCESS_DENIED_ERROR, ER.DBACCESS_DENIED_ERROR, 1698}  # 1045, 1044, 1698
_DENIED_CODES = {ER.TABLEACCESS_DENIED_ERROR, ER.COLUMNACCESS_DENIED_ERROR, ER.SPECIFIC_ACCESS_DENIED_ERROR,
                 1227, 1370}


def map_error(exc: BaseException, what: str = "") -> CRMError:
    """A pymysql exception as the gateway's typed error (the message never contains the password)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    prefix = f"{what}: " if what else ""
    if code in _AUTH_CODES:
        return AuthError(f"{prefix}MySQL refused the login: {text}", transport="mysql")
    if code in _DENIED_CODES:
        return PermissionDenied(f"{prefix}MySQL denied it: {text}", transport="mysql")
    if code in _TRANSIENT_CODES or isinstance(exc, (OSError, pymysql.err.InterfaceError)):
        return TransientError(f"{prefix}MySQL connection problem: {text}", transport="mysql")
    if code == ER.BAD_DB_ERROR:
        return NotFound(f"{prefix}{text}", transport="mysql")
    if code == ER.NO_SUCH_TABLE:
        return NotFound(f"{prefix}{text}", transport="mysql")
    if code == ER.DUP_ENTRY:
        return ValidationError(f"{prefix}duplicate key: {text}", transport="mysql")
    if isinstance(exc, (pymysql.err.DataError, pymysql.err.IntegrityError)):
        return ValidationError(f"{prefix}{text}", transport="mysql")
    return ProtocolError(f"{prefix}MySQL error {code}: {text}", transport="mysql")
