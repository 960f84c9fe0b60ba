"""A removal model on real photographs: `python -m benchmarks real [--model F | --workdir W]`.

The real shadow images beside the project (`../shared/data/real`, evaluation material only)
are run through the model at its working resolution (`remove_shadows(..., size=S)`, the
upsampled correction applied to the full-resolution photo), and scored:

(a) detection: BER (percent, 100 (1 - (TP/Np + TN/Nn) / 2)) of the predicted mask (> 0.5)
    against the hand-made masks (binarized at 128) of the detection photos, pooled over all
    pixels of all photos (as SBU / ISTD tables do) and as the mean of per-photo BERs;
(b) removal on the ISTD triplet (scene 114-5) against its ISTD+-corrected ground truth: LAB
    error (|ΔL| + |Δa| + |Δb|, D65) over the shadow, non-shadow and all pixels, and PSNR, for
    the model, for the input (identity), and for a model that takes a mask (`joint`), guided
    by the true mask (which of detector and remover limits the result) and by the true mask
    grown by 2.5 % of the long side (what `predict --masks` gives from a rough brush);
(c) the detector on 114-5: its mask's mean inside the true shadow and over the lit pixels, and
    the percentage of the shadow it marks (>= 0.5); false alarms: the percentage of 114-5's
    shadow-free photo that the mask marks;
(d) a before/after grid of real photos (input | output | predicted mask), `--grid PATH`, and
    for a model that takes a mask, 114-5 as input | mask-free output | the rough mask of (b) |
    output guided by it | ISTD+ ground truth, `--guided-grid PATH`.

Nothing here is fitted or tuned: the figures are measurements of a trained model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxshadow import metrics
from jaxshadow.data.images import read_image
from jaxshadow.data.istd_plus import istd_plus_correct
from jaxshadow.inference import load_removal_model, mask_guided_apply_fn, takes_mask
from jaxshadow.predict import remove_shadows

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
ISTD_SCENE = "114-5"


def detection_scores(apply_fn, data_dir, size):
    """BER over the detection photos: {'ber' (pooled), 'ber_per_image' (mean), 'photos'}."""
    images = sorted((Path(data_dir) / "detection" / "images").glob("*.jpg"))
    totals = np.zeros(4)
    per_image = []
    for path in images:
        gt = read_image(Path(data_dir) / "detection" / "masks" / f"{path.stem}.png", kind="mask")
        _, mask = remove_shadows(apply_fn, read_image(path), size=size)
        pred, truth = mask >= 128, gt >= 128
        counts = np.array([np.sum(pred & truth), np.sum(~pred & ~truth), np.sum(truth),
                           np.sum(~truth)], float)
        totals += counts
        if counts[2] and counts[3]:
            per_image.append(metrics.ber_from_counts(*counts))
    return {"ber": float(metrics.ber_from_counts(*totals)),
            "ber_per_image": float(np.mean(per_image)), "photos": len(images)}


def _istd_triplet(data_dir):
    folder = Path(data_dir) / "istd"
    shadow = read_image(folder / f"{ISTD_SCENE}_shadow.png")
    free = read_image(folder / f"{ISTD_SCENE}_shadow_free_original.png")
    mask = read_image(folder / f"{ISTD_SCENE}_shadow_mask.png", kind="mask")
    return shadow, istd_plus_correct(shadow, free, mask), mask


def _removal_metrics(pred_u8, target_u8, mask_u8):
    pred = pred_u8[None].astype(np.float32) / 255.0
    target = target_u8[None].astype(np.float32) / 255.0
    lab = metrics.lab_error(pred, target, (mask_u8 >= 128)[None].astype(np.float32))
    return {"lab_shadow": float(lab["shadow"]), "lab_non_shadow": float(lab["non_shadow"]),
            "lab_all": float(lab["all"]), "psnr": float(metrics.psnr(pred, target)[0])}


ROUGH_MASK_GROWTH = 0.025  # of the long side: how far past the shadow a quick brush strays


def grown(mask, pixels):
    """uint8 (H, W) mask dilated by a (2 pixels + 1)² square (Pillow's max filter)."""
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(mask).filter(ImageFilter.MaxFilter(2 * pixels + 1)))


