/* regie.connectors._speedups: the two hottest loops of reading facts, in C.
 *
 * 1. redact(): the walk of connectors/base.py's redact_secret_names.
 * 2. read_instances(): the common case of connectors/terraform/state.py's `one` (one instance
 *    of a resource block → one Resource); every other instance is handed back to `one`.
 *
 * Both have a Python reference that stays the fallback where this module is not built
 * (tests/test_speedups.py and the state reader's tests run both).
 *
 * --- redact ---------------------------------------------------------------------------
 *
 * Every connector passes every attribute of every resource through that walk (a Terraform
 * state of 100,000 resources is some 1.5 million values). In Python it is a third of the
 * time it takes to read such a state; here it is a tenth of that. The meaning is the Python
 * function's, which stays the reference and the fallback where this module is not built
 * (tests/test_speedups.py compares the two on random values):
 *
 *   - a non-empty string under a secret name becomes `redacted`, unless it already is;
 *   - dicts and lists (exactly those types) are walked at any depth, and copied only along
 *     the paths where something changed: an unchanged value is returned itself;
 *   - whether a name is a secret's is asked of `classify` once per name and remembered in
 *     `cache` (a dict shared with the Python walk).
 *
 * redact(value, cache, classify, redacted) -> value
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

static PyObject *walk(PyObject *value, PyObject *cache, PyObject *classify, PyObject *redacted);

/* 1 for a secret's name, 0 for another, -1 with an exception set. */
static int
secret_name(PyObject *key, PyObject *cache, PyObject *classify)
{
    PyObject *known = PyDict_GetItemWithError(cache, key); /* borrowed */
    if (known != NULL) {
        return PyObject_IsTrue(known);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *answer = PyObject_CallOneArg(classify, key);
    if (answer == NULL) {
        return -1;
    }
    int secret = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    if (secret < 0 || PyDict_SetItem(cache, key, secret ? Py_True : Py_False) < 0) {
        return -1;
    }
    return secret;
}

static PyObject *
walk_dict(PyObject *value, PyObject *cache, PyObject *classify, PyObject *redacted)
{
    PyObject *out = NULL; /* the copy, made at the first change */
    PyObject *key, *item;  /* borrowed */
    Py_ssize_t pos = 0;
    while (PyDict_Next(value, &pos, &key, &item)) {
        PyObject *replacement;
        if (PyUnicode_CheckExact(item)) {
            if (PyUnicode_GET_LENGTH(item) == 0) {
                continue;
            }
            int secret = secret_name(key, cache, classify);
            if (secret < 0) {
                goto fail;
            }
            if (!secret) {
                continue;
            }
            int same = PyUnicode_Compare(item, redacted);
            if (same == -1 && PyErr_Occurred()) {
                goto fail;
            }
            if (same == 0) {
                continue;
            }
            replacement = Py_NewRef(redacted);
        }
        else if (PyDict_CheckExact(item) || PyList_CheckExact(item)) {
            /* `value` holds `item` while it is walked: the walk runs no Python code that
             * could change `value` (classify is asked about names only). */
            replacement = walk(item, cache, classify, redacted);
            if (replacement == NULL) {
                goto fail;
            }
            if (replacement == item) {
                Py_DECREF(replacement);
                continue;
            }
        }
        else {
            continue;
        }
        if (out == NULL && (out = PyDict_Copy(value)) == NULL) {
            Py_DECREF(replacement);
            goto fail;
        }
        int err = PyDict_SetItem(out, key, replacement);
        Py_DECREF(replacement);
        if (err < 0) {
            goto fail;
        }
    }
    return out != NULL ? out : Py_NewRef(value);
fail:
    Py_XDECREF(out);
    return NULL;
}

static PyObject *
walk_list(PyObject *value, PyObject *cache, PyObject *classify, PyObject *redacted)
{
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++) {
        PyObject *item = PyList_GET_ITEM(value, i); /* borrowed */
        if (!(PyDict_CheckExact(item) || PyList_CheckExact(item))) {
            continue;
        }
        Py_INCREF(item);
        PyObject *replacement = walk(item, cache, classify, redacted);
        Py_DECREF(item);
        if (replacement == NULL) {
            goto fail;
        }
        if (replacement == item) {
            Py_DECREF(replacement);
            continue;
        }
        if (out == NULL && (out = PyList_GetSlice(value, 0, PyList_GET_SIZE(value))) == NULL) {
            Py_DECREF(replacement);
            goto fail;
        }
        PyList_SetItem(out, i, replacement); /* steals the reference */
    }
    return out != NULL ? out : Py_NewRef(value);
fail:
    Py_XDECREF(out);
    return NULL;
}

