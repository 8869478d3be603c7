"""The compiled JSON parser (connectors/_json.c) reads what orjson reads and refuses what it refuses.

Every connector reads its documents through ``regie.connectors.json_doc.loads``: where the C
module was built it parses, elsewhere orjson does. Both must give the same value, with the
same types at every level (``1`` is neither ``1.0`` nor ``True``, ``-0.0`` is not ``0.0``) and
the same key order, and refuse the same documents: the compiled parser with a
``ValueError(message, byte offset)``, the wrapper with an ``orjson.JSONDecodeError`` at the same
line and column whichever parser ran. Short ASCII strings written without escapes are shared
within a document (as far as the parser's small cache keeps them), keys as Python's interned
strings.
"""

from __future__ import annotations

import contextlib
import json
import os
import reprlib
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regie.connectors import json_doc

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))

try:
    from regie.connectors import _json
except ImportError:  # installed without a C compiler: json_doc falls back on orjson
    _json = None

native: Callable[[Any], Any] | None = None if _json is None else _json.loads
needs_native = pytest.mark.skipif(
    native is None,
    reason="regie.connectors._json was not built here (no C compiler when Regie was installed)",
)

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 120
_repr.maxlevel = 3
short = _repr.repr


# --- comparing with orjson ----------------------------------------------------------------


def assert_same(got: Any, want: Any) -> None:
    """Assert that ``got`` is ``want`` as JSON: the same type at every level (``True`` is not
    ``1``, ``1`` is not ``1.0``), floats to the bit (``-0.0`` is not ``0.0``), keys in the same
    order. Iterative, so that 1024 levels of nesting need no deep recursion here."""
    todo = [(got, want, "$")]
    while todo:
        g, w, path = todo.pop()
        assert type(g) is type(w), (
            f"at {path}: {type(g).__name__} {short(g)} where orjson gives {type(w).__name__} {short(w)}"
        )
        if type(w) is dict:
            assert all(type(key) is str for key in g), f"at {path}: a key is not a str: {short(list(g))}"
            assert list(g) == list(w), f"at {path}: keys {short(list(g))} where orjson gives {short(list(w))}"
            todo.extend((g[key], w[key], f"{path}.{key}") for key in w)
        elif type(w) is list:
            assert len(g) == len(w), f"at {path}: {len(g)} items where orjson gives {len(w)}"
            todo.extend((x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(g, w, strict=True)))
        elif type(w) is float:
            # float.hex is exact and keeps the sign (math.copysign(1, -0.0) is -1, hex says so too)
            assert g.hex() == w.hex(), f"at {path}: {g!r} where orjson gives {w!r}"
        else:
            assert g == w, f"at {path}: {short(g)} where orjson gives {short(w)}"


def input_size(data: Any) -> int:
    """The length in bytes of what the parser reads (a str is read as its UTF-8)."""
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    return memoryview(data).nbytes


def assert_refusal(err: ValueError, data: Any) -> tuple[str, int]:
    """Check the shape of the compiled parser's error: ``(message, byte offset)``."""
    assert len(err.args) == 2, f"{short(data)}: the error's args are {err.args!r}, not (message, offset)"
    message, offset = err.args
    assert type(message) is str, f"{short(data)}: the message is {message!r}"
    assert message, f"{short(data)}: the message is empty"
    assert type(offset) is int, f"{short(data)}: the offset is {offset!r}"
    assert 0 <= offset <= input_size(data), f"{short(data)}: offset {offset} is outside the input"
    return message, offset


def assert_like_orjson(data: Any) -> bool:
    """Parse ``data`` with both parsers: both give strictly the same value, or both refuse it.
    Returns whether the document was read."""
    assert native is not None
    try:
        got: Any = native(data)
        ours = True
    except ValueError as err:
        got = assert_refusal(err, data)[0]
        ours = False
    try:
        want: Any = orjson.loads(data)
        theirs = True
    except orjson.JSONDecodeError as err:
        want = err.msg
        theirs = False
    assert ours == theirs, (
        f"{short(data)}: ours {'reads ' + short(got) if ours else 'refuses it (' + got + ')'}, "
        f"orjson {'reads ' + short(want) if theirs else 'refuses it (' + want + ')'}"
    )
    if ours:
        assert_same(got, want)
    return ours


