"""Hostile notification templates (an admin's, rendered per recipient at trigger time): none
reads Parley's internals or does unbounded work, however it nests, shares or joins values;
each is refused naming the part and the bound, fast. Ordinary templates still render."""

from __future__ import annotations

import time

import pytest

from domain.notifications.rendering import TemplateParts, TemplateRefused, check_syntax, render

BIG_LIST = "{% set a = [1] * 100000 %}"
SHARED = BIG_LIST + "{% set b = [a] * 100 %}"  # cheap to make; 10 million items to print


def refusal(body: str, html: str | None = None) -> str:
    started = time.monotonic()
    with pytest.raises(TemplateRefused) as refused:
        render(TemplateParts("Hello", body, html), {"name": "Ana"})
    assert time.monotonic() - started < 2
    return str(refused.value)


@pytest.mark.parametrize("body", [
    SHARED + "{{ b|string|length }}",
    SHARED + "{{ b|tojson|length }}",
    SHARED + "{{ b|sum(start=[])|length }}",
    SHARED + "{{ b|map('length')|sum }}{{ b }}",
    SHARED + "{{ b|join|length }}",
    BIG_LIST + "{% set b = [a, a, a, a] %}{{ b|string|length }}",
    BIG_LIST + "{% set b = {'x': a, 'y': a, 'z': a} %}{{ b.items()|list|string|length }}",
], ids=["string", "tojson", "sum", "print", "join", "list literal", "dict literal"])
def test_a_value_holding_the_same_list_many_times_is_refused_before_it_is_walked(
        body: str) -> None:
    assert "a value over" in refusal(body)


@pytest.mark.parametrize("body", [
    "{% set s = 'a' * 200000 %}{% set s = s ~ s %}{{ s|length }}",
    "{% set s = 'a' * 200000 %}{% set s = s + s %}{{ s|length }}",
    "{% set s = [1] * 200000 %}{% set s = s + s %}{{ s|length }}",
    "{% set s = 'a' * 100000 %}{{ (s ~ s ~ s ~ s)|length }}",
], ids=["concat", "plus", "list plus", "concat chain"])
def test_joining_or_adding_past_the_value_cap_is_refused(body: str) -> None:
    assert "a value over" in refusal(body)


@pytest.mark.parametrize("body", [
    "{% set a = [1] * 50000 %}{% for i in range(200) %}{{ a|string|length }}{% endfor %}",
    "{% set s = 'a b ' * 50000 %}{% for i in range(200) %}{{ s|wordcount }}{% endfor %}",
    "{% set s = ' x' * 100000 %}{% for i in range(200) %}{{ s.split()|length }}{% endfor %}",
    BIG_LIST + "{% set c = a|list %}{% for i in range(200) %}{{ a == c }}{% endfor %}",
    BIG_LIST + "{% for i in range(200) %}{{ 2 in a }}{% endfor %}",
    "{% set s = '<' * 50000 %}{% for i in range(200) %}{{ s|urlencode|length }}{% endfor %}",
], ids=["string", "wordcount", "split", "compare", "in", "urlencode"])
def test_a_loop_over_large_values_runs_out_of_work_not_of_time(body: str) -> None:
    assert "more than" in refusal(body)


def test_tojson_may_not_indent_by_megabytes() -> None:
    assert "tojson indents by at most 8" in refusal("{{ [1, [2]]|tojson(indent=1000000) }}")


@pytest.mark.parametrize("body", [
    "{{ cycler(1, 2).next() }}", "{{ joiner(',')() }}", "{% set ns = namespace(a=1) %}",
    "{{ lipsum(1000) }}", "{{ dict(a=1) }}", "{{ self._TemplateReference__context }}",
    "{% macro f() %}{% endmacro %}{{ f._func.__globals__ }}",
    "{% for i in [1] %}{{ loop.cycle.__self__ }}{% endfor %}",
    "{{ 'a'|attr('__class__') }}", "{{ [1]|selectattr('__class__')|list }}",
    "{{ [1, 2]|sort(attribute='__class__') }}", "{{ '{0.__class__}'.format(1) }}",
    "{{ 'a'.rjust(1000000000) }}", "{{ 'a'.replace('a', 'b') }}", "{{ '%s' % name }}",
    "{{ 9 ** 64 ** 64 }}", "{{ range(0, 10 ** 9, 3)|length }}", "{{ settings }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
], ids=lambda body: body[:40])
def test_internals_globals_and_unbounded_calls_are_refused(body: str) -> None:
    refusal(body)


