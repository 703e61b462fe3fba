"""Generated text corpora in the real formats: an enwik8-shaped dump, Wikipedia dumps, PTB files.

The embedded defaults of `make demo` and the tests: no download, the release's own layouts and
quirks, seeded so the same parameters give the same bytes. Sentences come from
`graves_data.synth.english.SentenceComposer`; the wiki markup, titles and PTB tokens are made
here.

- `write_enwik8`: a MediaWiki XML export 0.3 with enwik8's header, pages of wiki markup (links,
  templates, tables, refs, categories, redirects, headings, lists, UTF-8 beyond ASCII), cut at
  exactly `size` bytes, mid-page, as the real enwik8 is cut at 10^8 bytes; optionally zipped.
- `write_dump`: a pages-articles dump in any export schema 0.3..0.11 (`<ns>`, `<redirect/>`
  and the revision fields of each version), UTF-8 or BOM-marked UTF-16, plain, bzip2, or
  bzip2 multistream with its index (`offset:page_id:title` per page, itself bzip2).
- `write_ptb`: `ptb.{train,valid,test}.txt` (word level: leading and trailing space, `<unk>`
  beyond the vocabulary, `N` for numbers, `'s` / `n't` split off) and the `ptb.char.*.txt`
  files derived from them by the release's layout, as folders or `simple-examples.tgz`.
"""

from __future__ import annotations

import bz2
import io
import itertools
import random
import re
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from graves_data.corpus import Params, param
from graves_data.errors import OutputExists, UsageError
from graves_data.synth.english import SentenceComposer

# ---------------------------------------------------------------------------------------------
# words for titles, links and tables (sentences come from SentenceComposer)


