/* The compiled half of `mixsearch.store.hit_table`: a batch of FAISS results -> `Hit` objects.
 *
 * `HitTable.hits_batch` does exactly this in Python when this module is not built (it is an
 * optional extension: a machine without a C compiler still installs mixsearch). Compiled, the
 * same work costs ~2 us for 10 hits instead of ~20-30 us: right after a FAISS search has cooled
 * the CPU caches, the interpreter's own per-hit work (10 objects, 8 attributes each, the loop)
 * was most of what the engine added to raw FAISS (benchmarks/search.py, RESULTS.md issue 14).
 *
 * A `Hit` made here is the one `Hit.of_row` makes: doc_id, score, modality, rank set; text,
 * image path and metadata left to be read from the table (its `_source`, row `_row`) on first
 * use. `bind(Hit)` reads the offsets of Hit's __slots__ from its member descriptors once, so a
 * slot renamed or added in hit.py fails loudly there rather than writing to the wrong place.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#define FIELDS 5 /* per row of the table's info array: start, then 4 field lengths */

static const char *SLOT_NAMES[] = {"doc_id",    "score",   "modality", "rank",
                                   "_details",  "_metadata", "_source", "_row"};
enum { DOC_ID, SCORE, MODALITY, RANK, DETAILS, METADATA, SOURCE, ROW, N_SLOTS };

static PyTypeObject *hit_type = NULL;
static Py_ssize_t slot_offset[N_SLOTS];

static int read_slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset) {
    PyObject *descr = PyDict_GetItemString(type->tp_dict, name); /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s has no __slots__ entry %s", type->tp_name, name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
        return -1;
    }
    *offset = member->offset;
    return 0;
}

static PyObject *bind(PyObject *module, PyObject *type) {
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "bind() takes the Hit class");
        return NULL;
    }
    Py_ssize_t offsets[N_SLOTS];
    for (int i = 0; i < N_SLOTS; i++)
        if (read_slot_offset((PyTypeObject *)type, SLOT_NAMES[i], &offsets[i]) < 0) return NULL;
    memcpy(slot_offset, offsets, sizeof offsets);
    Py_XSETREF(hit_type, (PyTypeObject *)Py_NewRef(type));
    Py_RETURN_NONE;
}

/* A C-contiguous buffer of `ndim` dimensions, items of `itemsize` bytes and one of the struct
 * format codes in `formats` (a byte order allowed). */