# --- random documents ---------------------------------------------------------------------

ANY_CHARACTER = st.characters(exclude_categories=["Cs"])  # all of Unicode but surrogates
TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=10),
    st.text(st.characters(max_codepoint=0x7F), max_size=10),  # control characters, quotes, backslashes
    st.sampled_from(["", "eu-west-1", "a", "é", "😀", '"', "\\", "/", "\x00", "\x7f", "\u2028", "\ufeff"]),
    st.sampled_from(["x" * 64, "x" * 65, "é" * 32, "é" * 33, "€" * 21 + "x", "😀" * 17]),  # about 64 bytes
    st.text(ANY_CHARACTER, min_size=40, max_size=90),
)
INTEGERS = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.integers(),
    st.integers(-(10**40), 10**40),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),  # subnormals and -0.0 included
    st.sampled_from(
        [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
         1.7976931348623157e308, 0.1, 1e16, 1e-7, 1e22, 1e23, 9007199254740993.0, 123456789.0]
    ),
)  # fmt: skip
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=30,
)
SMALL_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
WHITESPACE = st.text(" \t\r\n", max_size=3)


@st.composite
def documents(draw: st.DrawFn, values: st.SearchStrategy[Any] = VALUES) -> bytes:
    """A value written by orjson, or by the json module in one of its many styles."""
    value = draw(values)
    if draw(st.booleans()):
        option = draw(st.sampled_from([0, orjson.OPT_INDENT_2, orjson.OPT_SORT_KEYS]))
        try:
            return orjson.dumps(value, option=option)
        except orjson.JSONEncodeError:  # an int beyond 64 bits, which orjson does not write
            pass
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.one_of(st.none(), st.integers(0, 3), st.just("\t"))),
        separators=(draw(WHITESPACE) + "," + draw(WHITESPACE), draw(WHITESPACE) + ":" + draw(WHITESPACE)),
    )
    return (draw(WHITESPACE) + text + draw(WHITESPACE)).encode()


def hex4(draw: st.DrawFn, code: int) -> str:
    case = draw(st.sampled_from([str.lower, str.upper]))
    return "\\u" + case(f"{code:04x}")


