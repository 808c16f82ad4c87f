"""The registry of ESM architectures.

An architecture names the shape of the network that maps base-model embeddings to
approximately fine-tuned ones. Only ``linear`` (one dense ``D×D`` layer with bias) exists
today; a new one is a new :class:`Architecture` entry, and every component that validates
metadata or weights picks it up from :data:`ARCHITECTURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ARCHITECTURES", "Architecture", "get_architecture"]


@dataclass(frozen=True)
class Architecture:
    """One ESM architecture.

    Args:
        name: The identifier written to ``config.json`` (``esm_architecture``) and to the card.
        description: One sentence for humans (shown on the card and by the CLI).
        parameter_shapes: Maps the embedding dimension to the expected tensor shapes,
            keyed by the tensor names in ``model.safetensors``.
    """

    name: str
    description: str
    parameter_shapes: Callable[[int], dict[str, tuple[int, ...]]]


def _linear_shapes(dim: int) -> dict[str, tuple[int, ...]]:
    return {"model.weight": (dim, dim), "model.bias": (dim,)}


ARCHITECTURES: dict[str, Architecture] = {
    "linear": Architecture(
        name="linear",
        description="a single dense layer (W·x + b) of shape D×D",
        parameter_shapes=_linear_shapes,
    ),
}


def get_architecture(name: str) -> Architecture:
    """Return the architecture called ``name``.

    Raises:
        KeyError: ``name`` is not a known architecture; the message lists the known ones.
    """
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise KeyError(f"unknown ESM architecture {name!r}; known: {known}") from None