def _listed(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_TITLE_WORDS = _listed(
    "government city river music history language people world century system war company "
    "island science church school water computer theory king film album railway station "
    "village population species team university party election market art culture book "
    "energy animal plant family country region law army court bridge road castle mountain "
    "lake forest ocean planet star engine network program model treaty empire republic "
    "province district council museum theatre painting poem novel singer band season league "
    "player game record festival temple cathedral monastery bishop emperor queen prince duke "
    "physics chemistry biology mathematics philosophy economics medicine protein cell gene "
    "climate harvest trade industry factory mine steel early modern ancient northern southern "
    "eastern western national royal military political natural social economic french german"
)
_NAMES = _listed(
    "Anna Berlin Carlos Dmitri Elena Frankfurt Giovanni Helsinki Isaac Jakarta Kyoto Lisbon "
    "Madrid Nairobi Oslo Paris Quebec Rome Sydney Toronto Utrecht Vienna Warsaw Xavier York "
    "Zurich Aristotle Newton Darwin Euler Gauss Curie Turing Lovelace Tesla Bach Mozart"
)
# beyond ASCII and beyond Latin-1: what a Wikipedia article holds (names, scripts, typography)
_UNICODE = _listed(
    "São Paulo|Zürich|Ångström|Dvořák|Łódź|Škoda|Αθήνα|Москва|東京|北京|café|naïve|façade|"
    "Erdős|Gödel|Poincaré|Kraków|İstanbul|Reykjavík|München|Bogotá|Curaçao|Nîmes|Ῥώμη",
    "|",
)
_TYPOGRAPHY = ("–", "—", "°", "±", "×", "½", "€", "£", "…", "§")


# ---------------------------------------------------------------------------------------------
# wiki pages


@dataclass(frozen=True)
class WikiPage:
    title: str
    page_id: int
    ns: int
    text: str
    redirect: str | None = None


_NAMESPACES = (
    (-2, "Media"),
    (-1, "Special"),
    (0, ""),
    (1, "Talk"),
    (2, "User"),
    (3, "User talk"),
    (4, "Wikipedia"),
    (5, "Wikipedia talk"),
    (6, "Image"),
    (7, "Image talk"),
    (8, "MediaWiki"),
    (9, "MediaWiki talk"),
    (10, "Template"),
    (11, "Template talk"),
    (12, "Help"),
    (13, "Help talk"),
    (14, "Category"),
    (15, "Category talk"),
    (100, "Portal"),
    (101, "Portal talk"),
)


class PageMaker:
    """Wiki pages with the markup enwik8 is full of; every 12th a redirect, some not articles."""

    def __init__(self, seed: int) -> None:
        self.composer = SentenceComposer(seed)
        self.rng = random.Random(seed + 1)
        self.titles: list[str] = []

    def words(self, n: int) -> list[str]:
        return self.rng.choices(_TITLE_WORDS, k=n)

    def title(self) -> str:
        rng = self.rng
        words = [w.capitalize() for w in self.words(rng.randint(1, 3))]
        if rng.random() < 0.15:
            words.append(rng.choice(_UNICODE))
        elif rng.random() < 0.2:
            words.insert(0, rng.choice(_NAMES))
        return " ".join(words)

    def page(self, page_id: int) -> WikiPage:
        rng = self.rng
        title = self.title()
        if self.titles and page_id % 12 == 5:
            target = rng.choice(self.titles)
            return WikiPage(title, page_id, 0, f"#REDIRECT [[{target}]]", target)
        roll = rng.random()
        if roll < 0.06:
            return WikiPage(f"Talk:{title}", page_id, 1, self.talk())
        if roll < 0.09:
            return WikiPage(f"Template:{title}", page_id, 10, self.template_page())
        self.titles.append(title)
        if len(self.titles) > 500:
            self.titles.pop(0)
        return WikiPage(title, page_id, 0, self.article(title))

    def link(self) -> str:
        rng = self.rng
        target = rng.choice(self.titles) if self.titles else self.title()
        if rng.random() < 0.3:
            return f"[[{target}|{' '.join(self.words(rng.randint(1, 3)))}]]"
        return f"[[{target}]]"

    def marked_sentence(self) -> str:
        """A sentence with links, bold/italic, a ref or a non-ASCII word spliced in."""
        rng = self.rng
        words = self.composer.sentence().split(" ")
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words)), self.link())
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), rng.choice(_UNICODE))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), f"''{rng.choice(_TITLE_WORDS)}''")
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(_TYPOGRAPHY))
        text = " ".join(words)
        if rng.random() < 0.25:
            ref = f"{rng.choice(_NAMES)}, ''{self.title()}'', {rng.randint(1900, 2006)}, p. "
            text += f"<ref>{ref}{rng.randint(1, 400)}.</ref>"
        if rng.random() < 0.1:
            text += f" [http://www.example.org/{rng.randint(1, 99999)} {self.title()}]"
        return text

    def article(self, title: str) -> str:
        rng = self.rng
        parts = []
        if rng.random() < 0.4:
            parts.append(self.infobox())
        parts.append(f"'''{title}''' is a " + self.marked_sentence() + " " + self.prose(2))
        for _ in range(rng.randint(1, 4)):
            parts.append(f"=={' '.join(self.words(2)).capitalize()}==")
            parts.append(self.prose(rng.randint(2, 6)))
            if rng.random() < 0.3:
                parts.append("\n".join(f"* {self.marked_sentence()}" for _ in range(3)))
            if rng.random() < 0.15:
                parts.append(self.table())
        if rng.random() < 0.5:
            parts.append("==References==\n<references/>")
        parts.append("\n".join(f"[[Category:{self.title()}]]" for _ in range(rng.randint(1, 3))))
        if rng.random() < 0.3:
            parts.append(f"[[de:{title}]]\n[[fr:{title}]]")
        return "\n\n".join(parts)

    def prose(self, sentences: int) -> str:
        return " ".join(self.marked_sentence() for _ in range(sentences))

    def infobox(self) -> str:
        rng = self.rng
        rows = [f"| {w} = {self.composer.sentence()[:-1]}" for w in self.words(4)]
        return "{{Infobox " + rng.choice(_TITLE_WORDS) + "\n" + "\n".join(rows) + "\n}}"

    def table(self) -> str:
        rng = self.rng
        rows = [
            f"|-\n| {rng.choice(_NAMES)} || {rng.randint(1, 9999)} || {rng.choice(_UNICODE)}"
            for _ in range(rng.randint(2, 5))
        ]
        return '{| class="wikitable"\n! Name !! Value !! Place\n' + "\n".join(rows) + "\n|}"

    def talk(self) -> str:
        return f"== Comment ==\n{self.prose(2)} ~~~~"

    def template_page(self) -> str:
        return "<includeonly>{{{1|}}}</includeonly><noinclude>" + self.prose(1) + "</noinclude>"


# ---------------------------------------------------------------------------------------------
# XML export


