"""Rendering notification templates: Jinja2's immutable sandbox, with bounds of our own.

The sandbox already refuses attributes that reach Python's internals (`''.__class__`) and
methods that change lists and dicts. Beyond it a template here has a budget of steps per
render (every loop iteration, every call, every item of a `range` costs one), so no loop runs
unbounded however it nests, and a budget of work with a cap on any value's size
(domain/notifications/template_bounds.py), so no one step does unbounded work; it may call
only macros, `range` and a short list of harmless methods (no `ljust(10**9)`, no `format`);
it has only filters that cannot multiply their input (no `center`, `indent`, `wordwrap`,
`replace`, `safe`); `*`, `**`, `%` and `+` are checked before they run; and output is
read as it is produced and stopped at a cap. Undefined variables are errors
(StrictUndefined), never empty text. The HTML part is autoescaped.

Pure: no clock, no I/O. Compiled templates are kept by source (`compiled`), since compiling
costs far more than rendering.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2 import meta as jinja_meta
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS

from domain.errors import InvalidCommand
from domain.notifications.template_bounds import (
    CONCAT_FILTER,
    MAX_OUTPUT_CHARS,
    MAX_STEPS,
    STEPS_FILTER,
    WEIGHED_FILTER,
    BoundedTree,
    OverBudget,
    bounded,
    bounded_concat,
    bounded_join,
    bounded_range,
    bounded_round,
    bounded_tojson,
    budget,
    charge,
    counted,
    printed,
    release,
    weighed,
    weighed_value,
)

__all__ = ["MAX_OUTPUT_CHARS", "MAX_STEPS", "OverBudget", "RenderedParts", "TemplateParts",
           "TemplateRefused", "check_syntax", "compiled", "render", "variables_used"]

MAX_EXPONENT: Final = 64
MAX_INT_BITS: Final = 4096
SAFE_FILTERS: Final = frozenset({
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
    "float", "forceescape", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "sort",
    "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper",
    "urlencode", "wordcount", "xmlattr"})
SAFE_METHODS: Final = frozenset({
    "capitalize", "casefold", "changed", "count", "cycle", "endswith", "find", "get", "index",
    "isalnum", "isalpha", "isdigit", "islower", "isspace", "isupper", "items", "keys", "lower",
    "lstrip", "removeprefix", "removesuffix", "rfind", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper", "values"})
class TemplateRefused(InvalidCommand):
    """A template that does not compile, reads a variable it may not, renders past a bound
    or beyond what its channel carries (`field` names the part or input)."""


def _int_bits(left: int, right: int, operator_name: str) -> int:
    """At most how many bits `left * right` or `left ** right` takes."""
    if operator_name == "*":
        return abs(left).bit_length() + abs(right).bit_length()
    return abs(left).bit_length() * abs(right)


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


class NotificationSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with a step budget, a call allow-list and checked `*`, `**`, `%`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, html: bool) -> None:
        super().__init__(autoescape=html, undefined=StrictUndefined, auto_reload=False,
                         cache_size=0, finalize=printed)
        self.globals.clear()
        self.globals["range"] = bounded_range
        self.filters = {name: bounded(FILTERS[name]) for name in SAFE_FILTERS} | {
            "join": bounded_join, "tojson": bounded_tojson(FILTERS["tojson"]),
            "round": bounded_round(FILTERS["round"]),
            STEPS_FILTER: counted, WEIGHED_FILTER: weighed_value, CONCAT_FILTER: bounded_concat}
        self.tests = {name: bounded(test)  # type: ignore[arg-type]
                      for name, test in TESTS.items()}

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        allowed = (isinstance(__obj, Macro) or __obj is bounded_range
                   or (getattr(__obj, "__name__", None) in SAFE_METHODS
                       and getattr(__obj, "__self__", None) is not None
                       and not isinstance(__obj.__self__, type)))
        if isinstance(getattr(__obj, "__self__", None), LoopContext) \
                and getattr(__obj, "__name__", None) not in ("cycle", "changed"):
            allowed = False
        if not allowed:
            raise SecurityError(f"{getattr(__obj, '__name__', 'that')} may not be called here")
        for value in (getattr(__obj, "__self__", None), *args, *kwargs.values()):
            weighed(value)  # a method's text too: `s.split()` walks all of `s`
        charge(1)
        return weighed(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if isinstance(left, int) and isinstance(right, int) and operator_name != "%" \
                and _int_bits(left, right, operator_name) > MAX_INT_BITS:
            raise OverBudget(f"a number over {MAX_INT_BITS} bits")
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                if _sized(sequence) and isinstance(times, int) \
                        and _sized(sequence) * times > MAX_OUTPUT_CHARS:
                    raise OverBudget(f"it repeats a value past {MAX_OUTPUT_CHARS} characters")
        elif operator_name == "**":
            if not isinstance(right, int | float) or abs(right) > MAX_EXPONENT:
                raise OverBudget(f"an exponent over {MAX_EXPONENT}")
        elif operator_name == "+":
            weighed(left)
            weighed(right)
        elif isinstance(left, str):
            raise SecurityError("% formatting of text is not available (use ~ to join)")
        return weighed(_BINOPS[operator_name](left, right))


_BINOPS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "*": operator.mul, "**": operator.pow, "%": operator.mod, "+": operator.add}
_TEXT: Final = NotificationSandbox(html=False)
_HTML: Final = NotificationSandbox(html=True)


@dataclass(frozen=True)
class TemplateParts:
    """A template's sources: `title` (an email's subject), `body` (an email's text part) and,
    for email only, `html` (the HTML part, autoescaped)."""

    title: str
    body: str
    html: str | None = None

    def named(self) -> list[tuple[str, str, bool]]:
        """(part, source, is HTML) of every part it has."""
        parts = [("title", self.title, False), ("body", self.body, False)]
        return parts + ([("html", self.html, True)] if self.html is not None else [])


@dataclass(frozen=True)
class RenderedParts:
    title: str
    body: str
    html: str | None = None


@functools.lru_cache(maxsize=512)
def compiled(source: str, html: bool) -> tuple[Template, frozenset[str]]:
    """The template (its loops counted) and the variables it reads from its caller; a
    TemplateSyntaxError (TemplateAssertionError: an unknown filter) if it is not one, or if
    it nests deeper than Jinja's parser or Python's compiler go (`((((1))))` a hundred deep,
    a hundred nested blocks: a RecursionError or Python's own SyntaxError otherwise)."""
    environment = _HTML if html else _TEXT
    try:
        tree = environment.parse(source)
        wanted = frozenset(jinja_meta.find_undeclared_variables(tree)) \
            - set(environment.globals)
        return environment.from_string(BoundedTree().visit(tree)), wanted
    except (RecursionError, SyntaxError, MemoryError):
        raise TemplateSyntaxError("it nests too deeply", 1) from None


def variables_used(parts: TemplateParts) -> frozenset[str]:
    """Every variable the parts read (they must compile)."""
    return frozenset().union(*(compiled(source, html)[1] for _, source, html in parts.named()))


def _render_part(name: str, source: str, html: bool, variables: Mapping[str, Any]) -> str:
    try:
        template, _ = compiled(source, html)
    except TemplateSyntaxError as error:
        raise TemplateRefused(name, f"{name}: line {error.lineno}: {error.message}") from None
    token = budget()
    size, chunks = 0, []
    try:
        for chunk in template.generate(dict(variables)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise OverBudget(f"it renders to more than {MAX_OUTPUT_CHARS} characters")
            chunks.append(chunk)
    except (TemplateError, ArithmeticError, ValueError, TypeError, LookupError,
            RecursionError, MemoryError, AssertionError) as error:  # Jinja asserts arguments
        raise TemplateRefused(name, f"{name}: {_said(error)}") from None
    finally:
        release(token)
    return "".join(chunks)


def _said(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it calls itself too deeply"
    if isinstance(error, MemoryError):
        return "it needs more memory than a render may have"
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def render(parts: TemplateParts, variables: Mapping[str, Any]) -> RenderedParts:
    """The parts rendered with these variables; TemplateRefused (naming the part and why) if
    one does not compile, reads a variable not given, or goes past a bound."""
    title = _render_part("title", parts.title, False, variables)
    body = _render_part("body", parts.body, False, variables)
    html = None if parts.html is None else _render_part("html", parts.html, True, variables)
    return RenderedParts(" ".join(title.split()), body.strip(), html)


def check_syntax(parts: TemplateParts) -> frozenset[str]:
    """The variables the parts read; TemplateRefused naming the part and line of a syntax
    error or an unknown filter."""
    used: set[str] = set()
    for name, source, html in parts.named():
        try:
            used |= compiled(source, html)[1]
        except TemplateSyntaxError as error:
            raise TemplateRefused(name, f"{name}: line {error.lineno}: {error.message}") \
                from None
    return frozenset(used)
