"""Card templates from strangers render within limits: loops, sizes, output, encoding."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from registry.card import render_card
from registry.card._sandbox import MAX_LOOP_ITERATIONS
from registry.errors import TemplateError
from registry.metadata import EsmMetadata

from cli_runner import run

META = EsmMetadata.model_validate(
    {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
)


def _template(tmp_path: Path, body: str | bytes) -> Path:
    path = tmp_path / "card.md.j2"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text("---\n{{ card_data }}---\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ range(10**10)|list }}", "range"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "loop",
        ),
        ("{% for c in 'x' * 90000 %}{% for d in 'y' * 90000 %}{% endfor %}{% endfor %}", "loop"),
        ("{{ 'x' * 10**9 }}", "longer than"),
        ("{{ [1] * 10**9 }}", "longer than"),
        ("{{ 2 ** 1000000 }}", "bits"),  # Jinja's ** groups left: 2 ** 10 ** 9 is small
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
            "longer than",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
            "longer than",
        ),
        ("{% for i in range(90000) %}{{ 'x' * 90000 }}{% endfor %}", "exceed"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "Recursion"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ meta.__class__ }}", "undefined|unsafe|attribute"),
    ],
)
def test_hostile_templates_fail_fast_with_a_template_error(
    tmp_path: Path, body: str, reason: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateError, match=reason):
        render_card(META, template=_template(tmp_path, body))
    assert time.perf_counter() - started < 10


def test_loops_within_the_budget_render(tmp_path: Path) -> None:
    body = (
        "{% for i in range("
        + str(MAX_LOOP_ITERATIONS // 2)
        + ") %}{% endfor %}ok {{ meta.base_model }}\n"
    )
    assert (
        render_card(META, template=_template(tmp_path, body))
        .rstrip()
        .endswith("ok bert-base-uncased")
    )


def test_the_budget_is_per_render(tmp_path: Path) -> None:
    body = "{% for i in range(" + str(MAX_LOOP_ITERATIONS * 3 // 4) + ") %}{% endfor %}ok\n"
    template = _template(tmp_path, body)
    for _ in range(3):  # would exceed the budget if it were shared between renders
        assert render_card(META, template=template).rstrip().endswith("ok")


def test_includes_are_bounded_too(tmp_path: Path) -> None:
    (tmp_path / "part.j2").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateError, match="loop"):
        render_card(META, template=_template(tmp_path, "{% include 'part.j2' %}"))


def test_a_non_utf8_template_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    template = _template(tmp_path, b"---\n{{ card_data }}---\n\xff\xfe caf\xe9\n")
    with pytest.raises(TemplateError, match="not UTF-8"):
        render_card(META, template=template)
    example = repo_root / "metadata" / "examples" / "amz20-dumbbell.yaml"
    code, _, err = run(["card", "render", str(example), "--template", str(template)], capsys)
    assert code == 1
    assert "not UTF-8" in err
    assert "Traceback" not in err