def export_header(version: str, encoding_name: str = "utf-8") -> str:
    """`<mediawiki>` and `<siteinfo>` of export schema `version` (enwik8's header at 0.3)."""
    url = f"http://www.mediawiki.org/xml/export-{version}/"
    newer = _version_tuple(version) >= (0, 4)
    lines = [] if version == "0.3" else [f'<?xml version="1.0" encoding="{encoding_name}"?>']
    lines.append(
        f'<mediawiki xmlns="{url}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{url} {url[:-1]}.xsd" version="{version}" xml:lang="en">'
    )
    lines += [
        "  <siteinfo>",
        "    <sitename>Wikipedia</sitename>",
        *(["    <dbname>enwiki</dbname>"] if newer else []),
        "    <base>http://en.wikipedia.org/wiki/Main_Page</base>",
        f"    <generator>MediaWiki {'1.6alpha' if not newer else '1.41.0-wmf.1'}</generator>",
        "    <case>first-letter</case>",
        "      <namespaces>" if not newer else "    <namespaces>",
    ]
    for key, name in _NAMESPACES:
        case = ' case="first-letter"' if newer else ""
        lines.append(
            f'      <namespace key="{key}"{case} />'
            if not name
            else f'      <namespace key="{key}"{case}>{name}</namespace>'
        )
    lines += ["    </namespaces>", "  </siteinfo>"]
    return "\n".join(lines) + "\n"


def _version_tuple(version: str) -> tuple[int, int]:
    try:
        major, minor = version.split(".")
        parsed = int(major), int(minor)
    except ValueError:
        raise UsageError(f"export schema version looks like 0.10, not {version!r}") from None
    if not (0, 3) <= parsed <= (0, 11):
        raise UsageError(f"export schema versions 0.3 .. 0.11 are known, not {version}")
    return parsed


