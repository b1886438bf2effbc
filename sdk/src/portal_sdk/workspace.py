"""A portal workspace seen from training code: its tracking URI and fresh tracking tokens."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

API_KEY_ENV = "PORTAL_API_KEY"
CONFIG_NAMES = ("config.json", ".portal/config.json")
# Renew a token when less than this part of its lifetime is left (at most RENEW_BEFORE_MAX).
RENEW_FRACTION = 0.2
RENEW_BEFORE_MAX = timedelta(minutes=5)


class PortalError(Exception):
    """The portal refused a request, or the configuration is incomplete."""


@dataclass
class _Token:
    secret: str
    expires_at: datetime
    lifetime: timedelta


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Workspace:
    """A workspace of a portal, addressed with a personal API key."""

    portal_url: str
    resource_group: str
    name: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    _token: _Token | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace named by a config.json: `path`, or the first of config.json and
        .portal/config.json found in the working directory or one of its parents. The API
        key comes from the PORTAL_API_KEY environment variable."""
        config_path = Path(path) if path is not None else _find_config()
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as error:
            raise PortalError(
                f"Cannot read the portal configuration {config_path}: {error}"
            ) from None
        missing = [k for k in ("portal_url", "resource_group", "workspace") if not config.get(k)]
        if missing:
            raise PortalError(f"{config_path} lacks {', '.join(missing)}.")
        return cls.get(
            config["workspace"],
            resource_group=config["resource_group"],
            portal_url=config["portal_url"],
        )

    @classmethod
    def get(
        cls,
        name: str,
        *,
        resource_group: str,
        portal_url: str,
        api_key: str | None = None,
    ) -> Workspace:
        """The workspace `resource_group/name`, checked against the portal."""
        api_key = api_key or os.environ.get(API_KEY_ENV, "")
        if not api_key:
            raise PortalError(f"Set {API_KEY_ENV} to a personal API key of the portal.")
        workspace = cls(portal_url.rstrip("/"), resource_group, name, api_key)
        details = workspace.details()
        if details.get("resource_group") != resource_group:
            raise PortalError(f"Workspace '{name}' is not in resource group '{resource_group}'.")
        return workspace

    # --- the portal's REST API -------------------------------------------------------------

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            f"{self.portal_url}/portal-api/v1/{path}",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
            **kwargs,
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise PortalError(f"{method} {path}: {response.status_code} {detail}")
        return response.json()

    def details(self) -> dict[str, Any]:
        return self._api("GET", f"workspaces/{quote(self.name, safe='')}/")

    def experiments(self, name: str | None = None) -> list[dict[str, Any]]:
        """The workspace's active experiments (those whose name contains `name`, if given)."""
        params = {"name": name} if name else {}
        found: list[dict[str, Any]] = []
        path = f"workspaces/{quote(self.name, safe='')}/experiments/"
        offset = 0
        while True:
            page = self._api("GET", path, params={**params, "offset": offset, "limit": 500})
            found.extend(page["results"])
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return found

    # --- tracking ----------------------------------------------------------------------------

    @property
    def tracking_uri(self) -> str:
        group = quote(self.resource_group, safe="")
        return f"{self.portal_url}/mlflow/v1.0/resourceGroups/{group}/workspaces/{self.name}"

    def get_mlflow_tracking_uri(self) -> str:
        """The workspace's MLflow tracking URI, with this workspace made the one whose tokens
        the SDK's request-header provider sends (renewed before they expire)."""
        from portal_sdk import mlflow_plugin

        self.tracking_token()
        mlflow_plugin.activate(self)
        return self.tracking_uri

    def tracking_token(self) -> str:
        """A tracking token valid for a while yet: the current one, or a freshly minted one."""
        with self._lock:
            token = self._token
            now = datetime.now(UTC)
            if token is None or now >= token.expires_at - _renew_margin(token.lifetime):
                token = self._mint(now)
                self._token = token
            return token.secret

    def _mint(self, now: datetime) -> _Token:
        minted = self._api("POST", f"workspaces/{quote(self.name, safe='')}/tracking-token/")
        expires_at = _parse_time(minted["expires_at"])
        return _Token(minted["token"], expires_at, max(expires_at - now, timedelta(seconds=1)))


def _renew_margin(lifetime: timedelta) -> timedelta:
    return min(lifetime * RENEW_FRACTION, RENEW_BEFORE_MAX)


def _find_config() -> Path:
    here = Path.cwd()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise PortalError(
        "No config.json found here or in a parent folder (see the SDK's README for its format)."
    )
