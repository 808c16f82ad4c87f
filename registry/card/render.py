"""Render an ESM card (``README.md``) from :class:`~registry.metadata.EsmMetadata`.

The front matter is built as a mapping and written with a YAML library, so no value can
break it; the body comes from a Jinja2 template rendered in a sandbox with limits on
time, memory and output (templates may come from someone else; see
:mod:`registry.card._sandbox`) and ``StrictUndefined`` (a misspelt variable is an error,
not a blank).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from .._install import install_command
from .._resources import DEFAULT_TEMPLATE, data_dir
from .._yaml import dump_yaml
from ..architectures import ARCHITECTURES
from ..errors import TemplateError
from ..metadata import EsmMetadata
from ._format import IDENTIFYING_FIELDS, PLACEHOLDER, display_values
from ._markdown import escape_inline, neutralize_block
from ._sandbox import LimitedEnvironment, render_limited

__all__ = ["CARD_METADATA_KEY", "card_data", "render_card", "tidy_markdown"]

#: Front-matter key holding the complete metadata, so that cards parse losslessly.
CARD_METADATA_KEY = "esm_metadata"


def _compact(value: Any, *, verbatim: frozenset[str] = frozenset({"extra"})) -> Any:
    """Drop unknown (``None``) and empty fields so the front matter lists only what is known.

    ``extra`` holds other tools' config keys and is kept exactly as it is.
    """
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key not in verbatim:
            item = _compact(item, verbatim=frozenset())
        if item is None or item in ({}, []):
            continue
        out[key] = item
    return out


def card_data(metadata: EsmMetadata) -> dict[str, Any]:
    """The card's front matter as a mapping.

    ``base_model``, ``datasets``, ``license``, ``language`` and ``tags`` are what the Hub
    reads (it derives the ``base_model:…`` and ``dataset:…`` tags from them); the full
    metadata follows under :data:`CARD_METADATA_KEY`.
    """
    data: dict[str, Any] = {
        "license": metadata.license,
        "base_model": metadata.base_model,
        "datasets": [metadata.task.task_id],
    }
    if metadata.language:
        data["language"] = list(metadata.language)
    data["tags"] = metadata.tags
    data[CARD_METADATA_KEY] = _compact(metadata.model_dump(mode="json"))
    return data


@functools.lru_cache(maxsize=8)
def _environment(template_dir: str) -> LimitedEnvironment:
    return LimitedEnvironment(template_dir)


def _load_template(template: str | Path | None) -> jinja2.Template:
    if template is None:
        path = data_dir("templates") / DEFAULT_TEMPLATE
    else:
        path = Path(template)
        if not path.is_file():
            raise TemplateError(f"card template not found: {path}")
    env = _environment(str(path.parent.resolve()))
    try:
        return env.get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"card template {path} cannot be loaded: {exc}") from None


def render_card(metadata: EsmMetadata, *, template: str | Path | None = None) -> str:
    """Render the complete card: YAML front matter and Markdown body.

    Args:
        metadata: The ESM's metadata.
        template: A Jinja2 template file to use instead of the bundled one. It is rendered in
            a sandbox and receives ``card_data`` (the YAML text), ``meta`` (the metadata),
            ``field(name)`` (a field line's escaped value or placeholder), ``inline(value)``
            and ``text(value)`` (escaped single-line and free-text values), and
            ``install_command`` (the ``pip install`` line that installs the ranker today).

    Returns:
        The card text; the same metadata always gives the same text.

    Raises:
        TemplateError: the template is missing, not UTF-8, invalid, uses an undefined
            variable, fails, or goes over a limit of the sandbox (loops, sizes, output).

    Example:
        >>> from registry.metadata import EsmMetadata
        >>> meta = EsmMetadata.model_validate(
        ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
        ... )
        >>> render_card(meta).splitlines()[0]
        '---'
    """
    shown = display_values(metadata)

    def field(name: str) -> str:
        value = shown[name]
        if value is None:
            return PLACEHOLDER if name in IDENTIFYING_FIELDS else ""
        return escape_inline(value)

    def inline(value: object) -> str:
        return "" if value is None else escape_inline(str(value))

    def text(value: str | None) -> str:
        return "" if value is None else neutralize_block(value)

    tmpl = _load_template(template)
    front_matter = f"---\n{dump_yaml(card_data(metadata))}---\n"
    rendered = render_limited(
        tmpl,
        {
            "card_data": front_matter[4:-5],
            "meta": metadata,
            "field": field,
            "inline": inline,
            "text": text,
            "architecture_description": ARCHITECTURES[metadata.architecture].description,
            "install_command": install_command("rank"),
        },
    )
    if rendered.startswith(front_matter):  # leave the YAML byte-exact
        return front_matter + "\n" + tidy_markdown(rendered[len(front_matter) :])
    return tidy_markdown(rendered)


def tidy_markdown(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, exactly one final newline."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"