def prepare_folder(out: str | Path, overwrite: bool) -> Path:
    """The folder to write into: absent or empty, or anything with `overwrite` (the generators
    write their files under fixed names, so an overwrite replaces exactly those)."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise OutputExists(f"{folder}: folder is not empty (pass overwrite to write into it)")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def page_xml(page: WikiPage, version: str) -> str:
    """One `<page>` element in export schema `version`."""
    v = _version_tuple(version)
    body = escape(page.text)
    lines = ["  <page>", f"    <title>{escape(page.title)}</title>"]
    if v >= (0, 6):
        lines.append(f"    <ns>{page.ns}</ns>")
    lines.append(f"    <id>{page.page_id}</id>")
    if page.redirect is not None and v >= (0, 5):
        lines.append(f'    <redirect title="{escape(page.redirect, {chr(34): "&quot;"})}" />')
    lines += [
        "    <revision>",
        f"      <id>{page.page_id * 7 + 1000}</id>",
        *([f"      <parentid>{page.page_id * 7 + 999}</parentid>"] if v >= (0, 7) else []),
        f"      <timestamp>2006-03-{1 + page.page_id % 28:02d}T12:{page.page_id % 60:02d}:00Z"
        "</timestamp>",
        "      <contributor>",
        f"        <username>Editor{page.page_id % 97}</username>",
        f"        <id>{page.page_id % 97 + 1}</id>",
        "      </contributor>",
    ]
    if page.page_id % 3 == 0:
        lines.append("      <comment>copyedit</comment>")
    if v >= (0, 7):
        lines += ["      <model>wikitext</model>", "      <format>text/x-wiki</format>"]
    size = len(page.text.encode())
    if v >= (0, 10):
        lines.append(f'      <text bytes="{size}" xml:space="preserve">{body}</text>')
    else:
        lines.append(f'      <text xml:space="preserve">{body}</text>')
    if v >= (0, 7):
        lines.append(f"      <sha1>{page.page_id:031x}</sha1>")
    lines += ["    </revision>", "  </page>"]
    return "\n".join(lines) + "\n"


FOOTER = "</mediawiki>\n"


def iter_pages(seed: int, first_id: int = 1) -> Iterator[WikiPage]:
    maker = PageMaker(seed)
    page_id = first_id
    while True:
        yield maker.page(page_id)
        page_id += 1 + maker.rng.randrange(3)


# ---------------------------------------------------------------------------------------------
# enwik8


@dataclass(frozen=True)
class Enwik8SynthParams(Params):
    size: int = param(2_000_000, "bytes to write (the real enwik8 has 100,000,000)")
    seed: int = param(0, "random seed")
    zip: bool = param(False, "also write enwik8.zip (the release archive)")


def enwik8_bytes(size: int, seed: int) -> Iterator[bytes]:
    """An enwik8-shaped byte stream of exactly `size` bytes, cut mid-page like the real one."""
    written = 0
    blocks = itertools.chain(
        [export_header("0.3").encode()], (page_xml(p, "0.3").encode() for p in iter_pages(seed))
    )
    for block in blocks:
        take = block[: size - written]
        written += len(take)
        yield take
        if written >= size:
            return


def write_enwik8(
    out: str | Path,
    params: Enwik8SynthParams | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write `out/enwik8` (and `out/enwik8.zip` with `zip`); return the raw file's path."""
    params = params or Enwik8SynthParams()
    folder = prepare_folder(out, overwrite)
    path = folder / "enwik8"
    with open(path, "wb") as handle:
        for block in enwik8_bytes(params.size, params.seed):
            handle.write(block)
    if params.zip:
        with zipfile.ZipFile(folder / "enwik8.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(path, "enwik8")
    return path


# ---------------------------------------------------------------------------------------------
# Wikipedia dumps

Compression = Literal["none", "bz2", "multistream"]


@dataclass(frozen=True)
class DumpSynthParams(Params):
    pages: int = param(300, "pages to write (redirects and other namespaces included)")
    seed: int = param(0, "random seed")
    schema: str = param("0.10", "export schema version, 0.3 .. 0.11")
    encoding: Literal["utf-8", "utf-16"] = param("utf-8", "utf-16 is written with a BOM")
    compression: Compression = param("multistream", "none, bz2 (one stream), multistream")
    pages_per_stream: int = param(100, "pages per bz2 stream (multistream), as the real dumps")
    cut: bool = param(False, "cut the file in the middle of the last page")
    name: str = param("enwiki-synth", "file name prefix")


@dataclass(frozen=True)
class DumpFiles:
    dump: Path
    index: Path | None
    pages: tuple[WikiPage, ...]


def write_dump(
    out: str | Path,
    params: DumpSynthParams | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> DumpFiles:
    """Write a pages-articles dump (and its multistream index); return paths and the pages."""
    params = params or DumpSynthParams()
    _version_tuple(params.schema)
    folder = prepare_folder(out, overwrite)
    pages = _take_pages(params.seed, params.pages)
    codec = "utf-16" if params.encoding == "utf-16" else "utf-8"
    header = export_header(params.schema, params.encoding)
    page_texts = [page_xml(p, params.schema) for p in pages]
    if params.cut and page_texts:
        last = page_texts[-1]
        page_texts[-1] = last[: len(last) // 2]
    footer = "" if params.cut else FOOTER
    suffix = {"none": ".xml", "bz2": ".xml.bz2", "multistream": "-multistream.xml.bz2"}
    dump = folder / f"{params.name}-pages-articles{suffix[params.compression]}"
    index = None
    if params.compression == "multistream":
        index = folder / f"{params.name}-pages-articles-multistream-index.txt.bz2"
        _write_multistream(dump, index, header, pages, page_texts, footer, codec, params)
    else:
        data = _encode_doc([header, *page_texts, footer], codec)
        if params.compression == "bz2":
            data = bz2.compress(data, 9)
        dump.write_bytes(data)
    return DumpFiles(dump, index, tuple(pages))


def _take_pages(seed: int, count: int) -> list[WikiPage]:
    generator = iter_pages(seed)
    return [next(generator) for _ in range(count)]


def _encode_doc(parts: list[str], codec: str) -> bytes:
    """The document's bytes; UTF-16 gets one BOM at the start, none between parts."""
    if codec == "utf-16":
        return "\ufeff".encode("utf-16-le") + "".join(parts).encode("utf-16-le")
    return "".join(parts).encode("utf-8")


def _write_multistream(
    dump: Path,
    index: Path,
    header: str,
    pages: list[WikiPage],
    page_texts: list[str],
    footer: str,
    codec: str,
    params: DumpSynthParams,
) -> None:
    """Header stream, then one bz2 stream per `pages_per_stream` pages, then the footer."""
    per = max(1, params.pages_per_stream)
    index_lines = []
    with open(dump, "wb") as handle:
        handle.write(bz2.compress(_encode_doc([header], codec), 9))
        for first in range(0, len(pages), per):
            offset = handle.tell()
            group = page_texts[first : first + per]
            data = "".join(group).encode("utf-16-le" if codec == "utf-16" else "utf-8")
            handle.write(bz2.compress(data, 9))
            for page in pages[first : first + per]:
                index_lines.append(f"{offset}:{page.page_id}:{page.title}\n")
        if footer:
            handle.write(bz2.compress(footer.encode("utf-16-le" if codec == "utf-16" else "utf-8")))
    index.write_bytes(bz2.compress("".join(index_lines).encode("utf-8"), 9))


# ---------------------------------------------------------------------------------------------
# Penn Treebank


@dataclass(frozen=True)
class PtbSynthParams(Params):
    lines: int = param(2000, "training sentences (the release has 42,068)")
    vocab: int = param(1000, "word vocabulary; rarer words become <unk> (the release: 10,000)")
    seed: int = param(0, "random seed")
    archive: bool = param(False, "write simple-examples.tgz instead of the folder of files")


PTB_SPLITS = ("train", "valid", "test")
# the release's sizes relative to train: 3,370 and 3,761 sentences against 42,068
PTB_FRACTIONS = {"train": 1.0, "valid": 3370 / 42068, "test": 3761 / 42068}


_PTB_TOKEN = re.compile(r"\$|&|%|'s\b|n't\b|\d+(?:[.,]\d+)*|[^\W\d_]+(?:-[^\W\d_]+)*")


def ptb_sentence(sentence: str) -> list[str]:
    """A sentence as PTB tokens: lower case, punctuation gone but `$ & %`, `'s` and `n't`
    split off, `N` for every number; words outside ASCII become <unk> (PTB is ASCII)."""
    tokens = []
    for token in _PTB_TOKEN.findall(sentence.replace("n't", " n't").replace("'s", " 's")):
        if token[0].isdigit():
            tokens.append("N")
        elif not token.isascii():
            tokens.append("<unk>")
        else:
            tokens.append(token.lower())
    return tokens or ["<unk>"]


def ptb_texts(params: PtbSynthParams) -> dict[str, str]:
    """The word files' texts; words outside the training split's top `vocab` become <unk>."""
    composer = SentenceComposer(params.seed)
    sentences = {
        split: [ptb_sentence(composer.sentence()) for _ in range(max(1, round(params.lines * f)))]
        for split, f in PTB_FRACTIONS.items()
    }
    counts = Counter(t for sentence in sentences["train"] for t in sentence)
    known = {w for w, _ in counts.most_common(max(1, params.vocab - 1))} | {"N", "<unk>"}
    texts = {}
    for split, split_sentences in sentences.items():
        lines = [
            " " + " ".join(t if t in known else "<unk>" for t in sentence) + " \n"
            for sentence in split_sentences
        ]
        texts[split] = "".join(lines)
    return texts


def ptb_char_text(word_text: str) -> str:
    """A word file in the release's char-file layout: each symbol followed by a space,
    words joined by `_`, newline kept (so lines after the first start with a space)."""
    stream = "".join("_".join(line.split()) + "\n" for line in word_text.splitlines())
    return "".join(symbol + " " for symbol in stream)


def ptb_files(params: PtbSynthParams) -> dict[str, bytes]:
    texts = ptb_texts(params)
    files = {}
    for split in PTB_SPLITS:
        files[f"ptb.{split}.txt"] = texts[split].encode()
        files[f"ptb.char.{split}.txt"] = ptb_char_text(texts[split]).encode()
    return files


def write_ptb(
    out: str | Path,
    params: PtbSynthParams | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write the PTB files into `out` (or `out/simple-examples.tgz`); return what was written."""
    params = params or PtbSynthParams()
    folder = prepare_folder(out, overwrite)
    files = ptb_files(params)
    if not params.archive:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return folder
    path = folder / "simple-examples.tgz"
    with tarfile.open(path, "w:gz") as archive:
        _add_member(archive, "./simple-examples/README", b"Penn Treebank LM data (synthetic)\n")
        for name, data in files.items():
            _add_member(archive, f"./simple-examples/data/{name}", data)
    return path


def _add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_100_000_000
    archive.addfile(info, io.BytesIO(data))
