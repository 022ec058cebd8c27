"""Text from outside (URL parameters, run ids and names, file, folder and class names, error messages) shown
as text: Streamlit renders markdown in st.markdown, st.caption, st.error/warning/info, labels and help, so
`[click me](https://…)` would become a link and `![x](http://…)` would load an image. Escape with `md()`
wherever such text meets markdown; or show it with st.text / st.code, which never interpret it.

Also the server side of "from outside": `LocalOnly`, which app.py installs so that only this machine's
browser talks to the app."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import streamlit as st

# every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all also stops
# GitHub-style autolinks (https://…, www.…, a@b.c), Streamlit's :color[…] and :emoji: directives, $math$
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def md(value: object) -> str:
    """`value` as markdown that shows exactly its characters (one line: newlines become spaces)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(value).splitlines()))


def error(text: object) -> None:
    """st.error of text that may come from outside (already translated where it is a message)."""
    st.error(md(text))


def info(text: object) -> None:
    st.info(md(text))


# --- requests from outside: only this machine talks to the app ---------------------------------------------

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether a Host header names one of `allowed` (any port): `localhost:8501`, `[::1]:8501`."""
    try:
        parsed = urlsplit(f"//{host}")
        name, _port = parsed.hostname, parsed.port  # .port raises on a port that is not a number
    except ValueError:
        return False
    if not name or parsed.username is not None or parsed.password is not None or parsed.path:
        return False
    return name.rstrip(".").lower() in {a.strip().lower() for a in allowed}


class LocalOnly:
    """ASGI middleware refusing HTTP requests and WebSocket upgrades whose Host is not a local name (or
    `server.address`), the way Jupyter stops DNS rebinding: a page on attacker.example that re-resolves
    to 127.0.0.1 sends `Host: attacker.example`. Streamlit's own `server.allowedHosts` guards only its
    WebSocket; this covers every route, from the same list."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            allowed = [
                *(st.get_option("server.allowedHosts") or LOCAL_HOSTS),
                st.get_option("server.address"),
            ]
            if not host_allowed(host, [a for a in allowed if a]):
                if scope["type"] == "websocket":  # closing before accepting answers 403
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
                    await send({"type": "http.response.body", "body": b"Host not allowed\n"})
                return
        await self.app(scope, receive, send)
