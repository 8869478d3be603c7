/* regie.connectors._json: the JSON parser of the connectors' large documents.
 *
 * `loads(data)` gives what `orjson.loads(data)` gives, value for value and type for type
 * (tests/test_json_doc.py compares the two on random and mutated documents): integers in
 * [-2**63, 2**64 - 1] are ints and larger ones floats, a number that overflows a double, a
 * lone surrogate escape, invalid UTF-8, a byte order mark, trailing commas and nesting deeper
 * than 1024 levels are errors, and the last of two equal keys wins. An error is a ValueError
 * whose args are (message, byte offset); regie.connectors.json_doc turns it into a line and
 * a column.
 *
 * Why not orjson: a Terraform state of 100,000 resources holds 2.4 million keys of ~130 names
 * and 1.5 million string values of which ~200,000 differ (regions, tag values, settings, the
 * same `private` blob in every instance). orjson makes a new object for every value; this
 * parser makes one per distinct short ASCII string of a document (at most 64 bytes, written
 * without escapes; see `interned` for how far the sharing goes) and shares it, keys as
 * Python's interned strings. That is most of the allocations of a parse, and of freeing the
 * facts afterwards. Arrays and objects are built at their final size from a stack of parsed
 * items, as a DOM parser would, so a parse leaves no resized-away buffers behind.
 *
 * Strings are immutable, so sharing them is invisible to callers except through `is`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#define MAX_DEPTH 1024           /* as orjson: 1024 nested arrays/objects parse, 1025 do not */
#define INTERN_MAX 64            /* bytes: longer strings are mostly unique (ids, ARNs, URLs) */
#define TABLE_MAX (1 << 13)      /* slots of the intern table (a power of two): 192 KiB */
#define TABLE_BYTES_PER_SLOT 128 /* smaller documents get smaller tables, down to 64 slots */

typedef struct {
    uint64_t hash;
    Py_ssize_t size;
    PyObject *str; /* borrowed (see interned); NULL: an empty slot */
} Slot;

typedef struct {
    const unsigned char *start, *p, *end;
    Slot *slots; /* mask + 1 of them, made at the first short string */
    size_t mask;
    PyObject **stack; /* items of the open arrays, keys and values of the open objects */
    Py_ssize_t top, cap;
    PyObject **kept; /* what duplicate keys dropped, released when the parse ends */
    Py_ssize_t nkept, capkept;
    unsigned char *buf; /* a string's decoded escapes, a number's text */
    Py_ssize_t bufcap;
    int depth;
    const char *error; /* set with error_at when the input is not JSON */
    const unsigned char *error_at;
} Parser;

static PyObject *value(Parser *ps);

/* 1 for a byte a string may hold as itself on its fast path: printable ASCII but `"` and `\`. */
static unsigned char plain[256];

static PyObject *
fail(Parser *ps, const char *message, const unsigned char *at)
{
    if (ps->error == NULL && !PyErr_Occurred()) {
        ps->error = message;
        ps->error_at = at;
    }
    return NULL;
}

static inline void
skip_ws(Parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    ps->p = p;
}

/* Pushes `item` (a new reference, stolen; NULL is passed through as a failure). */
static int
push(Parser *ps, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    if (ps->top == ps->cap) {
        Py_ssize_t cap = ps->cap ? ps->cap * 2 : 256;
        PyObject **grown = PyMem_Realloc(ps->stack, (size_t)cap * sizeof(PyObject *));
        if (grown == NULL) {
            Py_DECREF(item);
            PyErr_NoMemory();
            return -1;
        }
        ps->stack = grown;
        ps->cap = cap;
    }
    ps->stack[ps->top++] = item;
    return 0;
}

/* Drops the stack's items above `base`. */
static void
unwind(Parser *ps, Py_ssize_t base)
{
    while (ps->top > base) {
        ps->top--;
        Py_DECREF(ps->stack[ps->top]);
    }
}

/* Moves the stack's items above `base` to ps->kept (one reference each more). */
static int
keep(Parser *ps, Py_ssize_t base)
{
    Py_ssize_t n = ps->top - base;
    if (ps->nkept + n > ps->capkept) {
        Py_ssize_t cap = (ps->nkept + n) * 2;
        PyObject **grown = PyMem_Realloc(ps->kept, (size_t)cap * sizeof(PyObject *));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ps->kept = grown;
        ps->capkept = cap;
    }
    for (Py_ssize_t i = base; i < ps->top; i++) {
        ps->kept[ps->nkept++] = Py_NewRef(ps->stack[i]);
    }
    return 0;
}

