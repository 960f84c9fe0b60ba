"""TensorFlow Datasets builders for the field's datasets, from archives you download yourself.

    import jaxshadow.data.builders  # registers istd, istd_plus, srd, shadow_detection
    tfds.load("istd", download_and_prepare_kwargs={"download_config":
              tfds.download.DownloadConfig(manual_dir="~/data/ISTD_Dataset")})

None of these sets can be downloaded by a script (they sit behind Google Drive / Baidu links),
so every builder reads `dl_manager.manual_dir`; `MANUAL_DOWNLOAD_INSTRUCTIONS` says what to
put there. Listing and decoding are `layouts` + `examples.load_example`, the same code the
NumPy pipeline and `jaxshadow data check` run. A listing problem (a file without its
counterpart, ...) stops the build with that problem: run `jaxshadow data check` for all of them.

This module needs tensorflow-datasets (and so TensorFlow); `import jaxshadow.data` does not.
Importing it hides GPUs from TensorFlow, which only encodes PNGs here and must not take the
accelerator's memory from JAX.
"""

from __future__ import annotations

import inspect

from jaxshadow.data.tf_setup import import_tensorflow

try:
    tf = import_tensorflow()
    import tensorflow_datasets as tfds
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "jaxshadow.data.builders needs TensorFlow Datasets: "
        "pip install tensorflow-cpu tensorflow-datasets") from e

from pathlib import Path

from etils import epath

import numpy as np

from jaxshadow.data.examples import load_example
from jaxshadow.data.layouts import list_detection, list_source
from jaxshadow.errors import DataError

_REMOVAL_FEATURES = {
    "id": tfds.features.Text(),
    "shadow": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
    "shadow_free": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
}
_MASK = tfds.features.Image(shape=(None, None, 1), dtype=np.uint8)

_ISTD_INSTRUCTIONS = """\
Download ISTD (ISTD_Dataset.rar, ~2 GB) from the authors' page
https://github.com/DeepInsight-PCALab/ST-CGAN (Google Drive or Baidu link), extract it, and pass
the extracted `ISTD_Dataset` folder (or the folder that holds it) as `manual_dir`:

  manual_dir/                 (or manual_dir/ISTD_Dataset/)
    train/train_A/*.png       shadow images          (1330)
    train/train_B/*.png       shadow masks, 255 = shadow
    train/train_C/*.png       shadow-free images
    test/test_A/  test/test_B/  test/test_C/          (540)
"""


def _find_root(manual_dir, names: tuple[str, ...], marker: str) -> Path:
    """`manual_dir` itself or one of its sub-folders `names`, whichever holds `marker`."""
    manual_dir = Path(manual_dir)
    for candidate in (manual_dir, *(manual_dir / n for n in names)):
        if (candidate / marker).is_dir():
            return candidate
    return manual_dir  # the lister names the folder it misses


def _generate(source_name: str, examples, problems):
    """tfds examples `(id, features)` from listed examples, through `load_example`."""
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise DataError(problems[0].path, f"{problems[0].problem}{more}; "
                                          f"`jaxshadow data check {source_name} ...` lists them all")
    for example in examples:
        arrays = load_example(example, source_name=source_name)
        features = {"id": example.id}
        for role, array in arrays.items():
            features[role] = array[..., None] if array.ndim == 2 else array
        yield example.id, features


class _ShadowBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What the builders share: manual-dir layouts listed by `layouts`, decoded by `load_example`."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    SOURCE = ""  # a key of layouts.LISTERS
    DESCRIPTION = ""
    HOMEPAGE = ""
    CITATION = ""

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # tfds 4.9.10's own `code_path` touches the `importlib_resources` backport, which it only
        # declares for Python < 3.9 (tensorflow/datasets#11212): preparing any dataset then fails
        # with "No module named 'importlib_resources'". The file of the class is all it needs.
        return epath.Path(inspect.getfile(cls))

    def _info(self) -> tfds.core.DatasetInfo:
        # DatasetInfo directly rather than `dataset_info_from_configs`: that one reads README.md /
        # CITATIONS.bib from this module's folder, which are jaxshadow's files, not the dataset's.
        return tfds.core.DatasetInfo(
            builder=self, description=self.DESCRIPTION, features=self._features(),
            homepage=self.HOMEPAGE, citation=self.CITATION)

    def _features(self) -> tfds.features.FeaturesDict:
        return tfds.features.FeaturesDict({**_REMOVAL_FEATURES, "mask": _MASK})

    def _root(self, manual_dir) -> Path:
        return Path(manual_dir)

    def _split_generators(self, dl_manager):
        root = self._root(dl_manager.manual_dir)
        return {split: self._generate_examples(root, split) for split in ("train", "test")}

    def _generate_examples(self, root, split):
        return _generate(self.SOURCE, *list_source(self.SOURCE, root, split))


