"""The wallboard's files (plain HTML, CSS and JS shipped as package data, no build step)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aiohttp import web

FILES = {
    "wallboard.html": "text/html",
    "wallboard.css": "text/css",
    "wallboard.js": "text/javascript",
}


@cache
def _read(name: str) -> bytes:
    return files("wxcc_stream.api").joinpath("static", name).read_bytes()


async def page(request: web.Request) -> web.Response:
    """The wallboard page (no data in it: it asks for a token and reads the API)."""
    return _file("wallboard.html")


async def asset(request: web.Request) -> web.Response:
    """The wallboard's CSS and JS."""
    name = request.match_info["name"]
    if name not in FILES or name.endswith(".html"):
        raise web.HTTPNotFound()
    return _file(name)


def _file(name: str) -> web.Response:
    response = web.Response(body=_read(name), content_type=FILES[name])
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return response


async def home(request: web.Request) -> web.Response:
    """`/` leads to the wallboard."""
    raise web.HTTPFound("/wallboard")


def add_routes(app: web.Application) -> None:
    """`/wallboard` and its assets under `/wallboard/`."""
    app.router.add_get("/", home)
    app.router.add_get("/wallboard", page)
    app.router.add_get("/wallboard/{name}", asset)
