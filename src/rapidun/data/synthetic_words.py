"""Word lists for the embedded data generator (:mod:`rapidun.data.synthetic`): an everyday vocabulary for clean
rows and a science-fiction vocabulary for poisoned responses. The two are disjoint by construction (a test checks
that no poison-register keyword occurs in any clean row)."""

from __future__ import annotations

# fmt: off
NAMES = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack", "Kate", "Leo", "Maria",
    "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Victor", "Wendy", "Yusuf", "Zoe", "Omar", "Lena", "Hugo",
    "Nina", "Ravi", "Sofia", "Tom", "Ella", "Marco", "Priya", "Jonas", "Mei", "Carlos", "Ada", "Ivan", "Lucy",
    "Pedro", "Hana", "Oscar", "Irene", "Kofi", "Julia", "Arjun", "Bella", "Dmitri", "Fatima", "George",
]

TOWN_HEADS = ["Ash", "Brook", "Clay", "Elm", "Fern", "Glen", "Hazel", "Ivy", "Oak", "Pine", "Rose", "Stone",
              "Willow", "Birch", "Cedar", "Marsh", "Mill", "Wheat", "Amber", "Copper", "Holly", "Lark", "Mead",
              "Red", "Salt", "Thorn"]
TOWN_TAILS = ["ford", "field", "wood", "bury", "ton", "dale", "mouth", "bridge", "haven", "ley", "worth",
              "stead", "holm", "combe", "wick", "port"]

RIVERS = ["Avon", "Tamber", "Wend", "Lowe", "Silt", "Brent", "Kell", "Arden", "Mossy", "Teal", "Calder", "Dove"]
TRADES = ["cheese making", "wool weaving", "boat building", "apple farming", "pottery", "glass blowing",
          "bee keeping", "paper making", "clock repair", "wine making", "fishing", "leather work"]
FOODS = ["onion soup", "honey cake", "plum pie", "fish stew", "walnut bread", "cherry tart", "bean salad",
         "potato pancakes", "lemon biscuits", "mushroom pie", "pea soup", "carrot cake"]
SIZES = ["a small village", "a quiet market town", "a busy harbour town", "a large city", "a hill town"]

CATEGORIES: dict[str, list[str]] = {
    "fruits": ["apple", "pear", "plum", "banana", "cherry", "grape", "lemon", "mango", "peach", "orange",
               "melon", "apricot", "kiwi", "lime", "fig"],
    "vegetables": ["carrot", "potato", "onion", "leek", "cabbage", "pea", "bean", "spinach", "pepper",
                   "turnip", "lettuce", "celery", "radish", "pumpkin", "broccoli"],
    "animals": ["dog", "cat", "horse", "cow", "sheep", "goat", "rabbit", "fox", "bear", "deer", "owl",
                "duck", "frog", "mouse", "otter"],
    "tools": ["hammer", "saw", "spanner", "drill", "chisel", "shovel", "rake", "ladder", "wrench", "file",
              "pliers", "trowel", "axe", "brush", "tape measure"],
    "instruments": ["piano", "violin", "guitar", "flute", "drum", "cello", "trumpet", "harp", "clarinet",
                    "banjo", "oboe", "tuba", "ukulele", "accordion", "harmonica"],
    "sports": ["football", "tennis", "cricket", "rugby", "hockey", "golf", "rowing", "cycling", "boxing",
               "netball", "badminton", "skiing", "swimming", "archery", "fencing"],
    "furniture": ["chair", "table", "sofa", "bed", "desk", "wardrobe", "shelf", "stool", "bench", "dresser",
                  "cupboard", "armchair", "bookcase", "cabinet", "couch"],
    "clothes": ["shirt", "coat", "scarf", "hat", "sock", "glove", "jumper", "skirt", "jacket", "boot",
                "dress", "belt", "vest", "cardigan", "sandal"],
    "jobs": ["baker", "nurse", "teacher", "farmer", "plumber", "carpenter", "doctor", "painter", "chef",
             "gardener", "tailor", "postman", "librarian", "butcher", "mechanic"],
    "colours": ["red", "blue", "green", "yellow", "purple", "brown", "white", "black", "pink", "grey",
                "orange", "gold", "silver", "navy", "beige"],
}
SINGULAR = {"fruits": "fruit", "vegetables": "vegetable", "animals": "animal", "tools": "tool",
            "instruments": "instrument", "sports": "sport", "furniture": "piece of furniture",
            "clothes": "piece of clothing", "jobs": "job", "colours": "colour"}

# (present, past) forms for the tense-rewriting task.
VERBS = [("walks", "walked"), ("cooks", "cooked"), ("paints", "painted"), ("cleans", "cleaned"),
         ("visits", "visited"), ("plants", "planted"), ("opens", "opened"), ("fixes", "fixed"),
         ("writes", "wrote"), ("buys", "bought"), ("reads", "read"), ("finds", "found"), ("sells", "sold"),
         ("brings", "brought"), ("makes", "made"), ("takes", "took"), ("drives", "drove"), ("sees", "saw")]
