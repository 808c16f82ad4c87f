"""Every command, every option, hostile files and values: never a traceback, never a hang.

The commands are found by walking the real parser, so new ones are fuzzed too. Each case
runs ``esm-registry`` in-process with arguments drawn from a pool of hostile values:
deeply nested and huge-number JSON, non-UTF-8 and binary files, special files (a device,
a FIFO), paths under a file, ids with newlines and NUL, numbers far out of range. A case
passes when the command ends with one of its documented exit codes (0, 1, 2, 130) and
prints no traceback and no internal error.

``FUZZ_EXAMPLES=N`` runs N cases per command instead of 40 (the cases are derandomized, so
a run is repeatable); ``FUZZ_LOG=FILE`` appends one JSON line per case (command, exit code,
end of stderr), to see how deep the cases get.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from esm_factory import make_esm, write_esm_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.catalog import Catalog
from registry.cli import build_parser, main
from registry.cli._common import non_negative_int, positive_int
from registry.metadata import to_config
from registry.publish import publish_many
from registry.stores.local import LocalStore

ALLOWED_EXIT_CODES = {0, 1, 2, 130}
#: The quickstart trains for minutes on valid arguments: its cases always name a
#: workspace it cannot use, which must stop it first. (Train and rank need a base model,
#: and no pool value is one that loads offline, so they stop early on their own.)
UNUSABLE_WORKSPACES = ("a-file/under-a-file", "fifo", "a-file")


def _commands() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((prefix, parser))
            return
        for name, sub in subs[0].choices.items():
            walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return found


COMMANDS = _commands()


POOL: dict[str, list[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def hostile(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Files and values that strangers and careless users hand to the command line."""
    root = tmp_path_factory.mktemp("hostile")
    files = {
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "deep-object.json": '{"a":' * 50_000 + "1" + "}" * 50_000,
        "huge-numbers.json": json.dumps(
            {
                "base_model_name": "a/b",
                "task_id": "c/d",
                "num_examples": 10**40,
                "esm_embedding_dim": 2**70,
                "seed": -1,
            }
        ),
        "nan.json": '{"base_model_name": "a/b", "task_id": "c/d", "x": NaN}',
        "list.json": "[1, 2, 3]",
        "not-utf8.md": "---\ntags: [caf\xe9]\n---\n",
        "bomb.yaml": "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n",
        "deep.yaml": "a: " + "[" * 5_000 + "]" * 5_000 + "\n",
        "target.csv": "text,label\nNA,1\n,2\nok,\nfine,3\n",
        "empty.csv": "",
        "card.md": "---\ntags: [embedding_space_map]\nesm_metadata: {base_model: 1}\n---\n",
        "template.j2": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}"
        "{% endfor %}",
        "spec.yaml": "targets:\n  - name: x\n    dataset: /nonexistent.csv\n",
    }
    for name, text in files.items():
        encoding = "latin-1" if name == "not-utf8.md" else "utf-8"
        (root / name).write_bytes(text.encode(encoding))
    (root / "binary.bin").write_bytes(b"\x00\x01\xff" * 1000)
    (root / "a-file").write_text("x")
    (root / "folder").mkdir()
    (root / "folder" / "README.md").write_text("# not an ESM card\n")
    fifo = root / "fifo"
    os.mkfifo(fifo)
    paths = [str(root / name) for name in files] + [
        str(root / "binary.bin"),
        str(root / "folder"),
        str(root / "a-file" / "under-a-file"),
        str(root / "missing" / "path.json"),
        str(fifo),
    ]
    values = [
        "a/b",
        "alice/esm\nwith-newline",
        "nul\x00byte",
        "x" * 2_000,
        "../../etc/passwd",
        "",
        "-",
        "0",
        "-1",
        "99999999999999999999999",
        "1e30",
        "nan",
        "inf",
        "1.5",
        "True",
        "'; DROP TABLE esms; --",
        "%s%n{0}",
        "📦 unicode",
        "http://127.0.0.1:9",
        f"file://{root}/file-url-registry",
    ]
    semi = _semi_valid(root)
    paths += semi
    numbers = ["0", "1", "3", "8", "-5", "99999999999999999999999", "2.5", "1e400", "nan"]
    POOL.update(
        paths=paths, values=values, numbers=numbers, semi=semi, all=paths + values + numbers
    )


