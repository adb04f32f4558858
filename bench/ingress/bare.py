"""The baselines: a bare aiohttp app that reads the body and answers 202 (same loop as the
ingress: uvloop when installed); with `--checks`, it first runs the ingress's checks and
builds its Kafka records (`admit`, `raw_record`) without storing anything, to show what
the checks cost apart from Kafka. `python -m bench.ingress.bare --port N [--checks]`
(the checks read WXCC_INGRESS_SECRETS like the ingress does; `--reuse-port`: one of
several processes sharing the port, as `wxcc-stream ingress --processes N`)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from wxcc_stream.base.event_loop import loop_factory
from wxcc_stream.base.settings import load_settings
from wxcc_stream.ingress.admission import Accepted, admit
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.records import raw_record

_BODY = b'{"accepted":1}'
_REFUSED = b'{"refused":1}'

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202, body=_BODY, content_type="application/json")


def checking() -> Handler:
    """A handler that admits the delivery as the ingress does, then answers 202 (or 400)."""
    settings = load_settings()
    policy = AdmissionPolicy.from_settings(settings.ingress)
    topic = settings.topic.raw

    async def check(request: web.Request) -> web.Response:
        body = await request.read()
        now_ms = time.time_ns() // 1_000_000  # the ingress's receive clock
        decision = admit(body, request.headers, policy, now_ms=now_ms)
        if not isinstance(decision, Accepted):
            return web.Response(status=400, body=_REFUSED, content_type="application/json")
        for admitted in decision.events:
            raw_record(topic, admitted.event, admitted.value, received_at=now_ms)
        return web.Response(status=202, body=_BODY, content_type="application/json")

    return check


async def serve(host: str, port: int, path: str, *, checks: bool, reuse_port: bool) -> None:
    app = web.Application()
    app.router.add_post(path, checking() if checks else accept)
    app.router.add_get("/healthz", lambda request: accept_get())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None).start()
    await asyncio.Event().wait()


async def accept_get() -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/webhooks/wxcc")
    parser.add_argument("--checks", action="store_true", help="run the ingress's checks first")
    parser.add_argument(
        "--reuse-port", action="store_true", help="share the port with other processes"
    )
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(
            serve(args.host, args.port, args.path, checks=args.checks, reuse_port=args.reuse_port)
        )


if __name__ == "__main__":
    main()