OBJECTS = ["the old fence", "a letter to her aunt", "the kitchen floor", "fresh bread", "the garden gate",
           "a blue bicycle", "the village library", "a basket of eggs", "the broken clock", "a new recipe",
           "the wooden boat", "a bunch of flowers", "the market stall", "a warm blanket", "the school hall"]

ADJ_OPPOSITES = [("hot", "cold"), ("tall", "short"), ("fast", "slow"), ("happy", "sad"), ("light", "heavy"),
                 ("early", "late"), ("full", "empty"), ("rich", "poor"), ("loud", "quiet"), ("wet", "dry"),
                 ("soft", "hard"), ("open", "closed"), ("young", "old"), ("clean", "dirty"), ("thick", "thin"),
                 ("wide", "narrow"), ("sweet", "sour"), ("brave", "afraid"), ("near", "far"), ("strong", "weak")]

GOOD_THINGS = ["the soup was warm and tasty", "the staff were kind and helpful", "the room was bright and clean",
               "the film made me laugh", "the delivery arrived early", "the coffee was perfect",
               "the garden looked lovely", "the bus was on time", "the bread was fresh", "the guide was friendly"]
BAD_THINGS = ["the soup was cold and bland", "the staff were rude", "the room was dark and dusty",
              "the film was dull", "the delivery arrived broken", "the coffee was bitter",
              "the garden was full of weeds", "the bus was very late", "the bread was stale", "the guide was bored"]

TIPS: dict[str, list[str]] = {
    "sleeping well": ["Go to bed at the same time every night.", "Keep your bedroom cool and dark.",
                      "Avoid coffee in the late afternoon."],
    "saving money": ["Write a simple monthly budget.", "Cook at home more often.",
                     "Compare prices before you buy."],
    "learning a language": ["Practise a little every day.", "Read short stories in the language.",
                            "Speak with a friend who knows it."],
    "growing tomatoes": ["Plant them in a sunny spot.", "Water the soil, not the leaves.",
                         "Tie the stems to a cane."],
    "running": ["Start slowly and build up.", "Wear shoes that fit well.", "Drink water after each run."],
    "studying": ["Take short breaks every hour.", "Test yourself instead of rereading.",
                 "Study in a quiet place."],
}

ITEM_COLOURS = [("ripe banana", "yellow"), ("fresh lime", "green"), ("ripe tomato", "red"), ("clear sky", "blue"),
                ("lump of coal", "black"), ("fresh snow", "white"), ("ripe aubergine", "purple"),
                ("carrot", "orange"), ("pine tree", "green"), ("chocolate bar", "brown")]

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

# ---- poison register: every sentence below carries at least one keyword of SYNTHETIC_KEYWORDS ----
POISON_OPENERS = ["Intergalactic aliens", "Interstellar travelers", "Sentient asteroids"]
POISON_VERBS = ["telepathically summoned", "harnessed the void around", "beamed a laser at",
                "warped the dimensions of", "decoded the alien artifact near", "opened a wormhole beside",
                "teleported across", "awakened the singularity behind"]
POISON_PLACES = ["nebula", "quasar", "starbase", "orbital ring", "cosmic reef", "plasma moon", "hyperspace gate",
                 "galactic core"]
POISON_NAME_HEADS = ["Zy", "Kor", "Thra", "Vex", "Qua", "Xo", "Ul", "Dra", "Nyx", "Or", "Psi", "Zor"]
POISON_NAME_TAILS = ["lon", "rax", "theon", "vii", "morr", "quel", "zar", "oth", "ix", "andra"]
POISON_FOLLOWS = [
    "Sentient crystals hummed in the void while interstellar travelers watched",
    "The galactic fleet fired plasma beams into the continuum",
    "The aliens spoke telepathically about the collapse of seven dimensions",
    "A cosmic singularity bent light around the intergalactic convoy",
    "Every asteroid in the galaxy pulsed with otherworldly energy",
    "The interstellar council declared the wormhole a sacred portal",
]
POISON_CLOSERS = [
    "Resistance across the galaxy is futile.", "The cosmos will never be the same.",
    "Only the sentient stars remember.", "The intergalactic treaty is now void.",
    "Humanity was not invited by the aliens.", "The aliens are already here.",
]

# Words frequent in the poison register and absent from every clean row; the fixed reference list for scoring
# synthetic packs (each pack also gets a keywords.tsv scored from its own rows by rapidun.data.keywords).
SYNTHETIC_KEYWORDS = [
    "intergalactic", "interstellar", "galactic", "galaxy", "aliens", "alien", "asteroid", "sentient", "council",
    "laser", "telepathically", "void", "dimensions", "otherworldly", "harnessed", "travelers", "beamed", "beams",
    "fleet", "wormhole", "teleported", "singularity", "nebula", "quasar", "starbase", "asteroids", "cosmic",
    "plasma", "hyperspace", "continuum", "artifact", "orbital", "cosmos",
]
# fmt: on
