"""The `graves-data` command: a thin click shell over the library functions.

`build <corpus>` and `synth <corpus>` are generated from the corpus registry, their options from
each corpus's params dataclass, so the CLI and the Python API cannot drift apart. User errors
(`GravesDataError`) print one line and exit non-zero, without a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import click

from graves_data import __version__
from graves_data.download import download_command
from graves_data.errors import GravesDataError


class Group(click.Group):
    """A click group that turns graves-data's own errors into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GravesDataError as error:
            click.secho(f"error: {error}", err=True, fg="red")
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="graves-data")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def main(verbose: bool) -> None:
    """Corpora of Graves (2013) as clean, versioned, sharded Parquet."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# ---------------------------------------------------------------------------------------------
# options from params dataclasses


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a params field annotation."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _click_type(inner[0])
    if origin is Literal:
        return click.Choice([str(a) for a in get_args(annotation)]), False
    if annotation is bool:
        return bool, True
    if annotation in (int, float, str):
        return annotation, False
    raise TypeError(f"no CLI type for params annotation {annotation!r}")


def params_options(params_type: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding one click option per field of a params dataclass."""
    hints = typing.get_type_hints(params_type)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for item in reversed(dataclasses.fields(params_type)):
            kind, is_flag = _click_type(hints[item.name])
            flag = "--" + item.name.replace("_", "-")
            help_text = item.metadata.get("help", "")
            if is_flag:
                option = click.option(
                    f"{flag}/--no-{flag[2:]}",
                    item.name,
                    default=item.default,
                    help=help_text,
                    show_default=True,
                )
            else:
                option = click.option(
                    flag,
                    item.name,
                    type=kind,
                    default=item.default,
                    help=help_text,
                    show_default=True,
                )
            function = option(function)
        return function

    return decorate


def params_from(params_type: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(params_type)}
    return params_type(**{k: v for k, v in values.items() if k in names})


# ---------------------------------------------------------------------------------------------
# build and synth, one subcommand per registered corpus


@main.group(cls=Group)
def build() -> None:
    """Build a corpus's raw release into a sharded Parquet dataset."""


@main.group(cls=Group)
def synth() -> None:
    """Generate a corpus in its release's own layout (no download needed)."""


def _add_build_command(name: str) -> None:
    from graves_data.corpora import CORPORA

    spec = CORPORA[name]

    @build.command(name=name, help=f"Build {spec.summary}.")
    @click.option(
        "--raw",
        required=True,
        help="The release: its folder (or the folder holding its archives), or a URL.",
    )
    @click.option(
        "--out", default=None, help=f"Dataset folder (default: datasets/{name}); a URL works too."
    )
    @click.option(
        "--workers", type=int, default=None, help="Local worker processes (default: all cores)."
    )
    @click.option(
        "--scheduler",
        default=None,
        help="Run on a dask.distributed cluster at this address (tcp://HOST:PORT).",
    )
    @click.option(
        "--on-bad-input",
        type=click.Choice(["error", "skip"]),
        default="skip",
        show_default=True,
        help="Damaged inputs: fail the build, or quarantine them with their reason.",
    )
    @click.option(
        "--overwrite",
        is_flag=True,
        help="Replace an existing dataset built from other inputs or parameters.",
    )
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @params_options(spec.params)
    def command(
        raw: str,
        out: str | None,
        workers: int | None,
        scheduler: str | None,
        on_bad_input: str,
        overwrite: bool,
        quiet: bool,
        **values: Any,
    ) -> None:
        from graves_data.pipelines.runner import Execution

        target = out or f"datasets/{name}"
        execution = Execution(workers=workers, scheduler=scheduler, progress=not quiet)
        manifest = spec.build(
            raw,
            target,
            params_from(spec.params, values),
            execution=execution,
            on_bad_input=on_bad_input,
            overwrite=overwrite,
        )
        _print_build_summary(target, manifest)


