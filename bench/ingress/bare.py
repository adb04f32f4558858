"""The baseline: a bare aiohttp app that reads the body and answers 202 (same loop as the
ingress: uvloop when installed). `python -m bench.ingress.bare --port N`."""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

from ingress.main import loop_factory

_BODY = b'{"accepted":1}'


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202, body=_BODY, content_type="application/json")


async def serve(host: str, port: int, path: str) -> None:
    app = web.Application()
    app.router.add_post(path, accept)
    app.router.add_get("/healthz", lambda request: accept_get())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    await asyncio.Event().wait()


async def accept_get() -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/webhooks/wxcc")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(args.host, args.port, args.path))


if __name__ == "__main__":
    main()
