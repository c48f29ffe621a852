"""``flaresuite swarm serve|device|invite|control|submit``: run a swarm locally and drive it.

``serve`` hosts the coordinator (the same core as the Durable Object) on 127.0.0.1;
``invite``, ``control`` and ``submit`` are the owner's calls (``SWARM_ADMIN_TOKEN``);
``device`` connects simulated devices with an invite. docs/swarm.md walks through them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import httpx

from flaresuite.errors import ConfigError, RuntimeFailure
from flaresuite.swarm import invites
from flaresuite.swarm.config import ADMIN_TOKEN, SwarmConfig, read_config
from flaresuite.swarm.messages import INVITEE_COMMAND_NAMES, RUN_STATES
from flaresuite.swarm.model import CHUNK_KINDS
from flaresuite.swarm.web import SWARM_ID
from flaresuite_host.arguments import UsageError, positive_int
from flaresuite_host.swarm.device import run_devices
from flaresuite_host.swarm.server import serve_forever

DEFAULT_URL = "http://127.0.0.1:8787"


def add_commands(group: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of ``flaresuite swarm`` to its parser."""
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="host swarms on a local WebSocket + HTTP server",
        description="Needs SWARM_ADMIN_TOKEN in the environment (the owner's bearer token).",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8787)
    serve.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed besides the server's own; repeatable "
        "(default: $SWARM_ALLOWED_ORIGINS, comma-separated)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name browsers may use to reach this server besides its address and "
        "localhost (requests naming any other Host are refused, against DNS rebinding); "
        "repeatable",
    )
    serve.set_defaults(run=run_serve)

    device = commands.add_parser("device", help="connect N simulated devices that run jobs")
    _target(device)
    device.add_argument(
        "--token",
        default=os.environ.get("SWARM_INVITE_TOKEN"),
        help="invite token (default: $SWARM_INVITE_TOKEN); N devices need a multi-use one",
    )
    device.add_argument("--count", type=positive_int, default=10, metavar="N")
    device.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)"
    )
    device.add_argument(
        "--failure-rate",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="fraction of chunks reported as failed (default 0)",
    )
    device.add_argument("--seed", type=int, default=0)
    device.add_argument("--prefix", default="sim", help="device ids are PREFIX-0 .. PREFIX-(N-1)")
    device.set_defaults(run=run_device)

    invite = commands.add_parser("invite", help="issue an invite token (owner; 5 per minute)")
    _target(invite)
    invite.add_argument(
        "--multi-use", action="store_true", help="usable by many devices until it expires (24 h)"
    )
    invite.add_argument(
        "--code",
        action="store_true",
        help="a short code people can type, instead of a 43-character token",
    )
    invite.add_argument(
        "--length",
        type=_code_length,
        metavar="N",
        help=f"characters of the code ({invites.MIN_CODE_CHARS}-{invites.MAX_CODE_CHARS}, "
        f"default {invites.DEFAULT_CODE_CHARS}; the Ostrich-Legs client takes "
        f"{invites.MIN_CODE_CHARS})",
    )
    invite.add_argument(
        "--qr", metavar="FILE", help="also write the join link's QR code to FILE (SVG)"
    )
    invite.set_defaults(run=run_invite)

    control = commands.add_parser(
        "control", help="start, pause or stop a swarm, throttle it, set what members may send"
    )
    _target(control)
    control.add_argument("--run-state", choices=RUN_STATES)
    control.add_argument("--throttle", type=positive_int, metavar="PERCENT")
    control.add_argument(
        "--invitee-commands",
        metavar="LIST",
        help=f"commands members may send over their sockets: 'none' or a comma-separated list "
        f"of {', '.join(INVITEE_COMMAND_NAMES)} (the Ostrich-Legs client sends them from every "
        "page)",
    )
    control.set_defaults(run=run_control)

    submit = commands.add_parser("submit", help="queue a job of N chunks (owner)")
    _target(submit)
    submit.add_argument("--chunks", type=positive_int, default=100, metavar="N")
    submit.add_argument("--kind", choices=CHUNK_KINDS, default="MATH_STRESS")
    submit.add_argument(
        "--ops", type=positive_int, default=1_000_000, metavar="N", help="operations per chunk"
    )
    submit.set_defaults(run=run_submit)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"coordinator base URL (default {DEFAULT_URL})"
    )
    parser.add_argument("--swarm", required=True, metavar="ID", type=_swarm_id)


