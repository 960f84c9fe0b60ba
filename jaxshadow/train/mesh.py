"""The device mesh and the shardings the training step is compiled with.

The mesh is 2-D, ('data', 'fsdp'), of sizes (D, F) with D·F = the devices used. The global
batch (B, ...) is split along both axes jointly, B / (D·F) rows per device; the train state is
split along 'fsdp' only (see sharding_rules.py), so F = 1 is pure data parallelism. Devices are
laid out in `jax.devices()` order (process-major), so each process holds a contiguous block of
batch rows, the block its data pipeline reads.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxshadow.errors import UserError


AXES = ("data", "fsdp")


def mesh_shape(num_devices, data=-1, fsdp=1):
    """(D, F) with D·F = num_devices; one of `data`, `fsdp` may be -1 (the rest)."""
    sizes = {"data": data, "fsdp": fsdp}
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or (size < 1 and size != -1):
            raise UserError(f"config key 'mesh.{name}' must be a positive integer or -1, "
                            f"got {size!r}")
    if data == -1 and fsdp == -1:
        raise UserError("mesh.data and mesh.fsdp cannot both be -1")
    if data == -1 or fsdp == -1:
        known = fsdp if data == -1 else data
        if num_devices % known:
            name = "fsdp" if data == -1 else "data"
            raise UserError(f"mesh.{name}={known} does not divide the {num_devices} devices")
        return (num_devices // fsdp, fsdp) if data == -1 else (data, num_devices // data)
    if data * fsdp != num_devices:
        raise UserError(f"mesh.data × mesh.fsdp = {data}×{fsdp} = {data * fsdp} but "
                        f"{num_devices} devices are used; set one of them to -1")
    return data, fsdp


def make_mesh(num_devices=0, data=-1, fsdp=1):
    """A ('data', 'fsdp') mesh over the first `num_devices` devices (0: all of them)."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise UserError(f"num_devices={num_devices} but only {len(devices)} devices exist")
        devices = devices[:num_devices]
    shape = mesh_shape(len(devices), data, fsdp)
    return jax.sharding.Mesh(np.asarray(devices).reshape(shape), AXES,
                             axis_types=(jax.sharding.AxisType.Auto,) * 2)


def mesh_from_config(config):
    """The mesh of `config.num_devices` and `config.mesh`."""
    return make_mesh(config.num_devices, config.mesh.data, config.mesh.fsdp)


def batch_sharding(mesh):
    """Arrays whose leading (batch) axis is split over ('data', 'fsdp') jointly."""
    return NamedSharding(mesh, P(AXES))


def replicated(mesh):
    """Arrays held whole on every device."""
    return NamedSharding(mesh, P())


def check_batch_size(batch_size, num_devices, process_count, name="batch_size"):
    """Raises UserError unless `batch_size` splits evenly over the devices and the processes."""
    if batch_size % num_devices:
        raise UserError(f"{name}={batch_size} does not divide over {num_devices} devices; "
                        f"use a multiple of {num_devices}")
    if batch_size % process_count:
        raise UserError(f"{name}={batch_size} does not divide over {process_count} processes")


def global_batch(local_batch, mesh):
    """Assembles each process's local batch (dict of numpy arrays) into global jax.Arrays."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)
