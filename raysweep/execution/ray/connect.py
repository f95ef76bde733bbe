"""Connecting to Ray: join a cluster (with a clear error when it is unreachable or refuses
the token) or start a quiet local Ray listening on loopback only."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Any

import ray

logger = logging.getLogger("raysweep")


def _recorded_cluster_reachable() -> bool:
    """Whether the head that ``ray start`` recorded in Ray's temp dir still answers."""
    try:
        from ray._private.utils import read_ray_address  # noqa: PLC0415
        address = read_ray_address()
    except Exception:  # noqa: BLE001 - private API may move; fall back to a fresh Ray
        return False
    if not address:
        return False
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


def _is_auth_failure(exc: BaseException | None) -> bool:
    """Whether ``exc`` or anything in its cause chain is an authentication failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = f"{type(exc).__name__} {exc}".lower()
        if "authenticationerror" in text or "invalidauthtoken" in text or \
                "authentication token" in text or "unauthenticated" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) that nothing answers at is a clear error at
    once (``ray.init`` would retry for minutes)."""
    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" and other forms: Ray's own business
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5.0):
            return
    except OSError as exc:
        raise ConnectionError(
            f"could not connect to the Ray cluster at address={address!r}: nothing answers "
            f"there ({exc.strerror or exc}); check the address and that the cluster is up "
            "(ray status), or leave address unset for a local Ray") from None


class _DropTokenNotice(logging.Filter):
    """Ray's notice that the Ray we start has token authentication on: in a local sweep that
    is how it should be and the user has nothing to do, so it is left out of the console.
    (The warning that authentication is *disabled* does matter and still shows.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Token authentication is enabled")


_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _start_local_ray(announce: bool) -> None:
    """Start the Ray a local sweep needs: no dashboard, listening on the loopback interface
    only, quiet unless something matters; say at once what is happening.

    Ray keeps a local Ray on loopback by itself on macOS and Windows (its
    ``ENABLE_RAY_CLUSTER`` switch, to avoid firewall prompts); on Linux it would resolve
    ``127.0.0.1`` to the machine's outside address and let the GCS, raylet and workers listen
    on every interface. The switch is turned off for the duration of ``ray.init`` only, so
    the node's address is ``127.0.0.1`` and Ray's servers bind to loopback (the session's
    node keeps that address; nothing else reads the switch). Should a Ray release move it,
    the sweep still starts, with Ray's default binding.
    """
    try:
        from ray._private.utils import get_num_cpus  # noqa: PLC0415 - what Ray will use

        cpus = int(get_num_cpus())
    except Exception:  # noqa: BLE001 - private API may move
        cpus = os.cpu_count() or 1
    started = time.monotonic()
    if announce:
        print(f"[raysweep] starting Ray: {cpus} CPU{'s' if cpus != 1 else ''}, local, "
              "listening on 127.0.0.1 only (a few seconds) ...", file=sys.stderr, flush=True)
    quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    notice = _DropTokenNotice()
    auth_logger = logging.getLogger(_AUTH_LOGGER)
    auth_logger.addFilter(notice)
    ray_constants: Any = None
    switch = None
    try:
        from ray._private import ray_constants  # noqa: PLC0415

        switch = ray_constants.ENABLE_RAY_CLUSTER
    except (ImportError, AttributeError):  # a Ray without the switch: its default binding
        ray_constants = None
    try:
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = False
            ray.init(address="local", _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address="local", **quiet)
    finally:
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = switch
        auth_logger.removeFilter(notice)
    if announce:
        print(f"[raysweep] Ray is up ({time.monotonic() - started:.1f} s); starting workers",
              file=sys.stderr, flush=True)


def ensure_ray(address: str | None, announce: bool = False) -> None:
    """Join ``address`` / ``RAY_ADDRESS``, or start (or reuse) a local Ray.

    ``announce`` prints what is happening while a local Ray starts (it takes seconds)."""
    if ray.is_initialized():
        if address and address not in ("auto", "local"):
            try:
                current = ray.get_runtime_context().gcs_address
            except Exception:  # noqa: BLE001
                current = None
            if current != address:
                logger.warning("raysweep: Ray is already connected (to %s); address=%r is not "
                               "used. Call ray.shutdown() first to join another cluster.",
                               current, address)
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except Exception as exc:
            if _is_auth_failure(exc):
                mode = (os.environ.get("RAY_AUTH_MODE") or "").lower()
                why = ("RAY_AUTH_MODE is not 'token' in this process, so no token was presented"
                       if mode != "token" else "the cluster refused the token")
                raise ConnectionError(
                    f"could not authenticate with the Ray cluster at {address!r}: {why}. Set "
                    "RAY_AUTH_MODE=token and give the cluster's token in RAY_AUTH_TOKEN (or "
                    "RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token)") from exc
            raise ConnectionError(
                f"could not connect to the Ray cluster at address={address!r}: "
                f"{str(exc).rstrip('.')}. If the "
                "cluster uses token authentication, set RAY_AUTH_MODE=token and "
                "RAY_AUTH_TOKEN") from exc
        return
    if _recorded_cluster_reachable():
        ray.init(address="auto", logging_level=logging.WARNING)
        return
    try:
        from ray._private.utils import read_ray_address  # noqa: PLC0415
        stale = read_ray_address()
    except Exception:  # noqa: BLE001
        stale = None
    if stale:
        logger.warning("raysweep: the Ray cluster recorded at %s is gone; starting a local Ray",
                       stale)
    _start_local_ray(announce)
