"""The policy file's shape (pydantic at the YAML edge), with line numbers in every error."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from postwarden.errors import PostwardenError
from postwarden.model import (
    EXTRACTION_FINDINGS,
    Action,
    RecipientClass,
    RecipientFlag,
)

FLAGS = tuple(f.value for f in RecipientFlag)
"""Recipient flags a rule may name (``model.RecipientFlag``, the one list)."""
CLASSES = tuple(c.value for c in RecipientClass)
ACTIONS = tuple(a.label for a in Action)
REGISTER_DETECTOR = "register:"
"""Register matches are findings of detector ``register:NAME``."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names only an installation knows, for the loader to check rules against.

    ``None`` leaves that kind unchecked (the pure schema knows no detectors or registers;
    the engine passes the detector registry's ids, an installation its registers' names).
    """

    detectors: frozenset[str] | None = None
    registers: frozenset[str] | None = None

    def check_detector(self, name: str) -> None:
        if name in EXTRACTION_FINDINGS:
            return
        if name.startswith(REGISTER_DETECTOR):
            self.check_register(name.removeprefix(REGISTER_DETECTOR))
            return
        if self.detectors is not None and name not in self.detectors:
            known = [*sorted(self.detectors), *EXTRACTION_FINDINGS, f"{REGISTER_DETECTOR}NAME"]
            raise ValueError(f"unknown detector {name!r} (one of: {', '.join(known)})")

    def check_register(self, name: str) -> None:
        if self.registers is not None and name not in self.registers:
            known = ", ".join(sorted(self.registers)) or "none imported"
            raise ValueError(f"unknown register {name!r} (registers: {known})")


def _vocabulary(info: ValidationInfo) -> Vocabulary:
    context = info.context
    found = context.get("vocabulary") if isinstance(context, dict) else None
    return found if isinstance(found, Vocabulary) else Vocabulary()


def _known(kind: str, value: str, known: Iterable[str]) -> str:
    names = tuple(known)
    if value not in names:
        raise ValueError(f"unknown {kind} {value!r} (one of: {', '.join(names)})")
    return value


class PolicyError(PostwardenError):
    """A policy file that cannot be used; ``errors`` holds one ``FILE:LINE: what`` per problem.

    Exit 1, not 2: ``policy check`` reports the problems as its result (docs/policy.md)."""

    http_status = 400

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Count(_Strict):
    """A count between ``min`` and ``max`` (inclusive)."""

    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=0)

    def holds(self, n: int) -> bool:
        return n >= self.min and (self.max is None or n <= self.max)

    def describe(self) -> str:
        if self.max is None:
            return f">= {self.min}"
        return f"{self.min}..{self.max}"


class RecipientSelector(Count):
    """At least ``min`` (at most ``max``) recipients having all the properties given."""

    classes: list[RecipientClass] | None = Field(default=None, alias="class")
    """Any of these classes."""
    flags: list[str] | None = None
    """Any of these flags."""
    not_flags: list[str] | None = None
    """None of these flags."""
    exempt: bool | None = None
    """Whether the sender holds an exemption for the recipient's domain."""

    @field_validator("flags", "not_flags")
    @classmethod
    def _known_flags(cls, value: list[str] | None) -> list[str] | None:
        for flag in value or ():
            _known("flag", flag, FLAGS)
        return value

    @field_validator("classes", mode="before")
    @classmethod
    def _known_classes(cls, value: Any) -> Any:
        for name in value if isinstance(value, list) else ():
            if isinstance(name, str):
                _known("class", name, CLASSES)
        return value


