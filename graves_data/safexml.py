"""The one way graves-data parses XML: no entity expansion, no DTD, no network.

Every reader of a release's XML (IAM-OnDB stroke, transcription and original files,
Wikipedia pages and siteinfo, InkML) takes its parser from here, so that a file crafted to
expand entities, load a DTD or reach the network is refused the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from lxml import etree


def xml_parser(*, huge_tree: bool = False) -> etree.XMLParser:
    """A tree parser. `huge_tree` lifts libxml2's depth and text-node limits (a Wikipedia
    page's text can exceed them); stroke files never need it."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge_tree,
    )


def pull_parser() -> Any:
    """An incremental parser fed by `feed()` that reports each element's start, for answers
    found in a file's first elements; the same settings as `xml_parser`."""
    return etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )
