"""The device mesh and the shardings the training step is compiled with.

One mesh axis, 'data', spans the devices: the global batch is split along it and the train
state is replicated (the scale-out work adds an 'fsdp' axis for parameters).
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxshadow.errors import UserError


def make_mesh(num_devices=0):
    """A 1-D mesh ('data',) over the first `num_devices` devices (0: all of them)."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise UserError(f"num_devices={num_devices} but only {len(devices)} devices exist")
        devices = devices[:num_devices]
    return jax.sharding.Mesh(np.asarray(devices), ("data",),
                             axis_types=(jax.sharding.AxisType.Auto,))


def batch_sharding(mesh):
    """Arrays whose leading (batch) axis is split over 'data'."""
    return NamedSharding(mesh, P("data"))


def replicated(mesh):
    """Arrays held whole on every device."""
    return NamedSharding(mesh, P())


def check_batch_size(batch_size, mesh, name="batch_size"):
    """Raises UserError unless `batch_size` splits evenly over the mesh's devices and processes."""
    n = mesh.devices.size
    if batch_size % n:
        raise UserError(f"{name}={batch_size} does not divide over {n} devices; "
                        f"use a multiple of {n}")
    if batch_size % jax.process_count():
        raise UserError(f"{name}={batch_size} does not divide over {jax.process_count()} processes")


def global_batch(local_batch, mesh):
    """Assembles each process's local batch (dict of numpy arrays) into global jax.Arrays."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)
