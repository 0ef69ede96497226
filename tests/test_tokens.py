"""Signed reader tokens: round trip, forgery, truncation, purposes, key rotation."""

import base64
from datetime import UTC, datetime

import pytest
from itsdangerous import URLSafeTimedSerializer

from letterpress.audience.tokens import TokenData, TokenSigner
from letterpress.errors import TokenError, TokenExpired


def test_roundtrip_identifies_subscriber_and_list():
    signer = TokenSigner(["k1"])
    token = signer.dumps("unsubscribe", 42, 7)
    data = signer.loads("unsubscribe", token)
    assert isinstance(data, TokenData)
    assert (data.subscriber_id, data.list_id) == (42, 7)
    assert data.issued_at.tzinfo is not None
    assert abs((datetime.now(UTC) - data.issued_at).total_seconds()) < 5


def test_token_is_url_safe_and_carries_no_address():
    token = TokenSigner(["k1"]).dumps("unsubscribe", 42, 7)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert "@" not in token
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert decoded == b"[42,7]"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1],                                      # truncated signature
    lambda t: t[: len(t) // 2],                            # truncated in the middle
    # altered signature (first character: the last one partly holds base64 padding bits)
    lambda t: t[: t.rindex(".") + 1] + ("A" if t[t.rindex(".") + 1] != "A" else "B")
    + t[t.rindex(".") + 2:],
    lambda t: t.replace("Wzq", "Wzr", 1) if "Wzq" in t else "Wz" + t[2:].swapcase(),
    lambda t: "WzEsMV0" + t[t.index("."):],                # payload swapped for [1,1]
    lambda t: "",
    lambda t: "not-a-token",
    lambda t: t + "." + t,
    lambda t: "x" * 2000,
])
def test_forged_altered_or_truncated_tokens_are_refused(mangle):
    signer = TokenSigner(["k1"])
    token = signer.dumps("unsubscribe", 42, 7)
    with pytest.raises(TokenError) as info:
        signer.loads("unsubscribe", mangle(token))
    assert str(info.value) == "invalid token"  # no detail about why


def test_token_signed_with_another_key_is_refused():
    token = TokenSigner(["attacker"]).dumps("unsubscribe", 42, 7)
    with pytest.raises(TokenError):
        TokenSigner(["k1"]).loads("unsubscribe", token)


def test_other_purpose_is_refused():
    signer = TokenSigner(["k1"])
    confirm = signer.dumps("confirm", 42, 7)
    for purpose in ("unsubscribe", "preferences", "resubscribe"):
        with pytest.raises(TokenError):
            signer.loads(purpose, confirm)
    assert signer.loads("confirm", confirm).subscriber_id == 42


def test_well_signed_token_with_unexpected_payload_is_refused():
    forged = URLSafeTimedSerializer("k1", salt="letterpress.unsubscribe").dumps({"email": "x"})
    with pytest.raises(TokenError):
        TokenSigner(["k1"]).loads("unsubscribe", forged)


def test_rotation_old_key_still_verifies_and_newest_signs():
    old = TokenSigner(["old"])
    sent_before_rotation = old.dumps("unsubscribe", 42, 7)
    rotated = TokenSigner(["new", "old"])  # settings order: newest first
    assert rotated.loads("unsubscribe", sent_before_rotation).subscriber_id == 42
    fresh = rotated.dumps("unsubscribe", 43, 7)
    assert TokenSigner(["new"]).loads("unsubscribe", fresh).subscriber_id == 43
    with pytest.raises(TokenError):
        old.loads("unsubscribe", fresh)
    # once the old key is dropped, its tokens stop working
    with pytest.raises(TokenError):
        TokenSigner(["new"]).loads("unsubscribe", sent_before_rotation)


def test_expired_token():
    signer = TokenSigner(["k1"])
    token = signer.dumps("confirm", 1, 1)
    assert signer.loads("confirm", token, max_age=3600).list_id == 1
    with pytest.raises(TokenExpired):
        signer.loads("confirm", token, max_age=-1)


def test_signer_needs_a_key():
    with pytest.raises(TokenError):
        TokenSigner([])


def test_project_secret_signs_tokens(settings):
    signer = TokenSigner(settings.secret_keys)
    assert signer.loads("preferences", signer.dumps("preferences", 5, 6)).list_id == 6


def test_tokens_are_itsdangerous_tokens_byte_for_byte(monkeypatch):
    """The signer built once per purpose gives what URLSafeTimedSerializer.dumps gives, so
    tokens already mailed and tokens mailed now verify alike."""
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 1_700_000_000)
    signer = TokenSigner(["new-key-" + "n" * 32, "old-key-" + "o" * 32])
    for purpose in ("unsubscribe", "preferences", "confirm", "resubscribe"):
        reference = URLSafeTimedSerializer(["old-key-" + "o" * 32, "new-key-" + "n" * 32],
                                           salt=f"letterpress.{purpose}")
        assert signer.dumps(purpose, 42, 7, "k" * 22) == reference.dumps([42, 7, "k" * 22])
        assert signer.dumps(purpose, 42, 7) == reference.dumps([42, 7])