static int get_buffer(PyObject *obj, Py_buffer *view, int ndim, Py_ssize_t itemsize,
                      const char *formats, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *format = view->format == NULL ? "B" : view->format;
    if (*format && strchr("@=<", *format)) format++;
    int known = format[0] != 0 && format[1] == 0 && strchr(formats, format[0]) != NULL;
    if (view->ndim != ndim || view->itemsize != itemsize || !known) {
        PyErr_Format(PyExc_ValueError,
                     "%s: expected %d-d items of %zd bytes (format %s), got %d-d of %zd (%s)",
                     what, ndim, itemsize, formats, view->ndim, view->itemsize, view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static inline void set_slot(PyObject *hit, int slot, PyObject *value /* stolen */) {
    *(PyObject **)((char *)hit + slot_offset[slot]) = value;
}

/* One Hit, or NULL with an exception set. */
static PyObject *make_hit(PyObject *joined, long long start, long long length, float score,
                          PyObject *modality, Py_ssize_t rank, long long row, PyObject *source) {
    PyObject *doc_id = PyUnicode_Substring(joined, start, start + length);
    PyObject *score_obj = PyFloat_FromDouble((double)score);
    PyObject *rank_obj = PyLong_FromSsize_t(rank);
    PyObject *row_obj = PyLong_FromLongLong(row);
    PyObject *hit = hit_type->tp_alloc(hit_type, 0);
    if (!doc_id || !score_obj || !rank_obj || !row_obj || !hit) {
        Py_XDECREF(doc_id);
        Py_XDECREF(score_obj);
        Py_XDECREF(rank_obj);
        Py_XDECREF(row_obj);
        Py_XDECREF(hit);
        return NULL;
    }
    set_slot(hit, DOC_ID, doc_id);
    set_slot(hit, SCORE, score_obj);
    set_slot(hit, MODALITY, Py_NewRef(modality));
    set_slot(hit, RANK, rank_obj);
    set_slot(hit, DETAILS, Py_NewRef(Py_None));
    set_slot(hit, METADATA, Py_NewRef(Py_None));
    set_slot(hit, SOURCE, Py_NewRef(source));
    set_slot(hit, ROW, row_obj);
    return hit;
}

typedef struct {
    PyObject *joined, *modalities, *source;
    const long long *info;
    Py_ssize_t info_rows;
    const unsigned char *codes;
    const int *row_of; /* NULL: the row is the FAISS id */
    Py_ssize_t bound;  /* FAISS ids at or above this are not in the table */
} Table;

/* One query's hits, best first: ids the table lacks (padding -1, never stored) skipped. */
static PyObject *query_hits(const Table *t, const char *scores, Py_ssize_t score_step,
                            const char *ids, Py_ssize_t id_step, Py_ssize_t k) {
    PyObject *hits = PyList_New(0);
    for (Py_ssize_t j = 0; hits != NULL && j < k; j++) {
        long long fid = *(const long long *)(ids + j * id_step);
        if (fid < 0 || fid >= t->bound) continue;
        long long row = t->row_of == NULL ? fid : t->row_of[fid];
        if (row < 0) continue;
        if (row >= t->info_rows || t->codes[row] >= PyTuple_GET_SIZE(t->modalities)) {
            PyErr_Format(PyExc_ValueError, "hit table row %lld out of range", row);
            Py_CLEAR(hits);
            break;
        }
        const long long *fields = t->info + FIELDS * row;
        PyObject *modality = PyTuple_GET_ITEM(t->modalities, t->codes[row]);
        float score = *(const float *)(scores + j * score_step);
        PyObject *hit = make_hit(t->joined, fields[0], fields[1], score, modality,
                                 PyList_GET_SIZE(hits) + 1, row, t->source);
        if (hit == NULL || PyList_Append(hits, hit) < 0) Py_CLEAR(hits);
        Py_XDECREF(hit);
    }
    return hits;
}

/* A 2-d ndarray of the native numpy type `type`, any strides (e.g. a [:, :k] slice). */
static int is_matrix(PyObject *obj, int type) {
    return PyArray_Check(obj) && PyArray_TYPE((PyArrayObject *)obj) == type &&
           PyArray_ISNOTSWAPPED((PyArrayObject *)obj) && PyArray_ISALIGNED((PyArrayObject *)obj) &&
           PyArray_NDIM((PyArrayObject *)obj) == 2;
}

/* hits(scores, ids, arrays, source) -> list[list[Hit]], or NotImplemented when scores / ids are
 *   not float32 / int64 ndarrays [Q, k] (FAISS's own; the caller then takes the Python loop).
 *   arrays: a HitTable's (joined str, info int64 buffer (FIELDS per row), codes bytes (modality
 *   code per row), row_of int32 buffer or None, count, modalities tuple (code -> Modality));
 *   source: what each hit reads its details from. */
static PyObject *hits(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "hits() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    if (hit_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "hits() before bind(Hit)");
        return NULL;
    }
    if (!is_matrix(args[0], NPY_FLOAT32) || !is_matrix(args[1], NPY_INT64))
        Py_RETURN_NOTIMPLEMENTED;
    PyArrayObject *scores = (PyArrayObject *)args[0], *ids = (PyArrayObject *)args[1];
    if (PyArray_DIM(scores, 0) != PyArray_DIM(ids, 0) ||
        PyArray_DIM(scores, 1) != PyArray_DIM(ids, 1)) {
        PyErr_SetString(PyExc_ValueError, "hits(): scores and ids differ in shape");
        return NULL;
    }
    PyObject *arrays = args[2];
    if (!PyTuple_Check(arrays) || PyTuple_GET_SIZE(arrays) != 6 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(arrays, 0)) || !PyTuple_Check(PyTuple_GET_ITEM(arrays, 5))) {
        PyErr_SetString(PyExc_TypeError,
                        "hits(): arrays must be (joined str, info, codes, row_of, count, "
                        "modalities tuple)");
        return NULL;
    }
    Table t = {.joined = PyTuple_GET_ITEM(arrays, 0),
               .modalities = PyTuple_GET_ITEM(arrays, 5),
               .source = args[3]};
    PyObject *row_of_obj = PyTuple_GET_ITEM(arrays, 3);
    t.bound = PyLong_AsSsize_t(PyTuple_GET_ITEM(arrays, 4));
    if (t.bound == -1 && PyErr_Occurred()) return NULL;
    Py_buffer info, codes, row_of = {0};
    int have_row_of = row_of_obj != Py_None;
    PyObject *out = NULL;
    if (get_buffer(PyTuple_GET_ITEM(arrays, 1), &info, 1, 8, "ql", "info") < 0) return NULL;
    if (get_buffer(PyTuple_GET_ITEM(arrays, 2), &codes, 1, 1, "Bb", "codes") < 0)
        goto release_info;
    if (have_row_of && get_buffer(row_of_obj, &row_of, 1, 4, "i", "row_of") < 0)
        goto release_codes;
    t.info = info.buf;
    t.info_rows = Py_MIN(info.shape[0] / FIELDS, codes.shape[0]);
    t.codes = codes.buf;
    if (have_row_of) {
        t.row_of = row_of.buf;
        t.bound = row_of.shape[0];
    }
    Py_ssize_t n_queries = PyArray_DIM(scores, 0), k = PyArray_DIM(scores, 1);
    const char *score_data = PyArray_BYTES(scores), *id_data = PyArray_BYTES(ids);
    out = PyList_New(n_queries);
    for (Py_ssize_t q = 0; out != NULL && q < n_queries; q++) {
        PyObject *one = query_hits(&t, score_data + q * PyArray_STRIDE(scores, 0),
                                   PyArray_STRIDE(scores, 1), id_data + q * PyArray_STRIDE(ids, 0),
                                   PyArray_STRIDE(ids, 1), k);
        if (one == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, q, one);
    }
    if (have_row_of) PyBuffer_Release(&row_of);
release_codes:
    PyBuffer_Release(&codes);
release_info:
    PyBuffer_Release(&info);
    return out;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_O, "bind(Hit): read the offsets of Hit's slots (once, at import)."},
    {"hits", (PyCFunction)(void (*)(void))hits, METH_FASTCALL,
     "hits(scores, ids, arrays, source): the Hits of a batch of FAISS results from a HitTable's "
     "arrays, or NotImplemented for scores / ids not float32 / int64 (see "
     "hit_table.HitTable.hits_batch)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hit_table", "Compiled hit resolution (see hit_table.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__hit_table(void) {
    import_array(); /* returns NULL with ImportError when numpy's C API is not the one built on */
    return PyModule_Create(&module);
}