static PyObject *
walk(PyObject *value, PyObject *cache, PyObject *classify, PyObject *redacted)
{
    if (Py_EnterRecursiveCall(" while redacting secret values")) {
        return NULL;
    }
    PyObject *out;
    if (PyDict_CheckExact(value)) {
        out = walk_dict(value, cache, classify, redacted);
    }
    else if (PyList_CheckExact(value)) {
        out = walk_list(value, cache, classify, redacted);
    }
    else {
        out = Py_NewRef(value);
    }
    Py_LeaveRecursiveCall();
    return out;
}

static PyObject *
redact(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "redact() takes 4 arguments (value, cache, classify, redacted), got %zd",
                     nargs);
        return NULL;
    }
    if (!PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "redact(): cache must be a dict");
        return NULL;
    }
    if (!PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "redact(): classify must be callable");
        return NULL;
    }
    if (!PyUnicode_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "redact(): redacted must be a str");
        return NULL;
    }
    return walk(args[0], args[1], args[2], args[3]);
}


/* --- read_instances ---------------------------------------------------------------------
 *
 * read_instances(reader, instances, i, base, kind, rtype, name, provider, cmap, out)
 *
 * For each instance of one resource block, what `one(inst, i, base, kind, rtype, name,
 * provider, cmap)` in connectors/terraform/state.py does, when the instance is the common
 * kind: an object, not deposed, with an `attributes` object, no sensitive paths, no index
 * key or an integer one, and labels (`tags`, else `labels`) that are absent, empty or a map of
 * strings. Any other instance goes to `one` itself, so the meaning is the Python code's. The
 * caller only calls this for ownership conventions of two names per fact and for blocks of
 * kinds without model facts (see `_read`). `reader` is the tuple below.
 */
enum {
    R_RESOURCE, R_ID_PREFIX, R_ORIGIN, R_NAMES, R_TRUTH, R_TRUTHY, R_ARN_REGION, R_COUNTRY, R_ONE,
    R_CACHE, R_CLASSIFY, R_REDACTED, R_SIZE
};
/* The ownership names of `reader[R_NAMES]`: two per fact, in the order vital, service,
 * classification, exit_plan, owner (read_common's `facts`). */
enum { N_SIZE = 10 };

static const char *const SLOT_NAMES[] = {
    "id", "source", "kind", "type", "address", "name", "provider", "region", "country", "action",
    "labels", "attributes", "seq", "service", "classification", "vital", "exit_plan", "owner",
};
enum {
    S_ID, S_SOURCE, S_KIND, S_TYPE, S_ADDRESS, S_NAME, S_PROVIDER, S_REGION, S_COUNTRY, S_ACTION,
    S_LABELS, S_ATTRIBUTES, S_SEQ, S_SERVICE, S_CLASSIFICATION, S_VITAL, S_EXIT_PLAN, S_OWNER, S_SIZE
};

/* Where each slot of the resource type lives in its objects (checked to be plain object
 * slots once per type). */
static PyTypeObject *slots_of = NULL;
static Py_ssize_t slot_offsets[S_SIZE];

