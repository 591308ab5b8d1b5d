"""One typed view state per page: the single source of its widget defaults, its URL and every link to it.

A page's state is a frozen dataclass (`ViewState`) whose fields each name their URL parameter and a
*codec* that reads a raw URL value back (checked: a link is untrusted input) and writes a value out.
`from_query` turns a link's query parameters into a state plus one plain warning per value it had to
change; `to_query` writes every field that differs from its default; `link` builds the page's URL
from a state and the workspace. Nothing here calls Streamlit: `ui.state.page_state` / `publish_state`
bind a state to a session and to ``st.query_params``, and tests feed these functions any string.

A field whose default is ``None`` means "the page decides" (a default that depends on the data, such
as the budget of float32 / 8); a link that must reopen exact numbers sets it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlencode

from ui.url import shown

#: A link longer than this may be cut by chat tools and mail clients.
MAX_LINK_CHARS = 2000
#: The workspace's own parameters (see `ui.url.clean_workspace_params`), kept by every page.
WORKSPACE_KEYS = ("dataset", "params", "encoder")


class BadValue(ValueError):
    """A URL value a codec cannot take; the message says what it was and what was used instead."""


# -------------------------------------------------------------------------------- codecs


@dataclass(frozen=True)
class Int:
    """A whole number in ``[low, high]``; out of range is clipped and said (refused when ``clip`` is off)."""

    low: int
    high: int
    clip: bool = True

    def parse(self, raw: str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise BadValue("is not a whole number") from None
        if not math.isfinite(value) or not value.is_integer():
            raise BadValue("is not a whole number")
        value = int(value)
        if not self.low <= value <= self.high:
            if not self.clip:
                raise BadValue(f"is outside {self.low:,}–{self.high:,}")
            clipped = min(max(value, self.low), self.high)
            return clipped, f"is outside {self.low:,}–{self.high:,}; using {clipped:,}"
        return value, None

    def dump(self, value) -> str:
        return str(int(value))


@dataclass(frozen=True)
class Float:
    """A finite number in ``[low, high]``; out of range is clipped (and said)."""

    low: float
    high: float

    def parse(self, raw: str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise BadValue("is not a number") from None
        if not math.isfinite(value):
            raise BadValue("is not a finite number")
        if not self.low <= value <= self.high:
            clipped = min(max(value, self.low), self.high)
            return clipped, f"is outside {self.low:g}–{self.high:g}; using {clipped:g}"
        return value, None

    def dump(self, value) -> str:
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings (``aliases`` maps older spellings onto them)."""

    options: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def parse(self, raw: str):
        value = dict(self.aliases).get(raw, raw)
        if value not in self.options:
            raise BadValue(f"is not one of {', '.join(self.options)}")
        return value, None

    def dump(self, value) -> str:
        return str(value)


@dataclass(frozen=True)
class Text:
    """Free text (a query, an item id), cut to ``max_chars``; control characters dropped."""

    max_chars: int = 300

    def parse(self, raw: str):
        text = "".join(c for c in raw if c.isprintable() or c == " ")
        if len(text) > self.max_chars:
            return text[: self.max_chars], f"is longer than {self.max_chars} characters; cut"
        return text, None

    def dump(self, value) -> str:
        return str(value)


@dataclass(frozen=True)
class Flag:
    """A yes/no value written ``1``/``0`` (``true``/``false`` read too)."""

    def parse(self, raw: str):
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True, None
        if low in ("0", "false", "no", "off"):
            return False, None
        raise BadValue("is not 1 or 0")

    def dump(self, value) -> str:
        return "1" if value else "0"


@dataclass(frozen=True)
class Names:
    """A comma-separated list of short names (at most ``max_items``; each a plain identifier)."""

    max_items: int = 8
    max_chars: int = 40

    def parse(self, raw: str):
        items = [s.strip() for s in raw.split(",") if s.strip()]
        bad = [s for s in items if len(s) > self.max_chars or not all(c.isalnum() or c in "-_." for c in s)]
        if bad:
            raise BadValue("holds names that are not plain identifiers")
        note = None
        if len(items) > self.max_items:
            items, note = items[: self.max_items], f"lists more than {self.max_items}; using the first {self.max_items}"
        return tuple(dict.fromkeys(items)), note

    def dump(self, value) -> str:
        return ",".join(value)


