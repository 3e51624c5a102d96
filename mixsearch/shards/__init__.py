"""Embedding shards: a corpus encoded once into Parquet files, then committed to a store.

    report = embed("photos/", "shards/", encoder="offline-default")           # in-process
    report = embed("photos/", "shards/", ray="local")                         # Ray Data actors
    Engine.create("store/").add_shards("shards/")                             # one commit

A shards folder holds ``mixsearch-shards.json`` (source and encoder fingerprints, the shard plan),
``shard-NNNNN.parquet`` files (one row per encoded document: id, modality, text, image path,
metadata JSON, content hash, raw text and image vectors, encoder fingerprint), the per-item
errors beside them (``shard-NNNNN.errors.jsonl``, ``corpus-errors.jsonl``). A shard is written
atomically; a rerun skips the finished ones. Importing this package imports neither pyarrow nor
Ray: they load when shards are written or read, and Ray only for ``ray=...``.
"""

from __future__ import annotations

from mixsearch.shards.embed import EmbedReport, embed
from mixsearch.shards.load import ShardSet, load_shards
from mixsearch.shards.manifest import MANIFEST_NAME, is_shards_folder, read_manifest

__all__ = [
    "MANIFEST_NAME",
    "EmbedReport",
    "ShardSet",
    "embed",
    "is_shards_folder",
    "load_shards",
    "read_manifest",
]
