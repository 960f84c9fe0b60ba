"""Load one listed example into uint8 arrays, checked for the problems a training run must not meet.

`load_example` returns, for removal sources, `shadow` and `shadow_free` (HxWx3) and `mask` (HxW,
0/255) where the example has one; for detection sources, `image` (HxWx3) and `mask` (HxW). The
shadow-free image of `istd_plus` is the ISTD+ corrected one.
"""

from __future__ import annotations

import numpy as np

from jaxshadow.data.images import read_image
from jaxshadow.data.istd_plus import istd_plus_correct
from jaxshadow.data.layouts import DETECTION_SOURCES, Example
from jaxshadow.errors import DataError

MASK_ROLES = ("mask",)


def role_kind(role: str) -> str:
    """The `read_image` kind of a file role: "mask" for masks, "rgb" for the rest."""
    return "mask" if role in MASK_ROLES else "rgb"


def load_example(example: Example, *, source_name: str) -> dict[str, np.ndarray]:
    """Reads and checks every file of `example`; raises `DataError` on the first problem."""
    _check_roles(example, source_name)
    arrays = {role: read_image(path, kind=role_kind(role)) for role, path in example.files.items()}
    problems = size_problems(example, arrays)
    if problems:
        raise problems[0]
    if source_name == "istd_plus":
        if "mask" not in arrays:
            raise DataError(example.files["shadow"], "ISTD+ correction needs a mask; none listed")
        arrays["shadow_free"] = istd_plus_correct(arrays["shadow"], arrays["shadow_free"], arrays["mask"])
    return arrays


def size_problems(example: Example, arrays: dict[str, np.ndarray]) -> list[DataError]:
    """Every size disagreement among the decoded files of `example`, against its main image.

    The main image is `shadow` (removal) or `image` (detection); the pair's other image and the
    mask must have its height and width.
    """
    main = "shadow" if "shadow" in arrays else "image"
    if main not in arrays:
        return []
    height, width = arrays[main].shape[:2]
    main_path = example.files[main]
    problems = []
    for role, array in arrays.items():
        if role == main or array.shape[:2] == (height, width):
            continue
        h, w = array.shape[:2]
        if role == "mask":
            problems.append(DataError(example.files[role], f"mask is {w}x{h} (WxH) but its image "
                                                           f"{main_path} is {width}x{height}"))
        else:
            problems.append(DataError(
                main_path, f"{main} image is {width}x{height} (WxH) but its "
                           f"{role.replace('_', '-')} counterpart {example.files[role]} is {w}x{h}"))
    return problems


def _check_roles(example: Example, source_name: str) -> None:
    needed = ("image", "mask") if source_name in DETECTION_SOURCES else ("shadow", "shadow_free")
    for role in needed:
        if role not in example.files:
            raise DataError(next(iter(example.files.values()), example.id),
                            f"example {example.id!r} has no {role} file for source {source_name!r}")