@dataclass(frozen=True)
class ParamMap:
    """``{name: {parameter: value}}`` as compact JSON: each method's build and search parameters.

    ``check(name, params)`` validates one entry (raises ValueError with a message); a bad entry is
    dropped and said, the others kept.
    """

    check: Callable[[str, dict], dict] | None = None
    max_entries: int = 8

    def parse(self, raw: str):
        try:
            value = json.loads(raw, parse_constant=lambda c: c)
        except ValueError:
            raise BadValue("is not valid JSON") from None
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise BadValue("is not a JSON object of objects")
        out: dict = {}
        notes = []
        for name, params in list(value.items())[: self.max_entries]:
            if not all(_plain(v) for v in params.values()):
                notes.append(f"{shown(name)}: values must be numbers, text or true/false")
                continue
            try:
                out[str(name)] = self.check(str(name), dict(params)) if self.check else dict(params)
            except ValueError as exc:
                notes.append(str(exc))
        return out, ("; ".join(notes) + "; those are ignored") if notes else None

    def dump(self, value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _plain(value: object) -> bool:
    return isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value))


def url(name: str, codec, default=None, fallback: str | None = None):
    """A dataclass field kept in the URL as ``?<name>=`` and read back by ``codec``; ``fallback`` says what the
    page shows instead of a bad value (default: "using <the default>")."""
    return field(default=default, metadata={"url": name, "codec": codec, "fallback": fallback})


# ------------------------------------------------------------------------------ the state


@dataclass(frozen=True)
class ViewState:
    """Base of every page's state: a frozen dataclass of `url` fields. ``PAGE`` is its URL path."""

    PAGE: ClassVar[str] = ""

    @classmethod
    def url_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if "url" in f.metadata]

    @classmethod
    def url_keys(cls) -> tuple[str, ...]:
        return tuple(f.metadata["url"] for f in cls.url_fields())

    @classmethod
    def from_query(cls, query: Mapping[str, object]) -> tuple[ViewState, list[str]]:
        """The state a link's query parameters describe, and one warning per value that was changed.

        A missing value takes the field's default; a bad one is said and takes the default too.
        """
        values, warnings = {}, []
        for f in cls.url_fields():
            key = f.metadata["url"]
            raw = query.get(key)
            if raw is None or raw == "":
                continue
            if isinstance(raw, (list, tuple)):
                raw = raw[-1] if raw else ""
            raw = str(raw)
            default = f.default if f.default is not dataclasses.MISSING else None
            fallback = f.metadata.get("fallback") or (
                "using the page's default" if default is None else f"using {default!r}")
            try:
                value, note = f.metadata["codec"].parse(raw)
            except BadValue as exc:
                warnings.append(f"The link's {key}={shown(raw)} {exc}; {fallback}.")
                continue
            if note:
                warnings.append(f"The link's {key}={shown(raw)} {note}.")
            values[f.name] = value
        state = cls(**values)
        checked, more = state.checked()
        return checked, warnings + more

    def checked(self) -> tuple[ViewState, list[str]]:
        """Cross-field checks a page's state needs (override); returns the state and warnings."""
        return self, []

    def to_query(self) -> dict[str, str]:
        """Every field that differs from its default, as URL values (defaults are left out)."""
        out = {}
        for f in self.url_fields():
            value = getattr(self, f.name)
            if value is None or value == f.default:
                continue
            out[f.metadata["url"]] = f.metadata["codec"].dump(value)
        return out

    def replace(self, **changes) -> ViewState:
        return dataclasses.replace(self, **changes)

    def link(self, workspace: Mapping | None = None) -> str:
        """This state's page URL (relative), with the workspace (`workspace_query`) first."""
        values = {**(workspace_query(workspace) if workspace else {}), **self.to_query()}
        return f"/{self.PAGE}" + (f"?{urlencode(values)}" if values else "")


def workspace_query(spec: Mapping) -> dict[str, str]:
    """The URL values of a workspace spec ``{dataset, params, encoder}``."""
    values = {"dataset": str(spec["dataset"]), "encoder": str(spec["encoder"])}
    if spec.get("params"):
        values["params"] = json.dumps(spec["params"], sort_keys=True, separators=(",", ":"))
    return values


def link_too_long(link: str) -> bool:
    return len(link) > MAX_LINK_CHARS
