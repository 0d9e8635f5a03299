"""Security headers on every response of the app (pages, API, docs), through Flask-Talisman.

The pages run no inline script or style, so their Content-Security-Policy is "self" only;
the Swagger UI page at /docs gets its own, relaxed one (its template has an inline script
and Swagger UI styles inline). HSTS is sent only when CARTERAS_SECURE_COOKIES says the
service is behind HTTPS, and then only on HTTPS requests.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from flask import Flask
from flask_talisman import Talisman

SELF: Final = "'self'"
# connect-src 'self' covers the Socket.IO websocket on the same host (CSP Level 3).
PAGES_CSP: Final = {
    "default-src": SELF,
    "script-src": SELF,
    "style-src": SELF,
    "img-src": [SELF, "data:"],
    "connect-src": SELF,
    "font-src": SELF,
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": SELF,
    "frame-ancestors": "'none'",
}
DOCS_CSP: Final = {
    **PAGES_CSP,
    "script-src": [SELF, "'unsafe-inline'"],
    "style-src": [SELF, "'unsafe-inline'"],
}
REFERRER_POLICY: Final = "strict-origin-when-cross-origin"
DOCS_ENDPOINT_SUFFIX: Final = ".openapi_swagger_ui"


def init_headers(app: Flask) -> Talisman:
    """Install the headers; call after the API and pages are registered."""
    secure = bool(app.config["CARTERAS"].secure_cookies)
    talisman = Talisman(
        app,
        force_https=False,  # TLS ends at the proxy; redirecting is its job
        strict_transport_security=secure,
        strict_transport_security_include_subdomains=False,
        frame_options="DENY",
        content_security_policy=PAGES_CSP,
        referrer_policy=REFERRER_POLICY,
        session_cookie_secure=secure,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
    )
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.endswith(DOCS_ENDPOINT_SUFFIX):
            app.view_functions[endpoint] = talisman(content_security_policy=DOCS_CSP)(_plain(view))
    return talisman


def _plain(view: Any) -> Any:
    """A function around *view* (Talisman marks views with an attribute, which a bound
    method such as flask-smorest's docs view cannot take)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper
