"""The compiled secret-redaction walk (connectors/_redact.c) does what its Python reference does.

``redact_secret_names`` runs over every attribute a connector reads; where the C module was
built it does the walk, elsewhere ``redact_in_python`` does. Both must give the same value,
return the input itself when nothing changes, and never change the input.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regie.connectors import base
from regie.connectors.base import REDACTED, redact_in_python, redact_secret_names

native = base._native
needs_native = pytest.mark.skipif(
    native is None,
    reason="regie.connectors._redact was not built here (no C compiler when Regie was installed)",
)

NAMES = st.sampled_from(
    ["password", "admin_password", "db_password_arn", "api_key", "Secret", "token_ttl", "name", "region",
     "tags", "client_secret", "sas_url", "password_reset_required", "x", ""]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["", REDACTED, "hunter2", "eu-west-1"]),
    st.text(max_size=5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(NAMES, st.integers(-2, 2)), inner, max_size=5),
    ),
    max_leaves=25,
)


@needs_native
@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_the_compiled_walk_gives_what_the_python_walk_gives(value: Any) -> None:
    before = copy.deepcopy(value)
    expected = redact_in_python(value)
    got = redact_secret_names(value)
    assert got == expected
    assert (got is value) == (expected is value)  # copies only where something changed
    assert value == before  # the input is never changed


def test_secrets_are_redacted_at_any_depth_and_only_strings() -> None:
    state = {
        "name": "db",
        "password": "hunter2",
        "password_reset_required": True,
        "secret_arn": "arn:aws:secretsmanager:eu-west-1:1:secret:x",
        "settings": [{"admin_password": "x", "port": 5432}, "plain"],
        "empty_token": "",
    }
    for walk in (redact_in_python, redact_secret_names):
        out = walk(state)
        assert out["password"] == REDACTED
        assert out["settings"][0] == {"admin_password": REDACTED, "port": 5432}
        assert out["settings"][1] == "plain"
        assert out["password_reset_required"] is True
        assert out["secret_arn"].startswith("arn:")  # names a secret, does not hold one
        assert out["empty_token"] == ""
        assert state["password"] == "hunter2"  # a copy, not the input changed


def test_an_unchanged_value_is_returned_itself() -> None:
    value = {"name": "vm", "tags": {"service": "pay"}, "disks": [{"size": 8}]}
    assert redact_secret_names(value) is value
    assert redact_in_python(value) is value


@needs_native
def test_absurd_nesting_is_a_recursion_error_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        redact_secret_names(deep)


@needs_native
def test_bad_arguments_are_type_errors() -> None:
    assert native is not None
    with pytest.raises(TypeError, match="4 arguments"):
        native({})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="cache must be a dict"):
        native({}, [], bool, REDACTED)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="classify must be callable"):
        native({}, {}, None, REDACTED)  # type: ignore[arg-type]


def test_ci_runs_the_compiled_walk() -> None:
    """CI builds what users get from `pip install` with a compiler: the speed claims of
    bench/README.md rest on it."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI requires the compiled walk (CI=true)")
    assert native is not None, "regie.connectors._redact was not built: is a C compiler installed?"


def test_without_the_compiled_walk_the_python_walk_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_native", None)
    value = {"name": "db", "settings": [{"admin_password": "hunter2"}]}
    assert redact_secret_names(value) == {"name": "db", "settings": [{"admin_password": REDACTED}]}
