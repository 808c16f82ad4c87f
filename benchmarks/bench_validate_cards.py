"""Validate many generated ESM cards, as a CI job over a large ESM collection would.

Run: python benchmarks/bench_validate_cards.py [--cards 10000] [--with-config]

Generates varied, valid cards (plus config.json files with --with-config), then times
(1) the library (`validate_card` on every file) and (2) the command line
(`esm-registry card validate DIR`) on the same tree. Target: 10,000 cards in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from registry.card import render_card, validate_card
from registry.metadata import EsmMetadata, to_config

TASKS = ["stanfordnlp/imdb", "kuroneko5943/amz20", "glue", "SetFit/emotion", "fancyzhx/ag_news"]
MODELS = ["bert-base-uncased", "google-bert/bert-base-multilingual-uncased", "roberta-base"]


def make_metadata(rnd: random.Random, index: int) -> EsmMetadata:
    return EsmMetadata.model_validate(
        {
            "base_model": rnd.choice(MODELS),
            "task": {
                "task_id": rnd.choice(TASKS),
                "subset": f"subset_{index}",
                "text_column": rnd.choice(["text", "sentence", ["premise", "hypothesis"]]),
                "label_column": "label",
                "split": "train",
                "num_examples": rnd.randint(100, 10_000),
                "seed": rnd.randint(0, 100),
            },
            "language": rnd.choice([[], ["en"], ["en", "de"]]),
            "embedding_dim": 768,
            "lm_training": {
                "num_epochs": 3,
                "batch_size": 32,
                "learning_rate": 2e-5,
                "weight_decay": 0.01,
                "optimizer": "AdamW",
            },
            "esm_training": {
                "num_epochs": 10,
                "batch_size": 32,
                "learning_rate": 1e-3,
                "weight_decay": 0.01,
                "optimizer": "AdamW",
            },
            "developers": "Benchmark <bench@example.org>",
            "version": "0.2.1",
            "description": f"Generated card number {index}.\n\nIt has *Markdown* and `code`.",
            "evaluation": {"esm_mse": rnd.random()},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument(
        "--with-config",
        action="store_true",
        help="also write config.json next to each card (checked for agreement)",
    )
    args = parser.parse_args()
    rnd = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="esm-cards-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        paths = []
        for index in range(args.cards):
            meta = make_metadata(rnd, index)
            folder = root / f"esm-{index:05d}"
            folder.mkdir()
            (folder / "README.md").write_text(render_card(meta), encoding="utf-8")
            if args.with_config:
                (folder / "config.json").write_text(json.dumps(to_config(meta)), encoding="utf-8")
            paths.append(folder / "README.md")
        generated = time.perf_counter() - start
        print(f"generated {args.cards} cards in {generated:.2f} s")

        start = time.perf_counter()
        invalid = sum(not validate_card(path).valid for path in paths)
        library = time.perf_counter() - start
        assert invalid == 0, f"{invalid} generated cards are invalid"

        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "registry", "card", "validate", str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        cli = time.perf_counter() - start
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    per_card_ms = library / args.cards * 1000
    print(f"library: {args.cards} cards validated in {library:.2f} s ({per_card_ms:.3f} ms/card)")
    print(f"cli:     {args.cards} cards validated in {cli:.2f} s (including start-up)")
    target = 10.0 * args.cards / 10_000
    verdict = "OK" if cli < target else "SLOWER THAN TARGET"
    print(
        f"target:  {target:.1f} s for {args.cards} cards -> {verdict} "
        f"(cli/target = {cli / target:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
