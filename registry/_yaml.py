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


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_ALIASES = "YAML anchors and aliases (&name, *name) are not allowed"

#: libyaml's composer recurses in C and crashes the interpreter on absurdly deep nesting
#: (about 100,000 levels); cards need a handful, so deeper documents are refused unread.
MAX_NESTING = 1000
_FLOW_BRACKETS = re.compile(r"[\[\]{}]")
_BLOCK_DASHES = re.compile(r"^(?:[ \t]*-(?:[ \t]+|$))+", re.MULTILINE)


def _check_nesting(text: str) -> None:
    """Refuse text whose flow brackets or inline block dashes could nest too deeply.

    Both counts are upper bounds (brackets inside quoted strings count too), which is
    harmless at this limit.
    """
    depth = worst = 0
    for bracket in _FLOW_BRACKETS.findall(text):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        worst = max(worst, depth)
    for run in _BLOCK_DASHES.findall(text):
        worst = max(worst, run.count("-"))
    if worst > MAX_NESTING:
        raise yaml.YAMLError(f"the YAML nests more than {MAX_NESTING} levels deep")


def _construct(node: yaml.Node, loader: Any, seen: set[int]) -> Any:
    """Build Python data from composed nodes, refusing aliased containers.

    Plain mappings, sequences and strings (nearly every node of a card) are built here,
    which is several times faster than PyYAML's generic constructor; other scalars and
    tags go to the safe constructor, which refuses anything but standard YAML types.
    """
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if id(node) in seen:  # the same container twice: only an alias does that
        raise AliasError(_ALIASES)
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise AliasError(f"{_ALIASES}, nor merge keys (<<)")
            key = _construct(key_node, loader, seen)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable mapping key", key_node.start_mark
                ) from None
            data[key] = _construct(value_node, loader, seen)
        return data
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        return [_construct(item, loader, seen) for item in node.value]
    return loader.construct_object(node, deep=True)


def load_yaml(text: str) -> Any:
    """Parse YAML safely; raise ``yaml.YAMLError`` or :class:`AliasError`.

    Example:
        >>> load_yaml("tags: [a, b]")
        {'tags': ['a', 'b']}
    """
    _check_nesting(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(node, loader, set())
    except RecursionError:
        raise yaml.YAMLError(f"the YAML nests more than {MAX_NESTING} levels deep") from None
    finally:
        loader.dispose()


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of ``text``, whose marks give line numbers for error reports."""
    _check_nesting(text)
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
