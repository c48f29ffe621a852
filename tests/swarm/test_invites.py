"""Invites: 5 per minute per swarm, 24 h, single- or multi-use, stored hashed; codes people
type are matched without regard to case, spaces and dashes, and guessing is limited."""

from __future__ import annotations

import pytest

from flaresuite.swarm.invites import (
    CODE_ALPHABET,
    ISSUE_WINDOW_SECONDS,
    ISSUES_PER_WINDOW,
    LIFETIME_SECONDS,
    MAX_CODE_CHARS,
    MIN_CODE_CHARS,
    REFUSALS_PER_WINDOW,
    InviteBook,
    RateLimited,
    digest,
    normalize,
    random_code,
)

TOKEN = "Xq3-0_lLtZr8mV2pQw9eR4tY6uI1oP5aS7dF0gH2jK4"
"""A token as the coordinator issues them (43 URL-safe characters): matched exactly."""


def test_at_most_five_invites_per_minute_then_a_retry_after():
    book = InviteBook()
    for i in range(ISSUES_PER_WINDOW):
        book.issue(f"s{i}", 100.0 + i, multi_use=False)
    with pytest.raises(RateLimited) as limited:
        book.issue("s5", 130.0, multi_use=False)
    assert limited.value.retry_after == pytest.approx(30.0)
    assert len(book.invites) == ISSUES_PER_WINDOW
    book.issue("s6", 160.0, multi_use=False)  # the first issue left the window


def test_the_window_slides():
    book = InviteBook()
    for t in (0, 50, 51, 52, 53):
        book.issue(f"s{t}", float(t), multi_use=True)
    with pytest.raises(RateLimited):
        book.issue("x", 59.0, multi_use=True)
    book.issue("y", 60.0, multi_use=True)
    with pytest.raises(RateLimited):
        book.issue("z", 61.0, multi_use=True)


def test_invites_expire_after_24_hours():
    book = InviteBook()
    book.issue(TOKEN, 0.0, multi_use=True)
    assert book.find(TOKEN, LIFETIME_SECONDS - 1) is not None
    assert book.find(TOKEN, LIFETIME_SECONDS) is None
    assert book.expire(LIFETIME_SECONDS) == [digest(TOKEN)]
    assert book.invites == {}


def test_single_use_invites_are_spent_and_multi_use_ones_are_counted():
    book = InviteBook()
    single = book.issue("one", 0.0, multi_use=False)
    multi = book.issue("many", 0.0, multi_use=True)
    assert book.use(single) is True and book.find("one", 1.0) is None
    for _ in range(3):
        assert book.use(multi) is False
    assert book.find("many", 1.0).uses == 3


def test_only_the_digest_is_kept():
    book = InviteBook()
    invite = book.issue(TOKEN, 0.0, multi_use=False)
    assert TOKEN not in invite.to_json()
    assert list(book.invites) == [digest(TOKEN)]


@pytest.mark.parametrize("guess", ["", "x" * 129, "wrong"])
def test_unknown_or_malformed_tokens_find_nothing(guess):
    book = InviteBook()
    book.issue("right", 0.0, multi_use=True)
    assert book.find(guess, 1.0) is None


@pytest.mark.parametrize(
    "typed", ["K7QM4XPA", "k7qm4xpa", "K7QM-4XPA", " k7qm 4xpa ", "k7q-m4x-pa"]
)
def test_codes_match_whatever_the_case_spaces_and_dashes(typed):
    book = InviteBook()
    book.issue("K7QM4XPA", 0.0, multi_use=True)
    assert book.find(typed, 1.0) is not None


def test_tokens_match_exactly():
    book = InviteBook()
    book.issue(TOKEN, 0.0, multi_use=True)
    assert normalize(" " + TOKEN + " ") == TOKEN
    assert book.find(TOKEN.lower(), 1.0) is None


def test_the_code_alphabet_has_no_look_alikes():
    assert not set("01OIL") & set(CODE_ALPHABET)
    for length in (MIN_CODE_CHARS, MAX_CODE_CHARS):
        code = random_code(length)
        assert len(code) == length and set(code) <= set(CODE_ALPHABET)


def test_six_to_eight_characters_match_as_a_code_and_nine_as_a_token():
    """Shorter and longer codes are never issued (test_web: lengths 5 and 9 are 400)."""
    for code in ("K7QM4X", "K7QM4XPA"):
        book = InviteBook()
        book.issue(code, 0.0, multi_use=True)
        assert book.find(code.lower(), 1.0) is not None
    book = InviteBook()
    book.issue("K7QM4XPAB", 0.0, multi_use=True)
    assert book.find("k7qm4xpab", 1.0) is None, "past MAX_CODE_CHARS, matched exactly"


def test_guessing_is_limited_per_swarm_and_a_window_later_allowed_again():
    book = InviteBook()
    book.issue("K7QM4XPA", 0.0, multi_use=True)
    for i in range(REFUSALS_PER_WINDOW):
        assert book.find(f"GUESS{i:03d}", 1.0) is None
    with pytest.raises(RateLimited) as limited:
        book.find("K7QM4XPA", 2.0)  # even the right code: a guesser learns nothing
    assert "unknown invites" in str(limited.value)
    assert book.find("K7QM4XPA", 1.0 + ISSUE_WINDOW_SECONDS) is not None
