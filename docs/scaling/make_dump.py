"""Write a multistream Wikipedia dump of a given compressed size, for the scaling measurements.

`graves_data.synth.text.write_dump` holds every page in memory (it returns them, for the tests'
expected text), so it cannot write a dump of gigabytes. This script streams the same pages
(`iter_pages`, `page_xml`, `export_header`) into the layout of the real
`enwiki-*-pages-articles-multistream.xml.bz2`: a header stream, streams of 100 pages each, a
footer stream, and the `offset:page_id:title` index, bz2-compressed. Blocks of streams are
generated and compressed on all cores and written in order.

    python docs/scaling/make_dump.py /tmp/wiki1g --gb 1.0
"""

from __future__ import annotations

import argparse
import bz2
import time
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path

from graves_data.synth.text import FOOTER, export_header, iter_pages, page_xml

PAGES_PER_STREAM = 100
STREAMS_PER_BLOCK = 50
ID_STRIDE = 10_000_000  # page ids of block b start at b * ID_STRIDE + 1: unique, increasing
SCHEMA = "0.10"
NAME = "enwiki-scale"

Stream = tuple[bytes, list[tuple[int, str]], int]  # bz2 bytes, (page id, title), XML bytes


def block(index: int) -> list[Stream]:
    """Streams of block `index`, from its own seed (blocks are independent, so parallel)."""
    pages = iter_pages(seed=index, first_id=index * ID_STRIDE + 1)
    streams = []
    for _ in range(STREAMS_PER_BLOCK):
        group = [next(pages) for _ in range(PAGES_PER_STREAM)]
        xml = "".join(page_xml(page, SCHEMA) for page in group).encode("utf-8")
        streams.append((bz2.compress(xml, 9), [(p.page_id, p.title) for p in group], len(xml)))
    return streams


def blocks(workers: int) -> Iterator[list[Stream]]:
    with Pool(workers) as pool:
        yield from pool.imap(block, range(ID_STRIDE // PAGES_PER_STREAM), chunksize=1)


def write(folder: Path, target_bytes: int, workers: int) -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"{NAME}-pages-articles-multistream.xml.bz2"
    index_lines: list[str] = []
    xml_bytes = pages = 0
    started = time.monotonic()
    with open(dump, "wb") as handle:
        header = export_header(SCHEMA).encode("utf-8")
        handle.write(bz2.compress(header, 9))
        xml_bytes += len(header)
        for streams in blocks(workers):
            for data, titles, size in streams:
                offset = handle.tell()
                handle.write(data)
                index_lines += [f"{offset}:{page_id}:{title}\n" for page_id, title in titles]
                xml_bytes += size
                pages += len(titles)
            if handle.tell() >= target_bytes:
                break
        handle.write(bz2.compress(FOOTER.encode("utf-8"), 9))
        xml_bytes += len(FOOTER)
    index = folder / f"{NAME}-pages-articles-multistream-index.txt.bz2"
    index.write_bytes(bz2.compress("".join(index_lines).encode("utf-8"), 9))
    return {
        "bz2_bytes": dump.stat().st_size,
        "xml_bytes": xml_bytes,
        "pages": pages,
        "streams": pages // PAGES_PER_STREAM,
        "index_bytes": index.stat().st_size,
        "seconds": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--gb", type=float, default=1.0, help="compressed size to reach, in GB")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(write(args.folder, int(args.gb * 1e9), args.workers))


if __name__ == "__main__":
    main()
