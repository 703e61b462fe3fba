"""The HTTP API and the page, as a Starlette app (`create_app`); uvicorn serves it.

    GET  /                                        the page (explorer, playground, ink capture)
    GET  /static/{file}                           its script and style (a fixed list of names)
    GET  /api/datasets                            the datasets, runs and ink folder served
    GET  /api/datasets/{name}                     splits, stats report, quarantine table
    GET  /api/datasets/{name}/lines?q=&split=&offset=&limit=     lines found (JSON)
    GET  /api/datasets/{name}/lines/{line_id}     one line: strokes, times, counts, raw points
    GET  /api/datasets/{name}/lines/{line_id}.svg one line drawn
    GET  /api/datasets/{name}/plots/{plot}.png    a `stats` plot
    GET  /api/datasets/{name}/chunks?split=&offset=&limit=   text chunks, <unk> marked
    GET  /api/runs                                the runs, with their vocabularies
    POST /api/synthesize                          JSON in; SVG, strokes and window weights out
    GET  /api/ink                                 the lines saved in the ink folder
    POST /api/ink                                 InkML, or JSON strokes with text; the file saved

Every error is JSON `{"error": reason}` with a 4xx status: 404 for anything not served, 400
for a malformed or out-of-bounds request, 413 for a body over its limit, 409 for a line id
already saved, 429 when every sampling slot is busy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from graves_data.errors import BadInput, GravesDataError, UsageError
from graves_data.schema import strict_json
from graves_data.serve.catalog import Catalog, NotFound
from graves_data.serve.sampling import (
    Busy,
    Prime,
    Sampler,
    SynthRequest,
    prime_from_row,
    prime_from_strokes,
)

STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_JSON_BODY = 1 << 20  # synthesize: a prime drawn on the page fits easily
MAX_INK_BODY = 4 << 20
MAX_INK_POINTS = 50_000
MAX_INK_STROKES = 2_000
MAX_INK_TEXT = 500
MAX_QUERY = 200
Handler = Callable[[Request], Awaitable[Response]]


class TooLarge(Exception):
    pass


class JSON(JSONResponse):
    """An answer's JSON, written by `strict_json` like every JSON file graves-data writes (a
    NaN is an error, never the bare word no other reader accepts)."""

    def render(self, content: Any) -> bytes:
        return strict_json(content, separators=(",", ":")).encode("utf-8")


def error(status: int, reason: str) -> JSON:
    return JSON({"error": reason}, status_code=status)


def guarded(handler: Handler) -> Handler:
    """Turn the server's errors into clear 4xx answers."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotFound as exc:
            return error(404, str(exc))
        except TooLarge as exc:
            return error(413, str(exc))
        except Busy as exc:
            return error(429, str(exc))
        except FileExistsError as exc:
            return error(409, str(exc))
        except (UsageError, BadInput, ValueError) as exc:
            return error(400, str(exc))
        except GravesDataError as exc:
            return error(400, str(exc))

    return wrapped


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body of {declared} bytes; at most {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise TooLarge(f"request body over {limit} bytes")
    return bytes(body)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    body = await read_body(request, limit)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("the JSON body must be an object")
    return data


def query_int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", value):
        raise UsageError(f"{name} must be an integer")
    return int(value)


def query_text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > MAX_QUERY:
        raise UsageError(f"{name} is over {MAX_QUERY} characters")
    return value


def create_app(catalog: Catalog, max_concurrent: int = 2) -> Starlette:
    """The app serving exactly what `catalog` holds."""
    sampler = Sampler(catalog, max_concurrent)

    async def index(request: Request) -> Response:
        page = resources.files("graves_data.serve").joinpath("static", "index.html")
        return Response(page.read_bytes(), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["file"]
        media = STATIC.get(name)
        if media is None:
            raise NotFound(f"no file {name!r}")
        data = resources.files("graves_data.serve").joinpath("static", name).read_bytes()
        return Response(data, media_type=media)

    async def datasets(request: Request) -> Response:
        return JSON(
            {
                "datasets": [d.summary() for d in catalog.datasets.values()],
                "runs": [r.summary() for r in catalog.runs.values()],
                "ink": catalog.ink is not None,
            }
        )

    async def dataset(request: Request) -> Response:
        entry = catalog.dataset(request.path_params["name"])
        stats = await run_in_threadpool(entry.stats)
        manifest = entry.dataset.manifest
        return JSON(
            {
                **entry.summary(),
                "stats": stats,
                "quarantine": manifest.get("quarantine", []),
                "plots": []
                if entry.kind == "text"
                else ["points_per_line", "offsets", "characters"],
            }
        )

    async def lines(request: Request) -> Response:
        entry = catalog.dataset(request.path_params["name"])
        if entry.kind == "text":
            raise NotFound(f"{entry.name} is a text dataset: it has chunks, not lines")
        found = entry.search(
            query_text(request, "q"),
            query_text(request, "split"),
            query_int(request, "offset", 0),
            query_int(request, "limit", 50),
        )
        return JSON(found)

    async def line(request: Request) -> Response:
        entry = catalog.dataset(request.path_params["name"])
        line_id = request.path_params["line_id"]
        if line_id.endswith(".svg"):
            return await line_svg(entry, line_id[: -len(".svg")])
        return JSON(await run_in_threadpool(entry.line_json, line_id))

    async def line_svg(entry: Any, line_id: str) -> Response:
        from graves_data.render import strokes_from_offsets, to_svg

        row = await run_in_threadpool(entry.row, line_id)
        svg = to_svg(strokes_from_offsets(row["offsets"], row["origin"]), title=row["text"])
        return Response(svg, media_type="image/svg+xml")

    async def plot(request: Request) -> Response:
        entry = catalog.dataset(request.path_params["name"])
        name = request.path_params["plot"]
        path = await run_in_threadpool(entry.plot, name)
        return FileResponse(path, media_type="image/png")

    async def chunks(request: Request) -> Response:
        entry = catalog.dataset(request.path_params["name"])
        if entry.kind != "text":
            raise NotFound(f"{entry.name} is a handwriting dataset: it has lines, not chunks")
        split = query_text(request, "split") or entry.dataset.splits[0]
        found = await run_in_threadpool(
            entry.chunks, split, query_int(request, "offset", 0), query_int(request, "limit", 20)
        )
        return JSON(found)

    async def runs(request: Request) -> Response:
        return JSON({"runs": [r.summary() for r in catalog.runs.values()]})

    async def synthesize(request: Request) -> Response:
        data = await read_json(request, MAX_JSON_BODY)
        synth = synth_request(data, catalog)
        result = await run_in_threadpool(sampler.sample, synth)
        return JSON(result)

    async def ink_list(request: Request) -> Response:
        folder = ink_folder(catalog)
        from graves_data.serve.ink import list_lines

        return JSON({"lines": await run_in_threadpool(list_lines, folder)})

    async def ink_save(request: Request) -> Response:
        folder = ink_folder(catalog)
        from graves_data.serve.ink import save_inkml, save_json

        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            data = await read_json(request, MAX_INK_BODY)
            saved = await run_in_threadpool(save_json, folder, data, ink_limits())
        elif kind in ("application/inkml+xml", "application/xml", "text/xml"):
            body = await read_body(request, MAX_INK_BODY)
            line_id = request.query_params.get("line_id")
            saved = await run_in_threadpool(save_inkml, folder, body, line_id, ink_limits())
        else:
            raise UsageError(
                f"content type {kind or 'none'!r}: send application/json strokes or "
                "application/inkml+xml"
            )
        return JSON(saved, status_code=201)

    routes = [
        Route("/", guarded(index)),
        Route("/static/{file}", guarded(static)),
        Route("/api/datasets", guarded(datasets)),
        Route("/api/datasets/{name}", guarded(dataset)),
        Route("/api/datasets/{name}/lines", guarded(lines)),
        Route("/api/datasets/{name}/lines/{line_id}", guarded(line)),
        Route("/api/datasets/{name}/plots/{plot}.png", guarded(plot)),
        Route("/api/datasets/{name}/chunks", guarded(chunks)),
        Route("/api/runs", guarded(runs)),
        Route("/api/synthesize", guarded(synthesize), methods=["POST"]),
        Route("/api/ink", guarded(ink_list), methods=["GET"]),
        Route("/api/ink", guarded(ink_save), methods=["POST"]),
    ]
    app = Starlette(routes=routes)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, f"nothing at {request.url.path!r}")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(405, f"{request.method} is not allowed here")

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_allowed)
    app.state.sampler = sampler
    app.state.started = time.time()
    return app


