"""The words of a memory or a question, as the full-text index sees them.

Vietnamese is written in syllables separated by spaces and most of its words have two or
more of them ("cà phê", "máy tính xách tay"); people often type it without accents. So a
text gives these terms:

- every syllable or word folded (lower case, accents and ``đ`` removed: "ca", "phe"),
  English words lightly stemmed ("drinks" -> "drink"), stop words left out;
- every accented syllable as written too ("=phê"), so accented text matches accented
  text better than unaccented text matches it (``ba`` / ``bà`` / ``bá`` stay apart there);
- every pair of neighbouring syllables, folded ("ca_phe"), unless both are stop words:
  the Vietnamese words themselves, and English phrases.

A question also loses the frames that only ask: "vì sao", "khi nào", "bao lâu" … (in a
memory "vì", "khi" or "lâu" mean something, so they stay there). The "không" that closes
a yes/no question stays: "Tôi có nhậu không?" is often answered by "Tôi không uống
rượu bia".
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

WORD = re.compile(r"\w+", re.UNICODE)
EXACT = "="
PAIR = "_"

# Question words, pronouns and particles: they say nothing about which memory is meant.
# Negation and possession ("không", "có", "được", "not") stay: they do.
_STOP_VI = """tôi mình tớ tao ta là gì nào của và thì mà ở những các một ai đâu bao nhiêu
    mấy sao thế vậy ạ nhỉ nhé hả à ấy đó này kia chưa đã đang sẽ hay thường rồi"""
_STOP_EN = """a an the i me my mine myself is am are was were be been being do does did
    what which who whom whose when where why how to of in on at for with and or it its
    this that these those there have has had any ever should can could would will shall
    may might must so as by from about into than then im"""
# Question frames (folded): why, when, how long, how, is it … ("sao", "nào", "thế" alone
# are stop words already; these frames also take "vì", "khi", "lâu", "như" …).
_FRAMES = "vi sao|tai sao|khi nao|luc nao|bao gio|bao lau|nhu the nao|ra sao|lam sao|co phai"
QUESTION_FRAMES = tuple(tuple(frame.split()) for frame in _FRAMES.split("|"))
# Syllables that only Vietnamese uses among common words: they mark an unaccented
# Vietnamese question as Vietnamese.
_VI_MARKERS = """toi minh gi nao cua khong duoc nhung cac mot dau nhieu thi voi nhe nhi
    chua hay thuong roi dang lam"""

# A Vietnamese syllable without accents: an onset, a cluster of the language's vowels,
# a final consonant ("nghieng", "thuong", "gio"); "what", "job" or "sister" are none.
_SYLLABLE = re.compile(
    "^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    "(?:uya|uye|uyu|oai|oay|oeo|uoi|uou|uay|ieu|yeu|ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo"
    "|ua|ue|ui|uo|uu|uy|ye|a|e|i|o|u|y)(?:ng|nh|ch|[cmnpt])?$"
)
# English function words that mark a text as English, but not those that are Vietnamese
# syllables typed without accents too ("an" ăn, "me" mẹ, "the" thể, "may" máy …).
_EN_MORE = """he she we you they his her him our your their us them not no yes if but all
    some each every one get got go going like love want need much many"""
_HOMOGRAPHS = "an to me do so the can may them am be ban con bo"
EN_FUNCTION = frozenset((_STOP_EN + " " + _EN_MORE).split()) - frozenset(_HOMOGRAPHS.split())

_VI_LETTERS = re.compile("[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]")


@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """``word`` without accents (and ``đ`` as ``d``)."""
    word = word.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# Stop words as written; a word typed without accents is also one if it folds to a
# Vietnamese stop word ("toi"), but "má" (mother) is not "mà" (but), nor "mẹ" "me".
STOP = frozenset((_STOP_VI + " " + _STOP_EN).split())
STOP_FOLDED = frozenset(fold(w) for w in _STOP_VI.split())
VI_MARKERS = frozenset(_VI_MARKERS.split())


def tokens(text: str) -> list[str]:
    """The words of ``text`` in lower case (composed Unicode, accents kept)."""
    return WORD.findall(unicodedata.normalize("NFC", text.lower()))


@functools.lru_cache(maxsize=1 << 16)
def is_stop(word: str, folded: str) -> bool:
    return word in STOP or (word == folded and folded in STOP_FOLDED)


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English stemmer (Vietnamese syllables never end so): plural and -ing/-ed."""
    if len(word) > 4 and word.isascii():
        for suffix, instead in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: len(word) - len(suffix)] + instead
    return word


def terms(text: str, *, question: bool = False) -> list[str]:
    """The index terms of ``text`` (repeated as often as they occur); ``question``: also
    without the words that only ask."""
    words = tokens(text)
    folded = [fold(w) for w in words]
    stop = [is_stop(w, f) for w, f in zip(words, folded, strict=True)]
    if question:
        mark_asking(folded, stop)
    out: list[str] = []
    for word, plain, skip in zip(words, folded, stop, strict=True):
        if skip:
            continue
        out.append(stem(plain))
        if word != plain:
            out.append(EXACT + word)
    for (first, second), (skip_first, skip_second) in zip(
        itertools.pairwise(folded), itertools.pairwise(stop), strict=True
    ):
        if not (skip_first and skip_second):
            out.append(first + PAIR + second)
    return out


def mark_asking(folded: list[str], stop: list[bool]) -> None:
    """Marks the question frames of a question's ``folded`` words as stop words."""
    for start in range(len(folded)):
        for frame in QUESTION_FRAMES:
            if tuple(folded[start : start + len(frame)]) == frame:
                stop[start : start + len(frame)] = [True] * len(frame)


def phrase_terms(words: tuple[str, ...]) -> list[str]:
    """The terms that stand for a word of the lexicon: a syllable, or its pairs."""
    folded = [fold(w) for w in words]
    if len(folded) == 1:
        return [stem(folded[0])]
    return [a + PAIR + b for a, b in itertools.pairwise(folded)]


def vietnamese_share(text: str) -> float:
    """How Vietnamese ``text`` looks, 0 to 1: its Vietnamese words (accented, or common
    Vietnamese syllables) over those and its English words (English function words, and
    words that cannot be a Vietnamese syllable). Other words (numbers, "gio", "day") say
    nothing: "may gio toi thuc day" is Vietnamese typed without accents."""
    vietnamese = english = 0
    for word in tokens(text):
        found = evidence(word)
        vietnamese += found > 0
        english += found < 0
    return vietnamese / (vietnamese + english) if vietnamese + english else 0.0


@functools.lru_cache(maxsize=1 << 16)
def evidence(word: str) -> int:
    """1: ``word`` is Vietnamese; -1: it is English (or another language); 0: either."""
    if _VI_LETTERS.search(word) or word in VI_MARKERS:
        return 1
    if word in EN_FUNCTION or not (word.isdigit() or _SYLLABLE.match(word)):
        return -1
    return 0
