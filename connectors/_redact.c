/* regie.connectors._redact: the walk of connectors/base.py's redact_secret_names, in C.
 *
 * Every connector passes every attribute of every resource through that walk (a Terraform
 * state of 100,000 resources is some 1.5 million values). In Python it is a third of the
 * time it takes to read such a state; here it is a tenth of that. The meaning is the Python
 * function's, which stays the reference and the fallback where this module is not built
 * (tests/test_redact_native.py compares the two on random values):
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

static PyMethodDef methods[] = {
    {"redact", (PyCFunction)(void (*)(void))redact, METH_FASTCALL,
     "redact(value, cache, classify, redacted): value with the strings under secret names replaced."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "regie.connectors._redact",
    .m_doc = "The secret-name redaction walk of regie.connectors.base, in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__redact(void)
{
    return PyModule_Create(&module);
}