static int
reserve(Parser *ps, Py_ssize_t size)
{
    if (size <= ps->bufcap) {
        return 0;
    }
    Py_ssize_t cap = ps->bufcap ? ps->bufcap : 256;
    while (cap < size) {
        cap *= 2;
    }
    unsigned char *grown = PyMem_Realloc(ps->buf, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ps->buf = grown;
    ps->bufcap = cap;
    return 0;
}

/* --- strings ------------------------------------------------------------------------ */

static inline uint64_t
hash_bytes(const unsigned char *s, Py_ssize_t n)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL, w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, s, (size_t)n);
    h = (h ^ w) * 0x94D049BB133111EBULL;
    return h ^ (h >> 29);
}

static inline int
same_bytes(const void *a, const void *b, Py_ssize_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t u, v;
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);
        if (u != v) {
            return 0;
        }
    }
    for (; n > 0; n--, x++, y++) {
        if (*x != *y) {
            return 0;
        }
    }
    return 1;
}

/* A str of UTF-8 text; invalid UTF-8 (surrogates included) fails at its first bad byte. */
static PyObject *
new_str(Parser *ps, const unsigned char *s, Py_ssize_t size, int ascii, const unsigned char *at)
{
    if (ascii) {
        PyObject *out = PyUnicode_New(size, 127);
        if (out != NULL) {
            memcpy(PyUnicode_DATA(out), s, (size_t)size);
        }
        return out;
    }
    PyObject *out = PyUnicode_DecodeUTF8((const char *)s, size, NULL);
    if (out == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        Py_ssize_t bad = 0;
        PyObject *type, *exc, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        if (exc == NULL || PyUnicodeDecodeError_GetStart(exc, &bad) < 0) {
            PyErr_Clear();
            bad = 0;
        }
        Py_XDECREF(type);
        Py_XDECREF(exc);
        Py_XDECREF(tb);
        /* `at` is `s` in the input, or the quote of an escaped string (decoded elsewhere) */
        return fail(ps, "a string is not valid UTF-8", at == s ? s + bad : at);
    }
    return out;
}

/* The shared str of `s`, ASCII bytes of the input without escapes, at most INTERN_MAX long.
 *
 * The table is a direct-mapped cache small enough to stay in the CPU's caches: a string
 * whose slot holds another takes the slot over. The often-repeated strings (keys, regions,
 * settings) win their slots back at once; a unique id holds one for a while. Slots borrow
 * their strings: every string the parser made lives until the parse ends (held by the
 * result, or by ps->kept when a duplicate key dropped it), and touching an evicted string
 * to release it would cost a cache miss per unique id. */
static PyObject *
interned(Parser *ps, const unsigned char *s, Py_ssize_t size, int key)
{
    if (ps->slots == NULL && (ps->slots = PyMem_Calloc(ps->mask + 1, sizeof(Slot))) == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    uint64_t hash = hash_bytes(s, size);
    Slot *slot = &ps->slots[hash & ps->mask];
    PyObject *held = slot->str;
    /* a held str is ASCII (its bytes are its characters); PyUnicode_DATA also covers the rare
     * interned str that is not compact */
    if (held != NULL && slot->hash == hash && slot->size == size
        && same_bytes(PyUnicode_DATA(held), s, size)) {
        return Py_NewRef(held);
    }
    PyObject *str = new_str(ps, s, size, 1, s);
    if (str != NULL && key) {
        /* Python's own interned copy where it has one: the names in a policy's code are
         * interned, and a dict finds an identical key without comparing its bytes */
        PyUnicode_InternInPlace(&str);
    }
    if (str != NULL) {
        slot->hash = hash;
        slot->size = size;
        slot->str = str;
    }
    return str;
}

static int
hex4(const unsigned char *s)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        }
        else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        }
        else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        }
        else {
            return -1;
        }
    }
    return v;
}

