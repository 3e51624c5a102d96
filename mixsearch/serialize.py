"""Kept for imports written before `mixsearch.vectors`: ``json_default`` lives there now."""

from mixsearch.vectors import json_default as json_default
