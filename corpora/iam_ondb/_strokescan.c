/* The compiled stroke scanner: the fast reader's checks and values, one pass over each file.
 *
 * It proves what `fastread._Scan` proves with array operations, byte for byte the same form
 * (the module docstring of fastread.py states it), and reads the same numbers:
 *   - no `&` in the file, no `<!`, no `<?` but at the file's first byte;
 *   - exactly one `<StrokeSet>` and one `</StrokeSet>`, in that order, and no other tag that
 *     starts `<StrokeSet`, `</StrokeSet` or `<Point` (every `<Point` is a whole Point's start);
 *   - between them only white space and the tags `<Stroke colour="v" start_time="v"
 *     end_time="v">`, `<Stroke>`, `<Point x="N" y="N" time="T"/>` and `</Stroke>`, nested as
 *     strokes of points, with N = -?[0-9]{1,7}, T = -?[0-9]+(\.[0-9]+)? of 1 to 14 digits
 *     and |T| <= max_time, v = 1 to 16 printable ASCII bytes but space, `"`, `<` and `&`.
 * A time is its digits read as one integer (below 2**53) divided by an exact power of ten in
 * one correctly rounded division: what Python's float() gives. What lies outside the
 * StrokeSet's content is left to lxml (restproof.py), as for the numpy scanner.
 *
 * scan(datas, max_time, x, y, t, ends, files) -> (points, strokes)
 *   datas: a sequence of bytes, one stroke file each;
 *   x, y (int64), t (float64): each Point's values, the valid files' in order;
 *   ends (int64): each stroke's end, the count of its file's points up to its last;
 *   files (int64, 5 per file): valid (0 or 1), where its <StrokeSet> and </StrokeSet> start,
 *   its points and its strokes (0 for a file not in the form, which writes nothing).
 * The scan runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char byte;

enum { OTHER = 0, POINT = 1, HEAD = 2, CLOSE = 3, OPEN_SET = 4, CLOSE_SET = 5, BARE_HEAD = 6 };

#define LITERAL(p, end, s) \
    ((size_t)((end) - (p)) >= sizeof(s) - 1 && memcmp((p), (s), sizeof(s) - 1) == 0)

#define TAG_POINT "<Point x=\""
#define TAG_HEAD "<Stroke colour=\""
#define TAG_CLOSE "</Stroke>"
#define TAG_OPEN_SET "<StrokeSet>"
#define TAG_CLOSE_SET "</StrokeSet>"
#define TAG_BARE_HEAD "<Stroke>"
#define GLUE_Y "\" y=\""
#define GLUE_TIME "\" time=\""
#define GLUE_POINT_END "\"/>"
#define GLUE_START "\" start_time=\""
#define GLUE_END "\" end_time=\""
#define GLUE_HEAD_END "\">"

#define COORDINATE_DIGITS 7
#define TIME_DIGITS 14
#define VALUE_BYTES 16

static const double POW10[TIME_DIGITS + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
};

/* nesting[previous kind][kind]: strokes of points inside a StrokeSet, nothing else */
static const char NESTING[7][7] = {
    [POINT] = {[POINT] = 1, [CLOSE] = 1},
    [HEAD] = {[POINT] = 1, [CLOSE] = 1},
    [BARE_HEAD] = {[POINT] = 1, [CLOSE] = 1},
    [OPEN_SET] = {[HEAD] = 1, [BARE_HEAD] = 1, [CLOSE_SET] = 1},
    [CLOSE] = {[HEAD] = 1, [BARE_HEAD] = 1, [CLOSE_SET] = 1},
};