/* The rest of a string from its first backslash at `q`, decoded into ps->buf as UTF-8. */
static PyObject *
escaped_string(Parser *ps, const unsigned char *open, const unsigned char *q)
{
    const unsigned char *s = open + 1, *end = ps->end;
    Py_ssize_t n = q - s;
    if (reserve(ps, n + 64) < 0) {
        return NULL;
    }
    memcpy(ps->buf, s, (size_t)n);
    for (;;) {
        if (q >= end) {
            return fail(ps, "unexpected end of data: a string is not closed", open);
        }
        unsigned char c = *q;
        if (c == '"') {
            q++;
            break;
        }
        /* an escape adds at most 4 bytes, a byte 1 */
        if (reserve(ps, n + 4) < 0) {
            return NULL;
        }
        if (c != '\\') {
            if (c < 0x20) {
                return fail(ps, "a control character in a string (it must be written as an escape)", q);
            }
            ps->buf[n++] = c;
            q++;
            continue;
        }
        if (q + 1 >= end) {
            return fail(ps, "unexpected end of data: a string is not closed", open);
        }
        unsigned char e = q[1];
        unsigned char simple = 0;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default:
            return fail(ps, "an invalid escape in a string", q);
        }
        if (e != 'u') {
            ps->buf[n++] = simple;
            q += 2;
            continue;
        }
        if (end - q < 6) {
            return fail(ps, "unexpected end of data in a \\u escape", q);
        }
        long cp = hex4(q + 2);
        if (cp < 0) {
            return fail(ps, "a \\u escape needs four hexadecimal digits", q);
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(ps, "a low surrogate escape without a high surrogate before it", q);
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long low = (end - q >= 12 && q[6] == '\\' && q[7] == 'u') ? hex4(q + 8) : -1;
            if (low < 0xDC00 || low > 0xDFFF) {
                return fail(ps, "a high surrogate escape without a low surrogate after it", q);
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            q += 12;
        }
        else {
            q += 6;
        }
        unsigned char *o = ps->buf + n;
        if (cp < 0x80) {
            o[0] = (unsigned char)cp;
            n += 1;
        }
        else if (cp < 0x800) {
            o[0] = (unsigned char)(0xC0 | (cp >> 6));
            o[1] = (unsigned char)(0x80 | (cp & 0x3F));
            n += 2;
        }
        else if (cp < 0x10000) {
            o[0] = (unsigned char)(0xE0 | (cp >> 12));
            o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            o[2] = (unsigned char)(0x80 | (cp & 0x3F));
            n += 3;
        }
        else {
            o[0] = (unsigned char)(0xF0 | (cp >> 18));
            o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            o[3] = (unsigned char)(0x80 | (cp & 0x3F));
            n += 4;
        }
    }
    ps->p = q;
    return new_str(ps, ps->buf, n, 0, open);
}

static PyObject *
string(Parser *ps, int key)
{
    const unsigned char *open = ps->p, *s = open + 1, *q = s, *end = ps->end;
    int ascii = 1;
    for (;;) {
        while (q < end && plain[*q]) {
            q++;
        }
        if (q >= end) {
            return fail(ps, "unexpected end of data: a string is not closed", open);
        }
        unsigned char c = *q;
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            return escaped_string(ps, open, q);
        }
        if (c < 0x20) {
            return fail(ps, "a control character in a string (it must be written as an escape)", q);
        }
        ascii = 0; /* a byte of a multi-byte character, checked when the str is made */
        q++;
    }
    Py_ssize_t size = q - s;
    ps->p = q + 1;
    if (ascii && size <= INTERN_MAX) {
        return interned(ps, s, size, key);
    }
    return new_str(ps, s, size, ascii, s);
}

/* --- numbers and literals ------------------------------------------------------------ */

#define DIGIT(c) ((c) >= '0' && (c) <= '9')

