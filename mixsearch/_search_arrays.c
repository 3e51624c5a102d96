/* The compiled half of `mixsearch.search_arrays`: the arrays of one search, checked, normalised
 * and allocated without numpy's Python-level calls.
 *
 * Why C: right after a FAISS search has cooled the CPU caches, every numpy call on a query's
 * path (asarray, an attribute read, a dot product, np.empty) costs 5-15 us, so the few a search
 * needs around FAISS cost more than the 10 % of a 1M-document IVF search the engine may add
 * (benchmarks/search.py, RESULTS.md issue 14). Here the same checks are field reads.
 *
 * `search_arrays.py` holds the Python twins that run when this optional module is not built;
 * tests compare the two.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <math.h>

/* An exact ndarray (no subclass) of native float32, aligned and C-contiguous, [n, dim]: what
 * FAISS reads as raw memory. */
static int is_rows(PyObject *obj, npy_intp dim) {
    if (!PyArray_CheckExact(obj)) return 0;
    PyArrayObject *a = (PyArrayObject *)obj;
    return PyArray_TYPE(a) == NPY_FLOAT32 && PyArray_ISNOTSWAPPED(a) && PyArray_NDIM(a) == 2 &&
           PyArray_DIM(a, 1) == dim && PyArray_IS_C_CONTIGUOUS(a) &&
           PyArray_ISALIGNED(a);
}

/* Every value finite: FAISS ranks a NaN query's neighbours as nothing, silently. */
static int all_finite(PyArrayObject *a) {
    const float *x = (const float *)PyArray_DATA(a);
    npy_intp size = PyArray_SIZE(a);
    float sum = 0.0f; /* NaN or infinity in, NaN or infinity out: one branch for the array */
    for (npy_intp i = 0; i < size; i++) sum += x[i] * 0.0f;
    return sum == 0.0f;
}

static PyObject *query_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "query_rows(q, dim) takes 2 arguments");
        return NULL;
    }
    npy_intp dim = PyLong_AsSsize_t(args[1]);
    if (dim == -1 && PyErr_Occurred()) return NULL;
    if (is_rows(args[0], dim) && all_finite((PyArrayObject *)args[0])) return Py_NewRef(args[0]);
    Py_RETURN_NONE;
}

static double row_norm(const float *x, npy_intp dim) {
    double squares = 0.0;
    for (npy_intp j = 0; j < dim; j++) squares += (double)x[j] * (double)x[j];
    return sqrt(squares);
}

/* Row `x` (+ `shift` when given) at length 1, written to `out`: rows within `tolerance` of
 * length 1 (without a shift) are copied as they are, zero rows stay zero. 0 when the row is
 * not finite (its norm is NaN or infinite). */
static int unit_row(const float *x, const float *shift, float *out, npy_intp dim,
                    double tolerance, double eps) {
    for (npy_intp j = 0; j < dim; j++) out[j] = shift ? x[j] + shift[j] : x[j];
    double norm = row_norm(out, dim);
    if (!isfinite(norm)) return 0;
    if (!shift && fabs(norm - 1.0) <= tolerance) return 1;
    float divisor = (float)(norm > eps ? norm : eps);
    for (npy_intp j = 0; j < dim; j++) out[j] = out[j] / divisor;
    return 1;
}

/* unit_rows(q, shift, tolerance, eps): the rows of `q` (float32 [n, dim], see is_rows) plus
 * `shift` (float32 [dim] or None) at length 1; `q` itself when there is no shift and every row
 * is within `tolerance` of length 1 (a text encoder's own output, the common query). A row
 * that is not finite is a ValueError naming it. */
