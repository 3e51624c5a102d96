"""A huge text costs what its first few thousand characters cost: it is cut to a character
budget before tokenising (the tokeniser would otherwise read all of it: 44 s and 4 GB for 20 MB)
and its vector is the one of its beginning, as the model's own truncation would give."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.encoders import create_encoder
from mixsearch.encoders.base import MAX_TEXT_CHARS

pytestmark = pytest.mark.slow


def test_a_20_mb_text_is_cut_before_tokenising() -> None:
    encoder = create_encoder("minilm-l6")
    huge = ("lorem ipsum dolor sit amet " * 800_000)[:20_000_000]
    vectors = encoder.encode_texts([huge, huge[:MAX_TEXT_CHARS], huge[:2_000]])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-5)  # 256 tokens fit in 2000 chars