def _semi_valid(root: Path) -> list[str]:
    """Things that get past the first checks: ESM folders with hostile configs, a real
    registry and catalog, output files in places that cannot be written."""
    good = write_esm_dir(root / "esm-good")
    registry = LocalStore(root / "registry")
    publish_many([good], registry, namespace="alice", progress=False)
    with Catalog(root / "catalog.sqlite") as catalog:
        catalog.sync(registry, progress=False)
    folders = [good]
    for name, config in (
        ("esm-deep", "[" * 100_000 + "]" * 100_000),
        ("esm-huge", json.dumps({**to_config(make_esm(1).metadata), "esm_embedding_dim": 2**70})),
        ("esm-nan", json.dumps(to_config(make_esm(2).metadata)).replace("null", "NaN", 1)),
    ):
        folder = write_esm_dir(root / name, index=3)
        (folder / "config.json").write_text(config)
        folders.append(folder)
    pickled = root / "esm-pickle"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    (pickled / "config.json").write_text(json.dumps(to_config(make_esm(4).metadata)))
    return [
        *map(str, folders),
        str(pickled),
        str(registry.root),
        str(root / "catalog.sqlite"),
        str(root / "a-file" / "out.parquet"),
        str(root / "missing-dir" / "out.csv"),
        "alice/ESM_bert-base-uncased_org__task0_default",
    ]


def _argv(
    command: tuple[str, ...],
    parser: argparse.ArgumentParser,
    draw: st.DataObject,
    pool: dict[str, list[str]],
) -> list[str]:
    values = st.sampled_from(pool["all"])
    argv = list(command)
    chosen: list[argparse.Action] = []
    optional = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            chosen.append(draw.draw(st.sampled_from(group._group_actions)))
    chosen += [a for a in optional if a.required]
    chosen += draw.draw(st.lists(st.sampled_from(optional), max_size=5)) if optional else []
    for action in chosen:
        flag = action.option_strings[-1]
        if action.nargs == 0:
            argv.append(flag)
        elif action.choices is not None and draw.draw(st.booleans()):
            argv += [flag, str(draw.draw(st.sampled_from(list(action.choices))))]
        elif action.type in (positive_int, non_negative_int) and draw.draw(st.booleans()):
            argv += [flag, draw.draw(st.sampled_from(pool["numbers"]))]
        elif draw.draw(st.integers(0, 3)) == 0:
            argv += [flag, draw.draw(st.sampled_from(pool["semi"]))]
        else:
            argv += [flag, draw.draw(values)]
    for action in parser._actions:
        if action.option_strings:
            continue
        count = {None: 1, "+": draw.draw(st.integers(1, 2)), "*": draw.draw(st.integers(0, 2))}
        for _ in range(count.get(action.nargs, 1)):  # type: ignore[arg-type]
            argv.append(
                draw.draw(st.sampled_from(pool["paths"] if "path" in action.dest else pool["all"]))
            )
    if command == ("quickstart",):
        workspace = draw.draw(st.sampled_from(UNUSABLE_WORKSPACES))
        argv += ["--workspace", str(Path(pool["paths"][0]).parent / workspace)]
    return argv


@contextlib.contextmanager
def _sandbox(tmp: Path) -> Iterator[None]:
    """Offline, with every home and the working folder inside ``tmp``.

    Relative values (``a/b``, ``../../etc/passwd``, ``-``) name files in the working
    folder, and commands write where they are told: the folder sits four levels down in
    ``tmp`` so that nothing a case writes can land outside it.
    """
    cwd = tmp / "w" / "o" / "r" / "k"
    cwd.mkdir(parents=True, exist_ok=True)
    saved_cwd = Path.cwd()
    saved = dict(os.environ)
    os.environ.update(
        HF_HUB_OFFLINE="1",
        ESM_REGISTRY_HOME=str(tmp / "home"),
        ESM_REGISTRY_CATALOG=str(tmp / "home" / "catalog.sqlite"),
        HF_ENDPOINT="http://127.0.0.1:9",
        HOME=str(tmp / "home"),
    )
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _stdin(replacement: io.TextIOWrapper) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = replacement
    try:
        yield
    finally:
        sys.stdin = saved


CASES = {"count": 0}


@pytest.mark.parametrize(("command", "parser"), COMMANDS, ids=[" ".join(c) for c, _ in COMMANDS])
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_no_command_prints_a_traceback(
    command: tuple[str, ...],
    parser: argparse.ArgumentParser,
    data: st.DataObject,
    tmp_path: Path,
) -> None:
    argv = _argv(command, parser, data, POOL)
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b"---\ntags: [x]\n---\n"))
    with (
        _sandbox(tmp_path),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse: usage errors and --help
            code = exit_.code if isinstance(exit_.code, int) else 2
    CASES["count"] += 1
    if os.environ.get("FUZZ_LOG"):
        with open(os.environ["FUZZ_LOG"], "a") as log:
            log.write(
                json.dumps({"cmd": " ".join(command), "code": code, "err": err.getvalue()[-200:]})
                + "\n"
            )
    text = out.getvalue() + err.getvalue()
    assert code in ALLOWED_EXIT_CODES, (argv, code, text[-2000:])
    assert "Traceback" not in text, (argv, text[-2000:])
    assert "internal error" not in text, (argv, text[-2000:])
    for line in err.getvalue().splitlines():
        if line.startswith("esm-registry: error:"):
            assert "\x00" not in line
