"""The packaged offline encoders on real photos and real sentences."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.encoders import create_encoder, fingerprint_id
from mixsearch.errors import MixsearchError

from .conftest import PHOTO_CAPTIONS

pytestmark = pytest.mark.slow


def assert_unit_float32(vectors: np.ndarray, rows: int, dim: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (rows, dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_offline_default_ranks_the_right_caption_first(offline_encoder, photos):
    names = list(PHOTO_CAPTIONS)
    image_vectors = offline_encoder.encode_images([photos[n] for n in names])
    text_vectors = offline_encoder.encode_texts([PHOTO_CAPTIONS[n] for n in names])
    similarity = image_vectors @ text_vectors.T
    with np.printoptions(precision=3, suppress=True):
        print("\nrows = photos, columns = captions:", names)
        print(similarity)
    correct = int(np.sum(similarity.argmax(axis=1) == np.arange(len(names))))
    print(f"right caption first for {correct} of {len(names)} photos")
    assert correct >= len(names) - 2
    # Matching pairs are closer on average than mismatched ones, by a clear margin.
    off_diagonal = similarity[~np.eye(len(names), dtype=bool)]
    assert np.diag(similarity).mean() > off_diagonal.mean() + 0.1


def test_offline_default_outputs_unit_float32(offline_encoder, photos):
    images = offline_encoder.encode_images(list(photos.values())[:3], batch_size=2)
    texts = offline_encoder.encode_texts(["one", "two words", "a longer sentence here"])
    assert_unit_float32(images, 3, offline_encoder.dim)
    assert_unit_float32(texts, 3, 384)
    assert offline_encoder.encode_texts([]).shape == (0, 384)
    assert offline_encoder.encode_images([]).shape == (0, 384)


def test_offline_batching_does_not_change_vectors(offline_encoder, photos):
    images = list(photos.values())[:3]
    one_batch = offline_encoder.encode_images(images, batch_size=3)
    small_batches = offline_encoder.encode_images(images, batch_size=2)
    np.testing.assert_allclose(one_batch, small_batches, atol=1e-5)


def test_lite0_classifier_sees_a_cat(offline_encoder, photos):
    import torch

    tensor = offline_encoder.preprocess(photos["chelsea"])
    assert tuple(tensor.shape) == (3, 224, 224)
    assert float(tensor.min()) >= -1.0 and float(tensor.max()) <= 1.0
    with torch.inference_mode():
        logits = offline_encoder.classifier(tensor[None])
    top5 = [offline_encoder.class_names[i] for i in logits[0].topk(5).indices.tolist()]
    assert any("cat" in name for name in top5), top5


def test_fingerprint_is_stable_across_constructions(offline_encoder):
    again = create_encoder("offline-default", device="cpu")
    assert again.fingerprint() == offline_encoder.fingerprint()
    assert fingerprint_id(again) == fingerprint_id(offline_encoder)
    assert len(fingerprint_id(again)) == 16
    # The ConSE settings are part of the fingerprint: another top-k is another vector space.
    assert "top-50" in offline_encoder.fingerprint()["preprocessing"]


def test_conse_settings_are_part_of_the_fingerprint(offline_encoder):
    from mixsearch.encoders.offline import OfflineDefaultEncoder

    names = OfflineDefaultEncoder(class_text="name", temperature=1.0)
    assert fingerprint_id(names) != fingerprint_id(offline_encoder)
    assert "temperature 2" in offline_encoder.fingerprint()["preprocessing"]
    assert "class description" in offline_encoder.fingerprint()["preprocessing"]


def test_class_descriptions_name_what_the_short_names_hide():
    from mixsearch.encoders.offline import imagenet_class_names, imagenet_class_texts

    names, descriptions = imagenet_class_names(), imagenet_class_texts("description")
    assert len(descriptions) == len(names) == 1000
    # Same order as the classifier's outputs: each description starts with the class's lemma.
    assert names[339] == "sorrel" and descriptions[339].startswith("sorrel:")
    assert "horse" in descriptions[339]
    assert "elephant" in descriptions[names.index("tusker")]
    assert imagenet_class_texts("name") == names


def test_conse_mixture_weights_follow_the_temperature():
    from mixsearch.encoders.offline import conse_mixture

    rng = np.random.default_rng(0)
    classes = rng.normal(size=(6, 4)).astype(np.float32)
    logits = np.array([[9.0, 7.0, 1.0, 0.0, -1.0, -2.0]])
    # Cold: the mixture is the top class; hot: the plain mean of the top-k classes.
    np.testing.assert_allclose(conse_mixture(logits, classes, 3, 0.01)[0], classes[0], atol=1e-5)
    np.testing.assert_allclose(
        conse_mixture(logits, classes, 3, 1e6)[0], classes[:3].mean(axis=0), atol=1e-4
    )
    # Temperature 1 is the softmax over the top-k, renormalised.
    weights = np.exp(logits[0, :2] - 9.0) / np.exp(logits[0, :2] - 9.0).sum()
    np.testing.assert_allclose(
        conse_mixture(logits, classes, 2, 1.0)[0], weights @ classes[:2], atol=1e-5
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 0}, "temperature must be positive"),
        ({"temperature": "warm"}, "could not convert"),
        ({"class_text": "synonyms"}, "class_text must be one of"),
        ({"topk": 0}, "topk must lie in 1..1000"),
    ],
)
def test_bad_conse_options_are_refused_clearly(options, message):
    with pytest.raises(MixsearchError, match=message):
        create_encoder({"name": "offline-default", **options}, device="cpu")


def test_minilm_equals_the_sentence_transformers_pipeline():
    # MiniLMEncoder writes the model's sentence-transformers modules out by hand (faster start-up);
    # the vectors must be the library's own: truncation at 256 tokens, padding, unicode, empty.
    from sentence_transformers import SentenceTransformer

    from mixsearch.encoders.offline import MiniLMEncoder, minilm_model_dir

    texts = [
        "a dog",
        "A group of people are riding horses at a park.",
        "word " * 400,
        "",
        "Ünïcödé café, naïve résumé 東京",
    ]
    ours = MiniLMEncoder().encode_texts(texts, batch_size=2, normalize=False)
    reference = SentenceTransformer(str(minilm_model_dir()), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_two_text_only_models_are_different_and_both_sensible():
    l6 = create_encoder("minilm-l6", device="cpu")
    l3 = create_encoder("minilm-l3-onnx")
    texts = ["a dog runs on the beach", "a puppy playing by the sea", "the stock market fell today"]
    for encoder in (l6, l3):
        vectors = encoder.encode_texts(texts, batch_size=2)
        assert_unit_float32(vectors, 3, 384)
        # The paraphrase is nearer than the unrelated sentence.
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
        with pytest.raises(MixsearchError, match="text-only"):
            encoder.encode_images([])
    assert fingerprint_id(l6) != fingerprint_id(l3)
    # Different models: their spaces do not coincide (the upgrade benchmark needs this).
    assert float(np.mean(np.sum(l6.encode_texts(texts) * l3.encode_texts(texts), axis=1))) < 0.5


def test_onnx_encoder_agrees_across_batch_sizes():
    encoder = create_encoder("minilm-l3-onnx")
    texts = ["short", "a much longer sentence that needs padding in a batch with short ones"]
    together = encoder.encode_texts(texts, batch_size=2)
    apart = encoder.encode_texts(texts, batch_size=1)
    np.testing.assert_allclose(together, apart, atol=1e-4)
