"""``PaperSpec``: what a paper states, what it leaves out, and what we assumed in its place."""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from byhand.repro._files import write_text_atomic

__all__ = ["PaperSpec"]


# --8<-- [start:spec]
@dataclass
class PaperSpec:
    """The facts a reproduction starts from, each with where it came from.

    ``stated``: item -> the paper's value, as written (with its section where useful);
    ``omitted``: items the paper does not give; ``assumed``: item -> what we use instead (for an
    omitted item, or where we depart from a stated one); ``reported``: metric -> the published
    value a run is measured against (``ReproductionTracker(spec.reported)``).
    """

    title: str
    authors: list = field(default_factory=list)
    year: int | None = None
    url: str = ""
    source: str = ""  # where in the paper: "§4.2, Table 6"
    stated: dict = field(default_factory=dict)
    omitted: list = field(default_factory=list)
    assumed: dict = field(default_factory=dict)
    reported: dict = field(default_factory=dict)
    notes: str = ""

    # --8<-- [end:spec]
    def __post_init__(self):
        if not isinstance(self.title, str) or not self.title:
            raise ValueError(f"PaperSpec expects a non-empty title, got {self.title!r}")
        for name, kind in (("authors", list), ("omitted", list), ("stated", dict)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(
                    f"PaperSpec.{name} expects a {kind.__name__}, "
                    f"got {type(getattr(self, name)).__name__}"
                )
        for name in ("assumed", "reported"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(
                    f"PaperSpec.{name} expects a dict, got {type(getattr(self, name)).__name__}"
                )
        both = [item for item in self.omitted if item in self.stated]
        if both:
            raise ValueError(f"PaperSpec: {both} cannot be both stated and omitted")
        stray = [item for item in self.assumed if item not in [*self.stated, *self.omitted]]
        if stray:
            raise ValueError(
                f"PaperSpec: assumed items {stray} are neither stated nor omitted; "
                "list each one in `stated` or `omitted`"
            )
        bad = {k: v for k, v in self.reported.items() if not isinstance(v, (int, float))}
        if bad:
            raise TypeError(f"PaperSpec.reported expects numbers, got {bad}")

    @property
    def open_items(self):
        """Omitted items with no assumption yet: what the reproduction still has to decide."""
        return [item for item in self.omitted if item not in self.assumed]

    # --8<-- [start:table]
    def to_markdown(self):
        """One row per item: what the source says, and what we use or assume."""
        lines = ["| item | the source says | we use or assume |", "| --- | --- | --- |"]
        for item, value in self.stated.items():
            ours = self.assumed.get(item, "as stated")
            lines.append(f"| {item} | {value} | {ours} |")
        for item in self.omitted:
            ours = self.assumed.get(item, "**open**")
            lines.append(f"| {item} | *not stated* | {ours} |")
        for metric, value in self.reported.items():
            lines.append(f"| reported: {metric} | {value} | the target |")
        return "\n".join(lines)

    # --8<-- [end:table]
    def to_json(self):
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"PaperSpec.from_json expects a JSON object, got {type(data)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"PaperSpec.from_json: unknown keys {unknown}; known: {sorted(known)}"
            )
        return cls(**data)

    def save(self, path):
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path):
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