def ink_folder(catalog: Catalog) -> Any:
    if catalog.ink is None:
        raise NotFound("no ink folder: start the server with --ink DIR")
    return catalog.ink


def ink_limits() -> dict[str, int]:
    return {"points": MAX_INK_POINTS, "strokes": MAX_INK_STROKES, "text": MAX_INK_TEXT}


def synth_request(data: dict[str, Any], catalog: Catalog) -> SynthRequest:
    """A SynthRequest from the JSON body, every field checked for its type."""
    run = data.get("run")
    if not isinstance(run, str):
        raise UsageError("run: the name of a run served (GET /api/runs)")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise UsageError("text must be a string")
    bias, seed = data.get("bias", 0.0), data.get("seed", 0)
    if isinstance(bias, bool) or not isinstance(bias, (int, float)):
        raise UsageError("bias must be a number")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise UsageError("seed must be an integer in [0, 2**31)")
    steps = data.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
        raise UsageError("steps must be an integer")
    attempts = data.get("attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise UsageError("attempts must be an integer")
    return SynthRequest(
        run, text, float(bias), seed, steps, attempts, prime_of(data.get("prime"), catalog)
    )


def prime_of(value: Any, catalog: Catalog) -> Prime | None:
    """{"dataset": name, "line_id": id} or {"strokes": [[[x, y, ...], ...], ...], "text": ...}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UsageError("prime must be an object")
    if "line_id" in value:
        name, line_id = value.get("dataset"), value.get("line_id")
        if not isinstance(name, str) or not isinstance(line_id, str):
            raise UsageError("prime: dataset and line_id must be strings")
        return prime_from_row(catalog.dataset(name).row(line_id))
    strokes, text = value.get("strokes"), value.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_INK_TEXT:
        raise UsageError("prime text must be a string (at most 500 characters)")
    from graves_data.serve.ink import check_strokes

    checked = check_strokes(strokes, ink_limits())
    return prime_from_strokes(checked, text)
