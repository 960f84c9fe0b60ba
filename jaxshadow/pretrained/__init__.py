"""The shipped shadow remover: `joint`, trained on synthetic shadows over real photographs.

    load() -> (model, variables, config)        for Python users
    load_trained() -> jaxshadow.loading.Trained  with its step and input shape
    MODEL_FILE                                   the export file inside the package

`jaxshadow predict --out DIR INPUT...` without `--workdir` or `--model` uses it, at the working
resolution `config.predict_size`. How it was trained (command, commit, steps, data, wall time)
is in `photos.json` beside the model file: `configs/pretrain_photos.py` (stage one), then
`configs/finetune_veil_balanced.py` from it (stage two).
"""

from pathlib import Path

from jaxshadow.errors import UserError

MODEL_FILE = Path(__file__).with_name("photos.msgpack")
PROVENANCE_FILE = Path(__file__).with_name("photos.json")


def load_trained():
    """The shipped model as `jaxshadow.loading.Trained`; UserError when its file is missing."""
    from jaxshadow.loading import load_trained as load_path

    if not MODEL_FILE.is_file():
        raise UserError(f"the shipped model {MODEL_FILE} is missing; train one with "
                        f"`jaxshadow train --config configs/pretrain_photos.py --workdir W` "
                        f"(then configs/finetune_veil_balanced.py from it, as shipped) "
                        f"and pass --workdir W (or an export with --model FILE)")
    return load_path(str(MODEL_FILE))


def load():
    """(model, variables, config) of the shipped model: `model.apply(variables, x)` with x
    float32 (N, H, W, 3) in [0, 1] -> {"shadow_free", "mask_logits", "gain", "offset"}."""
    trained = load_trained()
    return trained.model, trained.variables, trained.config