def _port(text: str) -> int:
    value = positive_int(text) if text != "0" else 0
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _code_length(text: str) -> int:
    value = positive_int(text)
    if not invites.MIN_CODE_CHARS <= value <= invites.MAX_CODE_CHARS:
        raise argparse.ArgumentTypeError(
            f"codes have {invites.MIN_CODE_CHARS} to {invites.MAX_CODE_CHARS} characters"
        )
    return value


def _swarm_id(text: str) -> str:
    if not SWARM_ID.fullmatch(text):
        raise argparse.ArgumentTypeError("swarm ids are 1-64 characters of A-Z a-z 0-9 _ -")
    return text


def _admin_token() -> str:
    token = os.environ.get(ADMIN_TOKEN, "").strip()
    if not token:
        raise UsageError(f"set {ADMIN_TOKEN} to the swarm owner's bearer token")
    return token


def run_serve(args: argparse.Namespace) -> int:
    try:
        config = read_config(os.environ)
    except ConfigError as error:
        raise UsageError(f"cannot serve: {error}") from None
    if args.allowed_origin:
        config = SwarmConfig(
            config.admin_token, frozenset(o.rstrip("/") for o in args.allowed_origin)
        )
    try:
        asyncio.run(serve_forever(config, args.host, args.port, allowed_hosts=args.allowed_host))
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    return 0


def run_device(args: argparse.Namespace) -> int:
    if not args.token:
        raise UsageError(
            "pass --token or set SWARM_INVITE_TOKEN "
            "(get one with `flaresuite swarm invite --multi-use`)"
        )
    tally = asyncio.run(
        run_devices(
            args.url,
            args.swarm,
            args.token,
            args.count,
            duration=args.duration,
            failure_rate=args.failure_rate,
            seed=args.seed,
            prefix=args.prefix,
        )
    )
    print(json.dumps(vars(tally)))
    if tally.never_joined:
        raise UsageError(
            f"{tally.never_joined} of {args.count} devices were refused: the invite is unknown, "
            "expired or spent (a single-use invite admits one device; use --multi-use)"
        )
    return 0 if tally.joined or tally.reconnects else 1


def run_invite(args: argparse.Namespace) -> int:
    if args.length is not None and not args.code:
        raise UsageError("--length applies to codes only; add --code")
    query = {"multiUse": "true" if args.multi_use else "false"}
    if args.code:
        query.update(code="true", length=str(args.length or invites.DEFAULT_CODE_CHARS))
    issued = _owner_post(args, "tokens", query)
    svg = issued.pop("qrSvg", "")
    if args.qr:
        try:
            with open(args.qr, "w", encoding="utf-8") as file:
                file.write(str(svg))
        except OSError as error:  # --qr names a place that cannot be written
            print(json.dumps(issued))  # the invite exists all the same: do not lose it
            raise UsageError(f"cannot write {args.qr}: {error.strerror}") from None
    print(json.dumps(issued))
    return 0


def run_control(args: argparse.Namespace) -> int:
    query = {
        name: str(value)
        for name, value in (
            ("runState", args.run_state),
            ("throttle", args.throttle),
            ("inviteeCommands", args.invitee_commands),
        )
        if value is not None
    }
    if not query:
        raise UsageError("pass --run-state, --throttle or --invitee-commands")
    print(json.dumps(_owner_post(args, "control", query)))
    return 0


def run_submit(args: argparse.Namespace) -> int:
    query = {"kind": args.kind, "chunks": str(args.chunks), "opsPerChunk": str(args.ops)}
    print(json.dumps(_owner_post(args, "jobs", query)))
    return 0


def _owner_post(args: argparse.Namespace, route: str, query: dict[str, str]) -> dict[str, object]:
    """The owner's call to ``route``. The coordinator refusing what was asked (a 4xx: a wrong
    token, a bad parameter) is bad input, exit 2; not reaching it, or it failing (a 5xx, an
    answer that is not JSON), is a runtime failure, exit 1 (host/flaresuite_host/cli.py)."""
    token = _admin_token()
    url = f"{args.url.rstrip('/')}/swarm/{args.swarm}/{route}"
    try:
        response = httpx.post(
            url, params=query, headers={"authorization": f"Bearer {token}"}, timeout=30
        )
    except httpx.HTTPError as error:
        raise RuntimeFailure(f"cannot reach {url}: {error}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        detail = body.get("error") if isinstance(body, dict) else None
        message = f"{url}: {response.status_code} {detail or response.text[:200]}"
        if response.status_code >= 500:  # the coordinator failed or is misconfigured
            raise RuntimeFailure(message)
        raise UsageError(message)
    if not isinstance(body, dict):
        raise RuntimeFailure(
            f"{url}: {response.status_code} with an answer that is not a JSON object"
        )
    return body
