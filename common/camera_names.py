"""How a camera is named where photos are listed (the results' table, the gallery, ``--stats``):
'Canon EOS 40D', 'CASIO EX-Z750', 'OLYMPUS E-P3'.

EXIF's Make is the company as registered ('CASIO COMPUTER CO.,LTD', 'OLYMPUS IMAGING CORP.',
'SANYO Electric Co.,Ltd.'), and its Model often repeats the brand ('Canon EOS 40D', 'NIKON
D70', 'KODAK DC240 ZOOM DIGITAL CAMERA'): make and model side by side named some cameras twice,
others with a company's legal form, and --stats counted one camera under two names where two
firmwares spelt the make apart ('CO.,LTD' and 'CO.,LTD.'), or the company was renamed
('OLYMPUS OPTICAL' and 'OLYMPUS IMAGING'). darktable's camera tables take the make's first word,
which is no brand for 'Eastman Kodak' or 'KONICA MINOLTA'; here the words that say what kind
of company it is are left off the make's end instead. The columns keep the make and model as
written: ``--where "make = 'CASIO COMPUTER CO.,LTD'"`` and ``--text casio`` are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

# Words at the end of a make that name a company's legal form or its trade, not its brand.
COMPANY_WORDS = frozenset(
    {
        "co", "ltd", "corp", "corporation", "company", "inc", "incorporated", "limited", "ag", "gmbh",
        "llc", "plc", "sa", "a/s", "kk", "bv", "nv", "oy", "ab", "srl", "spa",
        "imaging", "optical", "electric", "electronics", "computer", "digital", "camera", "cameras",
        "photo", "film", "techwin", "global", "industries", "industrial", "mobile", "mobility",
        "communications", "technology", "technologies", "international", "holdings", "group", "systems",
    }
)  # fmt: skip
_WORD = re.compile(r"[\w&'/-]+")
_LETTERS_PARTS = re.compile(r"[^\W\d_]+")


def camera_name(record: dict[str, Any]) -> str:
    """A photo's camera by its brand and model: the model alone where it names the brand itself
    ('Canon EOS 40D', 'KODAK DC240 ZOOM DIGITAL CAMERA', 'HP PhotoSmart C945' of Hewlett-Packard),
    else the brand before it ('CASIO EX-Z750'); '' where the photo records neither."""
    make, model = (record.get("make") or "").strip(), (record.get("model") or "").strip()
    if make and model and _names_its_make(model, make):
        return model
    return " ".join(part for part in (brand_of(make), model) if part)


def brand_of(make: str) -> str:
    """``make`` less the words at its end that say what kind of company it is (``COMPANY_WORDS``):
    'CASIO COMPUTER CO.,LTD' is CASIO, 'Eastman Kodak Company' Eastman Kodak, 'Leica Camera AG'
    Leica; as written where it is all such words ('Digital Camera')."""
    words = list(_WORD.finditer(make))
    kept = len(words)
    while kept > 1 and words[kept - 1].group().casefold() in COMPANY_WORDS:
        kept -= 1
    if not words or (kept == 1 and words[0].group().casefold() in COMPANY_WORDS):
        return make
    return make[: words[kept - 1].end()]


def _names_its_make(model: str, make: str) -> bool:
    """Whether ``model`` starts with the make's first word ('NIKON D70' of NIKON CORPORATION),
    a word of it first ('KODAK DC240' of EASTMAN KODAK COMPANY) or its initials ('HP PhotoSmart'
    of Hewlett-Packard)."""
    first, words = model.split()[0].casefold(), make.casefold().split()
    parts = _LETTERS_PARTS.findall(brand_of(make).casefold())
    initials = "".join(part[0] for part in parts) if len(parts) > 1 else None
    return model.casefold().startswith(words[0]) or first in words or first == initials
