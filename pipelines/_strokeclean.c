/* Compiled kernels of the batch cleaning (strokebatch.py): what a per-line numpy call did,
 * line by line in one pass, with the same floating-point operations in the same order, so
 * that the results are bit-identical to the numpy definitions (the tests compare them).
 *
 * sampling_periods(t, points, strokes, ends, timed, out)
 *   t (float64, one per point), points (int64, lines + 1: line i is points[i]:points[i+1]),
 *   strokes (int64, lines + 1: line i's stroke ends are ends[strokes[i]:strokes[i+1]]),
 *   ends (int64, global point indices, non-decreasing within a line, its last the line's end),
 *   timed (uint8, one per line), out (float64, one per line).
 *   out[i] = `strokes.sampling_period` of line i: over its time steps inside strokes (none
 *   where the line is untimed), the median m of the positive ones, then the mean of those in
 *   [0, 2m] (np.mean: numpy's pairwise sum, divided by their count); NaN where there is no
 *   positive step or the mean is not positive.
 * The work runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PW_BLOCKSIZE 128 /* numpy's (loops_utils.h.src) */

/* numpy's DOUBLE_pairwise_sum, operation for operation: np.add.reduce of a contiguous
 * float64 array is 0.0 + this (the identity, then the inner loop over all n). */
static double pairwise_sum(const double *a, int64_t n) {
    if (n < 8) {
        double res = 0.;
        for (int64_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

static void swap(double *a, int64_t i, int64_t j) {
    double v = a[i];
    a[i] = a[j];
    a[j] = v;
}

static void sift_down(double *a, int64_t root, int64_t n) {
    for (;;) {
        int64_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1] > a[child]) child++;
        if (!(a[child] > a[root])) return;
        swap(a, root, child);
        root = child;
    }
}

static void heap_sort(double *a, int64_t n) {
    for (int64_t i = n / 2 - 1; i >= 0; i--) sift_down(a, i, n);
    for (int64_t end = n - 1; end > 0; end--) {
        swap(a, 0, end);
        sift_down(a, 0, end);
    }
}

/* Puts the k-th smallest of a[0:n] (no NaN) at a[k], the smaller ones before it, the larger
 * after: quickselect with a median-of-three pivot, and a heap sort of what is left after
 * 64 rounds, so that no input makes it quadratic. */
static void select_kth(double *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    for (int round = 0; hi > lo; round++) {
        if (round == 64) {
            heap_sort(a + lo, hi - lo + 1);
            return;
        }
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        double pivot = a[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(a, i, j);
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return; /* a[j+1:i] all equal the pivot, and k is among them */
    }
}

/* The median of a[0:n] (n > 0, no NaN) as np.median gives it: the middle value, or the mean
 * of the two middle values, (low + high) / 2. Reorders a. */
static double median(double *a, int64_t n) {
    int64_t k = n / 2;
    select_kth(a, n, k);
    double high = a[k];
    if (n % 2 == 1) return high;
    double low = a[0];
    for (int64_t i = 1; i < k; i++)
        if (a[i] > low) low = a[i];
    return (low + high) / 2;
}

typedef struct {
    const double *t;
    const int64_t *points, *strokes, *ends;
    const uint8_t *timed;
    double *out;
    int64_t lines;
} Lines;

/* Line i's time steps inside its strokes, in order, into `into`: the positive ones, or
 * those in [0, bound]; their count. */
static int64_t steps_of(const Lines *in, int64_t i, double *into, int positive, double bound) {
    int64_t count = 0, start = in->points[i];
    for (int64_t s = in->strokes[i]; s < in->strokes[i + 1]; s++) {
        int64_t end = in->ends[s];
        for (int64_t j = start; j + 1 < end; j++) {
            double dt = in->t[j + 1] - in->t[j];
            if (positive ? dt > 0 : (dt >= 0 && dt <= bound)) into[count++] = dt;
        }
        start = end;
    }
    return count;
}

static void periods(const Lines *in, double *scratch) {
    for (int64_t i = 0; i < in->lines; i++) {
        in->out[i] = NAN;
        if (!in->timed[i]) continue;
        int64_t positive = steps_of(in, i, scratch, 1, 0.);
        if (positive == 0) continue;
        double bound = 2 * median(scratch, positive);
        int64_t regular = steps_of(in, i, scratch, 0, bound);
        if (regular == 0) continue;
        double period = (0. + pairwise_sum(scratch, regular)) / (double)regular;
        if (period > 0) in->out[i] = period;
    }
}

static int contiguous(Py_buffer *view, Py_ssize_t itemsize, const char *name) {
    if (view->len % itemsize != 0 || !PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: a contiguous buffer of %zd-byte items", name,
                     itemsize);
        return 0;
    }
    return 1;
}

/* Whether the lines' bounds stay inside the buffers: points and stroke ranges non-decreasing
 * and within, every end within its line. */
static int bounded(const Lines *in, int64_t n_points, int64_t n_ends) {
    if (in->points[0] < 0 || in->strokes[0] < 0) return 0;
    for (int64_t i = 0; i < in->lines; i++) {
        int64_t a = in->points[i], b = in->points[i + 1];
        if (b < a || b > n_points) return 0;
        if (in->strokes[i + 1] < in->strokes[i] || in->strokes[i + 1] > n_ends) return 0;
        for (int64_t s = in->strokes[i]; s < in->strokes[i + 1]; s++)
            if (in->ends[s] < a || in->ends[s] > b) return 0;
    }
    return 1;
}

static PyObject *sampling_periods(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer t, points, strokes, ends, timed, out;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*", &t, &points, &strokes, &ends, &timed, &out))
        return NULL;
    PyObject *result = NULL;
    double *scratch = NULL;
    if (!contiguous(&t, 8, "t") || !contiguous(&points, 8, "points") ||
        !contiguous(&strokes, 8, "strokes") || !contiguous(&ends, 8, "ends") ||
        !contiguous(&timed, 1, "timed") || !contiguous(&out, 8, "out"))
        goto done;
    int64_t lines = points.len / 8 - 1;
    if (lines < 0 || strokes.len != points.len || timed.len != lines || out.len / 8 != lines) {
        PyErr_SetString(PyExc_ValueError,
                        "points and strokes: lines + 1 items; timed and out: one a line");
        goto done;
    }
    Lines in = {(const double *)t.buf,     (const int64_t *)points.buf,
                (const int64_t *)strokes.buf, (const int64_t *)ends.buf,
                (const uint8_t *)timed.buf, (double *)out.buf, lines};
    if (!bounded(&in, t.len / 8, ends.len / 8)) {
        PyErr_SetString(PyExc_ValueError, "a line's points or strokes lie outside the buffers");
        goto done;
    }
    int64_t longest = 1;
    for (int64_t i = 0; i < lines; i++)
        if (in.points[i + 1] - in.points[i] > longest) longest = in.points[i + 1] - in.points[i];
    scratch = PyMem_Malloc(sizeof(*scratch) * (size_t)longest);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    periods(&in, scratch);
    Py_END_ALLOW_THREADS;
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(scratch);
    PyBuffer_Release(&t);
    PyBuffer_Release(&points);
    PyBuffer_Release(&strokes);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&timed);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"sampling_periods", sampling_periods, METH_VARARGS,
     "sampling_periods(t, points, strokes, ends, timed, out): each line's sampling period "
     "into out (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_strokeclean",
    "Compiled kernels of the batch cleaning, bit-identical to their numpy definitions.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__strokeclean(void) { return PyModule_Create(&module); }