class Istd(_ShadowBuilder):
    """ISTD (Wang et al., CVPR 2018): shadow, shadow mask and shadow-free image, 640x480."""

    SOURCE = "istd"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _ISTD_INSTRUCTIONS
    DESCRIPTION = ("ISTD: 1870 triplets (shadow image, shadow mask, shadow-free image) of 135 "
                   "scenes; 1330 train / 540 test. The shadow-free images differ from the shadow "
                   "images in colour and exposure outside the shadow (see istd_plus).")
    HOMEPAGE = "https://github.com/DeepInsight-PCALab/ST-CGAN"
    CITATION = """@inproceedings{wang2018stacked,
  title={Stacked Conditional Generative Adversarial Networks for Jointly Learning Shadow
         Detection and Shadow Removal},
  author={Wang, Jifeng and Li, Xiang and Yang, Jian},
  booktitle={CVPR}, year={2018}}"""

    def _root(self, manual_dir) -> Path:
        return _find_root(manual_dir, ("ISTD_Dataset", "ISTD"), "train")


class IstdPlus(Istd):
    """ISTD+ (adjusted ISTD): ISTD with the shadow-free images colour-corrected (`istd_plus`)."""

    SOURCE = "istd_plus"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _ISTD_INSTRUCTIONS + (
        "\nISTD+ is computed from these ISTD files (per image and channel, a least-squares fit "
        "of shadow ~ a + b*free on non-shadow pixels); no other download is needed.\n")
    DESCRIPTION = ("ISTD+ (Le & Samaras, ICCV 2019): ISTD with each shadow-free image replaced "
                   "by b*free + a, fitted per channel on non-shadow pixels to match the shadow "
                   "image's colour and exposure.")
    HOMEPAGE = "https://github.com/cvlab-stonybrook/SID"
    CITATION = """@inproceedings{le2019shadow,
  title={Shadow Removal via Shadow Image Decomposition},
  author={Le, Hieu and Samaras, Dimitris},
  booktitle={ICCV}, year={2019}}"""


class Srd(_ShadowBuilder):
    """SRD (Qu et al., CVPR 2017): shadow / shadow-free pairs, 840x640 JPEG, no masks."""

    SOURCE = "srd"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download SRD (train and test archives) from the DeshadowNet authors' links, listed at
https://github.com/vinthony/ghost-free-shadow-removal (Google Drive), extract them, and lay them
out in `manual_dir` (or `manual_dir/SRD/`) as:

  train/shadow/X.jpg            train/shadow_free/X_no_shadow.jpg   (2680 pairs)
  test/shadow/X.jpg             test/shadow_free/X_free.jpg         (408 pairs)

Shadow-free files may be named X_no_shadow, X_free or X in either split. SRD has no masks.
"""
    DESCRIPTION = "SRD: shadow / shadow-free image pairs of outdoor and indoor scenes, 840x640."
    HOMEPAGE = "https://github.com/vinthony/ghost-free-shadow-removal"
    CITATION = """@inproceedings{qu2017deshadownet,
  title={DeshadowNet: A Multi-context Embedding Deep Network for Shadow Removal},
  author={Qu, Liangqiong and Tian, Jiandong and He, Shengfeng and Tang, Yandong and Lau, Rynson W. H.},
  booktitle={CVPR}, year={2017}}"""

    def _features(self) -> tfds.features.FeaturesDict:
        return tfds.features.FeaturesDict(_REMOVAL_FEATURES)

    def _root(self, manual_dir) -> Path:
        return _find_root(manual_dir, ("SRD",), "train")


# SBU ships as SBUTrain4KRecoveredSmall/{ShadowImages,ShadowMasks} and SBU-Test/{...}.
_SBU_FOLDERS = {"train": "SBUTrain4KRecoveredSmall", "test": "SBU-Test"}


class ShadowDetection(_ShadowBuilder):
    """Shadow detection, SBU-style: images and binary shadow masks (255 = shadow)."""

    SOURCE = "detection"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download SBU (SBU-shadow.zip) from https://www3.cs.stonybrook.edu/~cvl/projects/shadow_noisy_label/
and extract it into `manual_dir`, which then holds either SBU's own folders

  SBUTrain4KRecoveredSmall/ShadowImages/*.jpg   SBUTrain4KRecoveredSmall/ShadowMasks/*.png
  SBU-Test/ShadowImages/*.jpg                   SBU-Test/ShadowMasks/*.png

or any detection set laid out as `train/images`, `train/masks`, `test/images`, `test/masks`
(masks matched to images by file stem; 255 = shadow; masks are binarized at 128).
"""
    DESCRIPTION = "Shadow detection: photos with binary shadow masks (mask 255 = shadow)."
    HOMEPAGE = "https://www3.cs.stonybrook.edu/~cvl/projects/shadow_noisy_label/"
    CITATION = """@inproceedings{vicente2016large,
  title={Large-scale Training of Shadow Detectors with Noisily-Annotated Shadow Examples},
  author={Vicente, Tomas F. Yago and Hou, Le and Yu, Chen-Ping and Hoai, Minh and Samaras, Dimitris},
  booktitle={ECCV}, year={2016}}"""

    def _features(self) -> tfds.features.FeaturesDict:
        return tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
            "mask": _MASK,
        })

    def _generate_examples(self, root, split):
        sbu = root / _SBU_FOLDERS[split]
        if (sbu / "ShadowImages").is_dir():
            listed = list_detection(sbu, None, image_dir="ShadowImages", mask_dir="ShadowMasks")
        else:
            listed = list_detection(root, split)
        return _generate(self.SOURCE, *listed)
