"""The dataset card (`README.md` of a dataset): one template for every corpus.

A card is the Hub's YAML header (which names the files each split is read from, so
`datasets.load_dataset(folder)` finds the splits), then a corpus's own Markdown body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def hub_header(splits: Iterable[str], metadata: Sequence[str] = ()) -> str:
    """The YAML front matter: `metadata` lines (pretty_name, license, tags...), then one data
    file pattern per split."""
    lines = ["---", *metadata, "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    return "\n".join([*lines, "---"]) + "\n"


def dataset_card(splits: Iterable[str], body: str, metadata: Sequence[str] = ()) -> str:
    """A whole card: the header, a blank line, the body (ending in one newline)."""
    return hub_header(splits, metadata) + "\n" + body.rstrip("\n") + "\n"