static int
find_slots(PyTypeObject *type)
{
    if (type == slots_of) {
        return 0;
    }
    Py_ssize_t found[S_SIZE];
    for (int k = 0; k < S_SIZE; k++) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, SLOT_NAMES[k]);
        if (descr == NULL) {
            return -1;
        }
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        if (ok) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            ok = member->type == T_OBJECT_EX && !(member->flags & READONLY);
            found[k] = member->offset;
        }
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "read_instances(): %s.%s is not a writable slot", type->tp_name,
                         SLOT_NAMES[k]);
            return -1;
        }
    }
    memcpy(slot_offsets, found, sizeof found);
    Py_XSETREF(slots_of, (PyTypeObject *)Py_NewRef(type));
    return 0;
}

/* Stores a new reference to `value` (the object is fresh: its slots are empty). */
static inline void
put(PyObject *obj, int slot, PyObject *value)
{
    PyObject **at = (PyObject **)((char *)obj + slot_offsets[slot]);
    PyObject *old = *at;
    *at = Py_NewRef(value);
    Py_XDECREF(old);
}

/* `get(a) or get(b) or None` over a map of strings: a new reference, NULL on error. */
static PyObject *
first_of(PyObject *labels, PyObject *a, PyObject *b)
{
    PyObject *names[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        PyObject *value = PyDict_GetItemWithError(labels, names[k]);
        if (value == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            continue;
        }
        int truth = PyObject_IsTrue(value);
        if (truth < 0) {
            return NULL;
        }
        if (truth) {
            return Py_NewRef(value);
        }
    }
    return Py_NewRef(Py_None);
}

/* 1 when `labels` is a map whose values are all strings. */
static int
strings_only(PyObject *labels)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(labels, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(value)) {
            return 0;
        }
    }
    return 1;
}

/* The keys the reader looks up, made once (PyInit__speedups). */
enum { K_DEPOSED, K_ATTRIBUTES, K_SENSITIVE, K_INDEX_KEY, K_TAGS, K_LABELS, K_REGION, K_LOCATION, K_ZONE, K_ARN,
       K_SIZE };
static PyObject *keys[K_SIZE];

/* A dict item, borrowed, NULL when absent: an interned string key in an exact dict, so the
 * lookup runs no Python code and cannot fail. */
static inline PyObject *
item(PyObject *dict, int key)
{
    return PyDict_GetItemWithError(dict, keys[key]);
}

/* The instance as `one` reads it, when it is the common kind: 1 when done (appended, or
 * skipped as deposed), 0 when `one` must read it, -1 on error. */
