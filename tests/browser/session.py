"""Signing a Playwright browser in, as the portal's pages need a session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from tests.factories import make_user


def sign_in_browser(page: Any, base_url: str, user: User | None = None) -> None:
    """Give a Playwright page the session of `user` (a new administrator if None)."""
    web = Client()
    web.force_login(user or make_user("browser-admin", superuser=True))
    page.context.add_cookies(
        [{"name": "sessionid", "value": web.cookies["sessionid"].value, "url": base_url}]
    )