static PyObject *
number(Parser *ps)
{
    const unsigned char *s = ps->p, *q = s, *end = ps->end;
    int negative = 0, real = 0;
    if (*q == '-') {
        negative = 1;
        q++;
    }
    if (q >= end) {
        return fail(ps, "unexpected end of data in a number", q);
    }
    if (!DIGIT(*q)) {
        return fail(ps, "a number needs a digit here", q);
    }
    const unsigned char *digits = q;
    if (*q == '0') {
        q++;
        if (q < end && DIGIT(*q)) {
            return fail(ps, "a number with a leading zero", s);
        }
    }
    else {
        while (q < end && DIGIT(*q)) {
            q++;
        }
    }
    Py_ssize_t ndigits = q - digits;
    if (q < end && *q == '.') {
        q++;
        if (q >= end || !DIGIT(*q)) {
            return fail(ps, "a number needs a digit after its decimal point", q);
        }
        while (q < end && DIGIT(*q)) {
            q++;
        }
        real = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) {
            q++;
        }
        if (q >= end || !DIGIT(*q)) {
            return fail(ps, "a number needs a digit in its exponent", q);
        }
        while (q < end && DIGIT(*q)) {
            q++;
        }
        real = 1;
    }
    ps->p = q;
    if (!real) {
        if (ndigits <= 18) {
            long long v = 0;
            for (const unsigned char *d = digits; d < digits + ndigits; d++) {
                v = v * 10 + (*d - '0');
            }
            return PyLong_FromLongLong(negative ? -v : v);
        }
        if (ndigits <= 20) {
            unsigned long long v = 0;
            int over = 0;
            for (const unsigned char *d = digits; d < digits + ndigits && !over; d++) {
                unsigned digit = (unsigned)(*d - '0');
                if (v > (ULLONG_MAX - digit) / 10) {
                    over = 1;
                }
                else {
                    v = v * 10 + digit;
                }
            }
            if (!over && !negative) {
                return PyLong_FromUnsignedLongLong(v);
            }
            if (!over && v <= (unsigned long long)LLONG_MAX + 1) {
                return PyLong_FromLongLong(v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v);
            }
        }
        /* beyond 64 bits: a double, as orjson reads it */
    }
    Py_ssize_t size = q - s;
    if (reserve(ps, size + 1) < 0) {
        return NULL;
    }
    memcpy(ps->buf, s, (size_t)size);
    ps->buf[size] = '\0';
    double d = PyOS_string_to_double((const char *)ps->buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (isinf(d)) {
        return fail(ps, "a number too large for a double", s);
    }
    return PyFloat_FromDouble(d);
}

static PyObject *
literal(Parser *ps, const char *word, Py_ssize_t size, PyObject *result)
{
    const unsigned char *p = ps->p;
    Py_ssize_t left = ps->end - p;
    Py_ssize_t same = 0;
    while (same < size && same < left && p[same] == (unsigned char)word[same]) {
        same++;
    }
    if (same == size) {
        ps->p = p + size;
        return Py_NewRef(result);
    }
    if (same == left) {
        return fail(ps, "unexpected end of data in a literal (true, false or null)", p + same);
    }
    return fail(ps, "unexpected character: expected a value", p + same);
}

/* --- arrays and objects -------------------------------------------------------------- */

/* After an array's item or an object's member: 1 when a comma says another follows, 0 when
 * `close` ends the container, -1 (the error set) otherwise; the messages are the container's. */
static int
after_item(Parser *ps, unsigned char close, const char *unclosed, const char *expected, const char *trailing)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, unclosed, ps->p);
        return -1;
    }
    unsigned char c = *ps->p++;
    if (c == close) {
        return 0;
    }
    if (c != ',') {
        fail(ps, expected, ps->p - 1);
        return -1;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        fail(ps, trailing, ps->p - 1);
        return -1;
    }
    return 1;
}

static PyObject *
array(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH) {
        return fail(ps, "arrays and objects nested deeper than 1024 levels", ps->p);
    }
    Py_ssize_t base = ps->top;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return PyList_New(0);
    }
    for (int more = 1; more;) {
        if (push(ps, value(ps)) < 0) {
            goto fail;
        }
        more = after_item(ps, ']', "unexpected end of data: an array is not closed",
                          "expected ',' or ']' after an array item", "a trailing comma in an array");
        if (more < 0) {
            goto fail;
        }
    }
    Py_ssize_t n = ps->top - base;
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        goto fail;
    }
    memcpy(((PyListObject *)list)->ob_item, ps->stack + base, (size_t)n * sizeof(PyObject *));
    ps->top = base; /* the list owns those references now */
    ps->depth--;
    return list;
fail:
    unwind(ps, base);
    return NULL;
}

static PyObject *
object(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH) {
        return fail(ps, "arrays and objects nested deeper than 1024 levels", ps->p);
    }
    Py_ssize_t base = ps->top;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return PyDict_New();
    }
    for (int more = 1; more;) {
        if (ps->p >= ps->end) {
            fail(ps, "unexpected end of data: an object is not closed", ps->p);
            goto fail;
        }
        if (*ps->p != '"') {
            fail(ps, "expected an object key in double quotes", ps->p);
            goto fail;
        }
        if (push(ps, string(ps, 1)) < 0) {
            goto fail;
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, ps->p >= ps->end ? "unexpected end of data: an object is not closed"
                                      : "expected ':' after an object key", ps->p);
            goto fail;
        }
        ps->p++;
        skip_ws(ps);
        if (push(ps, value(ps)) < 0) {
            goto fail;
        }
        more = after_item(ps, '}', "unexpected end of data: an object is not closed",
                          "expected ',' or '}' after an object member", "a trailing comma in an object");
        if (more < 0) {
            goto fail;
        }
    }
