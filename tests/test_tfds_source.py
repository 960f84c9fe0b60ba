"""`data.source=tfds:NAME`: a prepared tensorflow-datasets classification set, read into memory
and trained on, with nothing downloaded; a dataset that is unknown or not prepared is a one-line
error that says what to do."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jaxshadow.errors import UserError  # noqa: E402

try:
    import tensorflow_datasets as tfds
except ImportError:  # accelerator images without TensorFlow
    tfds = None

pytestmark = pytest.mark.skipif(tfds is None, reason="tensorflow-datasets is not installed "
                                                     "(pip install -e '.[tf]')")

SIZE = 28
CLASSES = 3  # which third of the image (left, middle, right) holds the bright bar


def bar_images(n, seed):
    """(n, 28, 28, 1) uint8 noise images with a bright vertical bar in the third given by the
    label, and (n,) int labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.integers(0, 60, (n, SIZE, SIZE, 1), dtype=np.uint8)
    for image, label in zip(images, labels):
        x0 = int(label) * (SIZE // CLASSES) + int(rng.integers(0, SIZE // CLASSES - 3))
        image[:, x0:x0 + 3] = 230
    return images, labels


if tfds is not None:
    class JaxshadowTestBars(tfds.core.GeneratorBasedBuilder):
        """A tiny classification set built locally (registered as 'jaxshadow_test_bars')."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(SIZE, SIZE, 1)),
                    "label": tfds.features.ClassLabel(num_classes=CLASSES),
                }),
                supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(192, seed=0),
                    "test": self._generate_examples(48, seed=1)}

        def _generate_examples(self, n, seed):
            images, labels = bar_images(n, seed)
            for i, (image, label) in enumerate(zip(images, labels)):
                yield i, {"image": image, "label": int(label)}


@pytest.fixture()
def prepared(tmp_path):
    data_dir = str(tmp_path / "tfds")
    JaxshadowTestBars(data_dir=data_dir).download_and_prepare()
    return data_dir


def test_a_prepared_set_is_read_whole_with_its_labels_and_class_count(prepared):
    from jaxshadow.data.tfds_source import load_tfds

    source = load_tfds("jaxshadow_test_bars", prepared)
    assert source.num_classes == CLASSES
    for split, n, seed in (("train", 192, 0), ("test", 48, 1)):
        images, labels = bar_images(n, seed)
        got = source.splits[split]
        assert got["image"].shape == (n, SIZE, SIZE, 1) and got["label"].dtype == np.int32
        # tfds may shuffle the order on disk: compare the examples as sets
        want = {(int(lab), im.tobytes()) for im, lab in zip(images, labels)}
        assert {(int(lab), im.tobytes()) for im, lab in zip(got["image"], got["label"])} == want


def test_a_set_that_is_not_prepared_says_how_to_prepare_it(tmp_path):
    from jaxshadow.data.tfds_source import load_tfds

    with pytest.raises(UserError, match=r"'jaxshadow_test_bars' is not prepared in .*"
                                        r"tfds build jaxshadow_test_bars --data_dir DIR"):
        load_tfds("jaxshadow_test_bars", str(tmp_path / "empty"))


def test_an_unknown_name_is_one_line(tmp_path):
    from jaxshadow.data.tfds_source import load_tfds

    with pytest.raises(UserError, match=r"unknown tfds dataset 'no_such_set_xyz'") as error:
        load_tfds("no_such_set_xyz", str(tmp_path))
    assert "\n" not in str(error.value).strip()


@pytest.mark.parametrize("reader", ["numpy", "tf"])
def test_a_classifier_trains_on_it_through_the_config(prepared, tmp_path, reader):
    from jaxshadow.train.loop import train
    from tests.helpers import digits_config

    config = digits_config(**{
        "model.name": "cnn_tiny", "data.source": "tfds:jaxshadow_test_bars",
        "data.tfds_data_dir": prepared, "data.reader": reader, "steps": 60, "log_every": 20,
        "eval_every": 60, "checkpoint_every": 60, "optimizer.learning_rate": 3e-3})
    metrics = train(config, str(tmp_path / f"run_{reader}"))
    assert metrics["eval_accuracy"] >= 0.9  # chance is 1/3
