"""Errors a person can fix by changing what they typed or configured.

The command line shows such an error as one or two lines that name the value, file or variable
and the fix, with no traceback (`retail_pipeline.cli`); anything else is a fault of the program
or of a system it talks to, and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the command line or configuration; its message says what to change."""


# Kedro's (and OmegaConf's) messages for mistakes in a command line or a conf folder, and what to add.
_KEDRO_USER_ERRORS = {
    "Failed to find the pipeline named": "`kedro registry list` lists the pipelines.",
    "Given configuration path either does not exist or is not a valid directory":
        "--env names a folder of conf/ (local, s3, docker).",
    "Unable to find credentials": "Credentials live in conf/<env>/credentials.yml (see conf/README.md).",
    "Environment variable '": "A credentials file reads it (${oc.env:...}): export it, or write the value there.",
}
_CREDENTIALS = ("Unable to find credentials", "Environment variable '")


def _chain(exc: BaseException):
    """`exc` and the errors it came from (cause or context), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _text(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else ""


def is_credentials_error(exc: BaseException) -> bool:
    """Kedro or OmegaConf stopped on a missing credentials entry or environment variable."""
    return any(_text(e).startswith(_CREDENTIALS) for e in _chain(exc))


def user_error_message(exc: BaseException) -> str | None:
    """The message to show for `exc` if it (or an error it came from) is a user error, else None."""
    for current in _chain(exc):
        if isinstance(current, UserError):
            return str(current)
        text = _text(current)
        for prefix, hint in _KEDRO_USER_ERRORS.items():
            if text.startswith(prefix):
                return f"{' '.join(text.split())}\n{hint}"
    return None
