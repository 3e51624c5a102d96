"""The two optional C extensions; everything else about the package is in pyproject.toml.

They live here rather than in pyproject's ``[tool.setuptools.ext-modules]`` (still experimental
in setuptools) because they compile against numpy's C API, whose header directory only
numpy itself can name. Both are optional: where they do not build (no C compiler), pip still
installs mixsearch and the Python twins beside them do the same work (see each .c file).
"""

import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        # a batch of FAISS results -> Hit objects (mixsearch/store/hit_table.py)
        Extension(
            "mixsearch.store._hit_table",
            sources=["mixsearch/store/_hit_table.c"],
            include_dirs=[numpy.get_include()],
            optional=True,
        ),
        # one search's query rows checked and normalised, its result arrays allocated
        # (mixsearch/search_arrays.py)
        Extension(
            "mixsearch._search_arrays",
            sources=["mixsearch/_search_arrays.c"],
            include_dirs=[numpy.get_include()],
            optional=True,
        ),
    ]
)
