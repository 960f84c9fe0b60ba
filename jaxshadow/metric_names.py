"""The names of the evaluation metrics, shared by the tasks that compute them, the reports that
print them and the recipes that select checkpoints by them (`checkpoint.best_metric` is
`EVAL_PREFIX + name`).

Removal: `removal_key(quantity, of_input=, per_image=, size=)`, e.g.

    removal_key("lab_shadow")                                   'lab_shadow'
    removal_key("lab_all", of_input=True, per_image=True, size=256)
                                                                'input_lab_all_per_image_256'

quantities: the LAB error over each of `LAB_REGIONS` ('lab_shadow', 'lab_non_shadow',
'lab_all'; pixel-pooled or per-image), 'psnr' and 'ssim' (per-image means). Detection: 'ber',
'shadow_error', 'non_shadow_error' (percent).
"""

EVAL_PREFIX = "eval_"
INPUT_PREFIX = "input_"
LAB_REGIONS = ("shadow", "non_shadow", "all")
LAB_SHADOW, LAB_NON_SHADOW, LAB_ALL = (f"lab_{region}" for region in LAB_REGIONS)
PSNR = "psnr"
SSIM = "ssim"
BER = "ber"
SHADOW_ERROR = "shadow_error"
NON_SHADOW_ERROR = "non_shadow_error"


def lab_key(region):
    """'lab_shadow' | 'lab_non_shadow' | 'lab_all'."""
    if region not in LAB_REGIONS:
        raise ValueError(f"LAB region must be one of {LAB_REGIONS}, got '{region}'")
    return f"lab_{region}"


def removal_key(quantity, *, of_input=False, per_image=False, size=None):
    """The summarised removal metric's name (see the module docstring). `per_image` applies to
    the LAB errors only (PSNR and SSIM are always per-image means)."""
    name = (INPUT_PREFIX if of_input else "") + quantity
    if per_image and quantity.startswith("lab_"):
        name += "_per_image"
    return name + (f"_{size}" if size else "")