static PyObject *unit_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "unit_rows(q, shift, tolerance, eps) takes 4 arguments");
        return NULL;
    }
    PyObject *q = args[0], *shift_obj = args[1];
    double tolerance = PyFloat_AsDouble(args[2]), eps = PyFloat_AsDouble(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (!PyArray_Check(q) || PyArray_NDIM((PyArrayObject *)q) != 2 ||
        !is_rows(q, PyArray_DIM((PyArrayObject *)q, 1))) {
        PyErr_SetString(PyExc_TypeError, "unit_rows: q must be a C-contiguous float32 [n, dim]");
        return NULL;
    }
    npy_intp n = PyArray_DIM((PyArrayObject *)q, 0), dim = PyArray_DIM((PyArrayObject *)q, 1);
    const float *shift = NULL;
    if (shift_obj != Py_None) {
        PyArrayObject *s = (PyArrayObject *)shift_obj;
        if (!PyArray_Check(shift_obj) || PyArray_TYPE(s) != NPY_FLOAT32 ||
            !PyArray_ISNOTSWAPPED(s) || PyArray_NDIM(s) != 1 || PyArray_DIM(s, 0) != dim ||
            !PyArray_IS_C_CONTIGUOUS(s) || !PyArray_ISALIGNED(s)) {
            PyErr_SetString(PyExc_TypeError, "unit_rows: shift must be float32 [dim] or None");
            return NULL;
        }
        shift = (const float *)PyArray_DATA(s);
    }
    const float *x = (const float *)PyArray_DATA((PyArrayObject *)q);
    if (!shift) { /* the common query: rows already at length 1, returned without a copy */
        npy_intp i = 0;
        while (i < n && fabs(row_norm(x + i * dim, dim) - 1.0) <= tolerance) i++;
        if (i == n) return Py_NewRef(q);
    }
    npy_intp dims[2] = {n, dim};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (out == NULL) return NULL;
    float *y = (float *)PyArray_DATA((PyArrayObject *)out);
    for (npy_intp i = 0; i < n; i++) {
        if (!unit_row(x + i * dim, shift, y + i * dim, dim, tolerance, eps)) {
            Py_DECREF(out);
            PyErr_Format(PyExc_ValueError, "query row %zd is not finite (NaN or infinity)", i);
            return NULL;
        }
    }
    return out;
}

/* result_arrays(n, k): uninitialised (float32 [n, k] scores, int64 [n, k] ids) for FAISS to
 * fill. */
static PyObject *result_arrays(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "result_arrays(n, k) takes 2 arguments");
        return NULL;
    }
    npy_intp dims[2];
    for (int i = 0; i < 2; i++) {
        dims[i] = PyLong_AsSsize_t(args[i]);
        if (dims[i] == -1 && PyErr_Occurred()) return NULL;
    }
    if (dims[0] < 0 || dims[1] < 0) {
        PyErr_SetString(PyExc_ValueError, "result_arrays: n and k must not be negative");
        return NULL;
    }
    PyObject *scores = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (scores == NULL) return NULL;
    PyObject *ids = PyArray_SimpleNew(2, dims, NPY_INT64);
    if (ids == NULL) {
        Py_DECREF(scores);
        return NULL;
    }
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL) {
        Py_DECREF(scores);
        Py_DECREF(ids);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, scores); /* steals the references */
    PyTuple_SET_ITEM(pair, 1, ids);
    return pair;
}

static PyMethodDef methods[] = {
    {"query_rows", (PyCFunction)(void (*)(void))query_rows, METH_FASTCALL,
     "query_rows(q, dim): q when it is a finite, C-contiguous float32 [n, dim] ndarray, else None."},
    {"unit_rows", (PyCFunction)(void (*)(void))unit_rows, METH_FASTCALL,
     "unit_rows(q, shift, tolerance, eps): the rows of q (+ shift) at length 1; ValueError for a "
     "row that is not finite."},
    {"result_arrays", (PyCFunction)(void (*)(void))result_arrays, METH_FASTCALL,
     "result_arrays(n, k): empty float32 and int64 [n, k] arrays."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_search_arrays",
    "The arrays of one search, compiled (see mixsearch/search_arrays.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__search_arrays(void) {
    import_array(); /* returns NULL with ImportError when numpy's C API is not the one built on */
    return PyModule_Create(&module_def);
}