static int
read_common(PyObject *const *reader, PyObject *inst, PyObject *base, PyObject *kind, PyObject *rtype,
            PyObject *name, PyObject *provider, PyObject *cmap, PyObject *out)
{
    if (!PyDict_CheckExact(inst)) {
        return 0;
    }
    if (item(inst, K_DEPOSED) != NULL) {
        return 1; /* on its way out; the current object stands for the address */
    }
    PyObject *raw_attrs = item(inst, K_ATTRIBUTES);
    if (raw_attrs == NULL || !PyDict_CheckExact(raw_attrs)) {
        return 0;
    }
    /* Only builtin values are looked at here (no truth test that could run Python code
     * while the borrowed references above are in use): anything else goes to `one`. */
    PyObject *sensitive = item(inst, K_SENSITIVE);
    if (sensitive != NULL && sensitive != Py_None &&
        !(PyList_CheckExact(sensitive) && PyList_GET_SIZE(sensitive) == 0)) {
        return 0;
    }
    PyObject *key = item(inst, K_INDEX_KEY);
    if (key != NULL && key != Py_None && !PyLong_CheckExact(key)) {
        return 0;
    }

    PyObject *attrs = NULL, *address = NULL, *region = NULL, *country = NULL, *labels = NULL;
    PyObject *facts[5] = {NULL, NULL, NULL, NULL, NULL}; /* vital, service, classification, exit_plan, owner */
    PyObject *resource = NULL, *ident = NULL;
    int result = -1;

    attrs = walk(raw_attrs, reader[R_CACHE], reader[R_CLASSIFY], reader[R_REDACTED]);
    if (attrs == NULL) {
        goto done;
    }
    PyObject *tags = item(attrs, K_TAGS);
    if (tags == NULL || tags == Py_None) {
        tags = item(attrs, K_LABELS);
    }
    int has_labels = 0;
    if (tags != NULL && tags != Py_None) {
        if (!PyDict_CheckExact(tags) || !strings_only(tags)) {
            result = 0; /* labels to convert, or an odd value: `one` does it */
            goto done;
        }
        has_labels = PyDict_GET_SIZE(tags) > 0;
    }

    if (key == NULL || key == Py_None) {
        address = Py_NewRef(base);
    }
    else if ((address = PyUnicode_FromFormat("%U[%S]", base, key)) == NULL) {
        goto done;
    }

    PyObject *found = NULL;
    for (int k = K_REGION; k <= K_ZONE && (found == NULL || found == Py_None); k++) {
        found = item(attrs, k);
    }
    if (found != NULL && found != Py_None) {
        region = Py_NewRef(found);
    }
    else {
        PyObject *arn = item(attrs, K_ARN);
        region = PyObject_CallOneArg(reader[R_ARN_REGION], arn != NULL ? arn : Py_None);
        if (region == NULL) {
            goto done;
        }
    }
    if (region == Py_None) {
        country = Py_NewRef(Py_None);
    }
    else if (PyUnicode_CheckExact(region)) {
        PyObject *known = PyDict_GetItemWithError(cmap, region);
        if (known != NULL) {
            country = Py_NewRef(known);
        }
        else if (PyErr_Occurred()) {
            goto done;
        }
        else {
            country = PyObject_CallFunctionObjArgs(reader[R_COUNTRY], provider, region, NULL);
            if (country == NULL || PyDict_SetItem(cmap, region, country) < 0) {
                goto done;
            }
        }
    }
    else {
        Py_SETREF(region, Py_NewRef(Py_None));
        country = Py_NewRef(Py_None);
    }

    if (has_labels) {
        labels = Py_NewRef(tags);
        PyObject *names = reader[R_NAMES];
        for (int f = 0; f < 5; f++) {
            facts[f] = first_of(labels, PyTuple_GET_ITEM(names, 2 * f), PyTuple_GET_ITEM(names, 2 * f + 1));
            if (facts[f] == NULL) {
                goto done;
            }
        }
        if (facts[0] != Py_None) {
            PyObject *flag = PyDict_GetItemWithError(reader[R_TRUTH], facts[0]);
            if (flag != NULL) {
                Py_SETREF(facts[0], Py_NewRef(flag));
            }
            else if (PyErr_Occurred()) {
                goto done;
            }
            else {
                PyObject *vital = PyObject_CallOneArg(reader[R_TRUTHY], facts[0]);
                if (vital == NULL) {
                    goto done;
                }
                Py_SETREF(facts[0], vital);
            }
        }
    }
    else {
        if ((labels = PyDict_New()) == NULL) {
            goto done;
        }
        for (int f = 0; f < 5; f++) {
            facts[f] = Py_NewRef(Py_None);
        }
    }

    if ((ident = PyUnicode_Concat(reader[R_ID_PREFIX], address)) == NULL) {
        goto done;
    }
    PyTypeObject *type = (PyTypeObject *)reader[R_RESOURCE];
    if ((resource = type->tp_alloc(type, 0)) == NULL) {
        goto done;
    }
    put(resource, S_ID, ident);
    put(resource, S_SOURCE, reader[R_ORIGIN]);
    put(resource, S_KIND, kind);
    put(resource, S_TYPE, rtype);
    put(resource, S_ADDRESS, address);
    put(resource, S_NAME, name);
    put(resource, S_PROVIDER, provider);
    put(resource, S_REGION, region);
    put(resource, S_COUNTRY, country);
    put(resource, S_ACTION, Py_None);
    put(resource, S_LABELS, labels);
    put(resource, S_ATTRIBUTES, attrs);
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        goto done;
    }
    put(resource, S_SEQ, zero);
    Py_DECREF(zero);
    put(resource, S_VITAL, facts[0]);
    put(resource, S_SERVICE, facts[1]);
    put(resource, S_CLASSIFICATION, facts[2]);
    put(resource, S_EXIT_PLAN, facts[3]);
    put(resource, S_OWNER, facts[4]);
    if (PyList_Append(out, resource) < 0) {
        goto done;
    }
    result = 1;
