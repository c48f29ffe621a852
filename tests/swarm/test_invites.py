"""Invite tokens: 5 per minute per swarm, 24 h, single- or multi-use, stored hashed."""

from __future__ import annotations

import pytest

from flaresuite.swarm.invites import (
    ISSUES_PER_WINDOW,
    LIFETIME_SECONDS,
    InviteBook,
    RateLimited,
    digest,
)


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
    book.issue("secret", 0.0, multi_use=True)
    assert book.find("secret", LIFETIME_SECONDS - 1) is not None
    assert book.find("secret", LIFETIME_SECONDS) is None
    assert book.expire(LIFETIME_SECONDS) == [digest("secret")]
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
    invite = book.issue("plain-secret", 0.0, multi_use=False)
    assert "plain-secret" not in invite.to_json()
    assert list(book.invites) == [digest("plain-secret")]


@pytest.mark.parametrize("guess", ["", "x" * 129, "wrong"])
def test_unknown_or_malformed_tokens_find_nothing(guess):
    book = InviteBook()
    book.issue("right", 0.0, multi_use=True)
    assert book.find(guess, 1.0) is None
