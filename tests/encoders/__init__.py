"""Tests of mixsearch.encoders (a package so test module names never clash with other folders)."""