done:
    Py_XDECREF(attrs);
    Py_XDECREF(address);
    Py_XDECREF(region);
    Py_XDECREF(country);
    Py_XDECREF(labels);
    for (int f = 0; f < 5; f++) {
        Py_XDECREF(facts[f]);
    }
    Py_XDECREF(ident);
    Py_XDECREF(resource);
    return result;
}

static PyObject *
read_instances(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10) {
        PyErr_Format(PyExc_TypeError, "read_instances() takes 10 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *reader_tuple = args[0], *instances = args[1], *i = args[2], *base = args[3], *kind = args[4];
    PyObject *rtype = args[5], *name = args[6], *provider = args[7], *cmap = args[8], *out = args[9];
    if (!PyTuple_CheckExact(reader_tuple) || PyTuple_GET_SIZE(reader_tuple) != R_SIZE) {
        PyErr_SetString(PyExc_TypeError, "read_instances(): reader must be the reader tuple of state._read");
        return NULL;
    }
    PyObject *const *reader = &PyTuple_GET_ITEM(reader_tuple, 0);
    if (!PyType_Check(reader[R_RESOURCE]) || !PyUnicode_CheckExact(reader[R_ID_PREFIX]) ||
        !PyTuple_CheckExact(reader[R_NAMES]) || PyTuple_GET_SIZE(reader[R_NAMES]) != N_SIZE ||
        !PyDict_CheckExact(reader[R_TRUTH]) || !PyDict_CheckExact(reader[R_CACHE]) ||
        !PyUnicode_CheckExact(reader[R_REDACTED])) {
        PyErr_SetString(PyExc_TypeError, "read_instances(): malformed reader tuple");
        return NULL;
    }
    if (!PyList_CheckExact(instances) || !PyUnicode_CheckExact(base) || !PyDict_CheckExact(cmap) ||
        !PyList_CheckExact(out)) {
        PyErr_SetString(PyExc_TypeError, "read_instances(): instances, base, cmap or out of the wrong type");
        return NULL;
    }
    if (find_slots((PyTypeObject *)reader[R_RESOURCE]) < 0) {
        return NULL;
    }
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(instances); n++) {
        PyObject *inst = Py_NewRef(PyList_GET_ITEM(instances, n));
        int done = read_common(reader, inst, base, kind, rtype, name, provider, cmap, out);
        if (done == 0) {
            PyObject *call[8] = {inst, i, base, kind, rtype, name, provider, cmap};
            PyObject *none = PyObject_Vectorcall(reader[R_ONE], call, 8, NULL);
            done = none == NULL ? -1 : 1;
            Py_XDECREF(none);
        }
        Py_DECREF(inst);
        if (done < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"redact", (PyCFunction)(void (*)(void))redact, METH_FASTCALL,
     "redact(value, cache, classify, redacted): value with the strings under secret names replaced."},
    {"read_instances", (PyCFunction)(void (*)(void))read_instances, METH_FASTCALL,
     "read_instances(reader, instances, i, base, kind, rtype, name, provider, cmap, out): see state._read."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "regie.connectors._speedups",
    .m_doc = "The secret-redaction walk and the common case of the Terraform state reader, in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    static const char *const names[K_SIZE] = {
        "deposed", "attributes", "sensitive_attributes", "index_key", "tags", "labels", "region", "location", "zone",
        "arn",
    };
    for (int k = 0; k < K_SIZE; k++) {
        if (keys[k] == NULL && (keys[k] = PyUnicode_InternFromString(names[k])) == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
