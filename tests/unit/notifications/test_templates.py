"""Notification templates: the sandbox's bounds, validation at save, versions, locales."""

from __future__ import annotations

import time

import pytest

from domain.notifications.content import EMAIL_MAX_BYTES, PUSH_PAYLOAD_BYTES
from domain.notifications.rendering import TemplateParts, TemplateRefused, render
from domain.notifications.templates import (
    MAX_TEMPLATES,
    BadLocale,
    NotificationTemplate,
    TemplateCatalog,
    TemplateRules,
    TooManyTemplates,
    canonical_locale,
    check_template,
    locale_chain,
    template_id,
)
from tests.builders import a_cause, now

RULES = TemplateRules(frozenset({"name", "items"}), {"name": "Ana", "items": ["a", "b"]})


def parts(body: str, title: str = "Hello", html: str | None = None) -> TemplateParts:
    return TemplateParts(title, body, html)


def refusal(body: str, variables: dict[str, object] | None = None) -> str:
    with pytest.raises(TemplateRefused) as refused:
        render(parts(body), variables or {})
    return str(refused.value)


def test_the_sandbox_refuses_access_to_python_internals() -> None:
    assert "unsafe" in refusal("{{ ''.__class__ }}")
    assert "unsafe" in refusal("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    assert "unsafe" in refusal("{{ name.__init__.__globals__ }}", {"name": "x"})


def test_a_loop_over_a_billion_items_is_stopped_at_once() -> None:
    started = time.monotonic()
    assert "steps" in refusal("{% for i in range(10**9) %}x{% endfor %}")
    assert "steps" in refusal("{% for i in xs %}{% for j in xs %}{% for k in xs %}"
                              "{% endfor %}{% endfor %}{% endfor %}", {"xs": list(range(100))})
    assert time.monotonic() - started < 1


def test_calls_and_operators_that_could_explode_are_refused() -> None:
    assert "may not be called" in refusal("{{ 'a'.ljust(10**9) }}")
    assert "past" in refusal("{{ 'a' * 10**9 }}")
    assert "formatting" in refusal("{{ '%999999999s' % 'a' }}")
    assert "bits" in refusal("{{ ((10**64)**64)**64 }}")
    assert "too deeply" in refusal("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}")
    assert "No filter named 'center'" in refusal("{{ 'a'|center(10**9) }}")


def test_an_undefined_variable_is_an_error_not_empty_text() -> None:
    assert "'name' is undefined" in refusal("Hi {{ name }}")


def test_the_html_part_is_autoescaped_and_the_text_parts_are_not() -> None:
    rendered = render(parts("{{ name }}", html="<p>{{ name }}</p>"), {"name": "<b>&"})
    assert rendered.body == "<b>&"
    assert rendered.html == "<p>&lt;b&gt;&amp;</p>"


def test_a_template_reading_an_undeclared_variable_is_not_saved() -> None:
    with pytest.raises(TemplateRefused, match="unknown variable amount"):
        check_template(parts("{{ name }} owes {{ amount }}"), "push", RULES)


def test_a_syntax_error_names_its_part_and_line() -> None:
    with pytest.raises(TemplateRefused, match=r"^title: line 1: unexpected '}'") as refused:
        check_template(parts("ok", title="{{ name }"), "push", RULES)
    assert refused.value.field == "title"


def test_output_beyond_the_channels_limit_with_sample_data_is_not_saved() -> None:
    with pytest.raises(TemplateRefused, match="payload"):
        check_template(parts("{% for i in range(3) %}" + "x" * (PUSH_PAYLOAD_BYTES // 3)
                             + "{% endfor %}"), "push", RULES)
    with pytest.raises(TemplateRefused, match="segments"):
        check_template(parts("{% for i in range(1000) %}{{ name }}{% endfor %}"), "sms", RULES)
    check_template(parts("{{ name }}", html="{% for i in range(3) %}<p>{{ name }}</p>"
                                             "{% endfor %}"), "email", RULES)
    assert EMAIL_MAX_BYTES > PUSH_PAYLOAD_BYTES


def test_only_email_templates_have_an_html_part() -> None:
    with pytest.raises(TemplateRefused, match="only an email template"):
        check_template(parts("{{ name }}", html="<p>x</p>"), "push", RULES)


def test_every_save_is_a_version_and_the_same_parts_again_are_not() -> None:
    template = NotificationTemplate.create("payment", "push", "pt-BR", parts("Oi {{ name }}"),
                                           RULES, now(), a_cause())
    assert template.id == template_id("payment", "push", "pt-BR")
    assert template.update(parts("Olá {{ name }}"), RULES, now(), a_cause())
    assert not template.update(parts("Olá {{ name }}"), RULES, now(), a_cause())
    saved = [e for e in template.collect_events()
             if isinstance(e, NotificationTemplate.VersionSaved)]
    assert [(e.version, e.body) for e in saved] == [(1, "Oi {{ name }}"), (2, "Olá {{ name }}")]


def test_a_refused_update_records_nothing() -> None:
    template = NotificationTemplate.create("payment", "push", "en", parts("Hi {{ name }}"),
                                           RULES, now(), a_cause())
    template.collect_events()
    with pytest.raises(TemplateRefused):
        template.update(parts("Hi {{ nobody }}"), RULES, now(), a_cause())
    assert template.collect_events() == [] and template.latest == 1


def test_locales_fall_back_from_region_to_language_to_default() -> None:
    assert locale_chain("pt_br") == ["pt-BR", "pt", "default"]
    assert locale_chain("zh-hant-tw") == ["zh-Hant-TW", "zh-Hant", "zh", "default"]
    assert locale_chain(None) == ["default"]
    assert canonical_locale("EN") == "en"
    with pytest.raises(BadLocale):
        canonical_locale("../etc")


def test_a_deployment_has_a_bounded_number_of_templates() -> None:
    catalog = TemplateCatalog.open(a_cause())
    for number in range(MAX_TEMPLATES):
        catalog.include(template_id("system", "push", f"x{number}"), a_cause())
    with pytest.raises(TooManyTemplates):
        catalog.include(template_id("system", "push", "one-more"), a_cause())
    assert catalog.count == MAX_TEMPLATES