def rough_mask(mask):
    """The true uint8 mask grown by ROUGH_MASK_GROWTH of its long side: a quick brush."""
    return grown(mask, round(ROUGH_MASK_GROWTH * max(mask.shape)))


def shadow_free_marked(apply_fn, data_dir, size):
    """Percent of the pixels of 114-5's shadow-free photo (no cast shadow; captured with
    another exposure, as ISTD's are) that the model's mask marks (>= 0.5): false alarms on a
    real photo without the shadow. None for a model without a mask."""
    photo = read_image(Path(data_dir) / "istd" / f"{ISTD_SCENE}_shadow_free_original.png")
    _, mask = remove_shadows(apply_fn, photo, size=size)
    return None if mask is None else float(100.0 * np.mean(mask >= 128))


def mask_scores(predicted, truth):
    """The predicted uint8 mask against the true one: {'inside': its mean (0..1) over the true
    shadow, 'lit': its mean over the rest, 'marked': percent of the shadow at >= 0.5}; None
    without a predicted mask."""
    if predicted is None:
        return None
    m, shade = predicted / 255.0, truth >= 128
    return {"inside": float(m[shade].mean()), "lit": float(m[~shade].mean()),
            "marked": float(100.0 * np.mean(m[shade] >= 0.5))}


def istd_scores(trained, apply_fn, data_dir, size):
    """LAB / PSNR on the ISTD triplet: {'model', 'input', 'true_mask', 'rough_mask', 'mask'};
    'true_mask' and 'rough_mask' (the remover guided by the true mask, and by it grown by 2.5 %
    of the long side, as a user's quick brush would paint it) are None for a model that takes
    no mask; 'mask' is `mask_scores` of the model's own mask."""
    shadow, target, mask = _istd_triplet(data_dir)
    free, predicted = remove_shadows(apply_fn, shadow, size=size)
    out = {"model": _removal_metrics(free, target, mask),
           "input": _removal_metrics(shadow, target, mask), "true_mask": None,
           "rough_mask": None, "mask": mask_scores(predicted, mask)}
    if takes_mask(trained.config):
        guided = mask_guided_apply_fn(trained)
        rough = rough_mask(mask)
        for key, given in (("true_mask", mask), ("rough_mask", rough)):
            free_given, _ = remove_shadows(guided, shadow, size=size, mask=given)
            out[key] = _removal_metrics(free_given, target, mask)
    return out


def _strip(panels, height):
    """uint8 images side by side, each resized (bicubic) to `height` rows."""
    from PIL import Image

    resized = []
    for p in panels:
        p = np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p
        w = max(1, round(p.shape[1] * height / p.shape[0]))
        resized.append(np.asarray(Image.fromarray(p).resize((w, height), Image.BICUBIC)))
    return np.concatenate(resized, axis=1)


def grid(apply_fn, data_dir, size, path, *, height=160):
    """Writes rows of input | output | mask for a fixed selection of real photos to `path`."""
    from PIL import Image

    from jaxshadow.files import atomic_write, png_bytes

    data_dir = Path(data_dir)
    files = [data_dir / "istd" / f"{ISTD_SCENE}_shadow.png"]
    files += sorted((data_dir / "istd_inputs").glob("*.png"))[:3]
    files += sorted((data_dir / "detection" / "images").glob("*.jpg"))[::12][:4]
    rows = []
    for f in files:
        image = read_image(f)
        free, mask = remove_shadows(apply_fn, image, size=size)
        rows.append(_strip([image, free, mask], height))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    atomic_write(path, png_bytes(Image.fromarray(np.concatenate(rows, axis=0))))


