"""The bounds a notification template renders within: a budget of steps (loop iterations,
calls, `range` items) and of work (characters and items every filter, test, call, comparison,
join and output looks at), and a cap on the size of any value a template makes.

Why a size of its own: a list may hold the same list many times (`[a] * 200000` is cheap to
make), and printing, comparing or `|tojson` of it walks every copy, so a value's size here is
what such an operation walks (`weigh`), not its `len`. Every value a template makes (a literal,
a `*`, `+` or `~`, a filter's, a test's or a call's answer) is weighed when made, and whatever
an operation looks at is charged to the work budget, so one render does a bounded amount of
work however it nests. Pure: no clock, no I/O.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, ValuesView
from typing import Any, Final

from jinja2 import nodes, pass_context, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined, markup_join, str_join
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

MAX_STEPS: Final = 10_000  # loop iterations + calls + range items, per render of one part
MAX_OUTPUT_CHARS: Final = 256 * 1024  # any one part, while it renders; any one value's size
MAX_WORK: Final = 4 * MAX_OUTPUT_CHARS  # characters and items looked at, per render of a part
MAX_JSON_INDENT: Final = 8
MAX_ROUND_PLACES: Final = 64
STEPS_FILTER: Final = "_counted_steps"
WEIGHED_FILTER: Final = "_weighed_value"
CONCAT_FILTER: Final = "_bounded_concat"
_CONTAINERS: Final = (list, tuple, dict, set, frozenset, KeysView, ValuesView, ItemsView)
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


class OverBudget(SecurityError):
    """The template took more steps or work (or made larger values) than one render may."""


def budget() -> contextvars.Token[list[int]]:
    """A fresh budget for one render (give the token back to `_budget.reset`)."""
    return _budget.set([MAX_STEPS, MAX_WORK])


def release(token: contextvars.Token[list[int]]) -> None:
    _budget.reset(token)


def charge(steps: int) -> None:
    left = _budget.get()
    left[0] -= steps
    if left[0] < 0:
        raise OverBudget(f"it takes more than {MAX_STEPS} steps (loop iterations and calls)")


def weigh(value: Any, limit: int) -> int:
    """How many characters and items printing or comparing `value` walks (every copy of a
    value held twice counts twice), or a number over `limit` as soon as it is over."""
    total, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 1
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 8
        elif isinstance(item, _CONTAINERS):
            total += 1
            if len(item) > limit - total:
                return limit + 1
            pending.extend(item.items() if isinstance(item, dict) else item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def printed(value: Any) -> Any:
    """What `{{ ... }}` prints, weighed; a method or macro itself (not called) is refused, its
    text would be Python's (`<built-in method keys of dict object at 0x7f...>`)."""
    if callable(value) and not isinstance(value, Undefined):
        raise SecurityError("a method or macro is printed without being called")
    return weighed(value)


def weighed(value: Any) -> Any:
    """`value`, its size charged to the work budget; OverBudget if it is too large."""
    left = _budget.get()
    size = weigh(value, min(left[1], MAX_OUTPUT_CHARS))
    if size > MAX_OUTPUT_CHARS:
        raise OverBudget(f"a value over {MAX_OUTPUT_CHARS} characters and items")
    left[1] -= size
    if left[1] < 0:
        raise OverBudget(f"it looks at more than {MAX_WORK} characters and items")
    return value


def bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter or test whose arguments are charged and whose answer is weighed. It asks for
    the context whatever `function` asks for: Jinja then never tries to fold it into a
    constant at compile time (`1|abs|abs|...` re-tried its whole chain at every link, and
    failed at its end, with no budget open: seconds for a few hundred links)."""
    wants = _PassArg.from_obj(function)

    @pass_context
    @functools.wraps(function)
    def bounded_function(context: Context, *args: Any, **kwargs: Any) -> Any:
        for argument in (*args, *kwargs.values()):
            weighed(argument)
        first = {_PassArg.context: (context,), _PassArg.eval_context: (context.eval_ctx,),
                 _PassArg.environment: (context.environment,)}.get(wants, ())  # type: ignore[arg-type]
        return weighed(function(*first, *args, **kwargs))

    return bounded_function


def bounded_tojson(function: Callable[..., Any]) -> Callable[..., Any]:
    """`tojson` with a small indent (an indent of 10**8 is 100 MB per nesting level)."""

    @functools.wraps(function)
    def tojson(environment: Any, value: Any, indent: Any = None) -> Any:
        if indent is not None and (not isinstance(indent, int) or indent > MAX_JSON_INDENT):
            raise OverBudget(f"tojson indents by at most {MAX_JSON_INDENT}")
        return function(environment, value, indent)

    return bounded(tojson)


def bounded_round(function: Callable[..., Any]) -> Callable[..., Any]:
    """`round` to at most MAX_ROUND_PLACES places either way (`5|round(-10**7)` makes Python
    compute 10**(10**7): seconds; -10**9, forever)."""

    @functools.wraps(function)
    def rounded(value: Any, precision: Any = 0, method: Any = "common") -> Any:
        if isinstance(precision, int) and abs(precision) > MAX_ROUND_PLACES:
            raise OverBudget(f"round takes at most {MAX_ROUND_PLACES} places")
        return function(value, precision, method)

    return bounded(rounded)


def bounded_range(*args: int) -> range:
    steps = range(*args)
    charge(len(steps))
    return steps


@pass_context
def counted(_context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `for` loop iterates through: each iteration costs a step."""
    for item in weighed(iterable):
        charge(1)
        yield item


@pass_context
def weighed_value(_context: Context, value: Any) -> Any:
    """A literal's or a comparison operand's value, weighed (pass_context: never folded at
    compile time, when no budget is open)."""
    return weighed(value)


@pass_eval_context
def bounded_concat(eval_context: EvalContext, operands: list[Any]) -> str:
    """`a ~ b ~ ...`, each operand weighed before it is joined and the result after."""
    for operand in operands:
        weighed(operand)
    joined = (markup_join if eval_context.autoescape else str_join)(operands)
    return weighed(joined)  # type: ignore[no-any-return]


def bounded_join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    del attribute
    items = [str(weighed(item)) for item in value]
    if sum(map(len, items)) + len(str(d)) * max(len(items) - 1, 0) > MAX_OUTPUT_CHARS:
        raise OverBudget(f"join makes more than {MAX_OUTPUT_CHARS} characters")
    return weighed(str(d).join(items))  # type: ignore[no-any-return]


def _through(filter_name: str, node: nodes.Node) -> nodes.Filter:
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)


class BoundedTree(NodeTransformer):
    """Rewrites a parsed template so its loops are counted, its literals and comparison
    operands weighed and its `~` joins bounded."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _through(STEPS_FILTER, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _through(CONCAT_FILTER, nodes.List(node.nodes, lineno=node.lineno))

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        node.expr = _through(WEIGHED_FILTER, node.expr)
        for operand in node.ops:
            operand.expr = _through(WEIGHED_FILTER, operand.expr)
        return node

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return _through(WEIGHED_FILTER, node)

    visit_List = visit_Dict = _literal

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":
            return self.generic_visit(node)
        return self._literal(node)
