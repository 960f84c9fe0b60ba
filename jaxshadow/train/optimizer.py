"""The optimizer and learning-rate schedule named by `config.optimizer`, built from optax parts.

    tx = [clip_by_global_norm] ∘ {adam | adamw | sgd+momentum}(schedule)   (wrapped in MultiSteps)

With `accumulate_steps = k`, `optax.MultiSteps` averages k micro-batch gradients and applies one
update every k calls; the schedule counts optimizer updates, so it is built over `steps / k`.
"""

import optax

from jaxshadow.errors import UserError


def make_schedule(opt, num_updates):
    """The learning rate as a function of the update count (an optax schedule)."""
    lr = opt.learning_rate
    end = lr * opt.end_learning_rate_factor
    if opt.schedule == "constant":
        if opt.warmup_steps:
            return optax.join_schedules(
                [optax.linear_schedule(0.0, lr, opt.warmup_steps), optax.constant_schedule(lr)],
                [opt.warmup_steps])
        return optax.constant_schedule(lr)
    if opt.schedule in ("cosine", "warmup_cosine"):
        # A run shortened below its warmup (a smoke test) warms up over half of its updates.
        warmup = min(opt.warmup_steps, num_updates // 2) if opt.schedule == "warmup_cosine" else 0
        return optax.warmup_cosine_decay_schedule(0.0 if warmup else lr, lr, warmup,
                                                  num_updates, end)
    raise UserError(f"unknown optimizer.schedule '{opt.schedule}'")


def make_optimizer(opt, steps):
    """Returns (tx, schedule) for the `config.optimizer` group and `steps` training steps."""
    num_updates = max(1, steps // opt.accumulate_steps)
    schedule = make_schedule(opt, num_updates)
    if opt.name == "adam":
        base = optax.adam(schedule, b1=opt.b1, b2=opt.b2)
    elif opt.name == "adamw":
        base = optax.adamw(schedule, b1=opt.b1, b2=opt.b2, weight_decay=opt.weight_decay)
    elif opt.name == "sgd":
        base = optax.sgd(schedule, momentum=opt.momentum or None)
    else:
        raise UserError(f"unknown optimizer.name '{opt.name}'")
    parts = [optax.clip_by_global_norm(opt.grad_clip_norm)] if opt.grad_clip_norm > 0 else []
    tx = optax.chain(*parts, base)
    if opt.skip_nonfinite:
        tx = optax.apply_if_finite(tx, max_consecutive_errors=1_000_000)
    if opt.accumulate_steps > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=opt.accumulate_steps)
    return tx, schedule
