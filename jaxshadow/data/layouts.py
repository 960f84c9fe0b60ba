"""The folder layouts the field's datasets come in, as listers of examples.

Every lister returns `(examples, problems)`: the complete examples, sorted by id, and a list of
`DataError`s for everything it had to leave out (a file without its counterpart, an empty folder,
two files with the same stem, a file that is not an image). A folder that is missing altogether
raises `DataError` naming it at once, since nothing can be listed without it. Files are matched
by stem (the name without its extension); extensions are those of `images.IMAGE_EXTENSIONS`,
in any case. Hidden files (`.DS_Store`, ...), `Thumbs.db` and sub-folders are passed over.

Roles in `Example.files`: removal sets have `shadow`, `shadow_free` and, where the set has
masks, `mask`; detection sets have `image` and `mask`.

| source | layout |
| --- | --- |
| `istd`, `istd_plus` | `{train,test}/{split}_A` shadow, `_B` mask (255 = shadow), `_C` shadow-free |
| `srd` | `{train,test}/{shadow,shadow_free}`; `X.jpg` pairs with `X_no_shadow.jpg`, `X_free.jpg` or `X.jpg`; masks from a folder of your own |
| `paired` | `shadow/`, `shadow_free/`, optional `mask/`; no split folders: a seeded held-out fraction is the test split |
| `detection` | `images/` + `masks/` (SBU-style), or `{train,test}/{images,masks}` |
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
import os
from pathlib import Path

from jaxshadow.data.images import IMAGE_EXTENSIONS, is_image_name
from jaxshadow.errors import DataError, UserError

SPLITS = ("train", "test")
DETECTION_SOURCES = ("detection",)
_JUNK = {"thumbs.db", "desktop.ini"}
_SRD_FREE_SUFFIXES = ("_no_shadow", "_free")


@dataclasses.dataclass(frozen=True)
class Example:
    """One example: an id (the file stem) and the path of each of its files, by role."""

    id: str
    files: dict[str, str]


# --------------------------------------------------------------------------- the listers


def list_istd(root, split: str) -> tuple[list[Example], list[DataError]]:
    """ISTD (and ISTD+, same files): `{split}/{split}_A|_B|_C` = shadow, mask, shadow-free."""
    split = _check_split(split)
    base = _require_dir(Path(root) / split)
    folders = {
        "shadow": _require_dir(base / f"{split}_A"),
        "mask": _require_dir(base / f"{split}_B"),
        "shadow_free": _require_dir(base / f"{split}_C"),
    }
    return _match(folders)


def list_srd(root, split: str, mask_dir=None) -> tuple[list[Example], list[DataError]]:
    """SRD: `{split}/shadow/X.jpg` with `{split}/shadow_free/X_no_shadow.jpg` (or `X_free.jpg`, `X.jpg`).

    `mask_dir`: a folder of masks of your own (SRD has none), matched by stem; relative paths are
    looked up under `root` first, then from the working directory; if it holds a `train`/`test`
    sub-folder, the split's one is used. With `mask_dir`, every example needs a mask.
    """
    split = _check_split(split)
    base = _require_dir(Path(root) / split)
    folders = {"shadow": _require_dir(base / "shadow"), "shadow_free": _require_dir(base / "shadow_free")}
    id_of = {"shadow_free": _srd_free_id}
    if mask_dir is not None:
        masks = Path(mask_dir)
        if not masks.is_absolute() and (Path(root) / masks).is_dir():
            masks = Path(root) / masks
        masks = _require_dir(masks)
        if (masks / split).is_dir():
            masks = masks / split
        folders["mask"] = masks
    return _match(folders, id_of=id_of)


def list_paired(root, split, *, shadow_dir="shadow", free_dir="shadow_free", mask_dir="mask",
                test_fraction=0.1, split_seed=0) -> tuple[list[Example], list[DataError]]:
    """A folder of your own: `shadow_dir/` and `free_dir/` matched by stem, masks if `mask_dir/` exists.

    There are no split folders: `test_fraction` of the pairs, chosen by `split_seed`, are the
    test split (see `holdout`); `split=None` or `"all"` lists every pair. A missing `mask_dir`
    means no masks; an existing one must hold a mask for every pair.
    """
    root = _require_dir(Path(root))
    folders = {"shadow": _require_dir(root / shadow_dir), "shadow_free": _require_dir(root / free_dir)}
    masks = _find_dir(root / mask_dir) if mask_dir is not None else None
    if masks is not None:
        folders["mask"] = masks
    examples, problems = _match(folders)
    return holdout(examples, split, test_fraction=test_fraction, split_seed=split_seed), problems


def list_detection(root, split=None, *, image_dir="images", mask_dir="masks",
                   test_fraction=0.1, split_seed=0) -> tuple[list[Example], list[DataError]]:
    """Shadow detection (SBU-style): `image_dir/` + `mask_dir/` matched by stem.

    With `root/{train,test}/{image_dir,mask_dir}` the split's folders are used. A flat tree has
    no split folders: a split then is the seeded held-out fraction of `list_paired`, and
    `split=None` lists everything. (For SBU's own names pass `image_dir="ShadowImages",
    mask_dir="ShadowMasks"` with `root` the train or test folder.)
    """
    root = _require_dir(Path(root))
    if split not in (None, "all"):
        split = _check_split(split)
    split_folders = [s for s in SPLITS if (root / s).is_dir()]
    if split in SPLITS and split in split_folders:
        base, fraction = root / split, None
    elif split_folders and not _find_dir(root / image_dir):
        if split in (None, "all"):
            raise UserError(f"{root} has {'/'.join(split_folders)} folders: name a split")
        raise DataError(root / split, "folder not found")
    else:
        base, fraction = root, test_fraction
    folders = {"image": _require_dir(base / image_dir), "mask": _require_dir(base / mask_dir)}
    examples, problems = _match(folders)
    if fraction is not None:
        examples = holdout(examples, split, test_fraction=fraction, split_seed=split_seed)
    return examples, problems


LISTERS = {
    "istd": list_istd,
    "istd_plus": list_istd,
    "srd": list_srd,
    "paired": list_paired,
    "paired_folder": list_paired,
    "detection": list_detection,
}


def list_source(name: str, path, split, **options) -> tuple[list[Example], list[DataError]]:
    """Lists `split` of the source `name` (a key of `LISTERS`) found at `path`."""
    if name not in LISTERS:
        raise UserError(f"unknown data source {name!r}; known: {', '.join(sorted(LISTERS))}")
    lister = LISTERS[name]
    allowed = [p for p in inspect.signature(lister).parameters if p not in ("root", "split")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"source {name!r} has no option {', '.join(map(repr, unknown))}; "
                        f"its options: {', '.join(allowed) or 'none'}")
    return lister(path, split, **options)


def split_listing(name: str, path, split, options=None, listed=None):
    """`listed[split]` when `listed` holds it, else `list_source(name, path, split, **options)`:
    a caller that has listed a source passes its listings, {split: (examples, problems)}."""
    if listed and split in listed:
        return listed[split]
    return list_source(name, path, split, **(options or {}))


# --------------------------------------------------------------------------- held-out split


def holdout(examples, split, *, test_fraction=0.1, split_seed=0) -> list[Example]:
    """The `split` ("train", "test", or None/"all") of examples that come without split folders.

    Examples are ranked by a hash of `(split_seed, id)` — a seeded permutation that does not
    depend on the order files were listed in — and the first `round(n * test_fraction)` are the
    test split (at least one, and at least one left for training, when there are two or more).
    """
    if not 0.0 <= float(test_fraction) <= 1.0:
        raise UserError(f"test_fraction must be in [0, 1], not {test_fraction!r}")
    examples = sorted(examples, key=lambda e: e.id)
    if split in (None, "all"):
        return examples
    split = _check_split(split)
    n = len(examples)
    n_test = math.floor(n * float(test_fraction) + 0.5)
    if n >= 2 and 0.0 < test_fraction < 1.0:
        n_test = min(max(n_test, 1), n - 1)
    ranked = sorted(examples, key=lambda e: (_hash_rank(split_seed, e.id), e.id))
    test_ids = {e.id for e in ranked[:n_test]}
    return [e for e in examples if (e.id in test_ids) == (split == "test")]


def _hash_rank(seed, example_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{example_id}".encode("utf-8")).digest()


# --------------------------------------------------------------------------- matching


def _match(folders: dict[str, Path], *, id_of=None) -> tuple[list[Example], list[DataError]]:
    """Examples with a file in every folder (by id), and a problem for every file left over."""
    id_of = id_of or {}
    problems: list[DataError] = []
    by_role = {role: _scan(folder, problems, id_of.get(role)) for role, folder in folders.items()}
    ids = sorted(set().union(*(files.keys() for files in by_role.values())))
    examples = []
    for example_id in ids:
        present = {role: files[example_id] for role, files in by_role.items() if example_id in files}
        missing = [role for role in folders if role not in present]
        if not missing:
            examples.append(Example(example_id, present))
            continue
        wanted = ", ".join(f"{_ROLE_WORDS[r]} in {folders[r]}" for r in missing)
        for path in present.values():
            problems.append(DataError(path, f"no counterpart: missing the {wanted}"))
    return examples, problems


_ROLE_WORDS = {"shadow": "shadow image", "shadow_free": "shadow-free image", "mask": "mask",
               "image": "image"}


def _scan(folder: Path, problems: list, id_of=None) -> dict[str, str]:
    """`{id: path}` for the image files of `folder`; problems for what cannot be used."""
    found: dict[str, list[str]] = {}
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if not e.is_dir())
    for name in names:
        if name.startswith(".") or name.lower() in _JUNK:
            continue
        path = str(folder / name)
        if not is_image_name(name):
            problems.append(DataError(path, "not an image file (accepted extensions: "
                                            f"{' '.join(IMAGE_EXTENSIONS)}); left out"))
            continue
        stem = Path(name).stem
        found.setdefault(id_of(stem) if id_of else stem, []).append(path)
    if not found:
        problems.append(DataError(folder, "empty folder: no image files"))
    files = {}
    for example_id, paths in found.items():
        if len(paths) > 1:
            for path in paths:
                others = ", ".join(Path(p).name for p in paths if p != path)
                problems.append(DataError(path, f"same example id {example_id!r} as {others}; "
                                                "both left out"))
        else:
            files[example_id] = paths[0]
    return files


def _srd_free_id(stem: str) -> str:
    for suffix in _SRD_FREE_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _check_split(split) -> str:
    if split not in SPLITS:
        raise UserError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return split


def _find_dir(path: Path) -> Path | None:
    """`path` if it is a folder, else a sibling folder whose name differs only in case."""
    if path.is_dir():
        return path
    parent = path.parent
    if parent.is_dir():
        matches = [p for p in parent.iterdir() if p.is_dir() and p.name.lower() == path.name.lower()]
        if len(matches) == 1:
            return matches[0]
    return None


def _require_dir(path: Path) -> Path:
    found = _find_dir(path)
    if found is not None:
        return found
    if path.exists():
        raise DataError(path, "not a folder")
    raise DataError(path, "folder not found")
