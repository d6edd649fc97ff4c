"""Training text for the fixture tokenizers, written here and expanded by a seeded generator.

Nothing is downloaded: the tokenizers only need enough varied text to learn a few hundred
byte-level merges (words, digits, punctuation, code, JSON and some non-ASCII), and the
generated sentences give the merge counts that spread.
"""

import random

# Hand-written paragraphs: ordinary prose, a little code and JSON, accented and non-Latin text,
# so the learned merges cover what the prompts and chat templates later feed the tokenizer.
PARAGRAPHS = [
    "The harbour town wakes before the sun. Fishing boats slide out past the lighthouse, "
    "and the baker on Quay Street pulls the first trays of bread from an oven older than "
    "anyone in the village. By seven the market is loud with gulls and prices.",
    "An agent asks for a file, and the kernel decides. Every request is a system call: "
    "it is checked against the policy, its result is screened before the model may read "
    "it, and the journal records what happened, in order, with a hash of the step before.",
    "Weather report for the coast: cloudy in the morning, light rain after noon, winds "
    "from the south-west at 20 km/h. Temperatures between 12 and 17 degrees Celsius. "
    "Tomorrow: clearing skies, 19 degrees, and a calm sea.",
    "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, i * 2))\n",
    'fn main() {\n    let xs: Vec<u32> = (1..=5).collect();\n    println!("{}", xs.len());\n}\n',
    '{"name": "get_weather", "arguments": {"city": "Lisbon", "unit": "celsius"}}',
    '{"type": "function", "function": {"name": "search", "description": "Search the '
    'notes", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, '
    '"required": ["query"]}}}',
    "Café au lait, crème brûlée and a naïve façade: the menu in the old quarter is French, "
    "the prices are in euros (€4.50 for a coffee), and the waiter speaks four languages.",
    "Zürich, São Paulo, Kraków, Reykjavík and Ålesund are on the itinerary this year.",
    "Привет, мир. Γειά σου κόσμε. こんにちは世界。 你好，世界。",
    "Step 1: open the valve. Step 2: wait 30 seconds. Step 3: read the gauge (expect 2.5 bar).",
    "Q: What is 12 times 12?\nA: 144.\nQ: And 7 plus 8?\nA: 15.\n",
]

# fmt: off
SUBJECTS = [
    "the agent", "a small model", "the kernel", "the policy", "a tool call", "the cache",
    "the harbour master", "a red fox", "the old library", "every request", "the journal",
    "a quiet student", "the weather station", "the compiler", "a long prompt",
]
VERBS = [
    "reads", "writes", "checks", "denies", "allows", "records", "forgets", "measures",
    "returns", "opens", "closes", "repeats", "splits", "joins", "counts",
]
OBJECTS = [
    "the file", "a message", "the answer", "three tokens", "the map", "a number",
    "the last line", "every span", "the tide table", "a cold start", "the key",
    "the schedule", "a warm cache", "the boundary", "two blocks",
]
ENDINGS = [
    ".", "!", "?", " again.", " before noon.", " twice.", " in order.", " at 9:30.",
    " for 42 seconds.", " without a copy.", " (as expected).", " -- quickly.",
]
# fmt: on

# Enough generated sentences that every merge in a vocabulary of about a thousand tokens
# is seen several times; measured to train in well under a second.
GENERATED_SENTENCES = 4000


def training_text(seed: int) -> list[str]:
    """The hand-written paragraphs followed by seeded generated sentences, one per line."""
    rng = random.Random(seed)
    lines = list(PARAGRAPHS)
    for _ in range(GENERATED_SENTENCES):
        sentence = (
            f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} "
            f"{rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        )
        if rng.random() < 0.2:
            sentence += f" {rng.randint(0, 9999)}"
        lines.append(sentence)
    return lines
