"""IAM On-Line Handwriting Database (IAM-OnDB), as Graves (2013) trains on it.

The release (Liwicki & Bunke, 2005): pen trajectories recorded on a whiteboard with an eBeam
system, one XML file per text line, 221 writers, 12,195 lines. `--raw` names either the folders
as the archives extract (`lineStrokes/`, `ascii/`, `original/` and the task-1 split lists), or a
folder holding the archives themselves (`lineStrokes-all.tar.gz`, `ascii-all.tar.gz`,
`original-xml-all.tar.gz`), which are read in place, member by member.

What the release holds, and how each part is read:
- stroke files `lineStrokes/a01/a01-000/a01-000u-01.xml`: ISO-8859-1, CRLF, `Point x y time`
  with absolute times in seconds (two decimals; `0.00` where a reading lost its time);
- transcriptions `ascii/a01/a01-000/a01-000u.txt`: an `OCR:` section, then `CSR:` with one
  line per stroke file, in order: line i of CSR is the text of stroke file i;
- original XML `original/a01/a01-000/strokesu.xml`: the writer, in `General/Form@writerID`.
  The form id comes from the file's path: the ids inside the file do not always agree;
- the split lists `trainset.txt`, `testset_v.txt`, `testset_t.txt`, `testset_f.txt`.

Known defects, each quarantined with its reason rather than guessed at: forms whose CSR has more
or fewer lines than there are stroke files (`a08-551z`: 9 files, 8 lines), placeholder
transcriptions (`z01-000z`: "Please Enter Transcription here"), forms in no split list, and
damaged stroke files (left out line by line).

The package: `params` (names, build parameters), `readers` (bytes to records; `fastread`,
the vectorised stroke reader), `inventory`
(the release on disk), `planning` (splits and units), `units` (one unit of work), `build`.
"""

from graves_data.corpora.iam_ondb.build import (
    DOWNLOADS as DOWNLOADS,
)
from graves_data.corpora.iam_ondb.build import (
    SPEC as SPEC,
)
from graves_data.corpora.iam_ondb.build import (
    build as build,
)
from graves_data.corpora.iam_ondb.build import (
    dataset_card as dataset_card,
)
from graves_data.corpora.iam_ondb.build import (
    training_moments as training_moments,
)
from graves_data.corpora.iam_ondb.fastread import (
    fast_stroke_batch as fast_stroke_batch,
)
from graves_data.corpora.iam_ondb.fastread import (
    fast_stroke_xml as fast_stroke_xml,
)
from graves_data.corpora.iam_ondb.inventory import (
    Inventory as Inventory,
)
from graves_data.corpora.iam_ondb.inventory import (
    StrokeFile as StrokeFile,
)
from graves_data.corpora.iam_ondb.inventory import (
    find_component as find_component,
)
from graves_data.corpora.iam_ondb.inventory import (
    read_split_lists as read_split_lists,
)
from graves_data.corpora.iam_ondb.inventory import (
    require_component as require_component,
)
from graves_data.corpora.iam_ondb.inventory import (
    take_inventory as take_inventory,
)
from graves_data.corpora.iam_ondb.params import (
    ARCHIVES as ARCHIVES,
)
from graves_data.corpora.iam_ondb.params import (
    ASCII as ASCII,
)
from graves_data.corpora.iam_ondb.params import (
    CONTROL as CONTROL,
)
from graves_data.corpora.iam_ondb.params import (
    HEAD_BYTES as HEAD_BYTES,
)
from graves_data.corpora.iam_ondb.params import (
    LINE_FILE as LINE_FILE,
)
from graves_data.corpora.iam_ondb.params import (
    LISTS as LISTS,
)
from graves_data.corpora.iam_ondb.params import (
    MAX_COORDINATE as MAX_COORDINATE,
)
from graves_data.corpora.iam_ondb.params import (
    NAME as NAME,
)
from graves_data.corpora.iam_ondb.params import (
    ORIGINAL as ORIGINAL,
)
from graves_data.corpora.iam_ondb.params import (
    ORIGINAL_FILE as ORIGINAL_FILE,
)
from graves_data.corpora.iam_ondb.params import (
    PLACEHOLDER as PLACEHOLDER,
)
from graves_data.corpora.iam_ondb.params import (
    REPORT_ONLY as REPORT_ONLY,
)
from graves_data.corpora.iam_ondb.params import (
    SCHEMES as SCHEMES,
)
from graves_data.corpora.iam_ondb.params import (
    STROKES as STROKES,
)
from graves_data.corpora.iam_ondb.params import (
    TASK_ZIP as TASK_ZIP,
)
from graves_data.corpora.iam_ondb.params import (
    TRAIN_SPLIT as TRAIN_SPLIT,
)
from graves_data.corpora.iam_ondb.params import (
    TRANSCRIPTION_FILE as TRANSCRIPTION_FILE,
)
from graves_data.corpora.iam_ondb.params import (
    WRITER_CHUNK as WRITER_CHUNK,
)
from graves_data.corpora.iam_ondb.params import (
    IamParams as IamParams,
)
from graves_data.corpora.iam_ondb.params import (
    SplitScheme as SplitScheme,
)
from graves_data.corpora.iam_ondb.planning import (
    FormTask as FormTask,
)
from graves_data.corpora.iam_ondb.planning import (
    Payload as Payload,
)
from graves_data.corpora.iam_ondb.planning import (
    Plan as Plan,
)
from graves_data.corpora.iam_ondb.planning import (
    assign_splits as assign_splits,
)
from graves_data.corpora.iam_ondb.planning import (
    check_form as check_form,
)
from graves_data.corpora.iam_ondb.planning import (
    plan_forms as plan_forms,
)
from graves_data.corpora.iam_ondb.planning import (
    split_names as split_names,
)
from graves_data.corpora.iam_ondb.planning import (
    writer_split as writer_split,
)
from graves_data.corpora.iam_ondb.readers import (
    has_doctype as has_doctype,
)
from graves_data.corpora.iam_ondb.readers import (
    parse_split_list as parse_split_list,
)
from graves_data.corpora.iam_ondb.readers import (
    parse_stroke_xml as parse_stroke_xml,
)
from graves_data.corpora.iam_ondb.readers import (
    parse_transcription as parse_transcription,
)
from graves_data.corpora.iam_ondb.readers import (
    parse_writer as parse_writer,
)
from graves_data.corpora.iam_ondb.readers import (
    parse_xml as parse_xml,
)
from graves_data.corpora.iam_ondb.readers import (
    read_stroke_files as read_stroke_files,
)
from graves_data.corpora.iam_ondb.readers import (
    tree_stroke_xml as tree_stroke_xml,
)
from graves_data.corpora.iam_ondb.units import (
    forms_stamp as forms_stamp,
)
from graves_data.corpora.iam_ondb.units import (
    make_units as make_units,
)
from graves_data.corpora.iam_ondb.units import (
    process_unit as process_unit,
)
from graves_data.corpora.iam_ondb.units import (
    read_line as read_line,
)
from graves_data.corpora.iam_ondb.units import (
    with_archive_bytes as with_archive_bytes,
)
from graves_data.safexml import (
    xml_parser as xml_parser,
)
