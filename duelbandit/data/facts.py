"""Small fixed tables behind the bundled text pool: prompt templates, capitals, units, words.

Both the generator (:mod:`duelbandit.data.textpool`) and the judge (:mod:`duelbandit.data.judge`) read
these tables, so a prompt the generator writes is a prompt the judge can solve from its text alone.
Only single-meaning facts are kept (no country whose capital is disputed or multiple).
"""

from __future__ import annotations

# skill -> prompt templates. Fields: a, b, k, p, x (integers), v (number), frm / to (unit names),
# country, day, L (a capital letter), s (a quoted sentence), w (a quoted word).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "addition": ("What is {a} + {b}?", "Add {a} and {b}.", "Compute the sum of {a} and {b}."),
    "subtraction": ("What is {a} - {b}?", "Subtract {b} from {a}.", "How much is {a} minus {b}?"),
    "multiplication": (
        "What is {a} times {b}?",
        "Multiply {a} by {b}.",
        "What is the product of {a} and {b}?",
    ),
    "unit_conversion": ("Convert {v} {frm} to {to}.", "How many {to} are in {v} {frm}?"),
    "percentage": ("What is {p}% of {x}?", "Find {p} percent of {x}.", "Calculate {p}% of {x}."),
    "capital": (
        "What is the capital of {country}?",
        "Name the capital city of {country}.",
        "Which city is the capital of {country}?",
    ),
    "weekday": (
        "What day of the week comes {k} days after {day}?",
        "If today is {day}, what day will it be in {k} days?",
    ),
    "alphabet": (
        "Which letter comes right after {L} in the alphabet?",
        "Which letter comes {k} letters after {L} in the alphabet?",
        "What is the letter {k} places after {L} in the English alphabet?",
    ),
    "word_count": ('How many words are in the sentence "{s}"?', 'Count the words in: "{s}"'),
    "reversal": (
        'Reverse the word "{w}".',
        'Spell "{w}" backwards.',
        'Write the letters of "{w}" in reverse order.',
    ),
}
SKILLS: tuple[str, ...] = tuple(TEMPLATES)
NUMERIC_SKILLS = frozenset(
    {"addition", "subtraction", "multiplication", "unit_conversion", "percentage", "word_count"}
)

# (from, to) -> (factor, names of the target unit a response may use after the number)
UNITS: dict[tuple[str, str], tuple[int, tuple[str, ...]]] = {
    ("kilometers", "meters"): (1000, ("meters", "metres", "m")),
    ("meters", "centimeters"): (100, ("centimeters", "centimetres", "cm")),
    ("kilograms", "grams"): (1000, ("grams", "g")),
    ("hours", "minutes"): (60, ("minutes", "min")),
    ("minutes", "seconds"): (60, ("seconds", "s", "sec")),
    ("liters", "milliliters"): (1000, ("milliliters", "millilitres", "ml")),
    ("days", "hours"): (24, ("hours", "h")),
    ("feet", "inches"): (12, ("inches", "in")),
}

# country -> (capital, a well-known non-capital city: the classic wrong answer)
CAPITALS: dict[str, tuple[str, str]] = {
    "France": ("Paris", "Marseille"),
    "Germany": ("Berlin", "Munich"),
    "Italy": ("Rome", "Milan"),
    "Spain": ("Madrid", "Barcelona"),
    "Portugal": ("Lisbon", "Porto"),
    "Japan": ("Tokyo", "Osaka"),
    "China": ("Beijing", "Shanghai"),
    "India": ("New Delhi", "Mumbai"),
    "Canada": ("Ottawa", "Toronto"),
    "Australia": ("Canberra", "Sydney"),
    "Brazil": ("Brasilia", "Rio de Janeiro"),
    "Argentina": ("Buenos Aires", "Cordoba"),
    "Mexico": ("Mexico City", "Guadalajara"),
    "Egypt": ("Cairo", "Alexandria"),
    "Kenya": ("Nairobi", "Mombasa"),
    "Nigeria": ("Abuja", "Lagos"),
    "Turkey": ("Ankara", "Istanbul"),
    "Russia": ("Moscow", "Saint Petersburg"),
    "Poland": ("Warsaw", "Krakow"),
    "Sweden": ("Stockholm", "Gothenburg"),
    "Norway": ("Oslo", "Bergen"),
    "Finland": ("Helsinki", "Tampere"),
    "Greece": ("Athens", "Thessaloniki"),
    "Ireland": ("Dublin", "Cork"),
    "Austria": ("Vienna", "Salzburg"),
    "Switzerland": ("Bern", "Zurich"),
    "Morocco": ("Rabat", "Casablanca"),
    "Vietnam": ("Hanoi", "Ho Chi Minh City"),
    "Pakistan": ("Islamabad", "Karachi"),
    "New Zealand": ("Wellington", "Auckland"),
    "Peru": ("Lima", "Cusco"),
    "Chile": ("Santiago", "Valparaiso"),
    "Colombia": ("Bogota", "Medellin"),
    "South Korea": ("Seoul", "Busan"),
    "Thailand": ("Bangkok", "Chiang Mai"),
    "Indonesia": ("Jakarta", "Surabaya"),
}

DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# lowercase words without digits; none is a palindrome (a reversed palindrome equals the original)
WORDS: tuple[str, ...] = (
    "planet",
    "garden",
    "window",
    "silver",
    "yellow",
    "basket",
    "rocket",
    "pencil",
    "bridge",
    "candle",
    "forest",
    "orange",
    "guitar",
    "castle",
    "monkey",
    "butter",
    "jacket",
    "ladder",
    "market",
    "pepper",
    "river",
    "stone",
    "cloud",
    "tiger",
    "apple",
    "bread",
    "chair",
    "dream",
    "eagle",
    "flame",
    "grape",
    "horse",
    "island",
    "jungle",
    "kettle",
    "lemon",
    "mirror",
    "needle",
    "ocean",
    "puzzle",
    "quiet",
    "shadow",
    "tunnel",
    "violet",
    "wagon",
    "zebra",
    "anchor",
    "breeze",
    "copper",
    "desert",
)
