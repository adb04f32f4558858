"""Where the simulator may send: loopback only, unless the operator says otherwise."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from wxcc_stream.devtools.simulator.errors import SimulatorError


def is_loopback_host(host: str) -> bool:
    """`localhost` or a literal loopback address (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, allow_remote: bool = False) -> str:
    """The URL if it is an http(s) URL we may send to; SimulatorError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SimulatorError(f"--target must be an http:// or https:// URL, got {url!r}")
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise SimulatorError(
            f"--target {parts.hostname} is not a loopback address; the simulator only sends "
            "to this machine unless --allow-remote is given"
        )
    return url
