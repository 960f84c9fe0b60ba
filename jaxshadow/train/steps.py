"""The pure training and evaluation steps, compiled once over the mesh.

    train_step(state, batch) -> (state, metrics)     state donated; batch sharded on 'data'
    eval_step(variables, batch) -> sums              per-batch sums, replicated

`eval_variables(state)` are what evaluation, samples and exports run: the EMA of the parameters
when the run keeps one, and the model's other collections.

Randomness for step s is `fold_in(state.rng, s)`, so a step's result depends only on the state
and the batch. `trace_counts` counts Python traces: each step must trace once per run; a second
trace means a silent recompile (a changed shape, dtype or sharding) and is reported by the loop.
"""

import collections

import jax
import optax

from jaxshadow.train.mesh import batch_sharding, replicated

trace_counts = collections.Counter()


def _ema(ema_params, params, decay):
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params)


def make_train_step(model, task, tx, mesh, state_sharding, *, ema_decay=0.0):
    """Returns the jitted `train_step(state, batch) -> (state, metrics)`."""

    def train_step(state, batch):
        trace_counts["train_step"] += 1
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        prepare_key, dropout_key = jax.random.split(key)
        batch = task.prepare(batch, prepare_key, train=True)
        mutable = list(state.model_state)

        def loss_fn(params):
            variables = {"params": params, **state.model_state}
            outputs, new_model_state = model.apply(
                variables, batch["input"], train=True, rngs={"dropout": dropout_key}, mutable=mutable)
            loss, metrics = task.loss(outputs, batch)
            return loss, (metrics, new_model_state)

        (loss, (metrics, new_model_state)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema_params = state.ema_params
        if ema_params is not None:
            ema_params = _ema(ema_params, params, ema_decay)
        metrics = {"loss": loss, "grad_norm": optax.global_norm(grads), **metrics}
        new_state = state.replace(step=state.step + 1, params=params,
                                  model_state=dict(new_model_state), opt_state=opt_state,
                                  ema_params=ema_params)
        return new_state, metrics

    return jax.jit(train_step,
                   in_shardings=(state_sharding, batch_sharding(mesh)),
                   out_shardings=(state_sharding, replicated(mesh)),
                   donate_argnums=0)


def eval_variables(state):
    """{'params': the EMA when the run keeps one, else the parameters, <other collections>}:
    what `model.apply(variables, x, train=False)` runs. Works on a TrainState and on a
    TrainState of shardings alike."""
    params = state.params if state.ema_params is None else state.ema_params
    return {"params": params, **state.model_state}


def make_eval_step(model, task, mesh, variables_sharding):
    """Returns the jitted `eval_step(variables, batch) -> sums` (see `task.eval_sums`);
    variables_sharding: `eval_variables(state_sharding)`."""

    def eval_step(variables, batch):
        trace_counts["eval_step"] += 1
        batch = task.prepare(batch, jax.random.key(0), train=False)
        outputs = model.apply(variables, batch["input"], train=False)
        return task.eval_sums(outputs, batch)

    return jax.jit(eval_step, in_shardings=(variables_sharding, batch_sharding(mesh)),
                   out_shardings=replicated(mesh))