def guided_grid(trained, apply_fn, data_dir, size, path, *, height=180):
    """Writes 114-5 as input | mask-free output | rough mask (the true one grown by
    ROUGH_MASK_GROWTH of the long side) | output guided by it | ISTD+ ground truth to `path`.
    UserError for a model that takes no mask."""
    from PIL import Image

    from jaxshadow.files import atomic_write, png_bytes

    guided = mask_guided_apply_fn(trained)
    shadow, target, mask = _istd_triplet(data_dir)
    rough = rough_mask(mask)
    free, _ = remove_shadows(apply_fn, shadow, size=size)
    free_given, _ = remove_shadows(guided, shadow, size=size, mask=rough)
    strip = _strip([shadow, free, rough, free_given, target], height)
    atomic_write(path, png_bytes(Image.fromarray(strip)))


def run(model_file=None, workdir=None, size=None, data_dir=REAL_DATA, grid_path=None,
        guided_grid_path=None):
    """All figures for one model, as a dict (see the module docstring)."""
    trained, apply_fn, where = load_removal_model(workdir, model_file)
    size = trained.config.predict_size if size is None else size
    result = {"model": where, "step": int(trained.step), "size": size,
              "detection": detection_scores(apply_fn, data_dir, size),
              "istd": istd_scores(trained, apply_fn, data_dir, size),
              "shadow_free_marked": shadow_free_marked(apply_fn, data_dir, size)}
    if grid_path:
        grid(apply_fn, data_dir, size, grid_path)
        result["grid"] = str(grid_path)
    if guided_grid_path:
        guided_grid(trained, apply_fn, data_dir, size, guided_grid_path)
        result["guided_grid"] = str(guided_grid_path)
    return result


def markdown(result):
    """The figures as a Markdown table, with the issue's targets checked."""
    det, istd = result["detection"], result["istd"]
    model, inp, true = istd["model"], istd["input"], istd["true_mask"]
    rough = istd.get("rough_mask")
    drop = 100.0 * (1.0 - model["lab_shadow"] / inp["lab_shadow"])
    lines = [
        f"model {result['model']} (step {result['step']}), working size {result['size']}",
        "",
        "| | shadow LAB | non-shadow LAB | all LAB | PSNR |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, m in (("input (identity)", inp), ("model", model), ("remover, true mask", true),
                    ("remover, true mask grown 2.5 % (a rough brush)", rough)):
        if m is not None:
            lines.append(f"| {name} | {m['lab_shadow']:.2f} | {m['lab_non_shadow']:.2f} | "
                         f"{m['lab_all']:.2f} | {m['psnr']:.2f} |")
    ok = lambda flag: "met" if flag else "NOT met"
    lines += [
        "",
        f"ISTD {ISTD_SCENE} (ISTD+ ground truth): shadow LAB {drop:.1f} % below the input "
        f"(target >= 30 %: {ok(drop >= 30.0)}); non-shadow "
        f"{model['lab_non_shadow'] - inp['lab_non_shadow']:+.2f} vs the input "
        f"(target <= +1.0: {ok(model['lab_non_shadow'] - inp['lab_non_shadow'] <= 1.0)})",
        f"detection, {det['photos']} photos: BER {det['ber']:.2f} pooled, "
        f"{det['ber_per_image']:.2f} mean per photo (target <= 12: {ok(det['ber'] <= 12.0)})",
    ]
    if istd.get("mask") is not None:
        m = istd["mask"]
        lines.append(f"{ISTD_SCENE}'s mask: mean {m['inside']:.2f} inside the shadow "
                     f"({m['marked']:.1f} % of it marked), {m['lit']:.2f} over the lit pixels")
    if result.get("shadow_free_marked") is not None:
        lines.append(f"{ISTD_SCENE}'s shadow-free photo: {result['shadow_free_marked']:.1f} % of "
                     f"its pixels marked as shadow (false alarms; 0 is right)")
    return "\n".join(lines)


def main(args):
    result = run(args.model_file, args.workdir, args.size, args.data or REAL_DATA, args.grid,
                 args.guided_grid)
    print(markdown(result))
    if args.json:
        from jaxshadow.files import atomic_write
        atomic_write(args.json, json.dumps(result, indent=2, default=_finite) + "\n")
    return result


def _finite(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x