static inline int is_white(byte c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static inline int is_digit(byte c) { return (unsigned)(c - '0') < 10u; }

/* a Stroke head's value byte: printable ASCII but space, '"', '<' and '&' */
static inline int is_value_byte(byte c) {
    return c >= 0x21 && c <= 0x7E && c != '"' && c != '<' && c != '&';
}

static int kind_at(const byte *p, const byte *end) {
    if (LITERAL(p, end, TAG_POINT)) return POINT;
    if (LITERAL(p, end, TAG_HEAD)) return HEAD;
    if (LITERAL(p, end, TAG_CLOSE)) return CLOSE;
    if (LITERAL(p, end, TAG_OPEN_SET)) return OPEN_SET;
    if (LITERAL(p, end, TAG_CLOSE_SET)) return CLOSE_SET;
    if (LITERAL(p, end, TAG_BARE_HEAD)) return BARE_HEAD;
    return OTHER;
}

/* whether the tag at p (of `kind`) is one no file in the form holds anywhere */
static int refused(const byte *p, const byte *end, const byte *file, int kind) {
    if (end - p >= 2 && (p[1] == '!' || (p[1] == '?' && p != file))) return 1;
    if (kind != POINT && LITERAL(p, end, "<Point")) return 1;
    if (kind != OPEN_SET && LITERAL(p, end, "<StrokeSet")) return 1;
    if (kind != CLOSE_SET && LITERAL(p, end, "</StrokeSet")) return 1;
    return 0;
}

/* -?[0-9]{1,7} up to a quote: its closing quote, or NULL */
static const byte *integer_at(const byte *p, const byte *end, int64_t *out) {
    int negative = p < end && *p == '-';
    p += negative;
    const byte *digits = p;
    int64_t value = 0;
    while (p < end && is_digit(*p) && p - digits < COORDINATE_DIGITS + 1) {
        value = value * 10 + (*p - '0');
        p++;
    }
    ptrdiff_t n = p - digits;
    if (n < 1 || n > COORDINATE_DIGITS || p >= end || *p != '"') return NULL;
    *out = negative ? -value : value;
    return p;
}

/* -?[0-9]+(\.[0-9]+)? of at most 14 digits up to a quote, read as float() reads it: its
 * closing quote, or NULL */
static const byte *decimal_at(const byte *p, const byte *end, double *out) {
    int negative = p < end && *p == '-';
    p += negative;
    uint64_t mantissa = 0;
    int digits = 0, places = -1; /* -1: no dot yet */
    for (;; p++) {
        if (p >= end) return NULL;
        byte c = *p;
        if (is_digit(c)) {
            if (digits == TIME_DIGITS) return NULL;
            mantissa = mantissa * 10 + (uint64_t)(c - '0');
            digits++;
            places += places >= 0;
        } else if (c == '.') {
            if (places >= 0 || digits == 0) return NULL;
            places = 0;
        } else {
            break;
        }
    }
    if (*p != '"' || digits == 0 || places == 0) return NULL;
    double value = (double)(int64_t)mantissa;
    if (places > 0) value /= POW10[places];
    *out = negative ? -value : value;
    return p;
}

/* a Stroke head's value of 1 to 16 value bytes up to a quote: its closing quote, or NULL */
static const byte *head_value(const byte *p, const byte *end) {
    const byte *start = p;
    while (p < end && *p != '"') {
        if (!is_value_byte(*p) || p - start >= VALUE_BYTES) return NULL;
        p++;
    }
    if (p >= end || p == start) return NULL;
    return p;
}

/* one past a Stroke head's end (its "<" at p), or NULL where it is not in the form */
static const byte *head_at(const byte *p, const byte *end) {
    const byte *q = head_value(p + sizeof(TAG_HEAD) - 1, end);
    if (q == NULL || !LITERAL(q, end, GLUE_START)) return NULL;
    q = head_value(q + sizeof(GLUE_START) - 1, end);
    if (q == NULL || !LITERAL(q, end, GLUE_END)) return NULL;
    q = head_value(q + sizeof(GLUE_END) - 1, end);
    if (q == NULL || !LITERAL(q, end, GLUE_HEAD_END)) return NULL;
    return q + sizeof(GLUE_HEAD_END) - 1;
}

/* one past a Point's end (its "<" at p), its values read, or NULL where it is not in the
 * form */
static const byte *point_at(const byte *p, const byte *end, double max_time, int64_t *x,
                            int64_t *y, double *t) {
    const byte *q = integer_at(p + sizeof(TAG_POINT) - 1, end, x);
    if (q == NULL || !LITERAL(q, end, GLUE_Y)) return NULL;
    q = integer_at(q + sizeof(GLUE_Y) - 1, end, y);
    if (q == NULL || !LITERAL(q, end, GLUE_TIME)) return NULL;
    q = decimal_at(q + sizeof(GLUE_TIME) - 1, end, t);
    if (q == NULL || !LITERAL(q, end, GLUE_POINT_END) || !(fabs(*t) <= max_time)) return NULL;
    return q + sizeof(GLUE_POINT_END) - 1;
}

typedef struct {
    int64_t *x, *y, *ends;
    double *t;
    Py_ssize_t points, strokes; /* written so far, over all files */
    Py_ssize_t point_room, stroke_room;
} Output;

/* the next "<" at or after p (outside the StrokeSet) and its kind in `kind`: -1 where
 * the file has no more, -2 where that tag is refused anywhere */
static const byte *next_tag(const byte *p, const byte *end, const byte *file, int *kind) {
    p = memchr(p, '<', (size_t)(end - p));
    if (p == NULL) {
        *kind = -1;
        return end;
    }
    *kind = kind_at(p, end);
    if (refused(p, end, file, *kind)) *kind = -2;
    return p;
}

/* file [file, end): 1 and its record where it is in the form, else 0 */
static int scan_file(const byte *file, const byte *end, double max_time, Output *out,
                     int64_t *record) {
    if (memchr(file, '&', (size_t)(end - file)) != NULL) return 0;
    const byte *p = file;
    int kind;
    for (;;) { /* before the StrokeSet: no Point, no </StrokeSet> */
        p = next_tag(p, end, file, &kind);
        if (kind < 0 || kind == POINT || kind == CLOSE_SET) return 0;
        if (kind == OPEN_SET) break;
        p++;
    }
    record[1] = p - file;
    p += sizeof(TAG_OPEN_SET) - 1;
    Py_ssize_t points = 0, strokes = 0;
    int previous = OPEN_SET;
    for (;;) { /* its content: white space and the tags of strokes of points */
        while (p < end && is_white(*p)) p++;
        if (p >= end || *p != '<') return 0;
        if (LITERAL(p, end, TAG_POINT)) { /* most tags: no other kind starts so */
            if (!NESTING[previous][POINT] || out->points + points >= out->point_room) return 0;
            Py_ssize_t i = out->points + points;
            p = point_at(p, end, max_time, &out->x[i], &out->y[i], &out->t[i]);
            if (p == NULL) return 0;
            points++;
            previous = POINT;
            continue;
        }
        kind = kind_at(p, end);
        if (refused(p, end, file, kind) || !NESTING[previous][kind]) return 0;
        if (kind == CLOSE_SET) break;
        if (kind == HEAD) {
            p = head_at(p, end);
            if (p == NULL) return 0;
        } else if (kind == BARE_HEAD) {
            p += sizeof(TAG_BARE_HEAD) - 1;
        } else { /* CLOSE: the stroke's end */
            if (out->strokes + strokes >= out->stroke_room) return 0;
            out->ends[out->strokes + strokes] = points;
            strokes++;
            p += sizeof(TAG_CLOSE) - 1;
        }
        previous = kind;
    }
    record[2] = p - file;
    p += sizeof(TAG_CLOSE_SET) - 1;
    for (;;) { /* after it: no Point, no second StrokeSet */
        p = next_tag(p, end, file, &kind);
        if (kind == -1) break;
        if (kind < 0 || kind == POINT || kind == OPEN_SET || kind == CLOSE_SET) return 0;
        p++;
    }
    record[0] = 1;
    record[3] = points;
    record[4] = strokes;
    out->points += points;
    out->strokes += strokes;
    return 1;
}

static int writable(Py_buffer *view, Py_ssize_t itemsize, const char *name) {
    if (view->len % itemsize != 0 || !PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: a contiguous buffer of %zd-byte items", name,
                     itemsize);
        return 0;
    }
    return 1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *datas;
    double max_time;
    Py_buffer x, y, t, ends, files;
    if (!PyArg_ParseTuple(args, "Odw*w*w*w*w*", &datas, &max_time, &x, &y, &t, &ends, &files))
        return NULL;
    PyObject *result = NULL, *seq = NULL;
    const byte **starts = NULL;
    Py_ssize_t *sizes = NULL;
    if (!writable(&x, 8, "x") || !writable(&y, 8, "y") || !writable(&t, 8, "t") ||
        !writable(&ends, 8, "ends") || !writable(&files, 8, "files"))
        goto done;
    seq = PySequence_Tuple(datas); /* holds every file while the scan runs without the GIL */
    if (seq == NULL) goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    if (files.len / 8 < 5 * n || x.len != y.len || x.len != t.len) {
        PyErr_SetString(PyExc_ValueError, "files: 5 items a file; x, y and t: one size");
        goto done;
    }
    starts = PyMem_Malloc(sizeof(*starts) * (size_t)(n + 1));
    sizes = PyMem_Malloc(sizeof(*sizes) * (size_t)(n + 1));
    if (starts == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "datas[%zd]: bytes, not %.100s", i,
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        starts[i] = (const byte *)PyBytes_AS_STRING(item);
        sizes[i] = PyBytes_GET_SIZE(item);
    }
    Output out = {(int64_t *)x.buf, (int64_t *)y.buf, (int64_t *)ends.buf, (double *)t.buf,
                  0, 0, x.len / 8, ends.len / 8};
    int64_t *records = (int64_t *)files.buf;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *record = records + 5 * i;
        memset(record, 0, 5 * sizeof(*record));
        if (!scan_file(starts[i], starts[i] + sizes[i], max_time, &out, record))
            memset(record, 0, 5 * sizeof(*record));
    }
    Py_END_ALLOW_THREADS;
    result = Py_BuildValue("nn", out.points, out.strokes);
done:
    PyMem_Free(starts);
    PyMem_Free(sizes);
    Py_XDECREF(seq);
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&t);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&files);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(datas, max_time, x, y, t, ends, files) -> (points, strokes): the stroke files in "
     "the release's form read, each file's record in `files` (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_strokescan",
    "The fast stroke reader's checks and values, compiled: one pass over each file.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__strokescan(void) { return PyModule_Create(&module); }
