"""`graves-data serve`: a local web app over datasets, runs and an ink folder.

- the explorer: splits and counts, lines searched by text, id or writer, drawn and replayed at
  their recorded speed, cleaning counts and raw points, the quarantine, the `stats` plots, text
  chunks decoded;
- the playground (`--run`): a synthesis network writes a text (bias, a prime from a dataset line
  or from ink drawn on the page), its window shown and checked, bad samples redrawn;
- ink capture (`--ink DIR`): lines written with mouse, pen or touch saved as InkML, which
  `graves-data build ink` builds into a dataset.

The app (`graves_data.serve.app.create_app`) is a client of the library's public API; torch is
imported only when the playground first samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    datasets: Sequence[str],
    runs: Sequence[str] = (),
    ink: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_concurrent: int = 2,
    echo: Callable[[str], None] = print,
) -> None:
    """Open what is named and serve it until interrupted."""
    import uvicorn

    from graves_data.serve.app import create_app
    from graves_data.serve.catalog import open_catalog

    catalog = open_catalog(datasets, runs, ink)
    app = create_app(catalog, max_concurrent=max_concurrent)
    where = "only this machine can reach it" if host in LOOPBACK else "REACHABLE FROM THE NETWORK"
    shown = f"[{host}]" if ":" in host else host
    echo(f"serving on http://{shown}:{port}/ (bound to {host}: {where})")
    echo(
        f"  {len(catalog.datasets)} datasets, {len(catalog.runs)} runs"
        + (f", ink saved in {catalog.ink}" if catalog.ink else "")
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
