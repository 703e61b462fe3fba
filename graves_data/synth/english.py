"""English prose composed from a seed: the text of generated handwriting and generated articles.

The IAM-OnDB forms are passages of the LOB corpus (news, reports, fiction), copied out by hand.
The project cannot ship that text, so `SentenceComposer` writes prose of the same texture from a
small grammar and hand-made word lists: capitals, names and titles (`Mr. Foot`), digits, years
and decimals, commas, quotes, possessives, hyphenated words, questions and exclamations, and now
and then a Latin-1 letter (`café`, `Zürich`), the characters a character model of the release's
text meets. Everything it emits is ISO-8859-1 and printable, so it can be written in the release's
encoding and drawn with Hershey glyphs.

The API is stable (`sentence`, `paragraph`, `lines`): other generators (Wikipedia-like text)
build on it. Same seed, same text, on every platform: only `random.Random` is used.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

__all__ = ["SentenceComposer", "wrap"]

# Word lists. Irregular forms are spelled out, so no inflection rule can go wrong.


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    """Entries separated by `|`, which may contain spaces (`São Paulo`)."""
    return tuple(" ".join(p.split()) for p in text.split("|"))


def _split(text: str, parts: int) -> list[list[str]]:
    """Entries like `child/children`, split on `/`, each with exactly `parts` forms."""
    entries = [entry.split("/") for entry in text.split()]
    bad = [e for e in entries if len(e) != parts]
    if bad:
        raise ValueError(f"word list entries without {parts} forms: {bad}")
    return entries


def _nouns(text: str) -> tuple[tuple[str, str], ...]:
    """`singular/plural` entries."""
    return tuple((s, p) for s, p in _split(text, 2))


def _verbs(text: str) -> tuple[tuple[str, str, str, str, str], ...]:
    """`base/third person/past/participle/-ing` entries."""
    return tuple((a, b, c, d, e) for a, b, c, d, e in _split(text, 5))


# singular/plural
NOUNS = _nouns(
    """
    minister/ministers government/governments council/councils committee/committees
    member/members party/parties union/unions worker/workers company/companies
    director/directors board/boards report/reports plan/plans proposal/proposals
    meeting/meetings decision/decisions question/questions answer/answers letter/letters
    paper/papers book/books story/stories house/houses garden/gardens street/streets road/roads
    bridge/bridges river/rivers hill/hills village/villages town/towns city/cities
    country/countries island/islands harbour/harbours ship/ships train/trains car/cars
    engine/engines machine/machines tool/tools drill/drills window/windows door/doors
    table/tables chair/chairs room/rooms office/offices school/schools teacher/teachers
    pupil/pupils student/students doctor/doctors nurse/nurses patient/patients
    hospital/hospitals child/children man/men woman/women family/families friend/friends
    neighbour/neighbours farmer/farmers field/fields crop/crops horse/horses dog/dogs bird/birds
    tree/trees flower/flowers season/seasons summer/summers winter/winters morning/mornings
    evening/evenings week/weeks year/years month/months day/days hour/hours minute/minutes
    price/prices cost/costs wage/wages tax/taxes market/markets shop/shops bank/banks loan/loans
    share/shares profit/profits industry/industries factory/factories product/products
    service/services system/systems method/methods result/results problem/problems idea/ideas
    theory/theories experiment/experiments scientist/scientists record/records picture/pictures
    painter/painters song/songs singer/singers opera/operas play/plays actor/actors
    audience/audiences critic/critics film/films game/games team/teams player/players
    match/matches goal/goals captain/captains race/races runner/runners club/clubs
    church/churches bishop/bishops court/courts judge/judges law/laws bill/bills vote/votes
    election/elections speech/speeches army/armies officer/officers soldier/soldiers war/wars
    treaty/treaties nation/nations state/states leader/leaders president/presidents king/kings
    queen/queens prince/princes lord/lords peer/peers correspondent/correspondents
    reader/readers writer/writers editor/editors newspaper/newspapers column/columns page/pages
    chapter/chapters word/words line/lines voice/voices face/faces hand/hands eye/eyes
    heart/hearts mind/minds journey/journeys holiday/holidays visitor/visitors guest/guests
    hotel/hotels kitchen/kitchens meal/meals bottle/bottles glass/glasses cup/cups box/boxes
    parcel/parcels station/stations platform/platforms ticket/tickets passenger/passengers
    pilot/pilots aircraft/aircraft airport/airports storm/storms wind/winds cloud/clouds
    coast/coasts valley/valleys mountain/mountains lake/lakes forest/forests library/libraries
    museum/museums collection/collections policy/policies scheme/schemes budget/budgets
    figure/figures number/numbers change/changes reform/reforms attempt/attempts
    success/successes failure/failures danger/dangers chance/chances reason/reasons view/views
    opinion/opinions agreement/agreements dispute/disputes strike/strikes protest/protests
    crowd/crowds police/police witness/witnesses crime/crimes prison/prisons engineer/engineers
    architect/architects building/buildings tower/towers wall/walls roof/roofs floor/floors
    café/cafés façade/façades rôle/rôles début/débuts fiancée/fiancées élite/élites
    régime/régimes
    """
)

ADJECTIVES = _words(
    """
    new old young large small great little long short high low early late public private local
    national foreign political social economic financial military legal medical royal modern
    ancient famous popular important serious simple difficult easy hard soft quiet loud bright
    dark cold warm hot wet dry heavy light strong weak rich poor cheap expensive free busy empty
    full clear strange curious familiar certain likely possible final whole main chief special
    general common rare fine good bad better worse best happy sad angry calm gentle bitter sweet
    green red blue white black grey golden silver wooden narrow wide deep shallow efficient
    ingenious reliable unusual remarkable excellent obvious sudden gradual careful brave honest
    proud left-wing right-wing well-known long-term part-time after-sales naïve blasé outré
    """
)

ADVERBS = _words(
    """
    quickly slowly quietly carefully suddenly finally clearly certainly probably perhaps already
    still often rarely never always again soon later today tomorrow yesterday abroad together
    almost nearly hardly simply largely mainly provisionally unambiguously precisely continually
    gradually openly firmly gladly reluctantly
    """
)

# base/third person/past/participle/-ing
VERBS = _verbs(
    """
    make/makes/made/made/making take/takes/took/taken/taking give/gives/gave/given/giving
    find/finds/found/found/finding see/sees/saw/seen/seeing know/knows/knew/known/knowing
    bring/brings/brought/brought/bringing build/builds/built/built/building
    buy/buys/bought/bought/buying sell/sells/sold/sold/selling send/sends/sent/sent/sending
    write/writes/wrote/written/writing read/reads/read/read/reading hold/holds/held/held/holding
    keep/keeps/kept/kept/keeping leave/leaves/left/left/leaving lose/loses/lost/lost/losing
    win/wins/won/won/winning meet/meets/met/met/meeting pay/pays/paid/paid/paying
    raise/raises/raised/raised/raising open/opens/opened/opened/opening
    close/closes/closed/closed/closing visit/visits/visited/visited/visiting
    support/supports/supported/supported/supporting oppose/opposes/opposed/opposed/opposing
    reject/rejects/rejected/rejected/rejecting accept/accepts/accepted/accepted/accepting
    approve/approves/approved/approved/approving
    discuss/discusses/discussed/discussed/discussing
    consider/considers/considered/considered/considering
    examine/examines/examined/examined/examining
    describe/describes/described/described/describing
    announce/announces/announced/announced/announcing
    publish/publishes/published/published/publishing
    produce/produces/produced/produced/producing offer/offers/offered/offered/offering
    order/orders/ordered/ordered/ordering change/changes/changed/changed/changing
    improve/improves/improved/improved/improving reduce/reduces/reduced/reduced/reducing
    increase/increases/increased/increased/increasing follow/follows/followed/followed/following
    watch/watches/watched/watched/watching answer/answers/answered/answered/answering
    question/questions/questioned/questioned/questioning carry/carries/carried/carried/carrying
    study/studies/studied/studied/studying defend/defends/defended/defended/defending
    attack/attacks/attacked/attacked/attacking nominate/nominates/nominated/nominated/nominating
    abolish/abolishes/abolished/abolished/abolishing admire/admires/admired/admired/admiring
    admit/admits/admitted/admitted/admitting prefer/prefers/preferred/preferred/preferring
    arrange/arranges/arranged/arranged/arranging repair/repairs/repaired/repaired/repairing
    paint/paints/painted/painted/painting return/returns/returned/returned/returning
    welcome/welcomes/welcomed/welcomed/welcoming
    """
)

INTRANSITIVE = _verbs(
    """
    arrive/arrives/arrived/arrived/arriving wait/waits/waited/waited/waiting
    agree/agrees/agreed/agreed/agreeing resign/resigns/resigned/resigned/resigning
    fall/falls/fell/fallen/falling rise/rises/rose/risen/rising go/goes/went/gone/going
    come/comes/came/come/coming stay/stays/stayed/stayed/staying
    sleep/sleeps/slept/slept/sleeping smile/smiles/smiled/smiled/smiling
    hesitate/hesitates/hesitated/hesitated/hesitating
    succeed/succeeds/succeeded/succeeded/succeeding fail/fails/failed/failed/failing
    improve/improves/improved/improved/improving
    collapse/collapses/collapsed/collapsed/collapsing
    """
)

SAYING = _words(
    """
    said added replied explained declared insisted argued admitted suggested remarked warned
    announced
    """
)

FIRST_NAMES = _words(
    """
    John Michael Trevor Will Martin Hans Mary Elizabeth Margaret George Henry Arthur Charles
    Edward Alice Helen Peter David Richard Thomas James Anne Susan Robert William Harold Frank
    Joan Ruth Albert Walter Ernest Dorothy Hugh Kenneth Nigel José René Zoë Søren Björn
    Françoise Ramón Renée Jürgen
    """
)

SURNAMES = _words(
    """
    Foot Gaitskell Williams Griffiths Cooper Henze Conroy Smith Jones Brown Taylor Wilson Evans
    Thomas Johnson Roberts Walker Wright Robinson Thompson White Hughes Edwards Green Hall Wood
    Harris Martin Jackson Clarke Turner Hill Scott Ward Morris Baker Kennedy Macmillan Nkrumah
    Azam Fletcher Bradshaw Pemberton Ashworth Whitfield Müller Gómez Lefèvre Håkansson Núñez
    Dupré
    """
)

TITLES = ("Mr.", "Mrs.", "Dr.", "Sir", "Lord", "Miss", "Professor", "Mr")

PLACES = _phrases(
    """
    London | Manchester | Glasgow | Edinburgh | Leeds | Bristol | Oxford | Cambridge |
    Glyndebourne | Berne | Geneva | Paris | Rome | Berlin | Vienna | Brussels | Dublin | Cardiff
    | Liverpool | York | Bath | Dover | Africa | America | Europe | India | Canada | Australia |
    Scotland | Wales | Ireland | France | Germany | Italy | Spain | Norway | Sweden | Zürich |
    Genève | Málaga | Montréal | Köln | Göteborg | São Paulo | Curaçao | Orléans
    """
)

ORGANISATIONS = _phrases(
    """
    Labour | the Tories | the Liberals | the Commonwealth | the Government | the Home Office |
    the Treasury | the Foreign Office | the United Nations | the House of Lords | the House of
    Commons | the Board of Trade | the BBC | the Royal Society | the Arts Council | the Football
    League
    """
)

MONTHS = _words(
    """
    January February March April May June July August September October November December
    """
)

WEEKDAYS = _words(
    """
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    """
)

PREPOSITIONS = _words(
    """
    in at near from to towards across behind beyond under over with without after before during
    since through along around
    """
)

CONJUNCTIONS = _words(
    """
    and but while although because so yet
    """
)

OPENERS = _phrases(
    """
    However | Meanwhile | In fact | After all | Of course | Nevertheless | Indeed | At first |
    In the end | Even so | As a result | For the moment | On the whole
    """
)

UNITS = _phrases(
    """
    per cent | miles | pounds | feet | yards | tons | acres | gallons | shillings | votes |
    copies | men | houses | minutes
    """
)

PRONOUNS: tuple[tuple[str, bool], ...] = (
    ("he", True),
    ("she", True),
    ("it", True),
    ("they", False),
    ("we", False),
    ("I", False),
)

DETERMINERS_SINGULAR = _words("the the the a this that every one")
DETERMINERS_PLURAL = _words("the the these those some many few two")


def _an(word: str) -> str:
    """'a' or 'an' before a word, by its first letter (good enough for this vocabulary)."""
    return "an" if word[:1].lower() in "aeiouéè" and not word.startswith(("uni", "use")) else "a"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


class SentenceComposer:
    """English sentences and paragraphs from a seed.

    `sentence()` gives one sentence with its final punctuation; `paragraph(n)` joins n of them;
    `lines(n, width)` gives n lines of about `width` characters, cut from running prose the way
    a form is copied out (the last line may stop mid-sentence).
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._forms: tuple[Callable[[], str], ...] = (
            self._statement,
            self._statement,
            self._statement,
            self._statement_with_clause,
            self._statement_with_clause,
            self._opener_statement,
            self._quotation,
            self._quotation_after,
            self._numbers,
            self._dated,
            self._question,
            self._exclamation,
            self._byline,
            self._list_sentence,
            self._passive,
        )

    # -- public API ---------------------------------------------------------------------------

    def sentence(self) -> str:
        """One sentence, capitalised, ending in . ? or ! (or a closing quote after them)."""
        return self._rng.choice(self._forms)()

    def paragraph(self, n_sentences: int) -> str:
        """`n_sentences` sentences separated by single spaces."""
        if n_sentences < 0:
            raise ValueError("n_sentences must not be negative")
        return " ".join(self.sentence() for _ in range(n_sentences))

    def lines(self, n_lines: int, width: int = 36) -> list[str]:
        """`n_lines` lines of running prose, each about `width` characters (give or take a
        sixth), cut from one passage: no line is short because a paragraph ended on it."""
        if n_lines < 0 or width < 8:
            raise ValueError("n_lines must not be negative and width must be at least 8")
        sentences: list[str] = []
        length = 0
        while length <= (n_lines + 1) * (width + width // 6 + 1):
            sentences.append(self.sentence())
            length += len(sentences[-1]) + 1
        return wrap(" ".join(sentences), width, random.Random(self._rng.getrandbits(64)))[:n_lines]

    # -- phrases ------------------------------------------------------------------------------

    def _pick(self, options: Sequence[str]) -> str:
        return self._rng.choice(options)

    def _person(self) -> str:
        roll = self._rng.random()
        if roll < 0.35:
            return f"{self._pick(TITLES)} {self._pick(SURNAMES)}"
        if roll < 0.7:
            return f"{self._pick(FIRST_NAMES)} {self._pick(SURNAMES)}"
        if roll < 0.8:
            return f"{self._pick(TITLES)} {self._pick(FIRST_NAMES)} {self._pick(SURNAMES)}"
        return self._pick(SURNAMES)

    def _noun_phrase(self, plural: bool | None = None) -> tuple[str, bool]:
        """A noun phrase and whether it is plural (for verb agreement)."""
        rng = self._rng
        if plural is None:
            plural = rng.random() < 0.35
        singular, plural_form = rng.choice(NOUNS)
        noun = plural_form if plural else singular
        adjectives = rng.sample(ADJECTIVES, rng.choice((0, 0, 1, 1, 1, 2)))
        words = [*adjectives, noun]
        if rng.random() < 0.1:
            owner = self._pick(SURNAMES)
            return f"{owner}'s {' '.join(words)}", plural
        det = self._pick(DETERMINERS_PLURAL if plural else DETERMINERS_SINGULAR)
        if det == "a":
            det = _an(words[0])
        phrase = f"{det} {' '.join(words)}"
        if rng.random() < 0.15:
            phrase += f" of {self._pick(PLACES)}"
        return phrase, plural

    def _subject(self) -> tuple[str, bool]:
        roll = self._rng.random()
        if roll < 0.25:
            return self._person(), False
        if roll < 0.35:
            name = self._pick(ORGANISATIONS)
            return name, False
        if roll < 0.45:
            pronoun, singular = self._rng.choice(PRONOUNS)
            return pronoun, not singular
        return self._noun_phrase()

    def _object(self) -> str:
        roll = self._rng.random()
        if roll < 0.15:
            return self._person()
        if roll < 0.22:
            return self._pick(PLACES)
        return self._noun_phrase()[0]

    def _place_phrase(self) -> str:
        prep = self._pick(PREPOSITIONS)
        target = self._pick(PLACES) if self._rng.random() < 0.4 else self._noun_phrase()[0]
        return f"{prep} {target}"

    def _predicate(self, plural: bool, subject: str) -> str:
        """A verb phrase agreeing with the subject, in one of several tenses."""
        rng = self._rng
        transitive = rng.random() < 0.75
        base, third, past, participle, ing = rng.choice(VERBS if transitive else INTRANSITIVE)
        first_person = subject in ("I", "we")
        tense = rng.random()
        if tense < 0.45:
            verb = past
        elif tense < 0.6:
            verb = base if plural or first_person else third
        elif tense < 0.72:
            aux = "have" if plural or first_person else "has"
            verb = f"{aux} {participle}"
        elif tense < 0.82:
            verb = f"{self._pick(('will', 'would', 'may', 'must', 'could', 'should'))} {base}"
        elif tense < 0.9:
            aux = "were" if plural and subject != "I" else "was"
            verb = f"{aux} {ing}"
        else:
            verb = f"is to be {participle}" if not plural else f"are to be {participle}"
            transitive = False
        parts = [verb]
        if rng.random() < 0.15:
            parts.insert(0, self._pick(ADVERBS))
        if transitive:
            parts.append(self._object())
        if rng.random() < 0.45:
            parts.append(self._place_phrase())
        if rng.random() < 0.12:
            parts.append(self._pick(ADVERBS))
        return " ".join(parts)

    def _clause(self) -> str:
        subject, plural = self._subject()
        return f"{subject} {self._predicate(plural, subject)}"

    # -- sentence forms -----------------------------------------------------------------------

    def _statement(self) -> str:
        return _capitalise(self._clause()) + "."

    def _statement_with_clause(self) -> str:
        if self._rng.random() < 0.15:
            return _capitalise(f"{self._clause()}; {self._clause()}.")
        joiner = self._pick(CONJUNCTIONS)
        comma = "," if joiner in ("but", "while", "although", "yet", "so") else ""
        return _capitalise(f"{self._clause()}{comma} {joiner} {self._clause()}.")

    def _opener_statement(self) -> str:
        return f"{self._pick(OPENERS)}, {self._clause()}."

    def _quotation(self) -> str:
        inner = _capitalise(self._clause())
        end = self._pick((",", ",", "?", "!"))
        return f'"{inner}{end}" {self._pick(SAYING)} {self._person()}.'

    def _quotation_after(self) -> str:
        inner = _capitalise(self._clause())
        colon = self._pick((":", ","))
        return f'{self._person()} {self._pick(SAYING)}{colon} "{inner}."'

    def _number(self) -> str:
        rng = self._rng
        roll = rng.random()
        if roll < 0.4:
            return str(rng.randint(2, 99))
        if roll < 0.6:
            return f"{rng.randint(1, 99)}.{rng.randint(0, 9)}"
        if roll < 0.8:
            return f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}"
        return str(rng.randint(100, 999))

    def _numbers(self) -> str:
        rng = self._rng
        subject = self._noun_phrase()[0]
        verb = self._pick(("rose", "fell", "came", "amounted", "grew", "dropped"))
        unit = self._pick(UNITS)
        tail = f"from {self._number()} to {self._number()} {unit}"
        if rng.random() < 0.4:
            tail = f"by {self._number()} {unit}"
        year = f" in {rng.randint(1900, 1965)}" if rng.random() < 0.5 else ""
        return _capitalise(f"{subject} {verb} {tail}{year}.")

    def _dated(self) -> str:
        rng = self._rng
        when = self._pick(
            (
                f"On {self._pick(WEEKDAYS)}",
                f"On {rng.randint(1, 28)} {self._pick(MONTHS)}",
                f"In {self._pick(MONTHS)} {rng.randint(1900, 1965)}",
                f"By {rng.randint(1, 12)} o'clock",
                "Last week",
                "Next year",
            )
        )
        return f"{when} {self._clause()}."

    def _question(self) -> str:
        rng = self._rng
        subject, plural = self._subject()
        base = rng.choice(VERBS)[0]
        aux = (
            self._pick(("do", "did", "will", "can", "should"))
            if plural
            else self._pick(("does", "did", "will", "can", "should"))
        )
        wh = self._pick(("Why", "When", "How", "Where", ""))
        lead = f"{wh} {aux}" if wh else _capitalise(aux)
        return f"{lead} {subject} {base} {self._object()}?"

    def _exclamation(self) -> str:
        return _capitalise(self._pick(("what", "how"))) + (
            f" a {self._pick(ADJECTIVES)} {self._rng.choice(NOUNS)[0]} it was!"
            if self._rng.random() < 0.5
            else f" {self._pick(ADJECTIVES)} the {self._rng.choice(NOUNS)[0]} looked!"
        )

    def _byline(self) -> str:
        first = f"By {self._person()}."
        if self._rng.random() < 0.5:
            return f"{first} {_capitalise(self._clause())}."
        return (
            f"From our {self._rng.choice(NOUNS)[0]} correspondent. {_capitalise(self._clause())}."
        )

    def _list_sentence(self) -> str:
        items = [self._noun_phrase()[0] for _ in range(self._rng.randint(2, 4))]
        listed = ", ".join(items[:-1]) + f" and {items[-1]}"
        subject = self._subject()[0]
        verb = self._pick(("saw", "found", "bought", "described", "mentioned", "wanted"))
        if self._rng.random() < 0.3:
            return _capitalise(f"{subject} {verb} ({listed}).")
        return _capitalise(f"{subject} {verb} {listed}.")

    def _passive(self) -> str:
        subject, plural = self._noun_phrase()
        participle = self._rng.choice(VERBS)[3]
        aux = (
            self._pick(("were", "have been", "will be"))
            if plural
            else self._pick(("was", "has been", "will be"))
        )
        agent = f" by {self._person()}" if self._rng.random() < 0.5 else ""
        dash = f" - {self._place_phrase()}" if self._rng.random() < 0.2 else ""
        return _capitalise(f"{subject} {aux} {participle}{agent}{dash}.")


def wrap(text: str, width: int, rng: random.Random) -> list[str]:
    """Greedy word wrap to lines of about `width` characters, each line's target varied by
    up to a sixth either way, as a hand-copied line ends where the writer runs out of board."""
    lines: list[str] = []
    current: list[str] = []
    length = 0
    spread = max(1, width // 6)
    target = width + rng.randint(-spread, spread)
    for word in text.split():
        extra = len(word) + (1 if current else 0)
        if current and length + extra > target:
            lines.append(" ".join(current))
            current, length = [], 0
            target = width + rng.randint(-spread, spread)
            extra = len(word)
        current.append(word)
        length += extra
    if current:
        lines.append(" ".join(current))
    return lines
