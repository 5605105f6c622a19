/* _hsscan: a hyperscan block database whose scan collects matches in C.
 *
 * python-hyperscan calls a Python function for every match (about 0.75 us each); a
 * spreadsheet of 15,000 rows brings 150,000 matches, so the calls and the list they fill
 * cost as much as the scan itself.  Here the match handler appends (start, end, id) to a
 * growing int64 buffer and the scan returns it as one bytes object, read by numpy without
 * a copy.  The GIL is released while hyperscan runs.
 *
 * Linked against the system libhs (Debian: libhyperscan-dev).  When it cannot be built,
 * detectorset.py falls back to python-hyperscan with the same results (a test compares).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <hs/hs.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    hs_database_t *db;
    hs_scratch_t *scratch; /* the object's own; a concurrent scan clones another */
    int scratch_busy;
} Database;

typedef struct {
    int64_t *data;
    size_t len;
    size_t cap;
    int failed;
} Hits;

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *context) {
    (void)flags;
    Hits *hits = (Hits *)context;
    if (hits->len + 3 > hits->cap) {
        size_t cap = hits->cap ? hits->cap * 2 : 3 * 4096;
        int64_t *grown = realloc(hits->data, cap * sizeof(int64_t));
        if (grown == NULL) {
            hits->failed = 1;
            return 1; /* stop the scan */
        }
        hits->data = grown;
        hits->cap = cap;
    }
    hits->data[hits->len++] = (int64_t)from;
    hits->data[hits->len++] = (int64_t)to;
    hits->data[hits->len++] = (int64_t)id;
    return 0;
}

static PyObject *error_from(const char *what, hs_error_t err) {
    PyErr_Format(PyExc_RuntimeError, "hyperscan %s failed (error %d)", what, (int)err);
    return NULL;
}

static int Database_set(Database *self, hs_database_t *db) {
    hs_error_t err = hs_alloc_scratch(db, &self->scratch);
    if (err != HS_SUCCESS) {
        hs_free_database(db);
        error_from("hs_alloc_scratch", err);
        return -1;
    }
    self->db = db;
    return 0;
}

/* Database(expressions: list[bytes], flags: list[int]): ids are the positions. */
static int Database_init(Database *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"expressions", "flags", NULL};
    PyObject *expressions, *flags;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO", kwlist, &expressions, &flags))
        return -1;
    if (self->db != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database already compiled");
        return -1;
    }
    PyObject *exprs = PySequence_Fast(expressions, "expressions must be a sequence");
    if (exprs == NULL)
        return -1;
    PyObject *flgs = PySequence_Fast(flags, "flags must be a sequence");
    if (flgs == NULL) {
        Py_DECREF(exprs);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(exprs);
    int result = -1;
    const char **c_exprs = NULL;
    unsigned int *c_flags = NULL, *c_ids = NULL;
    if (n != PySequence_Fast_GET_SIZE(flgs) || n == 0) {
        PyErr_SetString(PyExc_ValueError, "need as many flags as expressions, at least one");
        goto done;
    }
    c_exprs = PyMem_Calloc((size_t)n, sizeof(char *));
    c_flags = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    c_ids = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    if (!c_exprs || !c_flags || !c_ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(exprs, i);
        if (!PyBytes_Check(e)) {
            PyErr_SetString(PyExc_TypeError, "expressions must be bytes");
            goto done;
        }
        c_exprs[i] = PyBytes_AS_STRING(e);
        unsigned long f = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(flgs, i));
        if (PyErr_Occurred())
            goto done;
        c_flags[i] = (unsigned int)f;
        c_ids[i] = (unsigned int)i;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *compile_error = NULL;
    hs_error_t err = hs_compile_multi(c_exprs, c_flags, c_ids, (unsigned int)n, HS_MODE_BLOCK,
                                      NULL, &db, &compile_error);
    if (err != HS_SUCCESS) {
        if (compile_error != NULL) {
            PyErr_Format(PyExc_ValueError, "%s (expression %d)", compile_error->message,
                         compile_error->expression);
            hs_free_compile_error(compile_error);
        } else {
            error_from("hs_compile_multi", err);
        }
        goto done;
    }
    result = Database_set(self, db);
done:
    PyMem_Free(c_exprs);
    PyMem_Free(c_flags);
    PyMem_Free(c_ids);
    Py_DECREF(exprs);
    Py_DECREF(flgs);
    return result;
}

