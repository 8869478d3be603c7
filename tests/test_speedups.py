"""The compiled parts of reading facts (connectors/_speedups.c) do what their Python references do.

``redact_secret_names`` runs over every attribute a connector reads; where the C module was
built it does the walk, elsewhere ``redact_in_python`` does. Both must give the same value,
return the input itself when nothing changes, and never change the input. The Terraform
state reader hands the common instance to ``read_instances`` and every other one to its
Python ``one``: with and without the compiled part, the resources must be the same, slot by
slot, and so must the errors.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regie.connectors import base
from regie.connectors.base import REDACTED, redact_in_python, redact_secret_names
from regie.connectors.terraform import state as state_module
from regie.engine.facts import Resource

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))

native = base._native
needs_native = pytest.mark.skipif(
    native is None,
    reason="regie.connectors._speedups was not built here (no C compiler when Regie was installed)",
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


def test_ci_runs_the_compiled_parts() -> None:
    """CI builds what users get from `pip install` with a compiler: the speed claims of
    bench/README.md rest on it."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI requires the compiled parts (CI=true)")
    assert native is not None, "regie.connectors._speedups was not built: is a C compiler installed?"
    assert state_module._native_instances is not None


def test_without_the_compiled_walk_the_python_walk_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_native", None)
    value = {"name": "db", "settings": [{"admin_password": "hunter2"}]}
    assert redact_secret_names(value) == {"name": "db", "settings": [{"admin_password": REDACTED}]}


# --- the compiled state reader ------------------------------------------------------------


read_instances = state_module._native_instances
needs_reader = pytest.mark.skipif(
    read_instances is None,
    reason="regie.connectors._speedups was not built here (no C compiler when Regie was installed)",
)

TAG_NAMES = ["service", "classification", "vital", "exit_plan", "owner", "regie.dev/owner", "x"]
TAG_TEXT = st.sampled_from(["true", "false", "yes", "", "pay", "BBN2", "team-1"])
STRING_TAGS = st.fixed_dictionaries({}, optional=dict.fromkeys(TAG_NAMES, TAG_TEXT))
TAGS = st.one_of(
    STRING_TAGS,  # the common case: a map of strings
    STRING_TAGS,
    STRING_TAGS,
    st.none(),
    st.just(""),
    st.dictionaries(
        st.sampled_from(TAG_NAMES), st.one_of(TAG_TEXT, st.none(), st.integers(0, 2)), max_size=4
    ),
    st.lists(st.sampled_from(["service=pay", "vital=true", "bare"]), max_size=3),
)
ATTRIBUTES = st.fixed_dictionaries(
    {},
    optional={
        "region": st.sampled_from(["eu-west-1", "fr-par", "mars-1", 7, None]),
        "location": st.sampled_from(["westeurope", None]),
        "zone": st.sampled_from(["fr-par-1", None]),
        "arn": st.sampled_from(["arn:aws:s3:eu-central-1:1:b", "arn:aws:iam::1:role/r", 3]),
        "tags": TAGS,
        "labels": TAGS,
        "password": st.sampled_from(["hunter2", "", None]),
        "nested": st.lists(st.fixed_dictionaries({"api_key": st.sampled_from(["k", ""])}), max_size=2),
    },
)
INSTANCE = st.fixed_dictionaries(
    {"attributes": ATTRIBUTES},
    optional={
        "index_key": st.one_of(st.none(), st.integers(-1, 3), st.sampled_from(["eu", 'a"b', True, 1.5])),
        "sensitive_attributes": st.one_of(st.just([]), st.just([[{"type": "get_attr", "value": "region"}]])),
    },
)
# Mostly the common kind of instance; now and then one of the others (deposed, a flatmap,
# no attributes, a broken one), which the compiled reader hands back to Python.
ODD_INSTANCE = st.one_of(
    st.fixed_dictionaries({"attributes": ATTRIBUTES, "deposed": st.just("00000001")}),
    st.fixed_dictionaries({"attributes_flat": st.just({"id": "1", "tags.%": "1", "tags.service": "pay"})}),
    st.fixed_dictionaries({"attributes": st.sampled_from([None, [1]])}),
    st.sampled_from([None, "text", 3]),
)
INSTANCES = st.one_of(*[INSTANCE] * 12, ODD_INSTANCE)
BLOCKS = st.lists(
    st.fixed_dictionaries(
        {
            "mode": st.sampled_from(["managed", "managed", "managed", "data"]),
            "type": st.sampled_from(
                ["aws_s3_bucket", "scaleway_object_bucket", "aws_bedrockagent_agent", "x_y"]
            ),
            "name": st.sampled_from(["a", "b"]),
            "provider": st.sampled_from(
                [
                    'provider["registry.terraform.io/hashicorp/aws"]',
                    'provider["registry.terraform.io/x/scaleway"]',
                ]
            ),
            "instances": st.lists(INSTANCES, min_size=1, max_size=4),
        },
        optional={"module": st.sampled_from(["module.m", ""])},
    ),
    min_size=1,
    max_size=6,
)


def read_both(state: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """What the reader gives (or raises) with the compiled instance reader and without it."""
    from regie.loading import load_catalogs

    catalogs = load_catalogs([])
    outcomes = []
    for native in (read_instances, None):
        monkeypatch.setattr(state_module, "_native_instances", native)
        try:
            outcomes.append(state_module.resources_from_state(copy.deepcopy(state), "s.tfstate", catalogs))
        except Exception as err:
            outcomes.append((type(err).__name__, str(err)))
    return outcomes[0], outcomes[1]


def slots(resources: Any) -> Any:
    """Resources as their slots' values (with each value's type), for a strict comparison."""
    if not isinstance(resources, list):
        return resources
    return [
        [(name, type(getattr(r, name)).__name__, getattr(r, name)) for name in Resource.__slots__]
        for r in resources
    ]


@needs_reader
@settings(max_examples=300, deadline=None)
@given(blocks=BLOCKS)
def test_the_compiled_reader_gives_what_the_python_reader_gives(blocks: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = read_both({"version": 4, "resources": blocks}, monkeypatch)
    assert slots(fast) == slots(slow)


@needs_reader
@pytest.mark.parametrize(
    "path",
    sorted(p.name for p in (CORPUS / "tfstate").glob("*.tfstate")),
)
def test_the_compiled_reader_reads_every_corpus_state_as_the_python_reader(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orjson

    state = orjson.loads((CORPUS / "tfstate" / path).read_bytes())
    fast, slow = read_both(state, monkeypatch)
    assert slots(fast) == slots(slow)


@needs_reader
def test_the_compiled_reader_refuses_a_wrong_reader() -> None:
    assert read_instances is not None
    with pytest.raises(TypeError, match="10 arguments"):
        read_instances(())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="reader tuple"):
        read_instances((), [], 0, "b", "k", "t", "n", None, {}, [])