#if PY_VERSION_HEX < 0x030D0000
    PyObject *dict = _PyDict_NewPresized((ps->top - base) / 2);
#else
    PyObject *dict = PyDict_New();
#endif
    if (dict == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = base; i < ps->top; i += 2) {
        if (PyDict_SetItem(dict, ps->stack[i], ps->stack[i + 1]) < 0) {
            Py_DECREF(dict);
            goto fail;
        }
    }
    if (2 * PyDict_GET_SIZE(dict) != ps->top - base && keep(ps, base) < 0) {
        Py_DECREF(dict); /* a duplicate key: the strings it dropped may be in the table */
        goto fail;
    }
    unwind(ps, base);
    ps->depth--;
    return dict;
fail:
    unwind(ps, base);
    return NULL;
}

static PyObject *
value(Parser *ps)
{
    if (ps->p >= ps->end) {
        return fail(ps, "unexpected end of data: expected a value", ps->p);
    }
    switch (*ps->p) {
    case '{':
        return object(ps);
    case '[':
        return array(ps);
    case '"':
        return string(ps, 0);
    case 't':
        return literal(ps, "true", 4, Py_True);
    case 'f':
        return literal(ps, "false", 5, Py_False);
    case 'n':
        return literal(ps, "null", 4, Py_None);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return number(ps);
    default:
        return fail(ps, "unexpected character: expected a value", ps->p);
    }
}

/* --- the module ---------------------------------------------------------------------- */

static PyObject *
loads(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer view;
    int viewed = 0;
    const char *data;
    Py_ssize_t size;
    if (PyUnicode_Check(arg)) {
        data = PyUnicode_AsUTF8AndSize(arg, &size);
        if (data == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                return NULL;
            }
            PyErr_Clear();
            PyObject *args = Py_BuildValue("(sn)", "the text holds a lone surrogate (not valid UTF-8)", (Py_ssize_t)0);
            if (args != NULL) {
                PyErr_SetObject(PyExc_ValueError, args);
                Py_DECREF(args);
            }
            return NULL;
        }
    }
    else {
        if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        viewed = 1;
        data = view.buf;
        size = view.len;
    }
    Parser ps;
    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = (const unsigned char *)data;
    ps.end = ps.start + size;
    ps.mask = 63;
    while (ps.mask + 1 < TABLE_MAX && (Py_ssize_t)(ps.mask + 1) * TABLE_BYTES_PER_SLOT < size) {
        ps.mask = ps.mask * 2 + 1;
    }
    PyObject *result = NULL;
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        fail(&ps, "a UTF-8 byte order mark (BOM) is not supported", ps.start);
    }
    else {
        skip_ws(&ps);
        if (ps.p >= ps.end) {
            fail(&ps, "an empty document", ps.p);
        }
        else if ((result = value(&ps)) != NULL) {
            skip_ws(&ps);
            if (ps.p < ps.end) {
                Py_CLEAR(result);
                fail(&ps, "unexpected content after the document", ps.p);
            }
        }
    }
    unwind(&ps, 0);
    PyMem_Free(ps.stack);
    PyMem_Free(ps.buf);
    PyMem_Free(ps.slots);
    for (Py_ssize_t i = 0; i < ps.nkept; i++) {
        Py_DECREF(ps.kept[i]);
    }
    PyMem_Free(ps.kept);
    if (viewed) {
        PyBuffer_Release(&view);
    }
    if (result == NULL && ps.error != NULL && !PyErr_Occurred()) {
        PyObject *args = Py_BuildValue("(sn)", ps.error, (Py_ssize_t)(ps.error_at - ps.start));
        if (args != NULL) {
            PyErr_SetObject(PyExc_ValueError, args);
            Py_DECREF(args);
        }
    }
    return result;
}

static PyMethodDef methods[] = {
    {"loads", loads, METH_O,
     "loads(data, /)\n--\n\nA JSON document (bytes, bytearray, memoryview or str) as Python values, "
     "as orjson.loads gives them; short strings are shared. Invalid JSON raises "
     "ValueError(message, byte offset)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "regie.connectors._json", "JSON parsing for connectors (see connectors/_json.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__json(void)
{
    for (int c = 0x20; c < 0x80; c++) {
        plain[c] = (c != '"' && c != '\\');
    }
    return PyModule_Create(&module);
}