@st.composite
def string_literals(draw: st.DrawFn, lone_surrogates: bool = False) -> bytes:
    """A JSON string written by hand: raw characters, simple escapes, \\u escapes in either case,
    surrogate pairs, and (when asked) lone surrogates, which make it invalid."""
    pieces = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["raw", "simple", "bmp", "pair", "lone"][: 5 if lone_surrogates else 4]))
        if kind == "raw":
            text = draw(st.text(st.characters(exclude_categories=["Cs"], min_codepoint=0x20), max_size=6))
            pieces.append(text.replace("\\", "\\\\").replace('"', '\\"'))
        elif kind == "simple":
            pieces.append(draw(st.sampled_from(['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])))
        elif kind == "bmp":
            pieces.append(hex4(draw, draw(st.integers(0, 0xFFFF).filter(lambda c: not 0xD800 <= c < 0xE000))))
        elif kind == "pair":
            code = draw(st.integers(0x10000, 0x10FFFF)) - 0x10000
            pieces.append(hex4(draw, 0xD800 + (code >> 10)) + hex4(draw, 0xDC00 + (code & 0x3FF)))
        else:
            pieces.append(hex4(draw, draw(st.integers(0xD800, 0xDFFF))))
    return ('"' + "".join(pieces) + '"').encode()


NUMBERS = st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


def as_str(data: bytes) -> str:
    return data.decode()


def as_memoryview_slice(data: bytes) -> memoryview:
    return memoryview(b"[[" + data + b"]]")[2:-2]


INPUT_KINDS = [bytes, bytearray, memoryview, as_memoryview_slice, as_str]


@needs_native
@settings(max_examples=400, deadline=None)
@given(documents(), st.sampled_from(INPUT_KINDS))
def test_random_documents_read_as_orjson_reads_them(doc: bytes, kind: Callable[[bytes], Any]) -> None:
    assert assert_like_orjson(kind(doc)), "a document json or orjson wrote was refused"


@needs_native
@settings(max_examples=300, deadline=None)
@given(string_literals(), st.booleans())
def test_strings_written_by_hand_read_as_orjson_reads_them(literal: bytes, as_key: bool) -> None:
    doc = b"{" + literal + b":" + literal + b"}" if as_key else b"[" + literal + b"," + literal + b"]"
    assert assert_like_orjson(doc), "a valid string was refused"


@needs_native
@settings(max_examples=400, deadline=None)
@given(NUMBERS, WHITESPACE)
def test_numbers_read_as_orjson_reads_them(number: str, space: str) -> None:
    """Exact floats, ints up to 2**64 - 1 and floats beyond, overflow refused (1e400)."""
    assert_like_orjson(number.encode())
    assert_like_orjson(f"[{number}{space},{space}{number}]".encode())
    assert_like_orjson(f'{{"n":{number}{space}}}'.encode())


# --- anything else ------------------------------------------------------------------------

BYTES_OF_NOTE = (
    b'{}[],:"\\/0123456789-+.eEtfnrulsaUx \t\r\n\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xef\xf0\xf4\xff'
)
TOKENS = st.lists(
    st.sampled_from(
        [b"{", b"}", b"[", b"]", b",", b":", b'"a"', b'"', b"\\", b'"\\u00e9"', b'"\\ud83d', b'\\ude00"',
         b"1", b"-", b"0", b".5", b"e5", b"true", b"null", b" ", b"\xc3\xa9", b"\xef\xbb\xbf"]
    ),
    max_size=16,
).map(b"".join)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid document with one to three bytes replaced, inserted or deleted, or cut short."""
    doc = bytearray(
        draw(
            st.one_of(documents(SMALL_VALUES), string_literals(lone_surrogates=True), NUMBERS.map(str.encode))
        )
    )
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(doc)))
        byte = draw(st.one_of(st.sampled_from(BYTES_OF_NOTE), st.integers(0, 255)))
        how = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if how == "insert":
            doc.insert(at, byte)
        elif how == "truncate":
            del doc[at:]
        elif at < len(doc) and how == "replace":
            doc[at] = byte
        elif at < len(doc):
            del doc[at]
    return bytes(doc)


@needs_native
@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=40), TOKENS))
def test_arbitrary_bytes_are_read_or_refused_as_orjson_does(data: bytes) -> None:
    assert_like_orjson(data)


@needs_native
@settings(max_examples=400, deadline=None)
@given(mutated())
def test_damaged_documents_are_read_or_refused_as_orjson_does(data: bytes) -> None:
    assert_like_orjson(data)


# --- edge cases ---------------------------------------------------------------------------


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]", inner: bytes = b"") -> bytes:
    return open_ * depth + inner + close * depth


ACCEPTED = [
    b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00"', b'"\\uDBFF\\uDFFF"', b'"\\u0000"', b'"\\u00E9\\u00e9"',
    b'"\\uFFFF"', b'"\\" \\\\ \\/ \\b \\f \\n \\r \\t"', b'"\x7f"', b'"\xf0\x9f\x98\x80"', b'"\xef\xbf\xbf"',
    b'"\xf4\x8f\xbf\xbf"', b'""', b'{"":""}', b"{}", b"[]", b"null", b"true", b"false",
    b"0", b"-0", b"-0.0", b"-0e0", b"0e+0", b"1E5", b"1e5", b"1e+5", b"1E-5", b"1.0e5", b"1e-400",
    b"1e-7", b"2.5e-324", b"2.4e-324", b"5e-324", b"1.7976931348623157e308", b"1.7976931348623158e308",
    b"18446744073709551615", b"18446744073709551616", b"9223372036854775807", b"9223372036854775808",
    b"-9223372036854775808", b"-9223372036854775809", b"-9223372036854775808.0",
    b"123456789012345678901234567890", b"-123456789012345678901234567890",
    b"123456789012345678901234567890e-340", b"0.1e1",
    pytest.param(b"1" + b"0" * 300, id="1e300 in digits"),
    b" \t\r\n[ 1 , 2 ] \t\r\n", b"1 ", b"1\r\n", b'{ "a" : [ 1 , { } ] }',
    b'{"a":1,"b":2,"a":3}', b'{"a\\u0062":1,"ab":2}', b'[{"k":1},{"k":2,"j":{"k":3}}]',
    pytest.param(b'"' + b"x" * 65 + b'"', id="65 bytes of ASCII"),
    pytest.param(('"' + "é€😀" * 30 + '"').encode(), id="270 bytes of UTF-8"),
    pytest.param(b'"' + b"y" * 100_000 + b'"', id="100000 bytes"),
    pytest.param(b'"' + b"\\n\\u00e9" * 100 + b'"', id="200 escapes"),
    pytest.param(b"[" + b",".join([b"1"] * 10_000) + b"]", id="10000 items"),
    pytest.param(nested(1024), id="1024 arrays"),
    pytest.param(nested(1024, b'{"a":', b"}", b"1"), id="1024 objects"),
    pytest.param(nested(1023, b'{"a":', b"}", b"{}"), id="1024 objects, the last empty"),
    pytest.param(nested(512, b'[{"a":', b"}]", b"1"), id="1024 arrays and objects"),
]  # fmt: skip
REFUSED = [
    b"", b" ", b"\n", b"1 2", b"[1]]", b"[1]\x00", b"1\x00", b"nulll", b"0x10",
    b"\xef\xbb\xbf{}", b"\xef\xbb\xbf", b"\xef\xbb\xbf1",
    b"nul", b"tru", b"fals", b"t", b"True", b"NaN", b"Infinity", b"-Infinity", b"\x00",
    b"[1,]", b'{"a":1,}', b'{"a" 1}', b"{1:2}", b"[,1]", b"[1 2]", b'{"a"}', b"{,}", b"]", b"[}",
    b'{"a":1 "b":2}', b'{"a":}', b'{"a"', b"[", b"{",
    b"[1,2", b'{"a":1', b'"abc', b'{"a":', b'"\\', b'"\\u', b'"\\ud83d',
    b"01", b"-01", b"00", b"[01]", b"1.", b"[1.]", b".5", b"-", b"[-]", b"-a", b"+1", b"1e", b"1e+", b"1e-",
    b"1.e5", b"1.5E", b"1e400", b"1E400", b"-1e400", b"1.7976931348623159e308",
    pytest.param(b"1" + b"0" * 400, id="1e400 in digits"),
    b'"\\ud800"', b'"\\uD83D"', b'"\\udc00"', b'"\\ud83d\\u0041"', b'"\\ud83d\\ud83d"', b'"\\ud83dx"',
    b'"\\ud83d\\n"', b'"\\ud83d\\"', b'"\\x"', b'"\\u12"', b'"\\U0041"', b'"\\\'"',
    b'"\x01"', b'"\x1f"', b'"\t"', b'"\n"', b"\x0c1", b"\x0b1", b"\xc2\xa01",
    b'"\xff"', b'"\xc3"', b'"\xc0\x80"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xe2\x82"', b"[1]\xff",
    b"\xc3\xa9", b'{"\xff":1}',
    pytest.param(b'"' + b"x" * 100 + b"\xff" + b'"', id="invalid UTF-8 after 100 bytes"),
    pytest.param(nested(1025), id="1025 arrays"),
    pytest.param(nested(1025, b'{"a":', b"}", b"1"), id="1025 objects"),
    pytest.param(nested(1024, b'{"a":', b"}", b"{}"), id="1025 objects, the last empty"),
    pytest.param(nested(512, b'[{"a":', b"}]", b"[]"), id="1025 arrays and objects"),
    pytest.param(b"[" * 1024, id="1024 arrays never closed"),
    pytest.param(b"[" * 100_000, id="100000 arrays never closed"),
    pytest.param(b'{"a":' * 100_000, id="100000 objects never closed"),
]  # fmt: skip


@needs_native
@pytest.mark.parametrize("data", ACCEPTED)
def test_edge_cases_orjson_reads_are_read(data: bytes) -> None:
    assert assert_like_orjson(data), "refused by both"


@needs_native
@pytest.mark.parametrize("data", REFUSED)
def test_edge_cases_orjson_refuses_are_refused(data: bytes) -> None:
    assert not assert_like_orjson(data), "read by both"


@needs_native
@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_every_kind_of_input_is_read(kind: Callable[[bytes], Any]) -> None:
    doc = '{"région": ["é€😀", "\\u00e9", 1, -0.0, 1e5, null, true, "' + "ü" * 40 + '"]}'
    assert assert_like_orjson(kind(doc.encode()))
    assert not assert_like_orjson(kind(b'{"a": [1, ?]}'))


@needs_native
def test_a_str_with_a_lone_surrogate_is_refused() -> None:
    assert not assert_like_orjson('"\ud800"')
    assert not assert_like_orjson('["a", "\udfff"]')


@needs_native
@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"?", 0),
        (b"[1, ?]", 4),
        (b'{\n  "a": 1,\n  "b": ?\n}', 19),
        ('["é€", ?]'.encode(), 10),
        (b"{1:2}", 1),
        (b'{"a" 1}', 5),
        (b"[1 2]", 3),
        (b"1 2", 2),
        (b"[1]]", 3),
    ],
)
def test_the_offset_is_where_the_unexpected_byte_is(data: bytes, offset: int) -> None:
    assert native is not None
    with pytest.raises(ValueError) as info:
        native(data)
    assert assert_refusal(info.value, data)[1] == offset


# --- interning ----------------------------------------------------------------------------


@needs_native
def test_equal_short_strings_are_one_object() -> None:
    assert native is not None
    value = native(b'{"a": "eu-west-1", "b": ["eu-west-1", "eu-west-1"]}')
    assert value == {"a": "eu-west-1", "b": ["eu-west-1", "eu-west-1"]}
    assert value["a"] is value["b"][0]
    assert value["b"][0] is value["b"][1]


@needs_native
def test_a_key_in_two_objects_is_one_object() -> None:
    assert native is not None
    value = native(b'[{"region": 1}, {"zone": 2, "region": 3}, [{"region": 4}]]')
    first, second, third = next(iter(value[0])), list(value[1])[1], next(iter(value[2][0]))
    assert first == "region"
    assert first is second
    assert first is third


@needs_native
@pytest.mark.parametrize(
    "text", ["x" * 64, "a", "eu-central-1", "BBN2"], ids=["64 ASCII", "a", "region", "BBN2"]
)
def test_ascii_strings_of_up_to_64_bytes_are_one_object(text: str) -> None:
    assert native is not None
    value = native(json.dumps([text, {text: text}]).encode())
    assert value == [text, {text: text}]
    assert value[0] is value[1][text]
    assert value[0] is next(iter(value[1]))


@needs_native
@pytest.mark.parametrize(
    "text",
    ["é" * 32, "€" * 21 + "x", "😀" * 16, "région", "€uro", "ключ"],
    ids=["32 é", "21 € and x", "16 emoji", "région", "€uro", "ключ"],
)
def test_other_short_strings_are_equal(text: str) -> None:
    # Only ASCII strings are shared (their bytes are the str's own, compared in place).
    assert native is not None
    value = native(json.dumps([text, {text: text}], ensure_ascii=False).encode())
    assert_same(value, [text, {text: text}])


@needs_native
def test_keys_are_pythons_interned_strings() -> None:
    # The names in a policy's code are interned: a dict then finds the key by identity.
    assert native is not None
    value = native(b'{"region": {"zone": 1}}')
    assert next(iter(value)) is sys.intern("region")
    assert next(iter(value["region"])) is sys.intern("zone")


@needs_native
@pytest.mark.parametrize(
    "text", ["x" * 65, "é" * 33, "😀" * 17, "€" * 22], ids=["65 ASCII", "33 é", "17 emoji", "22 €"]
)
def test_longer_strings_are_equal(text: str) -> None:
    assert native is not None
    value = native(json.dumps([text, text, {text: text}], ensure_ascii=False).encode())
    assert_same(value, [text, text, {text: text}])


@needs_native
def test_escaped_strings_are_equal_to_unescaped_ones() -> None:
    assert native is not None
    value = native(b'["ab", "a\\u0062", "\\u0061b", {"ab": 1, "a\\u0062": 2}]')
    assert_same(value, ["ab", "ab", "ab", {"ab": 2}])


# --- no leaks -----------------------------------------------------------------------------


@needs_native
def test_the_values_hold_no_extra_reference() -> None:
    """A reference too many is a value never freed."""
    assert native is not None
    doc = b'[{"k": ["' + b"v" * 80 + b'", 123456789012345678, 1.5]}, ["' + b"w" * 80 + b'"]]'
    value = native(doc)
    long_v, long_w = "".join(["v"] * 80), "".join(["w"] * 80)
    expected = [{"k": [long_v, int("123456789012345678"), float("1.5")]}, [long_w]]
    del long_v, long_w

    def counts(v: Any) -> list[int]:
        inner = v[0]["k"]
        return [sys.getrefcount(x) for x in (v, v[0], inner, inner[0], inner[1], inner[2], v[1], v[1][0])]

    assert counts(value) == counts(expected)


@needs_native
def test_reading_and_refusing_leave_nothing_behind() -> None:
    assert native is not None
    docs = [
        b'{"k": ["' + b"x" * 1000 + b'", "short", 1.5, 123456789012345678901234567890, {"k": "short"}]}',
        b'["' + b"y" * 1000 + b'", "short", {"k": ?}]',
        b'{"' + b"z" * 1000 + b'": "short", "k": "\\ud800"}',
        b"[" * 2000,
    ]

    def read_all() -> None:
        for doc in docs:
            with contextlib.suppress(ValueError):
                native(doc)

    read_all()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            read_all()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown} bytes more after reading the documents 300 times"


# --- the wrapper --------------------------------------------------------------------------


def test_the_wrapper_uses_the_compiled_parser_where_it_was_built() -> None:
    assert json_doc.NATIVE is native


PARSERS = [
    pytest.param("compiled", marks=needs_native),
    "orjson",
]


@pytest.fixture(params=PARSERS)
def wrapper(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """``json_doc.loads`` with the compiled parser, or falling back on orjson."""
    if request.param == "orjson":
        monkeypatch.setattr(json_doc, "NATIVE", None)
    return json_doc.loads


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [
        (b'{\n  "a": 1,\n  "b": ?\n}', 3, 8),
        (b"?", 1, 1),
        (b"[1,\n\n?", 3, 1),
        ('{\n "é": 1,\n "ü": ?\n}'.encode(), 3, 7),
        ('["é€😀", ?]'.encode(), 1, 9),
        ('{"ключ":\n ["значение", "€"], "x": ?}'.encode(), 2, 26),
        (b"[1,\r\n?", 2, 1),
    ],
)
def test_the_wrapper_gives_line_and_column_in_characters(
    wrapper: Callable[[Any], Any], data: bytes, line: int, column: int
) -> None:
    with pytest.raises(orjson.JSONDecodeError) as info:
        wrapper(data)
    assert isinstance(info.value, json.JSONDecodeError)
    assert (info.value.lineno, info.value.colno) == (line, column)
    assert type(info.value.msg) is str
    assert info.value.msg


@pytest.mark.parametrize(
    "data",
    [b"", b"\xef\xbb\xbf{}", b'["\xff"]', b'"\\ud800"', nested(1025), b"[1,]", b"1e400", b"1 2"],
    ids=["empty", "BOM", "invalid UTF-8", "lone surrogate", "too deep", "trailing comma", "1e400", "1 2"],
)
def test_the_wrapper_refuses_with_a_json_decode_error(wrapper: Callable[[Any], Any], data: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError) as info:
        wrapper(data)
    assert info.value.lineno >= 1
    assert info.value.colno >= 1


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_the_wrapper_reads_what_orjson_reads(
    wrapper: Callable[[Any], Any], kind: Callable[[bytes], Any]
) -> None:
    doc = '{"région": ["é€😀", "\\u00e9", 1, -0.0, 1e5, 18446744073709551616, null, true], "a": {}}'.encode()
    assert_same(wrapper(kind(doc)), orjson.loads(doc))


# --- the corpus ---------------------------------------------------------------------------

CORPUS_FILES = (
    sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.json")) if CORPUS.is_dir() else []
)


@needs_native
@pytest.mark.skipif(not CORPUS_FILES, reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES or ["none"])
def test_every_corpus_document_reads_as_orjson_reads_it(path: str) -> None:
    assert_like_orjson((CORPUS / path).read_bytes())


def test_ci_builds_the_compiled_parser() -> None:
    """CI builds what users get from `pip install` with a compiler."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI requires the compiled parts (CI=true)")
    assert native is not None, "regie.connectors._json was not built: is a C compiler installed?"
    assert json_doc.NATIVE is native