def test_a_template_refused_for_its_size_names_its_part() -> None:
    assert refusal("ok", html="{% set s = 'a' * 200000 %}{{ s ~ s }}").startswith("html:")


def test_ordinary_templates_still_render() -> None:
    body = ("{% macro row(label) %}[{{ label }}: {{ caller() }}]{% endmacro %}"
            "{% for item in items %}{% call row(loop.index) %}{{ item|upper }}{% endcall %}"
            "{{ loop.cycle(',', ';') }}{% endfor %} {{ 'Hi ' ~ name }} {{ name == 'Ana' }} "
            "{{ ('x' * 3) + '!' }} {{ {'k': items|length}|tojson(indent=2)|length }} "
            "{{ items|join('/') }} {{ 'b' in items }} {{ (items + ['c'])|length }}")
    rendered = render(TemplateParts("Hi {{ name }}", body, "<p>{{ '<b>' ~ name }}</p>"),
                      {"name": "Ana", "items": ["a", "b"]})
    assert rendered.body == ("[1: A],[2: B]; Hi Ana True xxx! 12 a/b True 3")
    assert rendered.html == "<p>&lt;b&gt;Ana</p>"


@pytest.mark.parametrize("body", [
    "{{ " + "(" * 100 + "1" + ")" * 100 + " }}", "{{ " + "[" * 100 + "1" + "]" * 100 + " }}",
    "{{ 1" + "|abs" * 250 + " }}", "{{ 1" + " + 1" * 1000 + " }}", "{{ x" + ".a" * 1000 + " }}",
    "{{ " + "not " * 1000 + "1 }}", "{% if 1 %}" * 100 + "x" + "{% endif %}" * 100,
    "{% for a in [1] %}" * 50 + "x" + "{% endfor %}" * 50,
    "{% macro m() %}" * 100 + "{% endmacro %}" * 100,
], ids=["parens", "lists", "filters", "plus", "attributes", "not", "ifs", "fors", "macros"])
def test_a_template_nested_past_what_the_parser_and_compiler_take_is_refused_at_save(
        body: str) -> None:
    """Each was a RecursionError or Python's own SyntaxError (too many nested parentheses or
    blocks), a 500 when an admin saved it."""
    with pytest.raises(TemplateRefused) as refused:
        check_syntax(TemplateParts("Hello", body))
    assert str(refused.value) == "body: line 1: it nests too deeply"
    assert "it nests too deeply" in refusal(body)


def test_a_filter_argument_jinja_asserts_on_is_a_refusal_not_an_assertion_error() -> None:
    assert "expected length >= 3" in refusal("{{ name|truncate(-5) }}")


@pytest.mark.parametrize("body", ["{{ name.upper }}", "{{ {'a': 1}|attr('keys') }}",
                                  "{% macro m() %}{% endmacro %}{{ m }}"])
def test_a_method_or_macro_printed_uncalled_is_refused_not_shown_with_its_address(
        body: str) -> None:
    assert "printed without being called" in refusal(body)


@pytest.mark.parametrize("body", ["{{ 5|round(-10000000) }}", "{{ 5.5|round(1000) }}",
                                  "{{ 5|round(-1000000000, 'floor') }}"])
def test_round_to_millions_of_places_is_refused_not_computed(body: str) -> None:
    """`5|round(-10**7)` computed 10**(10**7): 8 seconds; -10**9, forever."""
    assert "round takes at most 64 places" in refusal(body)


def test_round_to_a_few_places_still_rounds() -> None:
    assert render(TemplateParts("t", "{{ 2.675|round(1) }} {{ 1234|round(-2) }}"),
                  {}).body == "2.7 1200"
