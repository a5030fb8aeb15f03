"""Logging: one logger tree (``suitecrm_ext``), text or JSON lines, secrets redacted.

Redaction happens in the formatter, after the message, its arguments and any traceback are rendered,
so a secret cannot slip through ``%s`` arguments or an exception message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable

ROOT = "suitecrm_ext"
REDACTED = "***"
#: loggers that get the redacting handler: ours, the shipped plugins', and libraries that may log request data
MANAGED_LOGGERS = (ROOT, "plugins", "urllib3", "zeep", "pymysql")


class RedactingFormatter(logging.Formatter):
    """Formats a record as text or JSON and replaces every known secret by ``***``."""

    def __init__(self, fmt_kind: str = "text", secrets: Iterable[str] = ()):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.kind = fmt_kind
        self.secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Register more secrets (longest first, so a secret containing another is fully hidden)."""
        merged = set(self.secrets) | {s for s in secrets if s and len(s) >= 3}
        self.secrets = sorted(merged, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for s in self.secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        if self.kind == "json":
            payload = {
                "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            for key in ("plugin", "event_key", "job"):
                if hasattr(record, key):
                    payload[key] = getattr(record, key)
            return self.redact(json.dumps(payload, ensure_ascii=False, default=str))
        return self.redact(super().format(record))


_handler: logging.Handler | None = None


def setup_logging(
    level: str | int = "INFO", fmt: str = "text", secrets: Iterable[str] = (), stream=None
) -> logging.Handler:
    """Configure the ``suitecrm_ext`` logger tree (idempotent: a second call replaces the handler).

    Also attaches the redacting handler to the loggers of the libraries that may log request data
    (urllib3, zeep, pymysql) so their lines are redacted too.
    """
    global _handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(fmt, secrets))
    for name in MANAGED_LOGGERS:
        logger = logging.getLogger(name)
        if _handler is not None and _handler in logger.handlers:
            logger.removeHandler(_handler)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger(ROOT).setLevel(level)
    logging.getLogger("plugins").setLevel(level)
    for lib in ("urllib3", "zeep", "pymysql"):
        logging.getLogger(lib).setLevel(max(logging.WARNING, logging.getLevelName(level)
                                            if isinstance(level, str) else level))
    _handler = handler
    return handler


class LoggingSnapshot:
    """The handlers, propagation and levels of the loggers :func:`setup_logging` changes, to put back
    later (the CLI does when an invocation ends, so in-process callers keep their logging)."""

    def __init__(self, saved: dict, handler: logging.Handler | None):
        self.saved = saved
        self.handler = handler

    @classmethod
    def take(cls) -> LoggingSnapshot:
        """The current state."""
        saved = {}
        for name in MANAGED_LOGGERS:
            lg = logging.getLogger(name)
            saved[name] = (list(lg.handlers), lg.propagate, lg.level)
        return cls(saved, _handler)

    def restore(self) -> None:
        """Put the loggers back as they were when the snapshot was taken."""
        global _handler
        for name, (handlers, propagate, level) in self.saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.setLevel(level)
        _handler = self.handler


def add_secrets(secrets: Iterable[str]) -> None:
    """Register secrets with the active handler (e.g. a token obtained at run time)."""
    if _handler is not None and isinstance(_handler.formatter, RedactingFormatter):
        _handler.formatter.add_secrets(secrets)
