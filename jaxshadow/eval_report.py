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

KEYS = ("shadow", "non_shadow", "all", "psnr", "ssim")


def _scores(metrics, prefix, pooled, suffix):
    per_image = "" if pooled else "_per_image"
    return {
        "shadow": metrics[f"{prefix}lab_shadow{per_image}{suffix}"],
        "non_shadow": metrics[f"{prefix}lab_non_shadow{per_image}{suffix}"],
        "all": metrics[f"{prefix}lab_all{per_image}{suffix}"],
        "psnr": metrics[f"{prefix}psnr{suffix}"],
        "ssim": metrics[f"{prefix}ssim{suffix}"],
    }


def removal_result(metrics, *, dataset, split, step, white, size):
    """The JSON-able result (see the module docstring) from summarised removal metrics."""
    protocols = []
    resolutions = [("", "native resolution")] + ([(f"_{size}", f"{size}x{size}")] if size else [])
    for suffix, where in resolutions:
        for pooled, how in ((True, "pixel-pooled"), (False, "per-image")):
            protocols.append({"protocol": f"{how}, {where}",
                              "model": _scores(metrics, "", pooled, suffix),
                              "input": _scores(metrics, "input_", pooled, suffix)})
    primary = protocols[-2]  # pixel-pooled, at the resized size when there is one
    result = {"dataset": dataset, "split": split, "step": step, "white": white,
              "protocol": primary["protocol"], "model": primary["model"],
              "input": primary["input"], "protocols": protocols}
    if "ber" in metrics:
        result["ber"] = metrics["ber"]
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
