"""Fused optimizers: one MLX primitive updates every parameter.

``SGD``, ``RMSprop``, ``Adagrad``, ``AdaDelta``, ``Adam``, ``AdamW``,
``Adamax`` and ``Lion`` take the constructor arguments of
``mlx.optimizers`` 0.32.4 and follow its update formulas operation by
operation (bfloat16/float16 parameters are rounded where MLX rounds them), and
they are ``mlx.optimizers.Optimizer`` subclasses: ``update``,
``apply_gradients``, ``init``, ``state`` and saving/loading the state work as
there. A step is **one** ``FusedStep`` primitive, whatever the number of
tensors and groups: it reads the step counter on the device, evaluates each
group's schedules (learning rate, weight decay and any other float argument
given as a schedule) in the kernel, updates every
parameter and state tensor (in place when nothing else holds them, through
MLX's buffer donation) and increments the counter.

State: ``step`` (uint64) and ``learning_rate`` as in ``mlx.optimizers``
(``(G,)`` with ``G`` groups), and ``fused``: per parameter dtype, flat
buffers of the states (``m``, ``v``; ``v`` for SGD) in which every
parameter's slice starts on a 64-element boundary. ``param_state(path)``
gives one parameter's states as views. Saving ``tree_flatten(opt.state)``
and assigning the loaded tree back to ``opt.state`` resumes a run (same
model). The parameters a step returns are views of one flat buffer per
dtype too; the next step reads that buffer directly and, when nothing else
holds it, updates it in place (MLX's donation). Why flat: an MLX primitive
with one output per tensor costs O(outputs x inputs) to build and schedule.

Every float argument (``learning_rate``, ``weight_decay``, ``momentum``,
``dampening``, ``betas``, ``eps``, ``alpha``, ``rho``) takes a float or any
mlx-sched schedule (``betas``: each of the two), evaluated at the step in the
kernel; a scheduled value is used in float32, rounded to the parameter's dtype
as MLX rounds a Python float. ``groups`` gives parts of the model their own schedules and
hyperparameters, chosen by a predicate on the parameter's path, like
``mlx.optimizers.MultiOptimizer``'s filters; the first group whose predicate
holds wins, the rest use the constructor's arguments::

    import mlx_sched as ms
    from mlx_sched.optimizers import AdamW
    opt = AdamW(
        ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100]),
        groups=[(lambda path, p: p.ndim == 1, {"weight_decay": 0.0})],  # no decay on biases and norms
    )

**Sweeps** (``member_axis=0``): G models stacked along axis 0 of every
parameter (e.g. trained with ``mx.vmap`` over that axis), member m with its
own hyperparameters, all members, tensors and groups in the same one
``FusedStep``. Any float argument (in a group too) may be a batch of G
schedules (``ms.grid``, or a factory given lists), a sequence or 1-D array of G
numbers, or one value that every member shares (a one-element sequence too,
as numpy broadcasts); betas are a pair of such,
``betas=[[beta1 of each member], [beta2 of each member]]`` (not a pair per
member). G is fixed at construction (``opt.members``: 1 when every value is
shared, and the state then has no members axis); every parameter's axis 0
must be G. Each member
follows ``mlx.optimizers`` run alone with its own values (bits on the CPU),
with its own states (a stacked parameter has one dtype: where MLX's type
promotions would differ between members, all hold the promoted one);
``state["learning_rate"]`` (and each scheduled
argument's value) has shape ``(G,)``, ``(K, G)`` with K groups. Assigning a
number, G numbers or a batch of G schedules to ``learning_rate`` (or any
attribute, also changed in place: ``opt.weight_decay[3] = 0.1``) changes the
members' values at the next step; an array of the state's shape (``opt.learning_rate * 0.5``)
sets each group's and member's rate::

    lr = ms.warmup_cosine_decay(0.0, peak=[1e-3, 3e-3, 1e-2, 3e-2], warmup_steps=100, decay_steps=5000)
    opt = AdamW(lr, weight_decay=[0.0, 0.01, 0.1, 0.1], member_axis=0)   # 4 models: parameters (4, ...)
"""

from ._adam import Adam, Adamax, AdamW
from ._adaptive import AdaDelta, Adagrad, RMSprop
from ._lion import Lion
from ._sgd import SGD

__all__ = ["SGD", "RMSprop", "Adagrad", "AdaDelta", "Adam", "AdamW", "Adamax", "Lion"]
