"""Check a data source before training on it: list every split, decode every file, report it all.

`check_source` never stops at the first problem: it returns a `Report` with every problem found
(one `DataError` per file: "path: problem"), the number of examples per split and a histogram of
image sizes. `jaxshadow data check SOURCE PATH` prints `report.lines()` and fails unless
`report.ok`.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

from jaxshadow.data.examples import role_kind, size_problems
from jaxshadow.data.images import read_image
from jaxshadow.data.layouts import Example, split_listing
from jaxshadow.errors import DataError


@dataclasses.dataclass
class SplitSummary:
    """One split: examples listed, examples whose files all decode and agree, sizes seen."""

    listed: int = 0
    good: int = 0
    sizes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    """(height, width) of each example's main image (shadow, or image for detection) -> count."""


@dataclasses.dataclass
class Report:
    """What `check_source` found. `ok` when there is no problem at all."""

    source: str
    path: str
    splits: dict[str, SplitSummary]
    problems: list[DataError]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """Human-readable lines: a summary, one line per split, then one line per problem."""
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        out = [f"{self.source} at {self.path}: {verdict}"]
        for split, s in self.splits.items():
            sizes = ", ".join(f"{w}x{h}: {n}" for (h, w), n in sorted(s.sizes.items(), key=lambda kv: -kv[1]))
            bad = "" if s.good == s.listed else f", {s.listed - s.good} with problems"
            out.append(f"  {split}: {s.listed} examples{bad}; sizes (WxH): {sizes or 'none'}")
        out.extend(str(p) for p in self.problems)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def check_source(name: str, path, *, splits=("train", "test"), workers: int | None = None,
                 listed=None, **options) -> Report:
    """Lists each of `splits` of source `name` at `path`, decodes every file, collects every problem.

    `options` go to the source's lister (see `layouts.list_source`); `workers` threads decode
    (default: up to 8); `listed` holds listings already made, {split: (examples, problems)}.
    A split that cannot be listed at all (a missing folder) is a problem of
    the report, not an exception; an unknown source or option still raises `UserError`.
    """
    workers = workers or min(8, os.cpu_count() or 1)
    problems: list[DataError] = []
    summaries: dict[str, SplitSummary] = {}
    for split in splits:
        summary = summaries[split] = SplitSummary()
        try:
            examples, listing_problems = split_listing(name, path, split, options, listed)
        except DataError as e:
            problems.append(e)
            continue
        problems.extend(listing_problems)
        summary.listed = len(examples)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for size, example_problems in pool.map(_check_example, examples):
                problems.extend(example_problems)
                if size is not None:
                    summary.sizes[size] += 1
                if not example_problems:
                    summary.good += 1
    return Report(name, str(path), summaries, _unique(problems))


def _check_example(example: Example):
    """((height, width) of the main image or None, [problems]) for one example."""
    arrays, problems = {}, []
    for role, path in example.files.items():
        try:
            arrays[role] = read_image(path, kind=role_kind(role))
        except DataError as e:
            problems.append(e)
    if not problems:
        problems.extend(size_problems(example, arrays))
    main = arrays.get("shadow", arrays.get("image"))
    return (None if main is None else main.shape[:2]), problems


def _unique(problems: list[DataError]) -> list[DataError]:
    seen, out = set(), []
    for p in problems:
        key = (p.path, p.problem)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check_photos(path, *, workers: int | None = None) -> Report:
    """`check_source` for `photos:PATH[,PATH]`: every file listed, decoded in full (so broken
    data behind a good header shows too), sizes counted; split "all" (the train/test split is
    made when the source opens)."""
    from jaxshadow.data.photos_source import list_photos, photo_roots

    workers = workers or min(8, os.cpu_count() or 1)
    photos, problems = list_photos(photo_roots(path))
    summary = SplitSummary(listed=len(photos) + len(problems))

    def decode(photo):
        path, height, width = photo
        try:
            read_image(path, min_side=64)
        except DataError as e:
            return None, e
        return (height, width), None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for size, problem in pool.map(decode, photos):
            if problem is None:
                summary.good += 1
                summary.sizes[size] += 1
            else:
                problems.append(problem)
    return Report("photos", str(path), {"all": summary}, _unique(problems))