static void Database_dealloc(Database *self) {
    if (self->scratch != NULL)
        hs_free_scratch(self->scratch);
    if (self->db != NULL)
        hs_free_database(self->db);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* scan(blob) -> bytes of native int64 (start, end, id) triples, in hyperscan's order. */
static PyObject *Database_scan(Database *self, PyObject *arg) {
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database not compiled");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0)
        return NULL;
    if ((unsigned long long)view.len > 0xFFFFFFFFull) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "hyperscan scans at most 4 GiB at once");
        return NULL;
    }
    /* Taken and given back with the GIL held, so two threads never share a scratch. */
    hs_scratch_t *scratch = self->scratch;
    int own = !self->scratch_busy;
    if (own) {
        self->scratch_busy = 1;
    } else {
        scratch = NULL;
        hs_error_t err = hs_clone_scratch(self->scratch, &scratch);
        if (err != HS_SUCCESS) {
            PyBuffer_Release(&view);
            return error_from("hs_clone_scratch", err);
        }
    }
    Hits hits = {NULL, 0, 0, 0};
    hs_error_t err;
    Py_BEGIN_ALLOW_THREADS
    err = hs_scan(self->db, (const char *)view.buf, (unsigned int)view.len, 0, scratch,
                  on_match, &hits);
    Py_END_ALLOW_THREADS
    if (own)
        self->scratch_busy = 0;
    else
        hs_free_scratch(scratch);
    PyBuffer_Release(&view);
    PyObject *out = NULL;
    if (hits.failed)
        PyErr_NoMemory();
    else if (err != HS_SUCCESS && err != HS_SCAN_TERMINATED)
        error_from("hs_scan", err);
    else
        out = PyBytes_FromStringAndSize((const char *)hits.data,
                                        (Py_ssize_t)(hits.len * sizeof(int64_t)));
    free(hits.data);
    return out;
}

static PyObject *Database_serialize(Database *self, PyObject *unused) {
    (void)unused;
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database not compiled");
        return NULL;
    }
    char *bytes = NULL;
    size_t length = 0;
    hs_error_t err = hs_serialize_database(self->db, &bytes, &length);
    if (err != HS_SUCCESS)
        return error_from("hs_serialize_database", err);
    PyObject *out = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)length);
    free(bytes);
    return out;
}

static PyTypeObject DatabaseType;

/* Database.deserialize(blob): a database serialized by this libhs on this platform. */
static PyObject *Database_deserialize(PyObject *cls, PyObject *arg) {
    char *data;
    Py_ssize_t length;
    if (PyBytes_AsStringAndSize(arg, &data, &length) != 0)
        return NULL;
    hs_database_t *db = NULL;
    hs_error_t err = hs_deserialize_database(data, (size_t)length, &db);
    if (err != HS_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "not a database of this hyperscan (error %d)", (int)err);
        return NULL;
    }
    Database *self = (Database *)((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (self == NULL) {
        hs_free_database(db);
        return NULL;
    }
    if (Database_set(self, db) != 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyMethodDef Database_methods[] = {
    {"scan", (PyCFunction)Database_scan, METH_O,
     "scan(blob) -> bytes of int64 (start, end, id) triples of every match."},
    {"serialize", (PyCFunction)Database_serialize, METH_NOARGS,
     "The database as bytes, for deserialize()."},
    {"deserialize", (PyCFunction)Database_deserialize, METH_O | METH_CLASS,
     "A Database from serialize()'s bytes (same libhs and platform)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DatabaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "postwarden.engine.detect._hsscan.Database",
    .tp_basicsize = sizeof(Database),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A hyperscan block-mode database (HS_FLAG_SOM_LEFTMOST et al. per expression).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Database_init,
    .tp_dealloc = (destructor)Database_dealloc,
    .tp_methods = Database_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hsscan", "Hyperscan scans collecting their matches in C.", -1,
    NULL,
};

PyMODINIT_FUNC PyInit__hsscan(void) {
    if (PyType_Ready(&DatabaseType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DatabaseType);
    if (PyModule_AddObject(m, "Database", (PyObject *)&DatabaseType) < 0) {
        Py_DECREF(&DatabaseType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "HS_VERSION", hs_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
