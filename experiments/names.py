"""Readable random run names (`adjective-noun-123`), as MLflow gives runs started without one."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fair",
    "gentle", "glad", "grand", "happy", "honest", "jolly", "keen", "kind", "lively", "lucky",
    "merry", "mighty", "neat", "nimble", "noble", "polite", "proud", "quick", "quiet", "rare",
    "rich", "shy", "silent", "sleek", "smart", "spry", "steady", "sunny", "swift", "tidy",
    "warm", "wise", "witty",
)  # fmt: skip
_NOUNS = (
    "ant", "ape", "bass", "bat", "bear", "bee", "bird", "boar", "carp", "cat", "colt", "crab",
    "crow", "deer", "dog", "dove", "duck", "eel", "elk", "finch", "fish", "fox", "frog", "gnat",
    "goat", "hare", "hawk", "hen", "jay", "koi", "lamb", "lark", "lion", "lynx", "mole", "moth",
    "mule", "newt", "owl", "ox", "panda", "pig", "ram", "rat", "robin", "seal", "shark", "sheep",
    "slug", "snail", "swan", "toad", "trout", "wasp", "wolf",
)  # fmt: skip


def random_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"
