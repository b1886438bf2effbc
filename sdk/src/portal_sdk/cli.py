"""`portal`: the portal's REST API from a shell.

    portal workspace list [--resource-group G]
    portal workspace create NAME --resource-group G [--description TEXT]
    portal workspace show NAME
    portal experiment list [--workspace NAME] [--name TEXT]
    portal group delete NAME --yes [--wait]

The portal's address comes from --portal-url, PORTAL_URL or config.json; the API key from
PORTAL_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from portal_sdk.workspace import API_KEY_ENV, PortalError, _find_config


class Api:
    def __init__(self, portal_url: str, api_key: str) -> None:
        self.base = f"{portal_url.rstrip('/')}/portal-api/v1/"
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, self.base + path, headers=self.headers, timeout=60, **kwargs
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise PortalError(f"{response.status_code}: {detail}")
        return response.json()

    def all(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call("GET", path, params={**(params or {}), "offset": offset, "limit": 500})
            items.extend(page["results"])
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return items


def _config(args: argparse.Namespace) -> dict[str, str]:
    try:
        path = Path(args.config) if args.config else _find_config()
        return json.loads(path.read_text())
    except (PortalError, OSError, ValueError):
        return {}


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)))


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    portal_url = args.portal_url or os.environ.get("PORTAL_URL") or config.get("portal_url")
    api_key = os.environ.get(API_KEY_ENV, "")
    if not portal_url:
        raise PortalError("Name the portal: --portal-url, PORTAL_URL or config.json.")
    if not api_key:
        raise PortalError(f"Set {API_KEY_ENV} to a personal API key of the portal.")
    api = Api(portal_url, api_key)
    if args.area == "workspace":
        if args.action == "list":
            params = {"resource_group": args.resource_group} if args.resource_group else {}
            _print_table(
                api.all("workspaces/", params),
                ["name", "resource_group", "experiment_count", "run_count"],
            )
        elif args.action == "create":
            group = args.resource_group or config.get("resource_group")
            if not group:
                raise PortalError("Name the resource group: --resource-group.")
            created = api.call(
                "POST",
                "workspaces/",
                json={"name": args.name, "resource_group": group, "description": args.description},
            )
            print(f"Created workspace {created['resource_group']}/{created['name']}.")
        else:
            print(json.dumps(api.call("GET", f"workspaces/{quote(args.name, safe='')}/"), indent=2))
    elif args.area == "experiment":
        name = args.workspace or config.get("workspace")
        if not name:
            raise PortalError("Name the workspace: --workspace or config.json.")
        params = {"name": args.name} if args.name else {}
        path = f"workspaces/{quote(name, safe='')}/experiments/"
        _print_table(api.all(path, params), ["experiment_id", "name", "last_run_time"])
    elif args.area == "group":
        if not args.yes:
            raise PortalError(
                f"Deleting resource group '{args.name}' removes everything in it; add --yes."
            )
        job = api.call(
            "POST",
            f"resource-groups/{quote(args.name, safe='')}/delete/",
            json={"confirm_name": args.name},
        )
        print(f"Deletion of '{args.name}' started: job {job['id']} ({job['state']}).")
        while args.wait and job["state"] not in ("deleted", "failed"):
            time.sleep(2)
            job = api.call("GET", f"deletion-jobs/{job['id']}/")
            print(f"  {job['state']} {job.get('percent', 0)}%")
        if job["state"] == "failed":
            raise PortalError(f"The deletion failed: {job.get('error', '')}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="portal", description=__doc__.split("\n\n")[0])
    main.add_argument("--portal-url")
    main.add_argument("--config", help="a config.json (default: found from the working directory)")
    areas = main.add_subparsers(dest="area", required=True)
    workspace = areas.add_parser("workspace").add_subparsers(dest="action", required=True)
    listing = workspace.add_parser("list")
    listing.add_argument("--resource-group")
    create = workspace.add_parser("create")
    create.add_argument("name")
    create.add_argument("--resource-group")
    create.add_argument("--description", default="")
    workspace.add_parser("show").add_argument("name")
    experiment = areas.add_parser("experiment").add_subparsers(dest="action", required=True)
    experiments = experiment.add_parser("list")
    experiments.add_argument("--workspace")
    experiments.add_argument("--name", help="part of the experiment name")
    group = areas.add_parser("group").add_subparsers(dest="action", required=True)
    delete = group.add_parser("delete")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="confirm the deletion")
    delete.add_argument("--wait", action="store_true", help="wait until it ends")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (PortalError, requests.RequestException) as error:
        print(f"portal: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
