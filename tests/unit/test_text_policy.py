"""What people may write: names, titles and messages refuse spoofing but keep real writing;
staff-like handles are reserved; references are opaque keys or http(s) URLs."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DisallowedText, UnsafeReference
from domain.identity.devices import DEVICE_NAME
from domain.identity.errors import ReservedHandle
from domain.identity.users import NAME, User, clean_avatar, user_id_for_handle
from domain.messaging.conversations import TITLE, Conversation, clean_message_text
from domain.text import BIDI_CONTROLS, MAX_MARKS_IN_A_ROW
from tests.builders import a_cause

clean_name, clean_title = NAME.clean, TITLE.clean  # the one display-name rule, two of its uses
CLEANERS = {"name": clean_name, "title": clean_title, "device name": DEVICE_NAME.clean,
            "message": clean_message_text}
ACUTE = "\u0301"
PERSIAN_NAME = "\u0645\u06cc\u200c\u0631\u0648\u0645"  # ZWNJ between two letters
ZWJ_EMOJI = ["Ada \U0001f469\u200d\U0001f4bb", "\u2764\ufe0f\u200d\U0001f525 fan",
             "\U0001f468\u200d\U0001f469\u200d\U0001f467 family", "1\ufe0f\u20e3 first"]
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
REAL_NAMES = ["Nguyễn Thị Minh Khai", "José Ñúñez", "देवनागरी क्षत्रिय", "שָׁלוֹם עֲלֵיכֶם",
              "محمد\u200f علی", "김민준", "Zoë O'Brien-Smith", f"Fan of {SCOTLAND}"]

visible = st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd", "Pd", "Po", "So", "Zs"))


@pytest.mark.parametrize("clean", CLEANERS.values(), ids=CLEANERS.keys())
@given(before=st.text(visible, min_size=1, max_size=20), after=st.text(visible, max_size=20),
       control=st.sampled_from(sorted(BIDI_CONTROLS)))
def test_bidirectional_overrides_and_isolates_are_refused_anywhere(
    clean: object, before: str, after: str, control: str,
) -> None:
    with pytest.raises(DisallowedText):
        clean("x" + before + control + after)  # type: ignore[operator]


@pytest.mark.parametrize("clean", CLEANERS.values(), ids=CLEANERS.keys())
@given(marks=st.integers(min_value=1, max_value=40))
def test_combining_marks_are_bounded_per_character(clean: object, marks: int) -> None:
    text = "Zalgo x" + ACUTE * marks  # x has no precomposed form: every mark stays
    if marks <= MAX_MARKS_IN_A_ROW:
        assert clean(text)  # type: ignore[operator]
    else:
        with pytest.raises(DisallowedText):
            clean(text)  # type: ignore[operator]


@pytest.mark.parametrize("name", [PERSIAN_NAME, *ZWJ_EMOJI, *REAL_NAMES])
def test_names_and_titles_in_real_scripts_and_emoji_sequences_are_accepted(name: str) -> None:
    assert clean_name(name) == clean_title(name) == DEVICE_NAME.clean(name) == name
    assert clean_message_text(name) == name


@pytest.mark.parametrize("name", [
    "\u200dAda", "Ada\u200c", "Ada \u200d Bob", "A\u200d\u200dB", "Ada\u200bLovelace",
    "Ada\u2060", "\ufeffAda", "Ada\U000e0067", "Ada\ue000",
])
def test_invisible_characters_in_names_are_refused_unless_writing_needs_them(name: str) -> None:
    for clean in (clean_name, clean_title, DEVICE_NAME.clean):
        with pytest.raises(DisallowedText):
            clean(name)


@given(st.text(visible, min_size=1, max_size=60).filter(lambda t: t.strip()))
def test_a_cleaned_name_is_clean(name: str) -> None:
    once = clean_name(name)
    assert clean_name(once) == once


@pytest.mark.parametrize("handle", [
    "admin", "Admin", "ADMINISTRATOR", "support", "security", "parley", "root", "moderator",
    "staff", "help", "official", "system", "admin_1", "a_d_m_i_n", "support2", "parley_help",
    "ada_admin", "official_news", "security_team", "s_u_p_p_o_r_t",
])
def test_staff_like_handles_are_reserved(handle: str) -> None:
    with pytest.raises(ReservedHandle) as raised:
        User.register(handle, "Mallory", a_cause())
    assert raised.value.field == "handle"


@pytest.mark.parametrize("handle", ["adam", "helper", "modest", "rooted_tree", "ada_l",
                                    "systematic", "staffan"])
def test_ordinary_handles_that_contain_a_staff_word_are_not_reserved(handle: str) -> None:
    assert User.register(handle, "Someone", a_cause()).handle == handle


def test_a_reserved_handle_still_names_its_user_for_sign_in_and_mentions() -> None:
    assert user_id_for_handle("admin") == user_id_for_handle("ADMIN")


UNSAFE = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
          "vbscript:msgbox", "file:///etc/passwd", "ftp://example.com/a.png",
          "//evil.example/a.png", "https:nohost", "https:\\\\evil.example", "blob:https://x"]
SAFE = ["blobs/2c9e41", "attachments/ab/cd", "https://cdn.example.com/a.png",
        "http://photos.example/p?id=1", "HTTPS://cdn.example.com/a.png"]


@pytest.mark.parametrize("reference", UNSAFE)
def test_references_are_never_scripts_or_other_schemes(reference: str) -> None:
    with pytest.raises(UnsafeReference):
        clean_avatar(reference)
    group = Conversation.create_group(uuid.uuid4(), owner := uuid.uuid4(), "Club", (), 10,
                                      a_cause())
    with pytest.raises(UnsafeReference):
        group.change_photo(owner, reference, a_cause(owner))


@pytest.mark.parametrize("reference", SAFE)
def test_opaque_keys_and_web_urls_are_accepted_references(reference: str) -> None:
    assert clean_avatar(reference) == reference
