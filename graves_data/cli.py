"""The `graves-data` command: a thin click shell over the library functions.

`build <corpus>` and `synth <corpus>` are generated from the corpus registry, their options from
each corpus's params dataclass, so the CLI and the Python API cannot drift apart. User errors
(`GravesDataError`) print one line and exit non-zero, without a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from graves_data import __version__
from graves_data.corpora import CORPORA
from graves_data.errors import GravesDataError, UsageError
from graves_data.options import dataclass_options, from_options


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
@click.option(
    "--profile",
    metavar="FILE",
    envvar="GRAVES_DATA_PROFILE",
    default=None,
    help="Write a profile of the command to FILE as it ends: .prof is cProfile's (read with "
    "pstats), .txt or .html pyinstrument's ($GRAVES_DATA_PROFILE works too).",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool, profile: str | None) -> None:
    """Corpora of Graves (2013) as clean, versioned, sharded Parquet."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if profile:
        from graves_data.profiling import start_profile

        ctx.call_on_close(start_profile(profile))


# ---------------------------------------------------------------------------------------------
# build and synth, one subcommand per registered corpus


@main.group(cls=Group)
def build() -> None:
    """Build a corpus's raw release into a sharded Parquet dataset."""


class SynthGroup(Group):
    """`synth <corpus>`: each subcommand is made when it is asked for, since making it loads
    the corpus's generator (and its fonts)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, spec in CORPORA.items() if spec.generator is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = CORPORA.get(cmd_name)
        if spec is None or spec.generator is None:
            return None
        return _synth_command(cmd_name)


@main.group(cls=SynthGroup)
def synth() -> None:
    """Generate a corpus in its release's own layout (no download needed)."""


def _add_build_command(name: str) -> None:
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
    @dataclass_options(spec.params)
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
            from_options(spec.params, values),
            execution=execution,
            on_bad_input=on_bad_input,
            overwrite=overwrite,
        )
        _print_build_summary(target, manifest)


def _synth_command(name: str) -> click.Command:
    generator = CORPORA[name].generator
    if generator is None:
        raise UsageError(f"{name} has no generator")
    made = generator()

    @click.command(name=name, help=f"Generate a corpus in the {name} release's own layout.")
    @click.option("--out", required=True, help="Folder to write the raw corpus into.")
    @click.option("--overwrite", is_flag=True, help="Write into a folder that is not empty.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @dataclass_options(made.params)
    def command(out: str, overwrite: bool, quiet: bool, **values: Any) -> None:
        made.write(out, from_options(made.params, values), overwrite=overwrite, progress=not quiet)
        click.echo(f"wrote a generated {name} corpus to {out}")

    return command


def _print_build_summary(target: str, manifest: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    from graves_data.manifest import left_out_lines

    console = Console(stderr=False)
    parts = [f"{split}: {info['rows']} rows" for split, info in manifest["splits"].items()]
    console.print(f"[bold green]built[/] {manifest['corpus']} -> {target}  ({'; '.join(parts)})")
    shown = left_out_lines(manifest)
    for line in shown:
        console.print(f"[yellow]{escape(line)}[/]", highlight=False)
    if shown:
        console.print(f"(reasons: `graves-data stats {target}`, entries in manifest.json)")
    for note in manifest.get("text", {}).get("notes", []):
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


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
    from graves_data.schema import strict_json
    from graves_data.verify import verify as verify_dataset

    report = verify_dataset(dataset)
    if as_json:
        click.echo(strict_json(report.to_json(), indent=2))
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


# ---------------------------------------------------------------------------------------------
# the web app, and export


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


# ---------------------------------------------------------------------------------------------
# fetching a release


@main.command("download")
@click.argument(
    "corpus", type=click.Choice(sorted(n for n, s in CORPORA.items() if s.downloads is not None))
)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Raw folder to fill (created if missing); `graves-data build --raw` reads it.",
)
@click.option(
    "--user", envvar="GRAVES_DATA_IAM_USER", help="IAM-OnDB login (or $GRAVES_DATA_IAM_USER)."
)
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose first line is the IAM-OnDB password (or $GRAVES_DATA_IAM_PASSWORD).",
)
@click.option("--mirror", metavar="URL", help="Fetch from this base URL instead of the official.")
@click.option("--lang", default="en", show_default=True, help="Wikipedia language code.")
@click.option("--date", help="Wikipedia dump date, YYYYMMDD (default: the newest complete).")
@click.option("--multistream", is_flag=True, help="Wikipedia: the multistream dump and index.")
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def download_command(
    corpus: str,
    to: Path,
    user: str | None,
    password_file: Path | None,
    mirror: str | None,
    lang: str,
    date: str | None,
    multistream: bool,
    progress: bool,
) -> None:
    """Fetch CORPUS from its official release into a raw folder, resumable and checked."""
    from graves_data.download.run import download, human_bytes, read_password
    from graves_data.download.sources import SOURCES_FILE

    if user is None and password_file is not None:
        raise UsageError("--password-file needs --user")
    password = read_password(password_file) if user is not None else None
    files = download(
        corpus,
        to,
        user=user,
        password=password,
        mirror=mirror,
        lang=lang,
        date=date,
        multistream=multistream,
        progress=progress,
    )
    for f in files:
        state = "fetched" if f.fetched else "already there"
        click.echo(f"{f.name}  {human_bytes(f.size)}  sha256 {f.sha256}  ({state})")
    click.echo(f"{len(files)} files in {to}, listed in {to / SOURCES_FILE}")


for _name in CORPORA:
    _add_build_command(_name)


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
