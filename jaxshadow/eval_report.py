"""The shadow-removal results table, as the papers print it, and its JSON form.

From the metrics of `RemovalTask.summarize` (with `eval_size` S set; without it, only the two
native protocols), four protocols, each named:

    native,  pixel-pooled   Le & Samaras: error summed over every pixel of the set / pixels
    native,  per-image      mean over images of each image's mean error
    S×S,     pixel-pooled   after MATLAB imresize to S×S, as the published ISTD/SRD scripts
    S×S,     per-image

Each protocol has the model's and the input's (identity baseline) LAB error over the shadow,
non-shadow and all pixels, and the per-image mean PSNR and SSIM.

JSON: {"dataset", "split", "step", "white", "protocol", "model": {shadow, non_shadow, all, psnr,
ssim}, "input": {...}, "protocols": [{"protocol", "model", "input"}, ...]}; the top-level
"protocol", "model" and "input" are the S×S pixel-pooled protocol, the one the ISTD, ISTD+ and
SRD tables report (the native pixel-pooled one without S).
"""

import functools

from jaxshadow import metric_names as names

KEYS = ("shadow", "non_shadow", "all", "psnr", "ssim")


def _scores(metrics, of_input, pooled, size):
    key = functools.partial(names.removal_key, of_input=of_input, per_image=not pooled,
                            size=size)
    scores = {region: metrics[key(names.lab_key(region))] for region in names.LAB_REGIONS}
    return {**scores, "psnr": metrics[key(names.PSNR)], "ssim": metrics[key(names.SSIM)]}


def removal_result(metrics, *, dataset, split, step, white, size):
    """The JSON-able result (see the module docstring) from summarised removal metrics."""
    protocols = []
    resolutions = [(None, "native resolution")] + ([(size, f"{size}x{size}")] if size else [])
    for at, where in resolutions:
        for pooled, how in ((True, "pixel-pooled"), (False, "per-image")):
            protocols.append({"protocol": f"{how}, {where}",
                              "model": _scores(metrics, False, pooled, at),
                              "input": _scores(metrics, True, pooled, at)})
    primary = protocols[-2]  # pixel-pooled, at the resized size when there is one
    result = {"dataset": dataset, "split": split, "step": step, "white": white,
              "protocol": primary["protocol"], "model": primary["model"],
              "input": primary["input"], "protocols": protocols}
    if names.BER in metrics:
        result["ber"] = metrics[names.BER]
    return result


def format_table(result):
    """The result as a fixed-width text table, one row per (protocol, model | input)."""
    lines = [f"{result['dataset']} ({result['split']} split), step {result['step']}: "
             f"LAB error (|dL|+|da|+|db|, sRGB -> CIE Lab, white {result['white']}), "
             f"PSNR (dB), SSIM",
             f"{'protocol':<32} {'':<6} {'shadow':>8} {'non-shad':>8} {'all':>8} "
             f"{'PSNR':>7} {'SSIM':>7}"]
    for entry in result["protocols"]:
        for who in ("model", "input"):
            s = entry[who]
            name = entry["protocol"] if who == "model" else ""
            lines.append(f"{name:<32} {who:<6} {s['shadow']:8.2f} {s['non_shadow']:8.2f} "
                         f"{s['all']:8.2f} {s['psnr']:7.2f} {s['ssim']:7.4f}")
    if "ber" in result:
        lines.append(f"shadow detection BER (native): {result['ber']:.2f}")
    return "\n".join(lines)
