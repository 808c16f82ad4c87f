"""Fine-tuning the base model on the intermediate task, and the transformers helpers it needs.

When no fine-tuned model is given, the trainer makes one: the base model as a sequence
classifier, trained with a plain torch loop so every step is seeded and recorded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import library_bars, progress_bar
from ..embedding import ResolvedModel, resolve_model
from ..errors import DatasetError, TrainingError
from .config import DEFAULT_MAX_LENGTH, DEFAULT_SEED, LMTrainingConfig
from .data import IntermediateData

__all__ = ["FineTuneOutcome", "fine_tune", "tokenizer_overlay"]

logger = logging.getLogger(__name__)

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)


@dataclass(frozen=True)
class FineTuneOutcome:
    """Where the fine-tuned model was saved and how its training went."""

    path: Path
    steps: int
    planned_steps: int
    final_loss: float
    mean_loss_last_epoch: float


def fine_tune(
    base: str | os.PathLike[str] | ResolvedModel,
    data: IntermediateData,
    output_dir: str | os.PathLike[str],
    config: LMTrainingConfig | None = None,
    *,
    seed: int = DEFAULT_SEED,
    max_length: int = DEFAULT_MAX_LENGTH,
    device: str | None = None,
    save_classifier: bool = True,
    progress: bool | None = None,
) -> FineTuneOutcome:
    """Fine-tune the base model as a sequence classifier on the task; save it to a folder.

    A plain torch loop: shuffled mini-batches padded to their longest text, cross-entropy,
    AdamW over all parameters, the learning rate decaying linearly to 0 without warm-up,
    gradients clipped. The classifier head and the shuffling are seeded and the global
    torch random state is restored afterwards. The folder gets the model and the base
    model's tokenizer, so :class:`~registry.embedding.Embedder` can load it; with
    ``save_classifier=False`` only the encoder is saved (all an ESM needs, and it loads
    with ``AutoModel`` without warnings about the unused head).

    Raises:
        DatasetError: the labels are not categorical.
        TrainingError: the loss became non-finite.
    """
    import torch  # noqa: PLC0415 - heavy, only when a model trains
    from transformers import (  # noqa: PLC0415 - heavy, only when a model trains
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    config = config or LMTrainingConfig()
    resolved = base if isinstance(base, ResolvedModel) else resolve_model(base)
    label_ids = data.label_ids()
    names = data.label_names or ()
    if len(names) < 2:
        raise DatasetError(
            f"fine-tuning needs at least two classes; {data.task.task_id} has {len(names)}"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    with torch.random.fork_rng(devices=[]), _quiet_transformers(), library_bars(progress):
        # The new classification head is expected to be missing from the checkpoint;
        # transformers' report of it would only alarm the user.
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            resolved.path,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
    model.to(device)
    model.train()
    n = len(data)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.num_epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total)
    )
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(label_ids, dtype=torch.long)
    step, loss_value, epoch_losses = 0, math.nan, [math.nan]
    with (
        torch.random.fork_rng(devices=[]),
        progress_bar(total=total, desc="fine-tuning", unit="step", progress=progress) as bar,
    ):
        torch.manual_seed(seed)  # dropout
        for _ in range(config.num_epochs):
            order = torch.randperm(n, generator=generator).tolist()
            epoch_losses = []
            for start in range(0, n, config.batch_size):
                if step >= total:
                    break
                rows = order[start : start + config.batch_size]
                batch = tokenizer(
                    [data.texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                    return_token_type_ids=False,
                )
                optimizer.zero_grad()
                output = model(
                    input_ids=batch["input_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device),
                    labels=labels[rows].to(device),
                )
                loss = output.loss
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"the fine-tuning loss became non-finite at step {step}; lower the "
                        "learning rate"
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                step += 1
                loss_value = float(loss.item())
                epoch_losses.append(loss_value)
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4g}")
            if step >= total:
                break
    model.eval()
    path = Path(output_dir)
    path.mkdir(parents=True, exist_ok=True)
    with library_bars(progress):  # transformers draws a bar while writing shards
        (model if save_classifier else model.base_model).save_pretrained(path)
        tokenizer.save_pretrained(path)
    logger.info(
        "fine-tuned %s for %d steps (final loss %.4g); saved to %s",
        resolved.model_id,
        step,
        loss_value,
        path,
    )
    return FineTuneOutcome(
        path=path,
        steps=step,
        planned_steps=steps_per_epoch * config.num_epochs,
        final_loss=loss_value,
        mean_loss_last_epoch=float(np.mean(epoch_losses)) if epoch_losses else math.nan,
    )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Lower transformers' log level to errors for the duration (restored afterwards)."""
    from transformers.utils import logging as hf_logging  # noqa: PLC0415 - heavy

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _TOKENIZER_FILES)


@contextlib.contextmanager
def tokenizer_overlay(folder: Path, tokenizer_source: str) -> Iterator[Path]:
    """``folder`` itself when it has tokenizer files, else a temporary overlay of its files
    plus the base model's tokenizer (fine-tuned checkpoints often ship without one)."""
    if _has_tokenizer(folder):
        yield folder
        return
    from transformers import AutoTokenizer  # noqa: PLC0415 - heavy, only when needed

    with tempfile.TemporaryDirectory(prefix="esm-registry-ft-") as tmp:
        overlay = Path(tmp)
        for item in folder.iterdir():
            (overlay / item.name).symlink_to(item.resolve())
        AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(overlay)
        logger.info("%s has no tokenizer; using the base model's", folder)
        yield overlay
