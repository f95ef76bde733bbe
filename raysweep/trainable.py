"""The class API: ``setup``, ``step``, ``save`` and ``restore``, checkpointable by design."""

from __future__ import annotations

from typing import Any


class Trainable:
    """Subclass this to get pausing, resuming and PBT cloning with no extra code.

    raysweep calls ``setup(config)`` once per run of the trial, then ``step()`` repeatedly;
    each ``step`` is one training iteration whose returned dict is reported. ``save()``
    returns any picklable object describing the state; ``restore(obj)`` puts it back.
    The trial ends when ``step`` returns a dict containing ``done=True``, when a ``stop``
    criterion or the scheduler ends it, or after ``max_iterations`` steps (class attribute,
    default unbounded).

    A run of the trial (its first, or a resume after a pause, a PBT clone or a retry) is a
    fresh instance: ``__init__(config)``, ``setup(config)``, then ``restore(state)`` with the
    last checkpoint when there is one. So, unlike Ray Tune with ``reuse_actors``, raysweep
    never calls ``reset_config``. ``save`` is called at the iterations where a scheduler
    may pause or clone the trial, when it is paused, and at its last iteration.

    Example:
        >>> import raysweep as rs
        >>> class Counter(rs.Trainable):
        ...     max_iterations = 5
        ...     def setup(self, config):
        ...         self.x = 0.0
        ...         self.lr = config["lr"]
        ...     def step(self):
        ...         self.x += self.lr
        ...         return {"loss": (self.x - 1.0) ** 2}
        ...     def save(self):
        ...         return {"x": self.x}
        ...     def restore(self, state):
        ...         self.x = state["x"]
    """

    #: Stop after this many iterations (None: until ``done``, a stop criterion or a scheduler).
    max_iterations: int | None = None

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def setup(self, config: dict[str, Any]) -> None:
        """Build models and data for ``config``."""

    def step(self) -> dict[str, Any]:
        """Run one iteration and return its metrics."""
        raise NotImplementedError(f"{type(self).__name__}.step() must be implemented")

    def save(self) -> Any:
        """Return the state to checkpoint: any picklable object (a dict of arrays, a model,
        bytes), or ``raysweep.Checkpoint.from_directory(path)`` to ship a directory's files
        (``restore`` then gets a ``Checkpoint`` whose ``path`` is a local copy of them).

        A plain path string is checkpointed as a string, not as the files it names. ``None``
        (the default) means nothing to checkpoint: a paused or cloned trial then restarts
        from scratch, at iteration 1.
        """
        return None

    def restore(self, state: Any) -> None:
        """Restore the state returned by ``save`` (after ``setup``; never called with None)."""

    def cleanup(self) -> None:
        """Release resources at the end of a run of the trial."""

    def reset_config(self, new_config: dict[str, Any]) -> bool:  # pragma: no cover - optional
        """Ray Tune's hook for reusing an actor; raysweep never calls it (each run of a
        trial is a fresh instance, so a new config always goes through ``setup``)."""
        return False
