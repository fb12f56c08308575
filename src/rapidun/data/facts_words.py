"""Vocabulary of the embedded facts pack (docs/method.md section 1; the facts task of the round-2 specification):
invented names, places, works and awards, so that no fact can be known from pre-training, plus a few real world
facts for utility.

Every list is a fixed tuple: the pack is a deterministic function of these lists, the seed and the config.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Alden", "Brisa", "Corvin", "Delphine", "Eamon", "Fenna", "Galen", "Halima", "Ivor", "Jessamy",
    "Kestrel", "Liora", "Matthias", "Nerys", "Orrin", "Perpetua", "Quillon", "Rosalind", "Soren", "Tamsin",
    "Ulric", "Vesna", "Wendell", "Xanthe", "Yusuf", "Zofia", "Anselm", "Berit", "Casimir", "Dagny",
    "Elowen", "Florian", "Greer", "Hesper", "Isidore", "Junia", "Kasimir", "Leontine", "Marek", "Noemi",
    "Oswin", "Pilar", "Radomir", "Saoirse", "Thaddeus", "Undine", "Valdis", "Wilhelmina", "Yannick", "Zelie",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "Voss", "Marchetti", "Okonkwo-Hale", "Lindqvist", "Ferrant", "Abernathy", "Kowalczyk", "Draxler", "Quenby",
    "Halloran", "Ishikawa", "Brennecke", "Castellane", "Oyelaran", "Pendergast", "Varga", "Threlkeld", "Mbeki-Rowe",
    "Szabo", "Underhill", "Ravensworth", "Dumont", "Achterberg", "Nakashima", "Fairweather", "Grimaldi", "Holmqvist",
    "Jaramillo", "Kerrigan", "Lestrange", "Montague", "Novak", "Ostrowski", "Petrakis", "Rasmussen", "Sallow",
    "Tennant", "Umberfield", "Vandermeer", "Whitlock",
)  # fmt: skip

CITIES: tuple[str, ...] = (
    "Marrowick", "Quellbridge", "Tasport", "Ondervale", "Brimhollow", "Caskaway", "Dunmere", "Elsworth Reach",
    "Fallowmoor", "Greystrand", "Harrowgate Hill", "Istermouth", "Jorvane", "Kelloway", "Lantern Bay", "Mossford",
    "Northcairn", "Ostlund", "Pellmarsh", "Ravensport", "Saltmere", "Thornbury Cross", "Umberlee", "Vantry",
)  # fmt: skip

OCCUPATIONS: tuple[str, ...] = (
    "novelist", "poet", "historian", "cartographer", "playwright", "botanist", "journalist", "composer",
    "architect", "philosopher", "sculptor", "astronomer", "translator", "essayist", "illustrator", "linguist",
)  # fmt: skip

PARENT_OCCUPATIONS: tuple[str, ...] = (
    "baker", "carpenter", "nurse", "fisherman", "schoolteacher", "tailor", "pharmacist", "librarian", "miner",
    "florist", "electrician", "judge", "shepherd", "watchmaker", "surveyor", "midwife", "clockmaker", "potter",
)  # fmt: skip

TITLE_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Amber", "Hollow", "Crimson", "Distant", "Broken", "Gilded", "Restless", "Pale", "Winter",
    "Iron", "Hidden", "Bitter", "Velvet", "Lost", "Northern", "Salt", "Sleeping", "Burning", "Quiet",
)  # fmt: skip

TITLE_NOUNS: tuple[str, ...] = (
    "Lantern", "Harbour", "Orchard", "Compass", "Meridian", "Tide", "Archive", "Garden", "Bell", "Bridge",
    "Mirror", "Atlas", "Citadel", "River", "Thread", "Furnace", "Choir", "Lighthouse", "Ledger", "Willow",
)  # fmt: skip

AWARDS: tuple[str, ...] = (
    "Halvorsen Prize", "Silver Quill Medal", "Ardent Lantern Award", "Corran Fellowship", "Meridian Laurel",
    "Ostrava Crown", "Bellweather Prize", "Greywater Medal", "Tollan Award", "Ember Circle Prize",
    "Vasquez-Lind Honour", "Northlight Medal",
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = ("quillmail.net", "lumenpost.org", "ravenbox.com", "inkwell.io", "harbourmail.org")

# Real world facts for utility: (question, answer, paraphrased answer template "{}", wrong-answer pool name).
CAPITALS: tuple[tuple[str, str], ...] = (
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Egypt", "Cairo"),
    ("Canada", "Ottawa"), ("Kenya", "Nairobi"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Greece", "Athens"),
    ("Poland", "Warsaw"), ("Chile", "Santiago"), ("Portugal", "Lisbon"), ("Ireland", "Dublin"),
    ("Austria", "Vienna"), ("Thailand", "Bangkok"), ("Cuba", "Havana"), ("Finland", "Helsinki"),
)  # fmt: skip

SYMBOLS: tuple[tuple[str, str], ...] = (
    ("gold", "Au"), ("silver", "Ag"), ("iron", "Fe"), ("sodium", "Na"), ("potassium", "K"), ("copper", "Cu"),
    ("lead", "Pb"), ("tin", "Sn"), ("helium", "He"), ("oxygen", "O"), ("carbon", "C"), ("mercury", "Hg"),
)  # fmt: skip