def _add_synth_command(name: str) -> None:
    from graves_data.corpora import CORPORA

    spec = CORPORA[name]
    if spec.synth is None or spec.synth_params is None:
        return
    synth_fn, synth_params = spec.synth, spec.synth_params

    @synth.command(name=name, help=f"Generate a corpus in the {name} release's own layout.")
    @click.option("--out", required=True, help="Folder to write the raw corpus into.")
    @click.option("--overwrite", is_flag=True, help="Write into a folder that is not empty.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @params_options(synth_params)
    def command(out: str, overwrite: bool, quiet: bool, **values: Any) -> None:
        synth_fn(out, params_from(synth_params, values), overwrite=overwrite, progress=not quiet)
        click.echo(f"wrote a generated {name} corpus to {out}")


def _print_build_summary(target: str, manifest: Any) -> None:
    from rich.console import Console

    console = Console(stderr=False)
    parts = [f"{split}: {info['rows']} rows" for split, info in manifest["splits"].items()]
    console.print(f"[bold green]built[/] {manifest['corpus']} -> {target}  ({'; '.join(parts)})")
    if manifest["quarantine"]:
        count = len(manifest["quarantine"])
        console.print(f"[yellow]{count} inputs quarantined[/] (see `graves-data stats {target}`)")


# ---------------------------------------------------------------------------------------------
# looking at a dataset


@main.command()
@click.argument("dataset")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--plots", default=None, help="Write PNG histograms into this folder.")
def stats(dataset: str, as_json: bool, plots: str | None) -> None:
    """Tables of what a built dataset holds: per split, lengths, coverage, quarantine."""
    from graves_data import stats as stats_module

    report = stats_module.compute(dataset)
    if as_json:
        click.echo(stats_module.to_json(report))
    else:
        stats_module.print_report(report)
    if plots:
        for path in stats_module.plot(dataset, report, plots):
            click.echo(f"wrote {path}", err=as_json)


@main.command()
@click.argument("dataset")
@click.argument("line_id")
@click.option("--out", required=True, help="Output file: .svg or .png.")
def show(dataset: str, line_id: str, out: str) -> None:
    """Render one line of a handwriting dataset (pen-up moves hidden)."""
    from graves_data.render import save_drawing
    from graves_data.stats import find_line

    row = find_line(dataset, line_id)
    path = save_drawing(row["offsets"], out, origin=row["origin"], title=row["text"])
    click.echo(f"wrote {path}: {line_id} {row['text']!r}")


@main.command()
@click.argument("dataset")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def verify(ctx: click.Context, dataset: str, as_json: bool) -> None:
    """Check a dataset against its manifest: each shard's checksum, rows and schema, the
    vocabulary, the content hash, and files nobody listed. Exit 0 only when intact, 1 if not."""
    import json

    from graves_data.verify import verify as verify_dataset

    report = verify_dataset(dataset)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif report.ok:
        click.echo(
            f"intact: {dataset} ({report.shards} shards, {report.rows} rows, "
            f"content hash {report.content_hash})"
        )
    else:
        for problem in report.problems:
            click.echo(f"{problem}", err=True)
        click.secho(f"NOT intact: {len(report.problems)} problems in {dataset}", err=True, fg="red")
    if not report.ok:
        ctx.exit(1)


@main.command()
@click.argument("datasets", nargs=-1)
@click.option("--run", "runs", multiple=True, help="A trained run for the playground (repeatable).")
@click.option("--ink", default=None, help="Folder that lines written on the page are saved in.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-samples", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Samples drawn at once; more are refused (429).")  # fmt: skip
def serve(
    datasets: tuple[str, ...],
    runs: tuple[str, ...],
    ink: str | None,
    host: str,
    port: int,
    max_samples: int,
) -> None:
    """A local web app: explore DATASETS, write with --run networks, capture --ink."""
    from graves_data.serve import serve as run_server

    run_server(datasets, runs, ink, host=host, port=port, max_concurrent=max_samples,
               echo=click.echo)  # fmt: skip


@main.group(cls=Group)
def export() -> None:
    """Write a dataset's contents in another format."""


@export.command(name="inkml")
@click.argument("dataset")
@click.option("--out", required=True, help="Folder for the InkML files (one per line).")
def export_inkml_command(dataset: str, out: str) -> None:
    """Write each line of a handwriting DATASET as OUT/<line_id>.inkml."""
    from graves_data.corpora.ink import export_inkml

    count = export_inkml(dataset, out)
    click.echo(f"wrote {count} InkML files to {out}")


def _register() -> None:
    from graves_data.corpora import CORPORA

    for name in CORPORA:
        _add_build_command(name)
        _add_synth_command(name)


_register()
main.add_command(download_command)


def _register_models() -> None:
    """The networks' commands (train, eval, sample); torch is imported only when one runs."""
    try:
        from graves_data.models.cli import COMMANDS
    except ImportError:
        return
    for command in COMMANDS:
        main.add_command(command)


_register_models()


def entry() -> None:
    """The `graves-data` console script (see graves_data.process for why it ends this way)."""
    from graves_data.process import run_and_exit

    run_and_exit(main, prog_name="graves-data")


if __name__ == "__main__":
    entry()