class Subjects(Count):
    """Registered people present in the content, summed over registers (or one)."""

    register_name: str | None = Field(default=None, alias="register")
    except_recipients: bool = False
    """Leave out a person who is the message's only outside recipient (their own data)."""
    with_email: bool = False
    """Count only people the register's email field shows are not the outside recipient."""

    @field_validator("register_name")
    @classmethod
    def _known_register(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _vocabulary(info).check_register(value)
        return value


class Findings(Count):
    """Findings of the named detectors."""

    detector: list[str]

    @field_validator("detector", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("detector")
    @classmethod
    def _known_detectors(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for name in value:
            _vocabulary(info).check_detector(name)
        return value


class When(_Strict):
    """Conditions that must all hold for a rule to fire."""

    recipients: RecipientSelector | None = None
    visible_recipients: RecipientSelector | None = None
    subjects: Subjects | None = None
    findings: Findings | None = None
    uninspectable: bool | None = None
    recipient_count: Count | None = None
    attachments: Count | None = None
    sender_groups: list[str] | None = None
    """The sender belongs to any of these groups."""
    not_sender_groups: list[str] | None = None
    """The sender belongs to none of these groups."""
    subject_markers: list[str] | None = None
    """The Subject line contains any of these (case-insensitive)."""

    @model_validator(mode="after")
    def _not_empty(self) -> When:
        if not self.model_fields_set:
            raise ValueError("a rule needs at least one condition")
        return self


def _known_action(value: Any) -> Any:
    if isinstance(value, str):
        _known("action", value, ACTIONS)
    return value


class Escalation(_Strict):
    """A stronger action when extra conditions hold too (same rule, same id)."""

    when: When
    action: str
    message: str | None = None

    known_action = field_validator("action", mode="before")(_known_action)


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    description: str = ""
    action: str
    known_action = field_validator("action", mode="before")(_known_action)
    message: str = Field(min_length=1)
    when: When
    escalate: list[Escalation] = Field(default_factory=list)
    enabled: bool = True


class PolicySpec(_Strict):
    version: Literal[1]
    groups: dict[str, list[str]] = Field(default_factory=dict)
    """Sender groups: name → address patterns (``*@hr.example.org``)."""
    rules: list[RuleSpec]


def _cross_errors(spec: PolicySpec) -> list[tuple[tuple[Any, ...], str]]:
    """What no single field can know: duplicate rule ids and groups that are not defined."""
    out: list[tuple[tuple[Any, ...], str]] = []
    seen: set[str] = set()
    for i, rule in enumerate(spec.rules):
        if rule.id in seen:
            out.append((("rules", i, "id"), f"rule id {rule.id!r} appears twice"))
        seen.add(rule.id)
        whens: list[tuple[tuple[Any, ...], When]] = [(("rules", i, "when"), rule.when)]
        for j, step in enumerate(rule.escalate):
            whens.append((("rules", i, "escalate", j, "when"), step.when))
        for loc, when in whens:
            for key in ("sender_groups", "not_sender_groups"):
                for group in getattr(when, key) or ():
                    if group not in spec.groups:
                        out.append(((*loc, key), f"unknown group {group!r} (define it in groups)"))
    return out


def parse_policy(text: str, source: str, vocabulary: Vocabulary | None = None) -> PolicySpec:
    """Validate YAML text as a policy; every problem is reported as ``source:line: what``.

    With ``vocabulary``, detector and register names are checked against it too."""
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([f"{source}:{at}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise PolicyError([f"{source}:1: a policy is a mapping with 'version' and 'rules'"])
    try:
        spec = PolicySpec.model_validate(data, context={"vocabulary": vocabulary or Vocabulary()})
    except ValidationError as exc:
        problems = [
            (tuple(p for p in err["loc"] if not _is_internal_loc(p)), err["msg"])
            for err in exc.errors()
        ]
    else:
        problems = _cross_errors(spec)
        if not problems:
            return spec
    # The node tree (for line numbers) is read only when there is a problem to place: a
    # second pass over the text (~6 ms of every start for the shipped policy).
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    errors = []
    for loc, msg in problems:
        where = ".".join(str(p) for p in loc) or "policy"
        errors.append(f"{source}:{_line_of(node, loc)}: {where}: {msg}")
    raise PolicyError(errors)


def _is_internal_loc(part: Any) -> bool:
    # pydantic names validator steps in ``loc`` (e.g. "function-after[...]"); not YAML keys.
    return isinstance(part, str) and ("[" in part or part.startswith("function"))


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The line of the deepest YAML node on ``loc`` (the key's line for a mapping entry)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
