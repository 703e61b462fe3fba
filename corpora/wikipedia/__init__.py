"""Wikipedia XML dumps (pages-articles), streamed page by page into character sequences.

Raw files: a dump as `.xml` or `.xml.bz2` (one bzip2 stream, or a multistream dump), or a
folder holding one. With the multistream index (`--index ...-multistream-index.txt.bz2`, found
by itself in a folder) the dump is read in parallel by bz2 stream; without it a `.bz2` dump is
read in one sequential pass, and a plain `.xml` in parallel by byte ranges cut at `<page>`.
Nothing is ever decompressed or read whole: memory is bounded by one unit of work.

What is read, and what is left out (and counted in the manifest's `text` section):

- export schema versions 0.3 (enwik8's) to 0.11: `<ns>` where the version has it, else the
  namespace from the title's prefix and the `<siteinfo>` namespaces; the last revision's text;
- UTF-8 (with or without BOM) and BOM-marked UTF-16, detected from the document's first bytes;
- `--namespaces 0` (default) keeps articles; other namespaces are counted as `namespace`;
- redirects (`<redirect/>`, or text starting `#REDIRECT` as in 0.3 dumps) are counted, left out;
- pages with no text after extraction are counted as `empty`;
- a page the file ends inside (a dump cut mid-page, as enwik8 is), a page that is not
  well-formed XML, or not in the document's encoding, is a `BadInput`: quarantined with its
  reason under `--on-bad-input skip`, an error under `error`.

Text: `--text raw` keeps the wikitext as the dump holds it (markup and all, like enwik8);
`--text plain` removes the markup (`pipelines.text.wikitext_to_plain`). Each page is a title
line, a blank line, the body and a blank line (`--no-include-title` drops the title).

Splits are by page: a seeded hash of the page id puts each page in train, valid or test, so no
page is in two splits and the split does not depend on where a page sits in the file.

The build has two passes. The scan pass reads units of the dump (groups of bz2 streams, or
byte ranges) on the workers, writes each split's text to scratch pieces under `.build/`, and
returns symbol counts; from the training counts comes the vocabulary. The units of the write
pass are then ranges of whole rows of each split's stream, planned from the totals alone: the
rows, and so the shards, are the same with or without the index and for any worker count.

The package: `params` (names, build parameters), `readers` (bytes to pages), `inventory` (the
dump on disk), `scan` (the scan pass), `planning` (splits and units), `build`, and `downloads`
(where the dumps are published).
"""

from graves_data.corpora.wikipedia.build import SPEC as SPEC
from graves_data.corpora.wikipedia.build import build as build
from graves_data.corpora.wikipedia.build import process_unit as process_unit
from graves_data.corpora.wikipedia.downloads import DOWNLOADS as DOWNLOADS
from graves_data.corpora.wikipedia.downloads import WIKIMEDIA_DUMPS as WIKIMEDIA_DUMPS
from graves_data.corpora.wikipedia.downloads import wikimedia_dump_files as wikimedia_dump_files
from graves_data.corpora.wikipedia.inventory import Dump as Dump
from graves_data.corpora.wikipedia.inventory import find_dump as find_dump
from graves_data.corpora.wikipedia.inventory import open_dump as open_dump
from graves_data.corpora.wikipedia.params import BZ2_RATIO as BZ2_RATIO
from graves_data.corpora.wikipedia.params import HEAD_BYTES as HEAD_BYTES
from graves_data.corpora.wikipedia.params import NAME as NAME
from graves_data.corpora.wikipedia.params import READ_BLOCK as READ_BLOCK
from graves_data.corpora.wikipedia.params import SCRATCH as SCRATCH
from graves_data.corpora.wikipedia.params import TextMode as TextMode
from graves_data.corpora.wikipedia.params import WikipediaParams as WikipediaParams
from graves_data.corpora.wikipedia.planning import PieceSlice as PieceSlice
from graves_data.corpora.wikipedia.planning import RowsPayload as RowsPayload
from graves_data.corpora.wikipedia.planning import bz2_ranges as bz2_ranges
from graves_data.corpora.wikipedia.planning import namespace_keys as namespace_keys
from graves_data.corpora.wikipedia.planning import plan_units as plan_units
from graves_data.corpora.wikipedia.planning import stream_offsets as stream_offsets
from graves_data.corpora.wikipedia.planning import xml_ranges as xml_ranges
from graves_data.corpora.wikipedia.readers import Page as Page
from graves_data.corpora.wikipedia.readers import PageScanner as PageScanner
from graves_data.corpora.wikipedia.readers import detect_codec as detect_codec
from graves_data.corpora.wikipedia.readers import iter_bz2 as iter_bz2
from graves_data.corpora.wikipedia.readers import parse_head as parse_head
from graves_data.corpora.wikipedia.readers import parse_page as parse_page
from graves_data.corpora.wikipedia.readers import read_head as read_head
from graves_data.corpora.wikipedia.scan import PageRules as PageRules
from graves_data.corpora.wikipedia.scan import ScanResult as ScanResult
from graves_data.corpora.wikipedia.scan import ScanTask as ScanTask
from graves_data.corpora.wikipedia.scan import page_split as page_split
from graves_data.corpora.wikipedia.scan import scan_task as scan_task
