"""Safe YAML for cards and metadata files: no arbitrary objects, no aliases, readable text."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["AliasError", "YAMLError", "compose_yaml", "dump_yaml", "load_yaml"]

YAMLError = yaml.YAMLError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasError(ValueError):
    """The YAML uses anchors and aliases, which cards never need and alias bombs abuse."""


def _no_shared_containers(root: Any) -> None:
    """Reject documents in which one container is reachable twice (that is, via an alias).

    Walking with a set of seen ids stops at the first repeat, so an alias bomb is refused
    after a handful of steps instead of being expanded.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                raise AliasError("YAML anchors and aliases (&name, *name) are not allowed")
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)


def load_yaml(text: str) -> Any:
    """Parse front matter with the safe loader; raise ``yaml.YAMLError`` or :class:`AliasError`."""
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    _no_shared_containers(data)
    return data


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of ``text``, whose marks give line numbers for error reports."""
    return yaml.compose(text, Loader=_Loader)


class _CardDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes multi-line strings as literal blocks so long card texts stay readable."""


# Plain scalars that a YAML 1.2 parser (such as the Hub's) would not read as strings;
# PyYAML follows YAML 1.1 and would leave e.g. ``1e-5`` unquoted.
_YAML12_NON_STRING = re.compile(
    r"~|null|Null|NULL|true|True|TRUE|false|False|FALSE"
    r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in value and not value.endswith("\n\n"):
        # Literal blocks read well; "keep" chomping (several final newlines) would make the
        # emitter close the document with "...", so such text is double-quoted instead.
        style = "|"
    elif _YAML12_NON_STRING.fullmatch(value):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CardDumper.add_representer(str, _represent_str)


def dump_yaml(data: dict[str, Any]) -> str:
    """Serialise card data; the result never contains a line that would end the front matter."""
    text = yaml.dump(
        data,
        Dumper=_CardDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    for line in text.split("\n"):
        if line.rstrip() in ("---", "..."):  # pragma: no cover - the emitter indents these
            raise ValueError("front matter would contain a document marker")
    return text
