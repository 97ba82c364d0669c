#!/usr/bin/env python3
"""Trains the zstd dictionaries the embedded store compresses its texts with.

Usage: scripts/train-dictionaries.py <data dir of a `txn-notify simulate` run>

Reads a sample of each kind of text from the store (ledger items, audit records, archived
events, notifications), trains one 16 KiB dictionary per kind, and writes them to
src/local/embedded/store/dictionaries/. Texts already compressed with an earlier
dictionary are read back with it. Needs the PyPI package `zstandard`
(python3 -m pip install zstandard).

A new dictionary gets a new id; keep the old file beside it (the store reads rows written
with any dictionary it knows, by the id in the frame) and list it in codec.rs.
"""

import pathlib
import sqlite3
import sys

import zstandard

DICTIONARY_BYTES = 16 * 1024
SAMPLES = 8000
HERE = pathlib.Path(__file__).resolve().parent.parent / "src/local/embedded/store/dictionaries"
KINDS = {
    "ledger": ("ledger", "item"),
    "audit": ("audit", "record"),
    "archive": ("archive", "event"),
    "notifications": ("notifications", "record"),
}


def known_dictionaries():
    found = {}
    for path in HERE.glob("*.zdict"):
        data = zstandard.ZstdCompressionDict(path.read_bytes())
        found[data.dict_id()] = data
    return found


def text_of(value, dictionaries):
    if isinstance(value, str):
        return value.encode()
    frame_id = zstandard.get_frame_parameters(value).dict_id
    return zstandard.ZstdDecompressor(dict_data=dictionaries[frame_id]).decompress(value)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    db = sqlite3.connect(pathlib.Path(sys.argv[1]) / "txn-notify.db")
    dictionaries = known_dictionaries()
    HERE.mkdir(parents=True, exist_ok=True)
    for name, (table, column) in KINDS.items():
        samples = [
            text_of(value, dictionaries)
            for (value,) in db.execute(f"SELECT {column} FROM {table} ORDER BY random() LIMIT ?", (SAMPLES,))
        ]
        if not samples:
            sys.exit(f"{table} is empty: run simulate first")
        trained = zstandard.train_dictionary(DICTIONARY_BYTES, samples)
        path = HERE / f"{name}-{trained.dict_id()}.zdict"
        path.write_bytes(trained.as_bytes())
        print(f"{path.name}: {len(samples)} samples")


if __name__ == "__main__":
    main()
