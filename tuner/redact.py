"""A storage URL's password never reaches any output: URLs and drivers' messages with it as ***."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<head>://[^:/@\s]*):(?P<password>\S*)@")  # greedy: a password may hold an @
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pwd)=)(?P<password>[^&\s]*)", re.IGNORECASE)


def _password(url: str) -> str | None:
    """The URL's password, whether or not SQLAlchemy can parse the URL."""
    match = _USERINFO.search(url) or _QUERY_PASSWORD.search(url)
    return match.group("password") if match and match.group("password") else None


def mask(url: str) -> str:
    """The storage URL with its password as ***, for printing and storing; also for URLs that do not parse."""
    url = _USERINFO.sub(lambda m: f"{m.group('head')}:***@" if m.group("password") else m.group(0), url)
    return _QUERY_PASSWORD.sub(lambda m: f"{m.group('head')}***", url)


def mask_text(text: str, url: str) -> str:
    """A driver's message with the URL's password removed (drivers quote the DSN, or parts of it)."""
    password = _password(url)
    if not password:
        return text
    from urllib.parse import unquote

    return text.replace(password, "***").replace(unquote(password), "***")
