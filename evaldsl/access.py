"""What a spec may reach outside its project, granted by the user, never by the spec or its project: folders
(`--allow-path DIR`, or the `EVALDSL_ALLOW_PATH` environment variable, folders separated like PATH), Python
modules that are not files of the project (`--allow-python MODULE`), and servers other than this machine that may
receive credentials of the environment (`--allow-host HOST`, or `EVALDSL_ALLOW_HOST`, hosts separated by commas).
Without a grant, dataset files, local model folders and python metric modules must lie inside the project root
(datasets may also be those of the standard library shipped with evaldsl), and a model's own server (`api_base`,
or an `http` model's `url` with headers from the environment) must be this machine; see docs/security.md. No file
inside the project can grant anything: on an untrusted spec its author writes those files."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .metrics.user import is_allowed
from .project import is_within, project_root
from .resources import stdlib_dir

ALLOW_PATH_VARIABLE = "EVALDSL_ALLOW_PATH"
ALLOW_HOST_VARIABLE = "EVALDSL_ALLOW_HOST"


def url_host(url: str) -> str | None:
    """The host an http(s) URL names (lowercase, without brackets, port or a final dot), else None."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:  # e.g. an invalid port or IPv6 literal
        return None
    return (host or "").rstrip(".") or None


def is_this_machine(host: str) -> bool:
    """`localhost` (and names under it) or a loopback address: a server on this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The grants of one command: extra folders (absolute) and Python modules (dotted names)."""

    allow_paths: tuple[Path, ...] = ()
    allow_python: frozenset[str] = frozenset()
    allow_hosts: frozenset[str] = frozenset()

    def roots(self, spec: Path) -> tuple[Path, ...]:
        """Where files may be read: the project root of `spec`, the standard library shipped with evaldsl (its
        templates' data), then each allowed folder."""
        return (project_root(spec), stdlib_dir(), *self.allow_paths)

    def allows_path(self, path: Path, spec: Path) -> bool:
        return is_within(path, self.roots(spec))

    def allows_host(self, host: str) -> bool:
        """Whether credentials of the environment may be sent to `host`: this machine, or a host named by
        `--allow-host` (exactly, or `.example.com` for every host under example.com)."""
        host = host.lower().rstrip(".")
        return is_this_machine(host) or any(
            host == grant or (grant.startswith(".") and host.endswith(grant)) for grant in self.allow_hosts
        )

    def allows_module(self, module: str) -> bool:
        """Whether `module` (or a package above it) was named by `--allow-python`."""
        return is_allowed(module, self.allow_python)


def access_for(
    allow_paths: Iterable[Path] = (),
    allow_python: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    allow_hosts: Iterable[str] = (),
) -> Access:
    """The grants of a command: the folders, modules and hosts given on its command line, plus the folders listed
    in `EVALDSL_ALLOW_PATH` and the hosts in `EVALDSL_ALLOW_HOST` of `environ` (default: the process
    environment)."""
    env = os.environ if environ is None else environ
    listed = [Path(p) for p in env.get(ALLOW_PATH_VARIABLE, "").split(os.pathsep) if p.strip()]
    folders = [Path(p).expanduser().resolve() for p in [*allow_paths, *listed]]
    named = [*allow_hosts, env.get(ALLOW_HOST_VARIABLE, "")]
    hosts = frozenset(host.strip().lower().rstrip(".") for entry in named for host in entry.split(",") if host.strip())
    return Access(tuple(dict.fromkeys(folders)), frozenset(m.strip() for m in allow_python if m.strip()), hosts)
