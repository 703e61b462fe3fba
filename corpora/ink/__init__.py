"""Your own handwriting: a folder of W3C InkML files, one text line each.

`graves-data serve --ink DIR` saves what is written on its page here; `graves-data export
inkml` writes any handwriting dataset's lines in the same form; other tools' InkML works too,
as long as it is plain (see `parse_inkml`). `graves-data build ink --raw DIR` builds the folder
into a dataset with IAM-OnDB's schema and contract (the same rows, cleaning, shards, manifest),
so the trainer, `stats`, `verify` and priming take it as they are.

The line id is the file's name without `.inkml`; the writer comes from the `writer`
annotation (none where it is absent). Lines go to `train`, except every `valid_every`-th line
in line-id order, which goes to `valid`.

The package: `params` (names, build parameters), `inkml` (InkML bytes to a line and back),
`build` (inventory, units, the build, the card), `export` (a dataset's lines as InkML).
"""

from graves_data.corpora.ink.build import SPEC as SPEC
from graves_data.corpora.ink.build import build as build
from graves_data.corpora.ink.build import dataset_card as dataset_card
from graves_data.corpora.ink.build import process_unit as process_unit
from graves_data.corpora.ink.build import read_line as read_line
from graves_data.corpora.ink.build import take_inventory as take_inventory
from graves_data.corpora.ink.export import export_inkml as export_inkml
from graves_data.corpora.ink.export import line_strokes as line_strokes
from graves_data.corpora.ink.inkml import InkLine as InkLine
from graves_data.corpora.ink.inkml import check_line_id as check_line_id
from graves_data.corpora.ink.inkml import parse_inkml as parse_inkml
from graves_data.corpora.ink.inkml import write_inkml as write_inkml
from graves_data.corpora.ink.params import NAME as NAME
from graves_data.corpora.ink.params import SUFFIX as SUFFIX
from graves_data.corpora.ink.params import InkParams as InkParams
