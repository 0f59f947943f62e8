"""Tagging schemes: files may come in IOB1, IOB2 or BIOES; the model, its label set and the
metrics work in IOB2 only, so every sentence is converted once, when it is read."""

from __future__ import annotations

from collections.abc import Iterable

SCHEMES = ("iob1", "iob2", "bioes")

_PREFIXES = {"iob1": ("B", "I"), "iob2": ("B", "I"), "bioes": ("B", "I", "E", "S")}


def _split(tag: str) -> tuple[str, str]:
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def to_iob2(tags: list[str], scheme: str) -> list[str]:
    """A sentence's tags in IOB2. IOB1 uses B- only between two adjacent spans of one type,
    so an I- that starts a span becomes B-; BIOES's S- and E- become B- and I-. Tags are
    expected to pass `check_tag` first; others are left as they are."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    if scheme == "iob2":
        return list(tags)
    if scheme == "bioes":
        swap = {"S": "B", "E": "I"}
        out = []
        for tag in tags:
            prefix, kind = _split(tag)
            out.append(f"{swap[prefix]}-{kind}" if prefix in swap and kind else tag)
        return out
    out = []
    previous = "O"
    for tag in tags:
        prefix, kind = _split(tag)
        if prefix == "I" and kind and (previous == "O" or _split(previous)[1] != kind):
            out.append(f"B-{kind}")
        else:
            out.append(tag)
        previous = tag
    return out


def check_tag(tag: str, scheme: str) -> str | None:
    """None if `tag` is valid in `scheme`, else what is wrong with it, for a file:line error."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    if tag == "O":
        return None
    prefixes = _PREFIXES[scheme]
    allowed = "/".join(prefixes)
    prefix, sep, kind = tag.partition("-")
    if not sep:
        return f"tag {tag!r} is neither O nor {allowed}-TYPE"
    if prefix not in prefixes:
        return f"tag {tag!r} has prefix {prefix!r}; {scheme} tags start with {allowed}-"
    if not kind:
        return f"tag {tag!r} has no entity type after {prefix}-"
    return None


def entity_types(label_names: Iterable[str]) -> list[str]:
    """The entity types of IOB2 labels, sorted: the keys of the per-type scores."""
    return sorted({_split(name)[1] for name in label_names if name != "O" and "-" in name})
