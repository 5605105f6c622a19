/* _hsscan: a hyperscan block database whose scan collects matches in C.
 *
 * python-hyperscan calls a Python function for every match (about 0.75 us each); a
 * spreadsheet of 15,000 rows brings 150,000 matches, so the calls and the list they fill
 * cost as much as the scan itself.  Here the match handler appends (start, end, id) to a
 * growing int64 buffer and the scan returns it as one bytes object, read by numpy without
 * a copy.  The GIL is released while hyperscan runs.
 *
 * Start offsets without HS_FLAG_SOM_LEFTMOST (set_start_recovery): tracking where matches
 * start halves hyperscan's speed when an expression is open-ended (``\s+``, ``[a-z]+``), so
 * those are compiled without it and their starts found after the scan.  A match can hold
 * each byte value at most so many times (its expression's limits: 0 for a byte outside its
 * class, a sign-off line's match one line end); walking back from the match's end while no
 * byte is held more often than that finds a bound no match ending there can start before
 * (a sign-off's window stops at the line end before its closing word, where a bound by the
 * class alone ran back over the whole letter).  A database of the same expression alone,
 * with SOM, scans only its windows, each widened by one character on either side so word
 * boundaries see what the whole buffer shows, and its leftmost start for the same end is
 * the start.  (One database per expression, not one of them all: SOM over a long window
 * costs half as much with one expression as with eight.)  A match starting at a window's
 * first byte is impossible (it would hold the bytes that broke the limits), so a window's
 * edges cannot fake a start.
 *
 * Bounded expressions of ASCII whose matches vary in width (name_en's, a surname of any
 * length first) cost hyperscan 0.3 us a match to find the start of: those are read
 * backwards instead (matchbytes.reversed_expression).  Their window database holds the
 * expression reversed, anchored after one byte: it scans the byte after the end (a space
 * at the buffer's end), then the bytes before the end reversed, as far back as its widest
 * match and one byte more (for a word boundary at the start); its furthest match ends at
 * the leftmost start.  0.08 us a match.  Those of ASCII of one width (phone_bare) start
 * that many bytes before their end (matchbytes.fixed_width): their window is None.
 *
 * The module also holds the other hot loops of detection and register matching (the blocks
 * below, each marked); it lives in engine/compiled/, not in a stage, so that detect and
 * registers use it without importing each other.
 *
 * Linked against the system libhs (Debian: libhyperscan-dev).  When it cannot be built,
 * detectorset.py falls back to python-hyperscan with the same results (a test compares).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <hs/hs.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* A limit of set_start_recovery's: a byte a match can hold any number of times (as
 * matchbytes.UNBOUNDED). */
#define UNBOUNDED 255

typedef struct Database {
    PyObject_HEAD
    hs_database_t *db;
    hs_scratch_t *scratch; /* the object's own; a concurrent scan clones another */
    int scratch_busy;
    /* Start recovery (set_start_recovery): the databases scanning the windows (a tuple, one
     * expression each) and a scratch space fitting them all, the number of its database for
     * each expression of this one (-1: hyperscan reports the start), and each of those
     * expressions' limits (256 bytes each: the most times a match holds each byte value,
 * UNBOUNDED for any number). */
    PyObject *windows;
    hs_scratch_t *window_scratch;
    int window_scratch_busy;
    int32_t *window_id;
    Py_ssize_t expressions;
    uint8_t *limits;
    /* Per window database, 0 (limits), the widest match of an expression read backwards,
     * or less its fixed width (its database unused: None); and the widest of all, and
     * whether any window's width is not 0. */
    int32_t *widths;
    int32_t widest;
    int reads_backwards;
    /* scan_texts' buffers, kept between calls (see there); `kept_busy` like scratch_busy. */
    char *joined;
    size_t joined_cap;
    int64_t *kept_hits;
    size_t kept_hits_cap;
    int kept_busy;
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
    free(self->joined);
    free(self->kept_hits);
    Py_XDECREF(self->windows);
    if (self->window_scratch != NULL)
        hs_free_scratch(self->window_scratch);
    PyMem_Free(self->window_id);
    PyMem_Free(self->limits);
    PyMem_Free(self->widths);
    if (self->scratch != NULL)
        hs_free_scratch(self->scratch);
    if (self->db != NULL)
        hs_free_database(self->db);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Take a scratch space, with the GIL held so two threads never share one: ``own`` when
 * free (``busy`` says it is not), else a clone of it (NULL with an exception set when
 * cloning fails).  Used for the database's scratch and for its window databases' one. */
static hs_scratch_t *take_scratch(hs_scratch_t *own, int *busy) {
    if (!*busy) {
        *busy = 1;
        return own;
    }
    hs_scratch_t *scratch = NULL;
    hs_error_t err = hs_clone_scratch(own, &scratch);
    if (err != HS_SUCCESS) {
        error_from("hs_clone_scratch", err);
        return NULL;
    }
    return scratch;
}

static void give_back_scratch(hs_scratch_t *own, int *busy, hs_scratch_t *scratch) {
    if (scratch == own)
        *busy = 0;
    else
        hs_free_scratch(scratch);
}

/* A match whose start is recovered: its window expression, end, window and row. */
typedef struct {
    int64_t id;
    int64_t end;
    int64_t from;
    int64_t to;
    size_t row;
} Need;

typedef struct {
    int64_t id;
    int64_t from;
    int64_t to;
} Span;

static int by_id_end(const void *a, const void *b) {
    const Need *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int by_id_from(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->from > y->from) - (x->from < y->from);
}

/* Window matches, as (start, end, id) triples: ordered by id, then end. */
static int triple_by_id_end(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[2] != y[2])
        return x[2] < y[2] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* qsort(rows, n, size, cmp), skipped when the rows are in that order already: hyperscan
 * reports matches by end, so the window spans and the window matches below come in order
 * (three sorts of 60,000 rows were most of a table's start recovery). */
static void sort_unless_sorted(void *rows, size_t n, size_t size,
                               int (*cmp)(const void *, const void *)) {
    const char *at = rows;
    for (size_t k = 1; k < n; k++) {
        if (cmp(at + (k - 1) * size, at + k * size) > 0) {
            qsort(rows, n, size, cmp);
            return;
        }
    }
}

typedef struct {
    Hits *hits;
    int64_t offset;
    int64_t id; /* the window database's number (its one expression reports 0) */
} Window;

static int on_window_match(unsigned int id, unsigned long long from, unsigned long long to,
                           unsigned int flags, void *context) {
    (void)id;
    Window *window = (Window *)context;
    return on_match((unsigned int)window->id, from + (unsigned long long)window->offset,
                    to + (unsigned long long)window->offset, flags, window->hits);
}

static int64_t char_start(const uint8_t *buf, int64_t at) {
    while (at > 0 && (buf[at] & 0xC0) == 0x80)
        at--;
    return at;
}

static int64_t char_end(const uint8_t *buf, int64_t len, int64_t at) {
    if (at < len)
        at++;
    while (at < len && (buf[at] & 0xC0) == 0x80)
        at++;
    return at;
}

/* The window database of expression `id` whose starts are found in windows bounded by
 * byte counts, or -1 (hyperscan reports its start, or it is read backwards). */
static inline int32_t limited_window(const Database *self, int64_t id) {
    if (id < 0 || id >= self->expressions)
        return -1;
    int32_t w = self->window_id[id];
    return w >= 0 && self->widths[w] == 0 ? w : -1;
}

static int on_reverse_match(unsigned int id, unsigned long long from, unsigned long long to,
                            unsigned int flags, void *context) {
    (void)id;
    (void)from;
    (void)flags;
    unsigned long long *furthest = context;
    if (to > *furthest)
        *furthest = to;
    return 0;
}

/* Fill in the starts of the rows of `hits` whose expressions have a fixed width (the end
 * less it) or are read backwards (see the top of this file), one window at a time (a scan
 * of them all joined, each after a NUL, cost more: unanchored, hyperscan runs its
 * automaton from every byte).  As recover_starts. */
static hs_error_t reverse_starts(Database *self, hs_scratch_t *scratch, const uint8_t *buf,
                                 int64_t len, Hits *hits, int *lost) {
    size_t rows = hits->len / 3;
    uint8_t *reversed = NULL;
    for (size_t i = 0; i < rows; i++) {
        int64_t id = hits->data[3 * i + 2], end = hits->data[3 * i + 1];
        if (id < 0 || id >= self->expressions || self->window_id[id] < 0)
            continue;
        int32_t w = self->window_id[id], width = self->widths[w];
        if (width == 0)
            continue;
        if (end <= 0 || end > len) {
            *lost = 1;
            continue;
        }
        if (width < 0) { /* a fixed width (of ASCII: as many bytes) */
            if (end + width < 0)
                *lost = 1;
            else
                hits->data[3 * i] = end + width;
            continue;
        }
        if (reversed == NULL && (reversed = malloc((size_t)self->widest + 2)) == NULL)
            return HS_NOMEM;
        int64_t low = end - width - 1 > 0 ? end - width - 1 : 0, n = 0;
        reversed[n++] = end < len ? buf[end] : ' ';
        for (int64_t at = end; at > low;)
            reversed[n++] = buf[--at];
        unsigned long long furthest = 0;
        const Database *db = (const Database *)PyTuple_GET_ITEM(self->windows, w);
        hs_error_t err = hs_scan(db->db, (const char *)reversed, (unsigned int)n, 0, scratch,
                                 on_reverse_match, &furthest);
        if (err != HS_SUCCESS) {
            free(reversed);
            return err;
        }
        /* The match's first byte is the one after the end: it reaches back furthest - 1. */
        if (furthest < 2 || (int64_t)furthest - 1 > end)
            *lost = 1;
        else
            hits->data[3 * i] = end - ((int64_t)furthest - 1);
    }
    free(reversed);
    return HS_SUCCESS;
}

/* Fill in the starts of the rows of `hits` whose expressions were compiled without SOM.
 * Runs without the GIL.  Returns HS_SUCCESS, an hs_scan error, or HS_NOMEM; `lost` is set
 * when a start was not found (which would be a bug: the window holds every such match). */
static hs_error_t recover_starts(Database *self, hs_scratch_t *scratch, const uint8_t *buf,
                                 int64_t len, Hits *hits, int *lost) {
    size_t rows = hits->len / 3, count = 0;
    if (self->reads_backwards) {
        hs_error_t err = reverse_starts(self, scratch, buf, len, hits, lost);
        if (err != HS_SUCCESS)
            return err;
    }
    for (size_t i = 0; i < rows; i++) {
        if (limited_window(self, hits->data[3 * i + 2]) >= 0)
            count++;
    }
    if (count == 0)
        return HS_SUCCESS;
    hs_error_t err = HS_NOMEM;
    Py_ssize_t ids = PyTuple_GET_SIZE(self->windows);
    Need *needs = malloc(count * sizeof(Need));
    Span *spans = malloc(count * sizeof(Span));
    size_t *next = calloc((size_t)ids + 1, sizeof(size_t));
    Hits found = {NULL, 0, 0, 0};
    if (needs == NULL || spans == NULL || next == NULL)
        goto done;
    /* Grouped by window expression, each group in the order of the rows (a counting sort),
     * which is by end when hyperscan reported them so; sorted if not. */
    for (size_t i = 0; i < rows; i++) {
        int32_t w = limited_window(self, hits->data[3 * i + 2]);
        if (w >= 0)
            next[w + 1]++;
    }
    for (Py_ssize_t w = 0; w < ids; w++)
        next[w + 1] += next[w];
    for (size_t i = 0; i < rows; i++) {
        int32_t w = limited_window(self, hits->data[3 * i + 2]);
        if (w >= 0) {
            Need *need = &needs[next[w]++];
            need->id = w;
            need->end = hits->data[3 * i + 1];
            need->row = i;
        }
    }
    sort_unless_sorted(needs, count, sizeof(Need), by_id_end);
    /* Per expression, the bytes of [low, high) counted in `held`, low the least offset with no
     * byte held there more often than its limit (the windows of later ends start no sooner). */
    uint32_t held[256];
    int64_t low = 0, high = 0;
    for (size_t k = 0; k < count; k++) {
        const uint8_t *limit = self->limits + 256 * needs[k].id;
        int64_t end = needs[k].end;
        if (k > 0 && needs[k].id == needs[k - 1].id && end - high <= high - low + 64) {
            /* Near the last end: slide the window on. */
            for (int64_t at = high; at < end; at++) {
                uint8_t b = buf[at];
                held[b]++;
                if (limit[b] != UNBOUNDED)
                    while (held[b] > limit[b])
                        held[buf[low++]]--;
            }
        } else {
            /* Far from it (or the expression's first): walk back from the end, no further
             * than the last window's start; at most twice the distance, so linear in all. */
            int64_t floor = k > 0 && needs[k].id == needs[k - 1].id ? low : 0, at = end;
            memset(held, 0, sizeof held);
            while (at > floor) {
                uint8_t b = buf[at - 1];
                if (limit[b] != UNBOUNDED && held[b] >= limit[b])
                    break;
                held[b]++;
                at--;
            }
            low = at;
        }
        high = end;
        needs[k].from = low > 0 ? char_start(buf, low - 1) : 0;
        needs[k].to = char_end(buf, len, end);
        spans[k].id = needs[k].id;
        spans[k].from = needs[k].from;
        spans[k].to = needs[k].to;
    }
    sort_unless_sorted(spans, count, sizeof(Span), by_id_from);
    size_t merged = 0;
    for (size_t k = 0; k < count; k++) {
        if (merged > 0 && spans[k].id == spans[merged - 1].id &&
            spans[k].from <= spans[merged - 1].to) {
            if (spans[k].to > spans[merged - 1].to)
                spans[merged - 1].to = spans[k].to;
        } else {
            spans[merged++] = spans[k];
        }
    }
    for (size_t k = 0; k < merged; k++) {
        Window window = {&found, spans[k].from, spans[k].id};
        const Database *db = (const Database *)PyTuple_GET_ITEM(self->windows, spans[k].id);
        err = hs_scan(db->db, (const char *)buf + spans[k].from,
                      (unsigned int)(spans[k].to - spans[k].from), 0, scratch, on_window_match,
                      &window);
        if (found.failed)
            err = HS_NOMEM;
        if (err != HS_SUCCESS)
            goto done;
    }
    size_t matches = found.len / 3, j = 0;
    sort_unless_sorted(found.data, matches, 3 * sizeof(int64_t), triple_by_id_end);
    for (size_t k = 0; k < count; k++) {
        while (j < matches && (found.data[3 * j + 2] < needs[k].id ||
                               (found.data[3 * j + 2] == needs[k].id &&
                                found.data[3 * j + 1] < needs[k].end)))
            j++;
        if (j < matches && found.data[3 * j + 2] == needs[k].id &&
            found.data[3 * j + 1] == needs[k].end)
            hits->data[3 * needs[k].row] = found.data[3 * j];
        else
            *lost = 1;
    }
    err = HS_SUCCESS;
done:
    free(needs);
    free(spans);
    free(next);
    free(found.data);
    return err;
}

/* A 1 in each byte of a word that is a continuation byte (10xxxxxx), else 0. */
static inline uint64_t continuation_ones(uint64_t word) {
    return ((word & ~(word << 1)) >> 7) & 0x0101010101010101ull;
}

/* The sum of a word's bytes (each small enough not to carry). */
static inline uint32_t byte_sum(uint64_t word) {
    return (uint32_t)((word * 0x0101010101010101ull) >> 56);
}

static inline uint64_t load_word(const uint8_t *at) {
    uint64_t word;
    memcpy(&word, at, sizeof word);
    return word; /* the scan's platforms (x86-64, aarch64) are little-endian */
}

/* The rows' byte offsets (start, end) to character offsets: each less the continuation
 * bytes before it.  Counts are kept per 64-byte block (one pass over the buffer), the rest
 * counted per offset, eight bytes at a time.  Returns -1 when out of memory. */
static int to_chars(const uint8_t *buf, size_t len, Hits *hits) {
    size_t blocks = len / 64 + 1;
    uint32_t *before = malloc(blocks * sizeof(uint32_t));
    if (before == NULL)
        return -1;
    uint32_t seen = 0;
    for (size_t b = 0; b < blocks; b++) {
        before[b] = seen;
        if ((b + 1) * 64 <= len) {
            uint64_t ones = 0;
            for (size_t w = 0; w < 8; w++)
                ones += continuation_ones(load_word(buf + b * 64 + w * 8));
            seen += byte_sum(ones);
        }
    }
    for (size_t i = 0; i < hits->len; i++) {
        if (i % 3 == 2)
            continue; /* the expression */
        size_t at = (size_t)hits->data[i], from = at & ~(size_t)63;
        uint64_t ones = 0;
        for (; from + 8 <= at; from += 8)
            ones += continuation_ones(load_word(buf + from));
        int64_t tail = 0;
        if (from < at && from + 8 <= len) /* the bytes before `at` of the next word */
            ones += continuation_ones(load_word(buf + from)) & ((1ull << (8 * (at - from))) - 1);
        else /* at the end of the buffer: byte by byte, not reading past it */
            for (; from < at; from++)
                tail += (buf[from] & 0xC0) == 0x80;
        hits->data[i] -= (int64_t)before[at >> 6] + byte_sum(ones) + tail;
    }
    free(before);
    return 0;
}

/* The scan shared by scan() and scan_texts(): every match of `len` bytes at `buf` as the
 * bytes of (start, end, id) triples, in characters with `chars`.  `hits` holds the rows
 * while they are collected (its buffer is the caller's to free or keep).  Takes the
 * scratch spaces itself; the GIL is released around hyperscan. */
static PyObject *scan_buffer(Database *self, const uint8_t *buf, size_t len, int chars,
                             Hits *hits) {
    if (len > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_ValueError, "hyperscan scans at most 4 GiB at once");
        return NULL;
    }
    hs_scratch_t *scratch = take_scratch(self->scratch, &self->scratch_busy);
    hs_scratch_t *window_scratch = NULL;
    if (scratch == NULL)
        return NULL;
    int windowed = self->windows != NULL;
    /* (Windows of fixed widths alone scan nothing: no scratch.) */
    if (windowed && self->window_scratch != NULL) {
        window_scratch = take_scratch(self->window_scratch, &self->window_scratch_busy);
        if (window_scratch == NULL) {
            give_back_scratch(self->scratch, &self->scratch_busy, scratch);
            return NULL;
        }
    }
    hs_error_t err;
    int lost = 0;
    Py_BEGIN_ALLOW_THREADS
    err = hs_scan(self->db, (const char *)buf, (unsigned int)len, 0, scratch, on_match, hits);
    if (err == HS_SUCCESS && !hits->failed && windowed)
        err = recover_starts(self, window_scratch, buf, (int64_t)len, hits, &lost);
    if (err == HS_SUCCESS && !hits->failed && !lost && chars) {
        if (to_chars(buf, len, hits) != 0)
            hits->failed = 1;
    }
    Py_END_ALLOW_THREADS
    give_back_scratch(self->scratch, &self->scratch_busy, scratch);
    if (window_scratch != NULL)
        give_back_scratch(self->window_scratch, &self->window_scratch_busy, window_scratch);
    if (hits->failed || err == HS_NOMEM)
        return PyErr_NoMemory();
    if (err != HS_SUCCESS)
        return error_from("hs_scan", err);
    if (lost) {
        PyErr_SetString(PyExc_RuntimeError, "the start of a match was not found in its window");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)hits->data,
                                     (Py_ssize_t)(hits->len * sizeof(int64_t)));
}

/* scan(blob, chars=False) -> bytes of native int64 (start, end, id) triples, in no set
 * order; with ``chars``, offsets count UTF-8 characters instead of bytes. */
static PyObject *Database_scan(Database *self, PyObject *args) {
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database not compiled");
        return NULL;
    }
    Py_buffer view;
    int chars = 0;
    if (!PyArg_ParseTuple(args, "y*|p", &view, &chars))
        return NULL;
    Hits hits = {NULL, 0, 0, 0};
    PyObject *out =
        scan_buffer(self, (const uint8_t *)view.buf, (size_t)view.len, chars, &hits);
    PyBuffer_Release(&view);
    free(hits.data);
    return out;
}

static PyTypeObject DatabaseType;

/* set_start_recovery(windows, ids, limits, widths=b""): see the top of this file.
 * ``windows``: a sequence of databases of one expression each (compiled with
 * HS_FLAG_SOM_LEFTMOST, or reversed); ``ids``: native int32 per expression of this
 * database, -1 or the number of the database of the same expression in ``windows``;
 * ``limits``: 256 bytes per window database, byte b the most times its expression's
 * matches can hold byte b (UNBOUNDED: any number); ``widths``: native int32 per window
 * database, 0, the widest match (at most WIDEST_REVERSED bytes) of an expression read
 * backwards, or less the width of an expression of one width (its window None; none:
 * all 0). */
#define WIDEST_REVERSED 255

static PyObject *Database_set_start_recovery(Database *self, PyObject *args) {
    PyObject *windows;
    Py_buffer ids, limits, widths = {0};
    if (!PyArg_ParseTuple(args, "Oy*y*|y*", &windows, &ids, &limits, &widths))
        return NULL;
    PyObject *result = NULL, *tuple = NULL;
    int32_t *copy = NULL, *width_copy = NULL, widest = 0;
    int reads_backwards = 0;
    uint8_t *limit_copy = NULL;
    hs_scratch_t *scratch = NULL;
    Py_ssize_t expressions = ids.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t windowed = limits.len / 256;
    if (self->windows != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start recovery is set once");
        goto done;
    }
    tuple = PySequence_Tuple(windows);
    if (tuple == NULL)
        goto done;
    if (ids.len % (Py_ssize_t)sizeof(int32_t) || limits.len % 256 || windowed == 0 ||
        PyTuple_GET_SIZE(tuple) != windowed) {
        PyErr_SetString(PyExc_ValueError,
                        "ids are int32s, limits 256 bytes, one per window database");
        goto done;
    }
    if (widths.buf != NULL && widths.len != windowed * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "widths are int32s, one per window database");
        goto done;
    }
    copy = PyMem_Malloc((size_t)ids.len);
    limit_copy = PyMem_Malloc((size_t)limits.len);
    width_copy = PyMem_Calloc((size_t)windowed, sizeof(int32_t));
    if (copy == NULL || limit_copy == NULL || width_copy == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(copy, ids.buf, (size_t)ids.len);
    memcpy(limit_copy, limits.buf, (size_t)limits.len);
    if (widths.buf != NULL)
        memcpy(width_copy, widths.buf, (size_t)widths.len);
    for (Py_ssize_t k = 0; k < windowed; k++) {
        PyObject *window = PyTuple_GET_ITEM(tuple, k);
        if (width_copy[k] < -WIDEST_REVERSED || width_copy[k] > WIDEST_REVERSED) {
            PyErr_SetString(PyExc_ValueError, "a width out of range");
            goto done;
        }
        if (width_copy[k] > widest)
            widest = width_copy[k];
        reads_backwards |= width_copy[k] != 0;
        if (width_copy[k] < 0) {
            if (window != Py_None) {
                PyErr_SetString(PyExc_TypeError, "a window of a fixed width is None");
                goto done;
            }
            continue;
        }
        if (!PyObject_TypeCheck(window, &DatabaseType) || window == (PyObject *)self ||
            ((Database *)window)->db == NULL) {
            PyErr_SetString(PyExc_TypeError, "windows are other, compiled databases");
            goto done;
        }
        hs_error_t err = hs_alloc_scratch(((Database *)window)->db, &scratch);
        if (err != HS_SUCCESS) {
            error_from("hs_alloc_scratch", err);
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < expressions; i++) {
        if (copy[i] < -1 || copy[i] >= windowed) {
            PyErr_SetString(PyExc_ValueError, "an id names no window database");
            goto done;
        }
    }
    self->windows = tuple;
    self->window_scratch = scratch;
    self->window_id = copy;
    self->expressions = expressions;
    self->limits = limit_copy;
    self->widths = width_copy;
    self->widest = widest;
    self->reads_backwards = reads_backwards;
    tuple = NULL;
    scratch = NULL;
    copy = NULL;
    limit_copy = NULL;
    width_copy = NULL;
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(tuple);
    if (scratch != NULL)
        hs_free_scratch(scratch);
    PyMem_Free(copy);
    PyMem_Free(limit_copy);
    PyMem_Free(width_copy);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&limits);
    if (widths.buf != NULL)
        PyBuffer_Release(&widths);
    return result;
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

static PyObject *Database_scan_texts(Database *self, PyObject *args);

static PyMethodDef Database_methods[] = {
    {"scan", (PyCFunction)Database_scan, METH_VARARGS,
     "scan(blob, chars=False) -> bytes of int64 (start, end, id) triples of every match."},
    {"set_start_recovery", (PyCFunction)Database_set_start_recovery, METH_VARARGS,
     "set_start_recovery(windows, ids, limits, widths=b''): starts of SOM-less expressions "
     "found after."},
    {"serialize", (PyCFunction)Database_serialize, METH_NOARGS,
     "The database as bytes, for deserialize()."},
    {"deserialize", (PyCFunction)Database_deserialize, METH_O | METH_CLASS,
     "A Database from serialize()'s bytes (same libhs and platform)."},
    {"scan_texts", (PyCFunction)Database_scan_texts, METH_VARARGS,
     "scan_texts(texts, separator) -> (scan()'s rows in characters, the UTF-8 length)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DatabaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "postwarden.engine.compiled._hsscan.Database",
    .tp_basicsize = sizeof(Database),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A hyperscan block-mode database (HS_FLAG_SOM_LEFTMOST et al. per expression).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Database_init,
    .tp_dealloc = (destructor)Database_dealloc,
    .tp_methods = Database_methods,
};

/* One character's UTF-8 at `out`; a lone surrogate becomes '?', as
 * str.encode("utf-8", "replace") makes it.  Returns the end of what was written. */
static inline char *put_char(Py_UCS4 c, char *out) {
    if (c < 0x80) {
        *out++ = (char)c;
    } else if (c < 0x800) {
        *out++ = (char)(0xC0 | (c >> 6));
        *out++ = (char)(0x80 | (c & 0x3F));
    } else if (c >= 0xD800 && c <= 0xDFFF) {
        *out++ = '?';
    } else if (c < 0x10000) {
        *out++ = (char)(0xE0 | (c >> 12));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    } else {
        *out++ = (char)(0xF0 | (c >> 18));
        *out++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    }
    return out;
}

/* Four ASCII characters of a two-byte string (a little-endian word) as four bytes. */
static inline uint64_t pack_ascii(uint64_t word) {
    word = (word | word >> 8) & 0x0000FFFF0000FFFFull;
    return (word | word >> 16) & 0xFFFFFFFFull;
}

/* The UTF-8 of one string at `out` (room for 4 bytes a character).  CPython's encoder takes
 * a character at a time; here runs of ASCII in a two-byte string (mail text is mostly
 * ASCII between CJK runs) are copied eight characters at once.  Returns the end. */
static char *put_utf8(PyObject *text, char *out) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
    const void *data = PyUnicode_DATA(text);
    if (PyUnicode_IS_ASCII(text)) {
        memcpy(out, data, (size_t)n);
        return out + n;
    }
    int kind = PyUnicode_KIND(text);
    if (kind != PyUnicode_2BYTE_KIND) {
        for (; i < n; i++)
            out = put_char(PyUnicode_READ(kind, data, i), out);
        return out;
    }
    const Py_UCS2 *chars = data;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t low, high;
            memcpy(&low, chars + i, sizeof low);
            memcpy(&high, chars + i + 4, sizeof high);
            if (((low | high) & 0xFF80FF80FF80FF80ull) != 0)
                break;
            uint64_t packed = pack_ascii(low) | pack_ascii(high) << 32;
            memcpy(out, &packed, sizeof packed);
            out += 8;
            i += 8;
        }
        if (i == n)
            break;
        /* A character at a time up to the next ASCII one (or the end); the three-byte
         * characters of CJK text written without put_char's tests for the others. */
        do {
            Py_UCS2 c = chars[i++];
            if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
                out[0] = (char)(0xE0 | (c >> 12));
                out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
                out[2] = (char)(0x80 | (c & 0x3F));
                out += 3;
            } else {
                out = put_char(c, out);
            }
        } while (i < n && chars[i] >= 0x80);
    }
    return out;
}

/* The room the UTF-8 of `seq`'s texts joined by `separator` bytes can take (at most 4 bytes
 * a character), in `room`, and the joined text's length in characters, in `chars`.
 * Returns -1 with an exception set when a text is not a str. */
static int joined_room(PyObject *seq, Py_ssize_t separator, size_t *room, size_t *chars) {
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    *room = *chars = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            return -1;
        }
        if (PyUnicode_READY(text) < 0)
            return -1;
        size_t n = (size_t)PyUnicode_GET_LENGTH(text);
        *room += n * (PyUnicode_IS_ASCII(text) ? 1 : (size_t)PyUnicode_KIND(text) + 1);
        *chars += n;
        if (k > 0) {
            *room += (size_t)separator;
            *chars += (size_t)separator;
        }
    }
    if (*room > (size_t)PY_SSIZE_T_MAX) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The texts of `seq` joined by the separator, as UTF-8 at `out` (room from joined_room).
 * Returns the end of what was written. */
static char *write_joined(PyObject *seq, const Py_buffer *separator, char *out) {
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t k = 0; k < count; k++) {
        if (k > 0) {
            memcpy(out, separator->buf, (size_t)separator->len);
            out += separator->len;
        }
        out = put_utf8(PySequence_Fast_GET_ITEM(seq, k), out);
    }
    return out;
}

/* join_utf8(texts, separator) -> separator.join(texts).encode("utf-8", "replace"), without
 * the joined str: joining CJK text widens every unit to two bytes a character first. */
static PyObject *join_utf8(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *texts;
    Py_buffer separator;
    if (!PyArg_ParseTuple(args, "Oy*", &texts, &separator))
        return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL) {
        PyBuffer_Release(&separator);
        return NULL;
    }
    PyObject *out = NULL;
    size_t room, chars;
    if (joined_room(seq, separator.len, &room, &chars) != 0)
        goto done;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)room);
    if (out == NULL)
        goto done;
    char *start = PyBytes_AS_STRING(out), *at = write_joined(seq, &separator, start);
    if ((size_t)(at - start) != room)
        _PyBytes_Resize(&out, at - start);
done:
    Py_DECREF(seq);
    PyBuffer_Release(&separator);
    return out;
}

/* Whether the garbage collector must see a slot holding `value`: a container, unless an
 * untracked tuple (as CPython's _PyObject_GC_MAY_BE_TRACKED).  The type's flag first, inline:
 * a finding's str, ints and float are told without a call (a third of a finding's making). */
static inline int slot_may_be_tracked(PyObject *value) {
    return PyType_IS_GC(Py_TYPE(value)) && PyObject_IS_GC(value) &&
           (!PyTuple_CheckExact(value) || PyObject_GC_IsTracked(value));
}

/* A maker of a slotted class's instances (base.py's make_finding): the slots named are set
 * from the arguments, the rest from the defaults, without the class's __init__.  A frozen
 * dataclass sets each field through object.__setattr__ (about 0.9 us) and setting the slot
 * descriptors from Python still takes eight calls (0.5 us); here it is one allocation.
 * With ``untrack``, an instance holding no container is left out of the garbage collector's
 * walks, as CPython does for tuples: a spreadsheet's 90,000 findings (str and numbers) would
 * otherwise be walked by every young collection until they reach the oldest generation,
 * then by each full one (60 ms of a 15,070-row table's 300 ms detection).  Nothing they
 * hold can make a cycle.
 * The maker's state: (class, defaults, slot offsets as bytes of Py_ssize_t, untrack,
 * whether a default may be tracked: worked out once, by slot_maker).  A default found
 * trackable then stays counted so (a tuple the collector untracks since only costs the
 * instance a place in the collector's walks). */
static PyObject *make_slotted(PyObject *state, PyObject *const *args, Py_ssize_t nargs) {
    PyTypeObject *type = (PyTypeObject *)PyTuple_GET_ITEM(state, 0);
    PyObject *defaults = PyTuple_GET_ITEM(state, 1);
    PyObject *offsets_bytes = PyTuple_GET_ITEM(state, 2);
    const Py_ssize_t *offsets = (const Py_ssize_t *)PyBytes_AS_STRING(offsets_bytes);
    Py_ssize_t total = PyBytes_GET_SIZE(offsets_bytes) / (Py_ssize_t)sizeof(Py_ssize_t);
    Py_ssize_t given = total - PyTuple_GET_SIZE(defaults);
    if (nargs != given) {
        PyErr_Format(PyExc_TypeError, "%s maker takes %zd arguments (%zd given)", type->tp_name,
                     given, nargs);
        return NULL;
    }
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL)
        return NULL;
    int tracked = PyTuple_GET_ITEM(state, 3) != Py_True || PyTuple_GET_ITEM(state, 4) == Py_True;
    for (Py_ssize_t i = 0; i < given; i++) {
        PyObject *value = args[i];
        *(PyObject **)((char *)obj + offsets[i]) = Py_NewRef(value);
        tracked = tracked || slot_may_be_tracked(value);
    }
    for (Py_ssize_t i = given; i < total; i++)
        *(PyObject **)((char *)obj + offsets[i]) = Py_NewRef(PyTuple_GET_ITEM(defaults, i - given));
    if (!tracked && PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj))
        PyObject_GC_UnTrack(obj);
    return obj;
}

static PyMethodDef make_slotted_def = {"make_slotted", (PyCFunction)(void (*)(void))make_slotted,
                                       METH_FASTCALL, "An instance with its slots set."};

/* slot_maker(cls, names, defaults, untrack=False) -> a function of len(names) -
 * len(defaults) arguments building a ``cls`` whose slots ``names`` are those arguments,
 * then ``defaults``; with ``untrack``, untracked by the garbage collector when they hold no
 * container. */
static PyObject *slot_maker(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *cls, *names, *defaults;
    int untrack = 0;
    if (!PyArg_ParseTuple(args, "O!O!O!|p", &PyType_Type, &cls, &PyTuple_Type, &names,
                          &PyTuple_Type, &defaults, &untrack))
        return NULL;
    Py_ssize_t total = PyTuple_GET_SIZE(names);
    if (PyTuple_GET_SIZE(defaults) > total) {
        PyErr_SetString(PyExc_ValueError, "more defaults than slots");
        return NULL;
    }
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(Py_ssize_t));
    if (offsets == NULL)
        return NULL;
    Py_ssize_t *at = (Py_ssize_t *)PyBytes_AS_STRING(offsets);
    for (Py_ssize_t i = 0; i < total; i++) {
        PyObject *descr = PyObject_GetAttr(cls, PyTuple_GET_ITEM(names, i));
        if (descr == NULL) {
            Py_DECREF(offsets);
            return NULL;
        }
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 PyDescr_TYPE(descr) == (PyTypeObject *)cls &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok)
            at[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            Py_DECREF(offsets);
            PyErr_SetString(PyExc_TypeError, "every name must be a slot of the class itself");
            return NULL;
        }
    }
    int defaults_tracked = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(defaults); i++)
        defaults_tracked = defaults_tracked || slot_may_be_tracked(PyTuple_GET_ITEM(defaults, i));
    PyObject *state = PyTuple_Pack(5, cls, defaults, offsets, untrack ? Py_True : Py_False,
                                   defaults_tracked ? Py_True : Py_False);
    Py_DECREF(offsets);
    if (state == NULL)
        return NULL;
    PyObject *maker = PyCFunction_New(&make_slotted_def, state);
    Py_DECREF(state);
    return maker;
}

/* ---- scan_texts: the units joined and scanned in one call, buffers kept (issue 14) ----
 *
 * Joining 10 MB of units into a fresh bytes object, then growing a fresh match buffer,
 * faults in a page of new memory every 4 KB: a few milliseconds a scan, a third of the
 * join.  Here the joined UTF-8 and the match rows live in buffers the database keeps from
 * one call to the next (up to KEPT_MAX bytes each; a concurrent call uses its own).
 */

#define KEPT_MAX ((size_t)64 << 20)

/* scan_texts(texts, separator) -> (rows, length): scan(separator.join(texts) as UTF-8,
 * chars=True)'s rows and the UTF-8's length in bytes, without the joined bytes object. */
static PyObject *Database_scan_texts(Database *self, PyObject *args) {
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database not compiled");
        return NULL;
    }
    PyObject *texts;
    Py_buffer separator;
    if (!PyArg_ParseTuple(args, "Oy*", &texts, &separator))
        return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL) {
        PyBuffer_Release(&separator);
        return NULL;
    }
    PyObject *out = NULL, *rows = NULL;
    size_t room, chars;
    int kept = 0;
    char *joined = NULL;
    Hits hits = {NULL, 0, 0, 0};
    if (joined_room(seq, separator.len, &room, &chars) != 0)
        goto done;
    kept = !self->kept_busy;
    if (kept) {
        self->kept_busy = 1;
        if (self->joined_cap < room + 1) {
            free(self->joined);
            self->joined = malloc(room + 1);
            self->joined_cap = self->joined == NULL ? 0 : room + 1;
        }
        joined = self->joined;
        hits.data = self->kept_hits;
        hits.cap = self->kept_hits_cap;
    } else {
        joined = malloc(room + 1);
    }
    if (joined == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t length = (size_t)(write_joined(seq, &separator, joined) - joined);
    /* Nothing to scan (hyperscan never matches empty): no rows. */
    rows = length == 0 ? PyBytes_FromStringAndSize(NULL, 0)
                       : scan_buffer(self, (const uint8_t *)joined, length, length != chars,
                                     &hits);
    if (rows != NULL)
        out = Py_BuildValue("(Nn)", rows, (Py_ssize_t)length);
done:
    if (kept) {
        /* hits.data may have been moved by realloc: keep whatever it is now. */
        if (hits.cap * sizeof(int64_t) > KEPT_MAX) {
            free(hits.data);
            hits.data = NULL;
            hits.cap = 0;
        }
        self->kept_hits = hits.data;
        self->kept_hits_cap = hits.cap;
        if (self->joined_cap > KEPT_MAX) {
            free(self->joined);
            self->joined = NULL;
            self->joined_cap = 0;
        }
        self->kept_busy = 0;
    } else {
        free(joined);
        free(hits.data);
    }
    Py_DECREF(seq);
    PyBuffer_Release(&separator);
    return out;
}

/* Slots of the exact types met, read at their offsets (units, findings: slotted
 * dataclasses; the generic getattr costs 70 instructions a read). */

#define REGISTER_SLOTS 3

typedef struct {
    PyTypeObject *type;
    Py_ssize_t offset[REGISTER_SLOTS]; /* -1: read through getattr */
} RegisterSlots;

/* Where ``type`` keeps ``names`` as plain object slots, read by the generic getattr. */
static void register_slots_of(RegisterSlots *slots, PyTypeObject *type, PyObject *const *names) {
    slots->type = type;
    for (int i = 0; i < REGISTER_SLOTS; i++) {
        slots->offset[i] = -1;
        if (names[i] == NULL || type->tp_getattro != PyObject_GenericGetAttr)
            continue;
        PyObject *descr = _PyType_Lookup(type, names[i]); /* borrowed */
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
            ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX)
            slots->offset[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
}

/* obj.<names[i]>: a new reference, or NULL with an exception set. */
static PyObject *register_attr(PyObject *obj, RegisterSlots *slots, PyObject *const *names,
                               int i) {
    if (Py_TYPE(obj) != slots->type)
        register_slots_of(slots, Py_TYPE(obj), names);
    if (slots->offset[i] >= 0) {
        PyObject *value = *(PyObject **)((char *)obj + slots->offset[i]);
        if (value != NULL)
            return Py_NewRef(value);
    }
    return PyObject_GetAttr(obj, names[i]); /* an unset slot raises as Python would */
}

/* Replace *text (a reference or NULL) by the text of unit ``unit`` of ``seq`` (a
 * PySequence_Fast of objects with a str ``text``): 0, or -1 with an exception set (*text is
 * then NULL or the object found, to be released by the caller as before). */
static PyObject *unit_names[REGISTER_SLOTS]; /* "text", "where", "cells": interned once */
static RegisterSlots unit_slots;

/* unit.text (i 0), unit.where (1) or unit.cells (2): a new reference, or NULL with an
 * exception set. */
static PyObject *unit_attr(PyObject *unit, int i) {
    if (unit_names[2] == NULL) {
        static const char *const names[REGISTER_SLOTS] = {"text", "where", "cells"};
        for (int k = 0; k < REGISTER_SLOTS; k++)
            if (unit_names[k] == NULL &&
                (unit_names[k] = PyUnicode_InternFromString(names[k])) == NULL)
                return NULL;
        unit_slots.type = NULL; /* the offsets looked up again, with every name */
    }
    return register_attr(unit, &unit_slots, unit_names, i);
}

static int take_unit_text(PyObject *seq, int64_t unit, PyObject **text) {
    Py_XDECREF(*text);
    *text = NULL;
    /* Held while its getattr runs: that may run Python code that shrinks the sequence. */
    PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, unit));
    *text = unit_attr(item, 0);
    Py_DECREF(item);
    if (*text == NULL || !PyUnicode_Check(*text) || PyUnicode_READY(*text) < 0) {
        if (*text != NULL && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "a unit's text must be a str");
        return -1;
    }
    return 0;
}

/* Each unit's text and place read once in a call of settle_hits: its verdicts and its
 * findings read each row's text, twice for a 200-row sheet's column of HKIDs (40 to 70
 * instructions a read).  ``text`` and ``where`` hold new references (NULL: not read yet),
 * ``count`` entries each. */
typedef struct {
    PyObject **text;
    PyObject **where;
    Py_ssize_t count;
} UnitCache;

/* 0, or -1 with MemoryError set. */
static int unit_cache_open(UnitCache *cache, Py_ssize_t count) {
    cache->count = count;
    cache->text = PyMem_Calloc((size_t)(count > 0 ? count : 1), sizeof(PyObject *));
    cache->where = PyMem_Calloc((size_t)(count > 0 ? count : 1), sizeof(PyObject *));
    if (cache->text == NULL || cache->where == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void unit_cache_close(UnitCache *cache) {
    for (Py_ssize_t i = 0; i < cache->count; i++) {
        if (cache->text != NULL)
            Py_XDECREF(cache->text[i]);
        if (cache->where != NULL)
            Py_XDECREF(cache->where[i]);
    }
    PyMem_Free(cache->text);
    PyMem_Free(cache->where);
    cache->text = cache->where = NULL;
    cache->count = 0;
}

/* take_unit_text through ``cache`` (NULL: none): *text is a new reference, as there.  The
 * caller has checked ``unit`` against the sequence's size. */
static int cached_unit_text(PyObject *seq, UnitCache *cache, int64_t unit, PyObject **text) {
    if (cache == NULL || unit < 0 || unit >= cache->count)
        return take_unit_text(seq, unit, text);
    if (cache->text[unit] == NULL) {
        PyObject *found = NULL;
        if (take_unit_text(seq, unit, &found) != 0) {
            Py_XDECREF(*text);
            *text = found;
            return -1;
        }
        cache->text[unit] = found;
    }
    Py_XSETREF(*text, Py_NewRef(cache->text[unit]));
    return 0;
}

/* unit.where of ``item`` (unit ``unit``) through ``cache`` (NULL: none): a new reference,
 * or NULL with an exception set. */
static PyObject *cached_unit_where(PyObject *item, UnitCache *cache, int64_t unit) {
    if (cache == NULL || unit < 0 || unit >= cache->count)
        return unit_attr(item, 1);
    if (cache->where[unit] == NULL && (cache->where[unit] = unit_attr(item, 1)) == NULL)
        return NULL;
    return Py_NewRef(cache->where[unit]);
}

/* ---- spans_holding: which gaps between address parts may end a sentence (issue 14) ----
 *
 * ClusterDetector asks, for each gap between two parts of one cluster, whether it holds
 * the end of a sentence; a gap without any of a few characters cannot, and thousands of
 * gaps a scan were each sliced and tested in Python to find the few dozen that can.
 */

/* spans_holding(units, unit_of, starts, ends, chars) -> bytes: 1 at i when
 * units[unit_of[i]].text[starts[i]:ends[i]] holds a character of ``chars``, else 0
 * (native int64 arrays; offsets at least 0, ends past the text cut at its end). */
static PyObject *spans_holding(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *chars;
    Py_buffer unit_of, starts, ends;
    if (!PyArg_ParseTuple(args, "Oy*y*y*U", &units, &unit_of, &starts, &ends, &chars))
        return NULL;
    PyObject *seq = NULL, *out = NULL, *text = NULL;
    Py_ssize_t n = unit_of.len / (Py_ssize_t)sizeof(int64_t), last = -1;
    if (unit_of.len % (Py_ssize_t)sizeof(int64_t) || starts.len != unit_of.len ||
        ends.len != unit_of.len) {
        PyErr_SetString(PyExc_ValueError, "unit_of, starts and ends: int64s, as many each");
        goto done;
    }
    seq = PySequence_Fast(units, "units must be a sequence");
    if (seq == NULL)
        goto done;
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        goto done;
    const int64_t *u = unit_of.buf, *from = starts.buf, *to = ends.buf;
    char *hold = PyBytes_AS_STRING(out);
    Py_ssize_t wanted = PyUnicode_GET_LENGTH(chars);
    int chars_kind = PyUnicode_KIND(chars);
    const void *chars_data = PyUnicode_DATA(chars);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (u[i] < 0 || u[i] >= PySequence_Fast_GET_SIZE(seq) || from[i] < 0 || to[i] < 0) {
            PyErr_SetString(PyExc_IndexError, "a unit or an offset out of range");
            Py_CLEAR(out);
            goto done;
        }
        if (u[i] != last) {
            if (take_unit_text(seq, u[i], &text) != 0) {
                Py_CLEAR(out);
                goto done;
            }
            last = u[i];
        }
        Py_ssize_t end = to[i] < PyUnicode_GET_LENGTH(text) ? to[i] : PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        char found = 0;
        for (Py_ssize_t j = from[i]; j < end && !found; j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            for (Py_ssize_t k = 0; k < wanted; k++) {
                if (c == PyUnicode_READ(chars_kind, chars_data, k)) {
                    found = 1;
                    break;
                }
            }
        }
        hold[i] = found;
    }
done:
    Py_XDECREF(text);
    Py_XDECREF(seq);
    PyBuffer_Release(&unit_of);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    return out;
}
static PyObject *find_runs(PyObject *module, PyObject *args);
static PyObject *bucket_runs(PyObject *module, PyObject *args);
static PyObject *bucket_table(PyObject *module, PyObject *args);
static PyObject *screen_cells(PyObject *module, PyObject *arg);
static PyObject *keyed_hashes(PyObject *module, PyObject *args);
static PyObject *unique_keys(PyObject *module, PyObject *args);
static PyObject *span_units(PyObject *module, PyObject *args);
static PyObject *row_cells(PyObject *module, PyObject *args);
static PyObject *untracked(PyObject *module, PyObject *obj);
static PyObject *number_keys(PyObject *module, PyObject *args);
static PyObject *judge_hits(PyObject *module, PyObject *args);
static PyObject *other_keys(PyObject *module, PyObject *arg);
static PyObject *cell_bounds(PyObject *module, PyObject *arg);
static PyObject *make_findings(PyObject *module, PyObject *args);
static PyObject *name_cells(PyObject *module, PyObject *args);
static PyObject *segmented(PyObject *module, PyObject *arg);
static PyObject *presence(PyObject *module, PyObject *args);
static PyObject *shared_strings(PyObject *module, PyObject *arg);
static PyObject *sheet_rows(PyObject *module, PyObject *args);
static PyObject *finding_spans(PyObject *module, PyObject *args);
static PyObject *sheet_texts(PyObject *module, PyObject *arg);
static PyObject *key_hashes(PyObject *module, PyObject *args);
static PyObject *useful_entries(PyObject *module, PyObject *args);
static PyObject *settled_findings(PyObject *module, PyObject *args);
static PyObject *by_unit(PyObject *module, PyObject *args);
static PyObject *finding_counts(PyObject *module, PyObject *args);
static PyObject *overlapped(PyObject *module, PyObject *args);
static PyObject *row_units(PyObject *module, PyObject *args);
static PyObject *pdf_value(PyObject *module, PyObject *args);
static PyObject *plain_relationships(PyObject *module, PyObject *arg);
static PyObject *pdf_offsets(PyObject *module, PyObject *args);
static PyObject *sheet_grid(PyObject *module, PyObject *arg);
static PyObject *sheet_cells(PyObject *module, PyObject *args);
static PyObject *xls_grid(PyObject *module, PyObject *args);
static PyObject *plain_texts(PyObject *module, PyObject *arg);
static PyObject *plain_prolog(PyObject *module, PyObject *arg);
static PyObject *plain_story(PyObject *module, PyObject *args);
static PyObject *zip_entries(PyObject *module, PyObject *args);
static PyObject *table_entries(PyObject *module, PyObject *args);
static PyObject *hash_lanes(PyObject *module, PyObject *arg);
static PyObject *hit_layout(PyObject *module, PyObject *args);
/* Detection fast paths, seventh round (the last block of this file). */
static PyObject *unit_fields(PyObject *module, PyObject *arg);
static PyObject *settle_hits(PyObject *module, PyObject *args);
/* Register matching of small tables (issue 14, seventh round). */
static PyObject *present_records(PyObject *module, PyObject *args);
static PyObject *cell_layout(PyObject *module, PyObject *args);
static PyObject *unique_cells(PyObject *module, PyObject *args);
static PyObject *bare_phones(PyObject *module, PyObject *args);
static PyObject *owned_runs(PyObject *module, PyObject *args);
static PyObject *other_codes(PyObject *module, PyObject *args);
static PyObject *unique_codes(PyObject *module, PyObject *args);
static PyObject *present_chain(PyObject *module, PyObject *args);
static PyObject *read_files(PyObject *module, PyObject *args);
static PyObject *pdf_object(PyObject *module, PyObject *args);
static PyObject *pdfium_bind(PyObject *module, PyObject *arg);
static PyObject *pdf_page_text(PyObject *module, PyObject *args);
static PyObject *pdf_plain(PyObject *module, PyObject *args);
static PyObject *pdf_meta_texts(PyObject *module, PyObject *args);
/* Office packages: every member's compressed bytes in one call (issue 14, seventh round). */
static PyObject *packed_members(PyObject *module, PyObject *args);
static PyObject *overlap_fault(PyObject *module, PyObject *args);

static PyMethodDef module_methods[] = {
    {"join_utf8", join_utf8, METH_VARARGS,
     "join_utf8(texts, separator) -> separator.join(texts).encode('utf-8', 'replace')."},
    {"slot_maker", slot_maker, METH_VARARGS,
     "slot_maker(cls, names, defaults, untrack=False) -> a maker of cls, its slots set."},
    {"spans_holding", spans_holding, METH_VARARGS,
     "spans_holding(units, unit_of, starts, ends, chars) -> bytes: 1 where a span holds one."},
    {"find_runs", find_runs, METH_VARARGS,
     "find_runs(hashes, fence, step, wanted, lo, count): register index runs, into lo, count."},
    {"bucket_runs", bucket_runs, METH_VARARGS,
     "bucket_runs(hashes, table, bits, wanted, lo, count): find_runs by a bucket table."},
    {"bucket_table", bucket_table, METH_VARARGS,
     "bucket_table(hashes, bits) -> uint32 bytes: where each bucket of the top bits starts."},
    {"screen_cells", screen_cells, METH_O,
     "screen_cells(cells) -> int64 per cell: length << 4 | digit 1 | @ 2 | Chinese 4 | blank 8."},
    {"keyed_hashes", keyed_hashes, METH_VARARGS,
     "keyed_hashes(key, fields, values) -> 8-byte keyed BLAKE2b of field byte + UTF-8 each."},
    {"hash_lanes", hash_lanes, METH_O,
     "hash_lanes(name) -> the keyed hashes' vector final in use after setting it (avx512, "
     "avx2, scalar; None: this CPU's pick)."},
    {"unique_keys", unique_keys, METH_VARARGS,
     "unique_keys(cells, at) -> (keys, found, unsure): HKID and phone keys of table cells."},
    {"span_units", span_units, METH_VARARGS,
     "span_units(units, findings, detectors) -> int64 per finding: its unit, -1 if skipped."},
    {"row_cells", row_cells, METH_VARARGS,
     "row_cells(units, rows) -> (texts, lengths, tables, firsts): table rows flattened."},
    {"untracked", untracked, METH_O,
     "untracked(obj) -> obj, untracked by the garbage collector if it refers to no container."},
    {"number_keys", number_keys, METH_VARARGS,
     "number_keys(keys, texts, start) -> int64s: texts numbered in keys."},
    {"judge_hits", judge_hits, METH_VARARGS,
     "judge_hits(detector, units, unit_of, starts, ends, patterns) -> verdict bytes per hit."},
    {"other_keys", other_keys, METH_O,
     "other_keys(texts) -> (keys, found, unsure): ASCII name keys of table cells, or none."},
    {"cell_bounds", cell_bounds, METH_O,
     "cell_bounds(rows) -> (spans, found): each row's cells' bounds in its text, as found."},
    {"make_findings", make_findings, METH_VARARGS,
     "make_findings(maker, detector, units, unit_of, starts, ends, scores) -> list of findings."},
    {"name_cells", name_cells, METH_VARARGS,
     "name_cells(units, rows, singles, doubles, shortest, longest) -> (cells, rows, spans)."},
    {"segmented", segmented, METH_O,
     "segmented(line) -> bool: whether match._SEGMENT splits the str line."},
    {"presence", presence, METH_VARARGS,
     "presence(g, k, f, lo, n, c, strong, records, fact_of, expand_max, pivot_max) -> pairs."},
    {"shared_strings", shared_strings, METH_O,
     "shared_strings(xml) -> list of str, or None where calamine must read them."},
    {"sheet_rows", sheet_rows, METH_VARARGS,
     "sheet_rows(xml, strings, styles) -> a worksheet's rows as iter_rows gives, or None."},
    {"finding_spans", finding_spans, METH_VARARGS,
     "finding_spans(units, findings) -> int64s: the units, each start, then each end."},
    {"sheet_texts", sheet_texts, METH_O,
     "sheet_texts(xml) -> [(kind, raw text)]: headers, validations, formulas; or None."},
    {"key_hashes", key_hashes, METH_VARARGS,
     "key_hashes(key, texts) -> (hashes, fields): keyed_hashes of field-led key texts."},
    {"useful_entries", useful_entries, METH_VARARGS,
     "useful_entries(keys, groups, columns, sure, fields, lo_of, n_of, unique, unique_max, "
     "phone) -> (g, k, f, lo, n, c, strong) of the entries presence expands, or None."},
    {"settled_findings", settled_findings, METH_VARARGS,
     "settled_findings(maker, detector, units, ...) -> (units, findings) of a settled batch."},
    {"by_unit", by_unit, METH_VARARGS,
     "by_unit(units, findings, count) -> the findings of every batch stably sorted by unit."},
    {"finding_counts", finding_counts, METH_VARARGS,
     "finding_counts(findings, prefix) -> (per detector, per prefixed detector and place)."},
    {"overlapped", overlapped, METH_VARARGS,
     "overlapped(units, findings, winners) -> bytes: 1 where a winner's finding overlaps."},
    {"row_units", row_units, METH_VARARGS,
     "row_units(rows, start, stop, prefix) -> (texts, places, cells): sheet_rows' units."},
    {"pdf_value", pdf_value, METH_VARARGS,
     "pdf_value(data, pos, ref, other) -> (value, end) of a plain pdf's object, or None."},
    {"plain_relationships", plain_relationships, METH_O,
     "plain_relationships(xml) -> each Relationship's attributes, or None: parse the part."},
    {"pdf_offsets", pdf_offsets, METH_VARARGS,
     "pdf_offsets(data, first, count, check_time, every) -> {number: offset} of a plain "
     "pdf's table, or None."},
    {"sheet_grid", sheet_grid, METH_O,
     "sheet_grid(xml) -> the cells of the grid iter_rows gives of a worksheet (at most); -1."},
    {"sheet_cells", sheet_cells, METH_VARARGS,
     "sheet_cells(xml, strings, styles, max_cells) -> (sheet_grid, sheet_rows) or None."},
    {"xls_grid", xls_grid, METH_VARARGS,
     "xls_grid(stream, at, check_time, every) -> (cells, claimed) of an xls sheet's records."},
    {"plain_texts", plain_texts, METH_O,
     "plain_texts(xml) -> office._tree_texts of a plain small part, or None: parse it."},
    {"plain_prolog", plain_prolog, METH_O,
     "plain_prolog(chunk) -> whether a part's first chunk holds a plain prolog and root tag."},
    {"plain_story", plain_story, METH_VARARGS,
     "plain_story(xml, tags, check_time, every) -> (lines, sections) of a plain docx story "
     "part, or None: parse it."},
    {"zip_entries", zip_entries, METH_VARARGS,
     "zip_entries(data, offset, size, make) -> the ZipInfo of each entry of a plain central "
     "directory, or None: read it in Python."},
    {"table_entries", table_entries, METH_VARARGS,
     "table_entries(parts, keys, groups, sure, key_bits, n_groups) -> (keys, groups, "
     "columns, sure): a message's entries, one per (group, key); or None."},
    {"hit_layout", hit_layout, METH_VARARGS,
     "hit_layout(texts, raw, separator, owner, owners) -> (begins, starts, ends, expressions, "
     "units, bounds) of the hits inside a text, by owner; or None."},
    /* Detection fast paths, seventh round. */
    {"unit_fields", unit_fields, METH_O,
     "unit_fields(units) -> (texts, headed, chars): each unit's text, which have a header, "
     "and the texts' length."},
    {"settle_hits", settle_hits, METH_VARARGS,
     "settle_hits(detector, maker, name, units, ...) -> (units, findings), or the verdicts."},
    /* Register matching of small tables (issue 14, seventh round). */
    {"present_records", present_records, METH_VARARGS,
     "present_records(gr, masks, ident) -> (records, groups, masks, id_groups, id_records)."},
    {"cell_layout", cell_layout, METH_VARARGS,
     "cell_layout(lengths, tables, groups, column_bits) -> (cell_groups, cell_columns)."},
    {"unique_cells", unique_cells, METH_VARARGS,
     "unique_cells(cells, unique_chars) -> (deep, blank): cells that could be unique fields."},
    {"bare_phones", bare_phones, METH_VARARGS,
     "bare_phones(keys, columns, sure, fields, n_of, phone, unique_max) -> (at, hits, columns)."},
    {"owned_runs", owned_runs, METH_VARARGS,
     "owned_runs(g, k, f, lo, n, c, strong, records, expand_max) -> entries cut, or None."},
    {"other_codes", other_codes, METH_VARARGS,
     "other_codes(keys, texts, start) -> codes numbered, or other_keys' answer."},
    {"unique_codes", unique_codes, METH_VARARGS,
     "unique_codes(keys, cells, at, start) -> codes numbered, or unique_keys' answer."},
    {"present_chain", present_chain, METH_VARARGS,
     "present_chain(keys, ..., pivot_max) -> useful_entries to present_records in one call."},
    {"read_files", read_files, METH_VARARGS,
     "read_files(paths, limit) -> per path its bytes, the OSError reading it met, or None "
     "when it holds more than limit bytes; the GIL let go for the whole batch."},
    {"pdf_object", pdf_object, METH_VARARGS,
     "pdf_object(read, data, pos, ref, other, check_time, every, opened) -> (value, "
     "stream, opened) of a plain pdf's object read by read (stream -1 after endobj), or "
     "None."},
    {"pdfium_bind", pdfium_bind, METH_O,
     "pdfium_bind(functions) -> None: the addresses of the PDFium functions pdf_page_text "
     "calls."},
    {"pdf_page_text", pdf_page_text, METH_VARARGS,
     "pdf_page_text(document, index) -> the text layer of a page without annotations, or "
     "None: read it in Python."},
    {"pdf_meta_texts", pdf_meta_texts, METH_VARARGS,
     "pdf_meta_texts(document, keys) -> the document's Info entries keys, as str."},
    {"pdf_plain", pdf_plain, METH_VARARGS,
     "pdf_plain(data, pages, check_time, ref, other, read_info, decompressobj, zlib_error, "
     "limits) -> whether data is a plain pdf of pages pages (pdf_plain's check)."},
    /* Office packages, seventh round. */
    {"packed_members", packed_members, METH_VARARGS,
     "packed_members(data, infos) -> per member archive.plain_packed's bytes, or None: not "
     "plain."},
    {"overlap_fault", overlap_fault, METH_VARARGS,
     "overlap_fault(data, infos, cd_start) -> 0, or the fault archive.overlap_fault finds "
     "first (1 header outside, 2 bad header, 3 overlap); None: check in Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hsscan", "Hyperscan scans collecting their matches in C.", -1,
    module_methods,
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

/* ==== Register matching helpers (engine/registers): index lookups, screen, hashes =====
 *
 * find_runs(hashes, fence, step, wanted, lo, count): for each hash of ``wanted``, where its
 * run starts in the sorted ``hashes`` (np.searchsorted(..., side="left")) and its length,
 * written to the int64 buffers ``lo`` and ``count``.  ``fence`` is every ``step``-th hash:
 * it is searched first, then the hash's own block of the index, so a search over a 200 MB
 * index touches two pages of it instead of 25 (index.py's _bound explains why).  numpy's
 * vectorised version of the same searches costs ~10 array operations a step, ~80 us for a
 * handful of values; here a value costs well under a microsecond.  The numpy version in
 * index.py gives the same numbers (a test compares them).
 */

#define REGISTER_LANES 16

/* The end of the run of hash v that starts at ``at`` (h[at] == v): the first index past it
 * whose hash differs, or size.  Galloping from the start (1, 2, 4... places on, then a
 * bisection of the last step): a run of a few (a common name's namesakes, a shared date
 * of birth) ends on the start's own cache line or the next, where the fenced search of
 * the whole index it replaced touched ~10 lines a run, each a miss once extraction and
 * detection have evicted the index (find_runs: 230 us of a 200-row sheet's 600 values
 * in the scan, 140 of them run ends). */
static Py_ssize_t register_run_end(const uint64_t *h, Py_ssize_t size, Py_ssize_t at,
                                   uint64_t v) {
    Py_ssize_t known = at, step = 1, probe = at + 1; /* h[known] == v */
    while (probe < size && h[probe] == v) {
        known = probe;
        step <<= 1;
        probe = at + step;
    }
    /* The end is in (known, probe]: the first place there whose hash differs, or size. */
    Py_ssize_t a = known + 1, b = probe < size ? probe : size;
    while (a < b) {
        Py_ssize_t mid = a + ((b - a) >> 1);
        if (h[mid] == v)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

/* Where in [low, high) (the block of fence post ``block``, as find_runs sets them) the first
 * hash >= v is likely to be: interpolated between the posts either side, whose hashes are
 * the ones just before the block and just past it (the largest hash past the last post). */
static Py_ssize_t register_guess(const uint64_t *fence, Py_ssize_t fences, Py_ssize_t block,
                                 Py_ssize_t low, Py_ssize_t high, uint64_t v) {
    if (low >= high || block == 0)
        return low;
    uint64_t below = fence[block - 1];
    uint64_t above = block < fences ? fence[block] : UINT64_MAX;
    if (above <= below || v <= below)
        return low;
    /* The block spans the places from the post before (low - 1) to the one after (high). */
    double share = (double)(v - below) / (double)(above - below);
    Py_ssize_t at = low - 1 + (Py_ssize_t)(share * (double)(high - low + 1));
    return at < low ? low : at >= high ? high - 1 : at;
}

/* register_bound_in(h, a, b, v, 0) without a branch on the hashes compared: the next probe
 * is picked by a conditional move, where a branch guessed wrong at every other step of
 * every search (each value goes its own way) and cost more than the probes. */
static Py_ssize_t register_lower(const uint64_t *h, Py_ssize_t a, Py_ssize_t b, uint64_t v) {
    if (a >= b)
        return a;
    const uint64_t *base = h + a;
    Py_ssize_t n = b - a;
    /* The answer is in [base, base + n] throughout. */
    while (n > 1) {
        Py_ssize_t half = n >> 1;
        base = base[half] < v ? base + half : base;
        n -= half;
    }
    return (base - h) + (*base < v);
}

/* register_lower(h, low, high, v) from a guess g in [low, high): the window of
 * REGISTER_WINDOW places either side of it is searched when the answer lies in it (its
 * neighbours either side say so), else the whole range. */
#define REGISTER_WINDOW 32
static Py_ssize_t register_lower_near(const uint64_t *h, Py_ssize_t low, Py_ssize_t high,
                                      Py_ssize_t g, uint64_t v) {
    if (low >= high)
        return low;
    Py_ssize_t a = g - REGISTER_WINDOW > low ? g - REGISTER_WINDOW : low;
    Py_ssize_t b = g + REGISTER_WINDOW < high ? g + REGISTER_WINDOW : high;
    if ((a == low || h[a - 1] < v) && (b == high || h[b] >= v))
        return register_lower(h, a, b, v);
    return register_lower(h, low, high, v);
}

static PyObject *find_runs(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer hashes, fence, wanted, lo, count;
    Py_ssize_t step;
    if (!PyArg_ParseTuple(args, "y*y*ny*w*w*", &hashes, &fence, &step, &wanted, &lo, &count))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t size = hashes.len / 8, fences = fence.len / 8, n = wanted.len / 8;
    if (hashes.len % 8 || fence.len % 8 || wanted.len % 8 || lo.len != n * 8 ||
        count.len != n * 8 || step < 1 || fences != (size + step - 1) / step) {
        PyErr_SetString(PyExc_ValueError, "find_runs: buffers of mismatched sizes");
        goto done;
    }
    {
        const uint64_t *h = hashes.buf, *f = fence.buf, *w = wanted.buf;
        int64_t *start = lo.buf, *length = count.buf;
        /* The GIL is let go only for a table's many values: taking it back after a
         * message's few could wait for another thread's whole switch interval. */
        PyThreadState *released = n >= 1024 ? PyEval_SaveThread() : NULL;
        /* Each value's place in its block is first guessed from the fence posts either
         * side of it (keyed hashes are spread evenly: a block's 1024 hashes lie within a
         * few dozen places of a straight line between its posts), and the window around
         * the guess prefetched REGISTER_LANES values before it is searched, so the cache
         * misses of that many values overlap; each then bisects its window without a
         * branch on the hashes.  Bisecting the whole block with a branch a step cost 150 ns
         * a value at 100,000 rows, most of it branches guessed wrong (a value looked up
         * again and again, whose branches the CPU learns, took 30); now ~90 (600 values
         * of 100 sheets a batch each, random).  Any spread of the
         * hashes gives the same answer: a guess outside the window searches the block. */
        Py_ssize_t low[REGISTER_LANES], high[REGISTER_LANES], guess[REGISTER_LANES];
        for (Py_ssize_t i = 0; i < n + REGISTER_LANES; i++) {
            /* Pipelined: value i is guessed and prefetched REGISTER_LANES values before it
             * is searched, in the slot of the value searched just before (whose lines
             * have had as long to arrive), rather than a batch guessed and then searched
             * at once, whose first search waited on its own just-issued prefetch. */
            Py_ssize_t j = i % REGISTER_LANES;
            if (i >= REGISTER_LANES) {
                Py_ssize_t d = i - REGISTER_LANES;
                uint64_t v = w[d];
                Py_ssize_t at = register_lower_near(h, low[j], high[j], guess[j], v), run = 0;
                if (at < size && h[at] == v) {
                    /* Most values occur once (HKIDs, phones): only runs need their end
                     * searched. */
                    run = register_run_end(h, size, at, v) - at;
                }
                start[d] = (int64_t)at;
                length[d] = (int64_t)run;
            }
            if (i < n) {
                uint64_t v = w[i];
                Py_ssize_t block = register_lower(f, 0, fences, v);
                low[j] = block > 0 ? (block - 1) * step + 1 : 0;
                high[j] = block * step < size ? block * step : size;
                guess[j] = register_guess(f, fences, block, low[j], high[j], v);
                if (low[j] < high[j]) {
                    /* Every line of the guess's window (within the block): the bisection
                     * of it touches three or four of them, which ones told only by the
                     * hashes, each a miss of its own once the index is out of the caches
                     * (a scan's extraction and detection evict it). */
                    Py_ssize_t from = guess[j] - REGISTER_WINDOW - 1;
                    Py_ssize_t to = guess[j] + REGISTER_WINDOW;
                    from = from > low[j] ? from : low[j];
                    to = to < high[j] ? to : high[j] - 1;
                    for (Py_ssize_t at = from; at < to + 8; at += 8)
                        __builtin_prefetch(h + (at < to ? at : to));
                }
            }
        }
        if (released != NULL)
            PyEval_RestoreThread(released);
    }
    out = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&hashes);
    PyBuffer_Release(&fence);
    PyBuffer_Release(&wanted);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&count);
    return out;
}


/* bucket_runs(hashes, table, bits, wanted, lo, count): find_runs' answer (each hash's run
 * start in the sorted ``hashes`` and its length, into the int64 buffers ``lo`` and
 * ``count``) read through a bucket table instead of the fence: ``table`` holds 2**bits + 1
 * uint32s, entry b the first place whose hash's top ``bits`` bits are >= b (the last:
 * the index's size), as index.RegisterIndex builds it.  A value's run starts in its
 * bucket's range [table[b], table[b + 1]) or at its end, so the search is one table read
 * and a bisection of ~16-32 hashes (2-4 cache lines), where find_runs bisects the fence
 * (10 dependent steps at 100,000 rows) and then guesses within a block of 1024, ±32 places
 * of the guess missing a third of the time (the block then bisected whole): 50 ns a value
 * with every line in L1, 80 once the index is out of L2; here ~25 (the figures in
 * index.py).  Three stages REGISTER_LANES values apart overlap the misses: the table
 * entry fetched, then read and the bucket's lines fetched, then the bucket searched.
 * ValueError for a table of the wrong size or an entry out of order or past the index
 * (it is never read past the buffers given). */
static PyObject *bucket_runs(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer hashes, table, wanted, lo, count;
    int bits;
    if (!PyArg_ParseTuple(args, "y*y*iy*w*w*", &hashes, &table, &bits, &wanted, &lo, &count))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t size = hashes.len / 8, n = wanted.len / 8;
    if (hashes.len % 8 || wanted.len % 8 || lo.len != n * 8 || count.len != n * 8 || bits < 1 ||
        bits > 32 || (uint64_t)table.len != (((uint64_t)1 << bits) + 1) * 4 ||
        (uint64_t)size > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "bucket_runs: buffers of mismatched sizes");
        goto done;
    }
    {
        const uint64_t *h = hashes.buf, *w = wanted.buf;
        const uint32_t *tab = table.buf;
        int64_t *start = lo.buf, *length = count.buf;
        int shift = 64 - bits, bad = 0;
        Py_ssize_t low[REGISTER_LANES], high[REGISTER_LANES];
        PyThreadState *released = n >= 1024 ? PyEval_SaveThread() : NULL;
        for (Py_ssize_t i = 0; i < n + 2 * REGISTER_LANES && !bad; i++) {
            if (i >= 2 * REGISTER_LANES) {
                /* Stage three: the bucket searched, its lines fetched REGISTER_LANES ago. */
                Py_ssize_t d = i - 2 * REGISTER_LANES, j = d % REGISTER_LANES;
                uint64_t v = w[d];
                Py_ssize_t at = register_lower(h, low[j], high[j], v), run = 0;
                if (at < size && h[at] == v)
                    run = register_run_end(h, size, at, v) - at;
                start[d] = (int64_t)at;
                length[d] = (int64_t)run;
            }
            if (i >= REGISTER_LANES && i < n + REGISTER_LANES) {
                /* Stage two: the bucket's range read (checked), its first lines fetched. */
                Py_ssize_t d = i - REGISTER_LANES, j = d % REGISTER_LANES;
                uint64_t b = w[d] >> shift;
                Py_ssize_t a = (Py_ssize_t)tab[b], e = (Py_ssize_t)tab[b + 1];
                if (a > e || e > size) {
                    bad = 1;
                    break;
                }
                low[j] = a;
                high[j] = e;
                for (Py_ssize_t at = a; at < e && at < a + 32; at += 8)
                    __builtin_prefetch(h + at);
            }
            if (i < n) /* Stage one: the table entry fetched. */
                __builtin_prefetch(tab + (w[i] >> shift));
        }
        if (released != NULL)
            PyEval_RestoreThread(released);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "bucket_runs: a table entry out of order");
            goto done;
        }
    }
    out = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&hashes);
    PyBuffer_Release(&table);
    PyBuffer_Release(&wanted);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&count);
    return out;
}

/* bucket_table(hashes, bits) -> bytes: bucket_runs' table of the sorted uint64 ``hashes``,
 * 2**bits + 1 uint32s: entry b the first place whose hash is >= b << (64 - bits), the last
 * the number of hashes.  One walk up the index, each bucket's start galloped to from the
 * one before (a few dozen places on: the lines just read), where a search of each from the
 * fence cost 60 ms for the 2**20 buckets of 27 million hashes; here 17 (one pass over the
 * index's pages, which the fence has faulted in).  The entries only ever grow and stay
 * within the index whatever the hashes hold (unsorted, they are merely wrong). */
static PyObject *bucket_table(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer hashes;
    int bits;
    if (!PyArg_ParseTuple(args, "y*i", &hashes, &bits))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t size = hashes.len / 8;
    if (hashes.len % 8 || bits < 1 || bits > 32 || (uint64_t)size > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "bucket_table: buffers of mismatched sizes");
        goto done;
    }
    uint64_t buckets = (uint64_t)1 << bits;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((buckets + 1) * 4));
    if (out == NULL)
        goto done;
    {
        const uint64_t *h = hashes.buf;
        uint32_t *table = (uint32_t *)PyBytes_AS_STRING(out);
        int shift = 64 - bits;
        Py_ssize_t at = 0; /* the last bucket's start: every hash before it is below it */
        PyThreadState *released = size >= 65536 ? PyEval_SaveThread() : NULL;
        for (uint64_t b = 0; b < buckets; b++) {
            uint64_t first = b << shift;
            if (at < size && h[at] < first) {
                /* The start is past ``at``: galloped to (1, 2, 4... places on), then the
                 * last step bisected. */
                Py_ssize_t low = at + 1, step = 1, probe = at + 1;
                while (probe < size && h[probe] < first) {
                    low = probe + 1;
                    step <<= 1;
                    probe = at + step;
                }
                at = register_lower(h, low, probe < size ? probe : size, first);
            }
            table[b] = (uint32_t)at;
        }
        table[buckets] = (uint32_t)size;
        if (released != NULL)
            PyEval_RestoreThread(released);
    }
done:
    PyBuffer_Release(&hashes);
    return out;
}

/* screen_cells(cells) -> bytes: per str of ``cells``, one int64: its length shifted left by
 * 4, or'd with 1 if it has a digit (0-9 or full-width), 2 if an "@", 4 if a Chinese
 * character (the code points of normalise.CJK_RANGES), 8 if it is blank (empty or only
 * whitespace: ``not text.strip()``).  match.py's _screen_points computes the same in numpy
 * over the cells' code points (a test compares); here one pass over each str's own
 * storage, without joining and re-encoding every cell of a table. */
static int64_t register_screen_char(Py_UCS4 c) {
    if (c >= '0' && c <= '9')
        return 1;
    if (c == '@')
        return 2;
    if (c < 0x3400)
        return 0;
    if (c >= 0xFF10 && c <= 0xFF19)
        return 1;
    if (c <= 0x9FFF || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F))
        return 4;
    return 0;
}

static PyObject *screen_cells(PyObject *module, PyObject *arg) {
    (void)module;
    PyObject *seq = PySequence_Fast(arg, "cells must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    int64_t *at = (int64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "cells must be str");
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        int64_t flags = 0;
        int blank = 1;
        if (kind == PyUnicode_1BYTE_KIND) {
            /* Below U+0100: only ASCII digits and "@" can count. */
            const Py_UCS1 *chars = data;
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_UCS1 c = chars[i];
                if (c >= '0' && c <= '9')
                    flags |= 1;
                else if (c == '@')
                    flags |= 2;
                if (blank && !Py_UNICODE_ISSPACE(c))
                    blank = 0;
            }
        } else {
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                flags |= register_screen_char(c);
                if (blank && !Py_UNICODE_ISSPACE(c))
                    blank = 0;
            }
        }
        at[k] = ((int64_t)n << 4) | flags | (blank ? 8 : 0);
    }
    Py_DECREF(seq);
    return out;
}


/* keyed_hashes(key, fields, values) -> bytes: for each str of ``values``, the 8-byte keyed
 * BLAKE2b (RFC 7693) of its field's byte (``fields``, one per value) then its UTF-8, with
 * ``key``; little-endian, back to back.  What digest.py's Digester computes through
 * hashlib, which costs a state copy, an encode and a digest object per value (0.6 us; here
 * 0.1 us); a test compares the two on random keys and values. */
static const uint64_t blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

/* A little-endian word of the block: one load on a little-endian machine (gcc -O2 leaves
 * the byte loop as eight loads and shifts: a quarter of the compression's time). */
static uint64_t blake2b_load(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

#define BLAKE2B_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BLAKE2B_G(a, b, c, d, x, y)                                                            \
    do {                                                                                       \
        v[a] = v[a] + v[b] + (x);                                                              \
        v[d] = BLAKE2B_ROTR(v[d] ^ v[a], 32);                                                  \
        v[c] = v[c] + v[d];                                                                    \
        v[b] = BLAKE2B_ROTR(v[b] ^ v[c], 24);                                                  \
        v[a] = v[a] + v[b] + (y);                                                              \
        v[d] = BLAKE2B_ROTR(v[d] ^ v[a], 16);                                                  \
        v[c] = v[c] + v[d];                                                                    \
        v[b] = BLAKE2B_ROTR(v[b] ^ v[c], 63);                                                  \
    } while (0)

/* One 128-byte block into the state ``h``; ``count``: bytes hashed so far, this block's
 * included (never 2^64 here). */
static void blake2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t count,
                             int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = blake2b_iv[i];
    }
    v[12] ^= count;
    if (last)
        v[14] = ~v[14];
    for (int i = 0; i < 16; i++)
        m[i] = blake2b_load(block + 8 * i);
    /* The twelve rounds written out, as the reference code does: with each round's sigma
     * a constant, the message words are picked at compile time and stay in registers (a
     * loop over rounds reads them through the table: twice the time, -O2 not unrolling). */
#define BLAKE2B_ROUND(r)                                                                       \
    do {                                                                                       \
        BLAKE2B_G(0, 4, 8, 12, m[blake2b_sigma[r][0]], m[blake2b_sigma[r][1]]);                \
        BLAKE2B_G(1, 5, 9, 13, m[blake2b_sigma[r][2]], m[blake2b_sigma[r][3]]);                \
        BLAKE2B_G(2, 6, 10, 14, m[blake2b_sigma[r][4]], m[blake2b_sigma[r][5]]);               \
        BLAKE2B_G(3, 7, 11, 15, m[blake2b_sigma[r][6]], m[blake2b_sigma[r][7]]);               \
        BLAKE2B_G(0, 5, 10, 15, m[blake2b_sigma[r][8]], m[blake2b_sigma[r][9]]);               \
        BLAKE2B_G(1, 6, 11, 12, m[blake2b_sigma[r][10]], m[blake2b_sigma[r][11]]);             \
        BLAKE2B_G(2, 7, 8, 13, m[blake2b_sigma[r][12]], m[blake2b_sigma[r][13]]);              \
        BLAKE2B_G(3, 4, 9, 14, m[blake2b_sigma[r][14]], m[blake2b_sigma[r][15]]);              \
    } while (0)
    BLAKE2B_ROUND(0);
    BLAKE2B_ROUND(1);
    BLAKE2B_ROUND(2);
    BLAKE2B_ROUND(3);
    BLAKE2B_ROUND(4);
    BLAKE2B_ROUND(5);
    BLAKE2B_ROUND(6);
    BLAKE2B_ROUND(7);
    BLAKE2B_ROUND(8);
    BLAKE2B_ROUND(9);
    BLAKE2B_ROUND(10);
    BLAKE2B_ROUND(11);
#undef BLAKE2B_ROUND
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

/* ``keyed``: the state once the key block of ``key`` (1 to 64 bytes) is hashed, from which
 * every message starts. */
static void blake2b_keyed_state(const uint8_t *key, size_t len, uint64_t keyed[8]) {
    uint8_t block[128];
    memcpy(keyed, blake2b_iv, 8 * sizeof(uint64_t));
    keyed[0] ^= 0x01010000ULL ^ ((uint64_t)len << 8) ^ 8;
    memset(block, 0, sizeof block);
    memcpy(block, key, len);
    blake2b_compress(keyed, block, 128, 0);
}

/* The 8-byte digest, from the ``keyed`` state, of the message ``field``'s byte then the
 * ``size`` bytes of ``value``, written to ``out`` little-endian. */
static void blake2b_field_digest(const uint64_t keyed[8], uint8_t field, const char *value,
                                 Py_ssize_t size, uint8_t *out) {
    uint64_t h[8];
    uint8_t block[128];
    memcpy(h, keyed, sizeof h);
    /* The last block is final even when full. */
    uint64_t total = 1 + (uint64_t)size, done_bytes = 0;
    Py_ssize_t from = 0; /* bytes of value used */
    block[0] = field;
    size_t fill = 1;
    for (;;) {
        size_t take = (size_t)(size - from) < 128 - fill ? (size_t)(size - from) : 128 - fill;
        memcpy(block + fill, value + from, take);
        from += (Py_ssize_t)take;
        fill += take;
        if (done_bytes + fill == total) {
            memset(block + fill, 0, 128 - fill);
            blake2b_compress(h, block, 128 + total, 1);
            break;
        }
        done_bytes += 128;
        blake2b_compress(h, block, 128 + done_bytes, 0);
        fill = 0;
    }
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(h[0] >> (8 * i));
}

/* Several messages' last (and only) blocks compressed at once, a message a lane of the
 * CPU's vector registers: the twelve rounds cost as many instructions for four messages
 * as for one, where the scalar compression is most of a register lookup (607 keys of a
 * 200-row sheet: 1,700 instructions a key, 100 us).  Built for AVX2 (four lanes) and for
 * AVX-512VL (the same four lanes with a rotate instruction), picked at run time; without
 * either (or another compiler or CPU), every message goes through blake2b_field_digest.
 * Only a message of one block (field byte and value up to 128 bytes: every name, number
 * and address a register holds) takes a lane; tests compare every digest with hashlib's. */
#if defined(__GNUC__) && defined(__x86_64__)
#define BLAKE2B_LANES 4
typedef uint64_t blake2b_lanes __attribute__((vector_size(8 * BLAKE2B_LANES)));

/* The digests (h[0] after the final block) of BLAKE2B_LANES messages of one block each
 * (``blocks``, zero-padded; ``sizes``: their lengths), from the ``keyed`` state. */
#define BLAKE2B_FINAL_LANES(name, isa)                                                         \
    __attribute__((target(isa))) static void name(const uint64_t keyed[8],                     \
                                                  const uint8_t (*blocks)[128],                \
                                                  const uint64_t sizes[BLAKE2B_LANES],         \
                                                  uint64_t out[BLAKE2B_LANES]) {               \
        blake2b_lanes v[16], m[16];                                                            \
        for (int i = 0; i < 8; i++) {                                                          \
            for (int j = 0; j < BLAKE2B_LANES; j++) {                                          \
                v[i][j] = keyed[i];                                                            \
                v[i + 8][j] = blake2b_iv[i];                                                   \
            }                                                                                  \
        }                                                                                      \
        for (int j = 0; j < BLAKE2B_LANES; j++)                                                \
            v[12][j] ^= 128 + sizes[j];                                                        \
        v[14] = ~v[14];                                                                        \
        for (int i = 0; i < 16; i++) {                                                         \
            for (int j = 0; j < BLAKE2B_LANES; j++)                                            \
                m[i][j] = blake2b_load(blocks[j] + 8 * i);                                     \
        }                                                                                      \
        for (int r = 0; r < 12; r++) {                                                         \
            const uint8_t *s = blake2b_sigma[r];                                               \
            BLAKE2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);                                          \
            BLAKE2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);                                          \
            BLAKE2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);                                         \
            BLAKE2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);                                         \
            BLAKE2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);                                         \
            BLAKE2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);                                       \
            BLAKE2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);                                        \
            BLAKE2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);                                        \
        }                                                                                      \
        for (int j = 0; j < BLAKE2B_LANES; j++)                                                \
            out[j] = keyed[0] ^ v[0][j] ^ v[8][j];                                             \
    }
BLAKE2B_FINAL_LANES(blake2b_final_avx2, "avx2")
BLAKE2B_FINAL_LANES(blake2b_final_avx512, "avx512f,avx512vl")
#undef BLAKE2B_FINAL_LANES

typedef void (*blake2b_final_lanes)(const uint64_t *, const uint8_t (*)[128], const uint64_t *,
                                    uint64_t *);

static int blake2b_lanes_asked = 0;
static blake2b_final_lanes blake2b_lanes_picked = NULL;

/* The lane-parallel final of this CPU (or the one `hash_lanes` set), or NULL. */
static blake2b_final_lanes blake2b_lanes_final(void) {
    if (!blake2b_lanes_asked) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f"))
            blake2b_lanes_picked = blake2b_final_avx512;
        else if (__builtin_cpu_supports("avx2"))
            blake2b_lanes_picked = blake2b_final_avx2;
        blake2b_lanes_asked = 1;
    }
    return blake2b_lanes_picked;
}

/* hash_lanes(name) -> the name of the final in use after setting it: "avx512", "avx2" or
 * "scalar" (every message one at a time); None: this CPU's pick.  The pick is made once per
 * process from what the CPU offers, so a test names each in turn to compare all three with
 * hashlib on whatever machine runs it; ValueError for one the CPU lacks. */
static PyObject *hash_lanes(PyObject *module, PyObject *arg) {
    (void)module;
    if (arg == Py_None) {
        blake2b_lanes_asked = 0;
    } else if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "hash_lanes: a name or None");
        return NULL;
    } else {
        __builtin_cpu_init();
        if (PyUnicode_CompareWithASCIIString(arg, "scalar") == 0) {
            blake2b_lanes_picked = NULL;
        } else if (PyUnicode_CompareWithASCIIString(arg, "avx2") == 0 &&
                   __builtin_cpu_supports("avx2")) {
            blake2b_lanes_picked = blake2b_final_avx2;
        } else if (PyUnicode_CompareWithASCIIString(arg, "avx512") == 0 &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f")) {
            blake2b_lanes_picked = blake2b_final_avx512;
        } else {
            PyErr_Format(PyExc_ValueError, "hash_lanes: %R is not offered here", arg);
            return NULL;
        }
        blake2b_lanes_asked = 1;
    }
    blake2b_final_lanes in_use = blake2b_lanes_final();
    return PyUnicode_FromString(in_use == blake2b_final_avx512 ? "avx512"
                                : in_use == blake2b_final_avx2 ? "avx2"
                                                               : "scalar");
}
#else
#define BLAKE2B_LANES 1
typedef void (*blake2b_final_lanes)(const uint64_t *, const uint8_t (*)[128], const uint64_t *,
                                    uint64_t *);
static blake2b_final_lanes blake2b_lanes_final(void) { return NULL; }

static PyObject *hash_lanes(PyObject *module, PyObject *arg) {
    (void)module;
    if (arg == Py_None || (PyUnicode_Check(arg) &&
                           PyUnicode_CompareWithASCIIString(arg, "scalar") == 0))
        return PyUnicode_FromString("scalar");
    PyErr_Format(PyExc_ValueError, "hash_lanes: %R is not offered here", arg);
    return NULL;
}
#endif

/* Messages digested as blake2b_field_digest does, those of one block gathered into the
 * lanes of the vector final (when there is one) and digested BLAKE2B_LANES at a time. */
typedef struct {
    const uint64_t *keyed;
    blake2b_final_lanes final;
    int used;
    uint8_t blocks[BLAKE2B_LANES][128];
    uint64_t sizes[BLAKE2B_LANES];
    uint8_t *outs[BLAKE2B_LANES];
} Blake2bBatch;

static void blake2b_batch_init(Blake2bBatch *b, const uint64_t keyed[8]) {
    b->keyed = keyed;
    b->final = blake2b_lanes_final();
    b->used = 0;
}

/* The lanes filled so far digested into their outputs (the empty ones hash zeros). */
static void blake2b_batch_flush(Blake2bBatch *b) {
    if (b->used == 0)
        return;
    uint64_t digests[BLAKE2B_LANES];
    for (int j = b->used; j < BLAKE2B_LANES; j++) {
        memset(b->blocks[j], 0, 128);
        b->sizes[j] = 0;
    }
    b->final(b->keyed, (const uint8_t (*)[128])b->blocks, b->sizes, digests);
    for (int j = 0; j < b->used; j++) {
        for (int i = 0; i < 8; i++)
            b->outs[j][i] = (uint8_t)(digests[j] >> (8 * i));
    }
    b->used = 0;
}

/* blake2b_field_digest(keyed, field, value, size, out), now or at the next flush: ``value``
 * must stay valid until then. */
static void blake2b_batch_add(Blake2bBatch *b, uint8_t field, const char *value,
                              Py_ssize_t size, uint8_t *out) {
    if (b->final == NULL || size > 127) {
        blake2b_field_digest(b->keyed, field, value, size, out);
        return;
    }
    uint8_t *block = b->blocks[b->used];
    block[0] = field;
    memcpy(block + 1, value, (size_t)size);
    memset(block + 1 + size, 0, (size_t)(127 - size));
    b->sizes[b->used] = 1 + (uint64_t)size;
    b->outs[b->used] = out;
    if (++b->used == BLAKE2B_LANES)
        blake2b_batch_flush(b);
}

static PyObject *keyed_hashes(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer key, fields;
    PyObject *values;
    if (!PyArg_ParseTuple(args, "y*y*O", &key, &fields, &values))
        return NULL;
    PyObject *out = NULL, *seq = NULL;
    if (key.len < 1 || key.len > 64) {
        PyErr_SetString(PyExc_ValueError, "keyed_hashes: the key must be 1 to 64 bytes");
        goto done;
    }
    seq = PySequence_Fast(values, "values must be a sequence");
    if (seq == NULL)
        goto done;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (fields.len != count) {
        PyErr_SetString(PyExc_ValueError, "keyed_hashes: one field byte per value");
        goto done;
    }
    uint64_t keyed[8];
    blake2b_keyed_state(key.buf, (size_t)key.len, keyed);
    out = PyBytes_FromStringAndSize(NULL, count * 8);
    if (out == NULL)
        goto done;
    uint8_t *at = (uint8_t *)PyBytes_AS_STRING(out);
    const uint8_t *field = fields.buf;
    /* The values' UTF-8 stays valid until the flush: the str objects are held by seq. */
    Blake2bBatch batch;
    blake2b_batch_init(&batch, keyed);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "values must be str");
            Py_CLEAR(out);
            goto done;
        }
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size); /* raises on surrogates */
        if (utf8 == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        blake2b_batch_add(&batch, field[k], utf8, size, at + 8 * k);
    }
    blake2b_batch_flush(&batch);
done:
    Py_XDECREF(seq);
    PyBuffer_Release(&key);
    PyBuffer_Release(&fields);
    return out;
}

/* ==== End of register matching helpers ================================================= */


/* ==== Register matching, second block (reg2): unique table cells and whole-cell spans =====
 *
 * unique_keys(cells, at) -> (keys, found, unsure): for the cells at the int64 positions
 * ``at``, the key (a field's number as a character, then the normal form: match.py's
 * _key_of) of what normalise.hkid_or_phone(text.strip()) reads each as, where that is
 * decided cheaply: ASCII text not starting with "(" and without "@", whose stripped form is
 * eight digits (a phone, as it is) or starts with no digit and no "+" (an HKID, folded as
 * normalise._hkid_folded folds it, or nothing: a record id "V-0000001", a word).  ``keys``
 * are those keys, ``found`` (int64s) the indices into ``at`` they are for, in order; the
 * indices of the cells that are none of them are in neither list; ``unsure`` (int64s) holds
 * the indices left to Python (emails, other phone shapes, full-width forms).  A leaked
 * table's HKID, phone and id columns are 45,000 cells for 15,070 rows: Python's shape tests
 * and a tuple per cell cost 25 ms there, and the tuples wake the garbage collector.
 */

static int register_is_upper(Py_UCS1 c) { return c >= 'A' && c <= 'Z'; }
static int register_is_digit(Py_UCS1 c) { return c >= '0' && c <= '9'; }

/* _hkid_folded of the ASCII ``s`` (``n`` long): upper-cased, whitespace and brackets
 * dropped, [A-Z]{1,2}[0-9]{6}[0-9A]; its length into ``out`` (0: no HKID). */
static Py_ssize_t register_hkid_folded(const Py_UCS1 *s, Py_ssize_t n, Py_UCS1 out[9]) {
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS1 c = s[i];
        if (Py_UNICODE_ISSPACE(c) || c == '(' || c == ')' || c == '[' || c == ']')
            continue;
        if (k == 9)
            return 0;
        out[k++] = c >= 'a' && c <= 'z' ? (Py_UCS1)(c - 32) : c;
    }
    Py_ssize_t letters = k - 7;
    if (letters < 1 || letters > 2)
        return 0;
    for (Py_ssize_t i = 0; i < letters; i++)
        if (!register_is_upper(out[i]))
            return 0;
    for (Py_ssize_t i = letters; i < letters + 6; i++)
        if (!register_is_digit(out[i]))
            return 0;
    return register_is_digit(out[k - 1]) || out[k - 1] == 'A' ? k : 0;
}

/* The key of ``field`` and the ASCII ``chars`` (``n`` long): a new str. */
static PyObject *register_key(Py_UCS1 field, const Py_UCS1 *chars, Py_ssize_t n) {
    PyObject *key = PyUnicode_New(n + 1, 127);
    if (key == NULL)
        return NULL;
    Py_UCS1 *to = PyUnicode_1BYTE_DATA(key);
    to[0] = field;
    memcpy(to + 1, chars, (size_t)n);
    return key;
}

/* The (keys, found, unsure) answer of unique_keys and other_keys: each text keyed by a
 * function answering 1 (a key, in *key), 0 (no such field), -1 (unsure: Python decides;
 * also every non-ASCII text) or -2 (an error set). */
typedef struct {
    PyObject *keys;
    int64_t *found, *unsure;
    Py_ssize_t founds, unsures;
} KeyedTexts;

typedef int (*TextKeyer)(PyObject *text, PyObject **key);

static int keyed_texts_start(KeyedTexts *k, Py_ssize_t n) {
    k->founds = k->unsures = 0;
    k->keys = PyList_New(0);
    k->found = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    k->unsure = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (k->keys == NULL || k->found == NULL || k->unsure == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Key text number j; -1 with an error set. */
static int keyed_texts_take(KeyedTexts *k, PyObject *text, Py_ssize_t j, TextKeyer keyer) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "a cell must be a str");
        return -1;
    }
    PyObject *key = NULL;
    int got = PyUnicode_IS_ASCII(text) ? keyer(text, &key) : -1;
    if (got == -2)
        return -1;
    if (got == -1) {
        k->unsure[k->unsures++] = j;
    } else if (got == 1) {
        int failed = PyList_Append(k->keys, key);
        Py_DECREF(key);
        if (failed)
            return -1;
        k->found[k->founds++] = j;
    }
    return 0;
}

static PyObject *keyed_texts_answer(const KeyedTexts *k) {
    return Py_BuildValue("(Oy#y#)", k->keys, (const char *)k->found,
                         k->founds * (Py_ssize_t)sizeof(int64_t), (const char *)k->unsure,
                         k->unsures * (Py_ssize_t)sizeof(int64_t));
}

static void keyed_texts_end(KeyedTexts *k) {
    PyMem_Free(k->found);
    PyMem_Free(k->unsure);
    Py_XDECREF(k->keys);
}

/* Start ``k`` and key the str of the sequence ``seq`` by ``keyer``: each of them, or, with
 * ``where``, the n at those int64 positions (each checked against the sequence's size;
 * ``name`` says whose range error it is).  The walk of unique_keys and unique_codes, of
 * other_keys and other_codes; -1 with an error set. */
static int keyed_texts_walk(KeyedTexts *k, PyObject *seq, const int64_t *where, Py_ssize_t n,
                            TextKeyer keyer, const char *name) {
    Py_ssize_t size = PySequence_Fast_GET_SIZE(seq);
    if (where == NULL)
        n = size;
    if (keyed_texts_start(k, n) != 0)
        return -1;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = j;
        if (where != NULL) {
            if (where[j] < 0 || where[j] >= size) {
                PyErr_Format(PyExc_IndexError, "%s: a position out of range", name);
                return -1;
            }
            i = (Py_ssize_t)where[j];
        }
        if (keyed_texts_take(k, PySequence_Fast_GET_ITEM(seq, i), j, keyer) != 0)
            return -1;
    }
    return 0;
}

static int register_number(PyObject *keys, PyObject *text, Py_ssize_t *next, int64_t *number);

/* The codes of other_codes and unique_codes: ``k``'s found keys numbered in the dict
 * ``keys`` as number_keys numbers them (from ``next``), and ``size`` int64s, each its key's
 * number plus one where a key was found (found number j at ``where[j]``, or at j without
 * ``where``; a position given twice is packed as numpy's assignment packs it: the last
 * wins), 0 elsewhere.  NULL with an error set. */
static PyObject *keyed_texts_codes(const KeyedTexts *k, PyObject *keys, Py_ssize_t next,
                                   Py_ssize_t size, const int64_t *where) {
    PyObject *codes = PyBytes_FromStringAndSize(NULL, size * (Py_ssize_t)sizeof(int64_t));
    if (codes == NULL)
        return NULL;
    int64_t *code = (int64_t *)PyBytes_AS_STRING(codes);
    memset(code, 0, (size_t)size * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < k->founds; i++) {
        int64_t number;
        if (register_number(keys, PyList_GET_ITEM(k->keys, i), &next, &number) < 0) {
            Py_DECREF(codes);
            return NULL;
        }
        code[where != NULL ? where[k->found[i]] : k->found[i]] = number + 1;
    }
    return codes;
}

/* What unique_keys makes of one ASCII text: 1 a key (into *key), 0 none, -1 unsure, -2 an
 * error. */
static int register_unique_key(PyObject *text, PyObject **key) {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t a = 0, b = PyUnicode_GET_LENGTH(text);
    if (memchr(s, '@', (size_t)b) != NULL)
        return -1;
    while (a < b && Py_UNICODE_ISSPACE(s[a]))
        a++;
    while (b > a && Py_UNICODE_ISSPACE(s[b - 1]))
        b--;
    Py_ssize_t n = b - a;
    if (n == 0 || s[a] == '(')
        return -1;
    if (s[a] == '+' || register_is_digit(s[a])) {
        /* A phone number: eight digits are one as they are; other shapes go to Python. */
        if (n != 8)
            return -1;
        for (Py_ssize_t i = a; i < b; i++)
            if (!register_is_digit(s[i]))
                return -1;
        *key = register_key(2, s + a, n); /* Field.PHONE */
        return *key == NULL ? -2 : 1;
    }
    /* No phone starts so: an HKID (at most 16 long, no hyphen) or nothing. */
    if (n > 16 || memchr(s + a, '-', (size_t)n) != NULL)
        return 0;
    Py_UCS1 folded[9];
    Py_ssize_t k = register_hkid_folded(s + a, n, folded);
    if (k == 0)
        return 0;
    *key = register_key(1, folded, k); /* Field.HKID */
    return *key == NULL ? -2 : 1;
}

static PyObject *unique_keys(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *cells;
    Py_buffer at;
    if (!PyArg_ParseTuple(args, "Oy*", &cells, &at))
        return NULL;
    PyObject *seq = NULL, *out = NULL;
    KeyedTexts k = {NULL, NULL, NULL, 0, 0};
    Py_ssize_t n = at.len / (Py_ssize_t)sizeof(int64_t);
    if (at.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "unique_keys: at must be int64s");
        goto done;
    }
    seq = PySequence_Fast(cells, "cells must be a sequence");
    if (seq == NULL ||
        keyed_texts_walk(&k, seq, at.buf, n, register_unique_key, "unique_keys") != 0)
        goto done;
    out = keyed_texts_answer(&k);
done:
    keyed_texts_end(&k);
    Py_XDECREF(seq);
    PyBuffer_Release(&at);
    return out;
}

/* span_units(units, findings, detectors) -> bytes: per finding, one int64: the index of
 * the unit it was found in (the first unit of its place, ``where``; of several units with one
 * place, the first whose text holds its value at its offsets), or -1 when it is skipped: its
 * detector is not a key of ``detectors``, no unit has its place, or its value is a whole
 * cell of that unit's row (the cell itself is looked up).  match.py's _spans_py does the same
 * in Python, 190 ns a finding; a 15,070-row table has 105,000 findings, nearly all of them
 * whole cells.  Slots of the exact types met are read at their offsets, the detector and the
 * place of the finding before are remembered (findings come place by place). */

/* ``value in cells``: a tuple of str compared by length and storage first. */
static int register_holds(PyObject *cells, PyObject *value) {
    if (!PyTuple_CheckExact(cells) || !PyUnicode_CheckExact(value))
        return PySequence_Contains(cells, value);
    Py_ssize_t length = PyUnicode_GET_LENGTH(value);
    int kind = PyUnicode_KIND(value);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cells); i++) {
        PyObject *cell = PyTuple_GET_ITEM(cells, i);
        if (cell == value)
            return 1;
        if (PyUnicode_CheckExact(cell)) {
            /* Equal str have one length, one kind and the same code units. */
            if (PyUnicode_GET_LENGTH(cell) == length && PyUnicode_KIND(cell) == kind &&
                memcmp(PyUnicode_DATA(cell), PyUnicode_DATA(value), (size_t)(length * kind)) == 0)
                return 1;
            continue;
        }
        int same = PyObject_RichCompareBool(cell, value, Py_EQ);
        if (same != 0)
            return same;
    }
    return 0;
}

static PyObject *span_units(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *findings, *detectors;
    if (!PyArg_ParseTuple(args, "OOO", &units, &findings, &detectors))
        return NULL;
    static PyObject *names[6]; /* detector, where, value; where, cells, text */
    static const char *const spelled[6] = {"detector", "where", "value", "where", "cells", "text"};
    for (int i = 0; i < 6; i++) {
        if (names[i] == NULL && (names[i] = PyUnicode_InternFromString(spelled[i])) == NULL)
            return NULL;
    }
    PyObject *const *finding_names = names, *const *unit_names = names + 3;
    RegisterSlots finding_slots = {NULL, {-1, -1, -1}}, unit_slots = {NULL, {-1, -1, -1}};
    PyObject *unit_seq = NULL, *seq = NULL, *first = NULL, *out = NULL;
    int64_t *next = NULL, *last = NULL;
    unit_seq = PySequence_Fast(units, "units must be a sequence");
    seq = PySequence_Fast(findings, "findings must be a sequence");
    first = PyDict_New();
    if (unit_seq == NULL || seq == NULL || first == NULL)
        goto done;
    Py_ssize_t n_units = PySequence_Fast_GET_SIZE(unit_seq), n = PySequence_Fast_GET_SIZE(seq);
    /* The units of each place: the first in ``first``, each one's next in ``next``. */
    next = PyMem_Malloc((size_t)(n_units ? n_units : 1) * sizeof(int64_t));
    last = PyMem_Malloc((size_t)(n_units ? n_units : 1) * sizeof(int64_t));
    if (next == NULL || last == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t u = 0; u < n_units; u++) {
        PyObject *where = register_attr(PySequence_Fast_GET_ITEM(unit_seq, u), &unit_slots,
                                        unit_names, 0);
        if (where == NULL)
            goto done;
        PyObject *index = PyLong_FromSsize_t(u);
        PyObject *had = index == NULL ? NULL : PyDict_SetDefault(first, where, index);
        Py_DECREF(where);
        Py_XDECREF(index);
        if (had == NULL)
            goto done;
        Py_ssize_t v = PyLong_AsSsize_t(had);
        next[u] = -1;
        last[u] = u;
        if (v != u) {
            next[last[v]] = u;
            last[v] = u;
        }
    }
    out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (out == NULL)
        goto done;
    int64_t *unit_of = (int64_t *)PyBytes_AS_STRING(out);
    /* The last detectors asked about (borrowed: the findings hold them) and the answers. */
    PyObject *asked[8] = {NULL};
    int answer[8] = {0}, asks = 0;
    PyObject *last_where = NULL; /* a new reference */
    Py_ssize_t last_unit = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PySequence_Fast_GET_ITEM(seq, i);
        unit_of[i] = -1;
        /* Findings lie all over the heap: their objects, and their values' four ahead,
         * are fetched before they are read. */
        if (i + 8 < n)
            __builtin_prefetch(PySequence_Fast_GET_ITEM(seq, i + 8));
        if (i + 4 < n && finding_slots.type != NULL && finding_slots.offset[2] >= 0) {
            PyObject *ahead = PySequence_Fast_GET_ITEM(seq, i + 4);
            if (Py_TYPE(ahead) == finding_slots.type) {
                PyObject *value = *(PyObject **)((char *)ahead + finding_slots.offset[2]);
                if (value != NULL)
                    __builtin_prefetch(value);
            }
        }
        PyObject *detector = register_attr(f, &finding_slots, finding_names, 0);
        if (detector == NULL)
            goto fail;
        int known = -1;
        for (int k = 0; k < asks && k < 8; k++) {
            if (asked[k] == detector) {
                known = answer[k];
                break;
            }
        }
        if (known < 0) {
            known = PyDict_Check(detectors) ? PyDict_Contains(detectors, detector)
                                            : PySequence_Contains(detectors, detector);
            if (known >= 0) {
                asked[asks % 8] = detector;
                answer[asks % 8] = known;
                asks++;
            }
        }
        Py_DECREF(detector); /* still held by the finding */
        if (known < 0)
            goto fail;
        if (!known)
            continue;
        PyObject *where = register_attr(f, &finding_slots, finding_names, 1);
        if (where == NULL)
            goto fail;
        Py_ssize_t u;
        if (where == last_where) {
            u = last_unit;
            Py_DECREF(where);
        } else {
            PyObject *index = PyDict_GetItemWithError(first, where);
            if (index == NULL && PyErr_Occurred()) {
                Py_DECREF(where);
                goto fail;
            }
            u = index == NULL ? -1 : PyLong_AsSsize_t(index);
            Py_XSETREF(last_where, where);
            last_unit = u;
        }
        if (u < 0)
            continue;
        PyObject *value = register_attr(f, &finding_slots, finding_names, 2);
        if (value == NULL)
            goto fail;
        if (next[u] >= 0) {
            /* A place of several units: the first whose text holds the value there. */
            PyObject *start = PyObject_GetAttrString(f, "start");
            PyObject *end = start == NULL ? NULL : PyObject_GetAttrString(f, "end");
            PyObject *cut = end == NULL ? NULL : PySlice_New(start, end, NULL);
            Py_XDECREF(start);
            Py_XDECREF(end);
            Py_ssize_t v = u;
            u = -1;
            for (; cut != NULL && v >= 0; v = next[v]) {
                PyObject *text = register_attr(PySequence_Fast_GET_ITEM(unit_seq, v),
                                               &unit_slots, unit_names, 2);
                PyObject *held = text == NULL ? NULL : PyObject_GetItem(text, cut);
                Py_XDECREF(text);
                int same = held == NULL ? -1 : PyObject_RichCompareBool(held, value, Py_EQ);
                Py_XDECREF(held);
                if (same != 0) {
                    u = same > 0 ? v : -2;
                    break;
                }
            }
            Py_XDECREF(cut);
            if (cut == NULL || u == -2) {
                Py_DECREF(value);
                goto fail;
            }
            if (u < 0) {
                Py_DECREF(value);
                continue;
            }
        }
        PyObject *cells = register_attr(PySequence_Fast_GET_ITEM(unit_seq, u), &unit_slots,
                                        unit_names, 1);
        int whole = cells == NULL ? -1 : cells == Py_None ? 0 : register_holds(cells, value);
        Py_XDECREF(cells);
        Py_DECREF(value);
        if (whole < 0)
            goto fail;
        if (!whole)
            unit_of[i] = u;
    }
    Py_XDECREF(last_where);
    goto done;
fail:
    Py_XDECREF(last_where);
    Py_CLEAR(out);
done:
    PyMem_Free(next);
    PyMem_Free(last);
    Py_XDECREF(first);
    Py_XDECREF(seq);
    Py_XDECREF(unit_seq);
    return out;
}

/* row_cells(units, rows) -> (texts, lengths, tables, firsts): the table rows at the int64
 * positions ``rows`` of ``units`` flattened: every cell's text (``unit.cells or ()``), each
 * row's cell count, each row's table (numbered in order of first appearance) and the index
 * into ``rows`` of each table's first row.  A row's table is its place, ``where``, cut
 * before the match of match._ROW_NUMBER, ``R[0-9]+$``, if any: the maximal run of ASCII
 * digits at its end (or before a final newline, as ``$`` allows) preceded by an "R".
 * match._row_cells_py does the same in Python (a test compares), 0.5 us a row. */
static PyObject *row_cells(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units;
    Py_buffer rows;
    if (!PyArg_ParseTuple(args, "Oy*", &units, &rows))
        return NULL;
    static PyObject *names[3]; /* where, cells */
    static const char *const spelled[2] = {"where", "cells"};
    for (int i = 0; i < 2; i++) {
        if (names[i] == NULL && (names[i] = PyUnicode_InternFromString(spelled[i])) == NULL) {
            PyBuffer_Release(&rows);
            return NULL;
        }
    }
    RegisterSlots slots = {NULL, {-1, -1, -1}};
    PyObject *seq = NULL, *texts = NULL, *tables = NULL, *out = NULL, *table = NULL;
    int64_t *lengths = NULL, *table_of = NULL, *firsts = NULL;
    Py_ssize_t n = rows.len / (Py_ssize_t)sizeof(int64_t), n_tables = 0, table_id = -1;
    if (rows.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "row_cells: rows must be int64s");
        goto done;
    }
    seq = PySequence_Fast(units, "units must be a sequence");
    texts = PyList_New(0);
    tables = PyDict_New();
    lengths = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    table_of = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    firsts = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (seq == NULL || texts == NULL || tables == NULL || lengths == NULL || table_of == NULL ||
        firsts == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    const int64_t *at = rows.buf;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (at[j] < 0 || at[j] >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_IndexError, "row_cells: a row out of range");
            goto done;
        }
        PyObject *unit = PySequence_Fast_GET_ITEM(seq, at[j]);
        PyObject *cells = register_attr(unit, &slots, names, 1);
        if (cells == NULL)
            goto done;
        int filled = PyObject_IsTrue(cells);
        PyObject *items = filled > 0 ? PySequence_Fast(cells, "cells must be a sequence") : NULL;
        Py_DECREF(cells);
        if (filled < 0 || (filled > 0 && items == NULL))
            goto done;
        lengths[j] = 0;
        if (items != NULL) {
            Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
            for (Py_ssize_t k = 0; k < count; k++) {
                if (PyList_Append(texts, PySequence_Fast_GET_ITEM(items, k)) < 0) {
                    Py_DECREF(items);
                    goto done;
                }
            }
            lengths[j] = count;
            Py_DECREF(items);
        }
        PyObject *where = register_attr(unit, &slots, names, 0);
        if (where == NULL)
            goto done;
        if (!PyUnicode_Check(where)) {
            Py_DECREF(where);
            PyErr_SetString(PyExc_TypeError, "a unit's where must be a str");
            goto done;
        }
        Py_ssize_t size = PyUnicode_GET_LENGTH(where), end = size, cut = size;
        int kind = PyUnicode_KIND(where);
        const void *data = PyUnicode_DATA(where);
        if (end > 0 && PyUnicode_READ(kind, data, end - 1) == '\n')
            end--;
        Py_ssize_t d = end;
        while (d > 0 && PyUnicode_READ(kind, data, d - 1) >= '0' &&
               PyUnicode_READ(kind, data, d - 1) <= '9')
            d--;
        if (d < end && d > 0 && PyUnicode_READ(kind, data, d - 1) == 'R')
            cut = d - 1;
        /* Rows of one table follow one another: the last row's table, if it is this one. */
        if (table == NULL || PyUnicode_GET_LENGTH(table) != cut ||
            PyUnicode_Tailmatch(where, table, 0, cut, -1) != 1) {
            PyObject *name = PyUnicode_Substring(where, 0, cut);
            Py_DECREF(where);
            if (name == NULL)
                goto done;
            PyObject *known = PyDict_GetItemWithError(tables, name);
            if (known == NULL) {
                PyObject *id = PyErr_Occurred() ? NULL : PyLong_FromSsize_t(n_tables);
                int failed = id == NULL || PyDict_SetItem(tables, name, id) < 0;
                Py_XDECREF(id);
                if (failed) {
                    Py_DECREF(name);
                    goto done;
                }
                firsts[n_tables] = j;
                table_id = n_tables++;
            } else {
                table_id = PyLong_AsSsize_t(known);
            }
            Py_XSETREF(table, name);
        } else {
            Py_DECREF(where);
        }
        table_of[j] = table_id;
    }
    out = Py_BuildValue("(Oy#y#y#)", texts, (const char *)lengths,
                        n * (Py_ssize_t)sizeof(int64_t), (const char *)table_of,
                        n * (Py_ssize_t)sizeof(int64_t), (const char *)firsts,
                        n_tables * (Py_ssize_t)sizeof(int64_t));
done:
    Py_XDECREF(table);
    PyMem_Free(lengths);
    PyMem_Free(table_of);
    PyMem_Free(firsts);
    Py_XDECREF(tables);
    Py_XDECREF(texts);
    Py_XDECREF(seq);
    PyBuffer_Release(&rows);
    return out;
}

/* untracked(obj) -> obj, no longer tracked by the garbage collector if nothing it refers
 * to can be (str, int, float, None...: what CPython itself checks before it untracks a tuple
 * or a dict); its type does not count, a class holds no instance of its own.  A leak of
 * 15,070 rows makes as many register findings of three str each: tracked, each match moves
 * them into the oldest generation and a full collection, 10-50 ms, follows every few
 * matches; nothing they hold can make a cycle. */
typedef struct {
    PyObject *owner;
    int tracked;
} RegisterRefs;

static int register_visit(PyObject *referent, void *arg) {
    RegisterRefs *refs = arg;
    /* As CPython's _PyObject_GC_MAY_BE_TRACKED: a container, unless an untracked tuple. */
    if (referent != (PyObject *)Py_TYPE(refs->owner) && PyObject_IS_GC(referent) &&
        (!PyTuple_CheckExact(referent) || PyObject_GC_IsTracked(referent)))
        refs->tracked = 1;
    return 0;
}

static PyObject *untracked(PyObject *module, PyObject *obj) {
    (void)module;
    if (PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj) && Py_TYPE(obj)->tp_traverse != NULL) {
        RegisterRefs refs = {obj, 0};
        Py_TYPE(obj)->tp_traverse(obj, register_visit, &refs);
        if (!refs.tracked)
            PyObject_GC_UnTrack(obj);
    }
    return Py_NewRef(obj);
}

/* number_keys(keys, texts, start) -> numbers: the number of each str of ``texts`` in the
 * dict ``keys`` (text -> int), a text not in it added with the next number from ``start``
 * on (int64s).  match.py's Collector._keys_of_texts does the same with dict passes, 0.2 us
 * a key. */
/* The number of ``text`` in the dict ``keys`` (text -> int) into *number, the text added
 * with *next (then counted on) unless it has one; -1 with an error set. */
static int register_number(PyObject *keys, PyObject *text, Py_ssize_t *next, int64_t *number) {
    if (!PyUnicode_Check(text) || PyUnicode_GET_LENGTH(text) < 1) {
        PyErr_SetString(PyExc_TypeError, "number_keys: texts must be non-empty str");
        return -1;
    }
    /* One probe of the dict, inserting the next number unless the text has one: a
     * table's keys are mostly new (a lookup then an insertion probed twice). */
    Py_ssize_t had = PyDict_GET_SIZE(keys);
    PyObject *made = PyLong_FromSsize_t(*next);
    PyObject *held = made == NULL ? NULL : PyDict_SetDefault(keys, text, made);
    if (held == NULL) {
        Py_XDECREF(made);
        return -1;
    }
    int ok = 0;
    if (PyDict_GET_SIZE(keys) > had) { /* inserted (a small int may be shared) */
        *number = (int64_t)(*next)++;
    } else {
        *number = (int64_t)PyLong_AsSsize_t(held);
        ok = *number == -1 && PyErr_Occurred() ? -1 : 0;
    }
    Py_DECREF(made);
    return ok;
}

static PyObject *number_keys(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *keys, *texts;
    Py_ssize_t next;
    if (!PyArg_ParseTuple(args, "O!On", &PyDict_Type, &keys, &texts, &next))
        return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = NULL;
    int64_t *numbers = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (numbers == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < n; j++)
        if (register_number(keys, PySequence_Fast_GET_ITEM(seq, j), &next, &numbers[j]) < 0)
            goto done;
    out = PyBytes_FromStringAndSize((const char *)numbers, n * (Py_ssize_t)sizeof(int64_t));
done:
    PyMem_Free(numbers);
    Py_DECREF(seq);
    return out;
}

/* other_keys(texts) -> (keys, found, unsure): what normalise.other_candidates makes of each
 * str of ``texts`` (a table's distinct cells) that can be settled here: the key (field number
 * as a character, then the normal form) of an English name written in ASCII, nothing for an
 * ASCII text that can be no name, address or date (numbers, HKIDs, record ids, words with a
 * digit); the rest (non-ASCII text, dates, anything that could be an address) is left to
 * Python.  ``found`` and ``unsure``: int64 indices into ``texts``, ``keys`` one per found.
 * The Collector reads 800 cells of a 200-row sheet so, where other_candidates takes 4 us a
 * cell; tests/engine/registers/test_other_keys.py compares the two. */

static const struct {
    const char *word;
    Py_ssize_t len;
} register_titles[] = {{"mr", 2},   {"mrs", 3}, {"ms", 2},   {"miss", 4}, {"mdm", 3},
                       {"madam", 5}, {"dr", 2},  {"prof", 4}, {"sir", 3}};

/* Titles compared by their known lengths first: a strlen of each title for every word of
 * every name was a sixth of other_keys' instructions. */
static int register_is_title(const Py_UCS1 *word, Py_ssize_t n) {
    for (size_t i = 0; i < sizeof register_titles / sizeof register_titles[0]; i++)
        if (register_titles[i].len == n && memcmp(register_titles[i].word, word, (size_t)n) == 0)
            return 1;
    return 0;
}

/* Python's order of two ASCII strs: bytes compared, a prefix first. */
static int register_word_cmp(const Py_UCS1 *a, Py_ssize_t na, const Py_UCS1 *b, Py_ssize_t nb) {
    int c = memcmp(a, b, (size_t)(na < nb ? na : nb));
    return c != 0 ? c : (na > nb) - (na < nb);
}

#define REGISTER_NAME_WORDS 6

/* normalise.name_en of the stripped ASCII ``s`` (``n`` long, at most 60, no digit):
 * lower-cased, apostrophes dropped, its [a-z]+ words but titles, one to six of them, sorted
 * and joined by spaces; 1 the key (into *key), 0 none, -2 an error. */
static int register_name_key(const Py_UCS1 *s, Py_ssize_t n, PyObject **key) {
    Py_UCS1 low[64];
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] != '\'')
            low[m++] = s[i] >= 'A' && s[i] <= 'Z' ? (Py_UCS1)(s[i] + 32) : s[i];
    Py_ssize_t start[REGISTER_NAME_WORDS], size[REGISTER_NAME_WORDS];
    int words = 0;
    for (Py_ssize_t i = 0; i < m;) {
        if (low[i] < 'a' || low[i] > 'z') {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < m && low[j] >= 'a' && low[j] <= 'z')
            j++;
        if (!register_is_title(low + i, j - i)) {
            if (words == REGISTER_NAME_WORDS)
                return 0;
            /* Insertion sort: at most six words. */
            int at = words++;
            while (at > 0 && register_word_cmp(low + start[at - 1], size[at - 1], low + i, j - i) > 0) {
                start[at] = start[at - 1];
                size[at] = size[at - 1];
                at--;
            }
            start[at] = i;
            size[at] = j - i;
        }
        i = j;
    }
    if (words == 0)
        return 0;
    Py_UCS1 norm[64];
    Py_ssize_t k = 0;
    for (int w = 0; w < words; w++) {
        if (w)
            norm[k++] = ' ';
        memcpy(norm + k, low + start[w], (size_t)size[w]);
        k += size[w];
    }
    *key = register_key(4, norm, k); /* Field.NAME_EN */
    return *key == NULL ? -2 : 1;
}

static int register_is_alnum(Py_UCS1 c) {
    return register_is_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* What other_keys makes of one ASCII text: 1 a key (into *key), 0 none, -1 unsure, -2 an
 * error.  The steps of other_candidates and _names_and_addresses, in their order. */
static int register_other_key(PyObject *text, PyObject **key) {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t a = 0, b = PyUnicode_GET_LENGTH(text);
    while (a < b && Py_UNICODE_ISSPACE(s[a]))
        a++;
    while (b > a && Py_UNICODE_ISSPACE(s[b - 1]))
        b--;
    Py_ssize_t n = b - a;
    if (n == 0 || n > 160 || memchr(s + a, '@', (size_t)n) != NULL)
        return 0;
    int digits = 0, letters = 0, separators = 0, runs = 0;
    Py_ssize_t spaces = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS1 c = s[i];
        digits |= register_is_digit(c);
        letters |= (c | 32) >= 'a' && (c | 32) <= 'z';
        separators |= c == '-' || c == '/' || c == '.';
        spaces += c == ' ';
        runs += register_is_alnum(c) && (i == a || !register_is_alnum(s[i - 1]));
    }
    /* A date starts with a digit and has a separator or a month's name. */
    if (digits && n <= 24 && register_is_digit(s[a]) && (letters || separators))
        return -1;
    if (!letters)
        return 0;
    /* An address: a number or several words, and _THREE_WORDS (three alphanumeric runs). */
    if ((digits || spaces >= 3) && runs >= 3)
        return -1;
    if (digits || n > 60)
        return 0;
    return register_name_key(s + a, n, key);
}

static PyObject *other_keys(PyObject *module, PyObject *arg) {
    (void)module;
    PyObject *seq = PySequence_Fast(arg, "texts must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject *out = NULL;
    KeyedTexts k = {NULL, NULL, NULL, 0, 0};
    if (keyed_texts_walk(&k, seq, NULL, 0, register_other_key, "other_keys") == 0)
        out = keyed_texts_answer(&k);
    keyed_texts_end(&k);
    Py_DECREF(seq);
    return out;
}

/* other_codes(keys, texts, start) -> codes, or other_keys(texts)' answer: when other_keys
 * settles every str of ``texts`` (a sheet's ASCII names, ids, HKIDs and numbers: no text
 * left to Python), each found key numbered in the dict ``keys`` as number_keys numbers it
 * (from ``start``), and per text one int64: its key's number plus one, 0 where none
 * (match.Collector._other_codes' packing of a text of one key); else other_keys' (keys,
 * found, unsure), nothing numbered, for Python to merge its own keys in the texts' order.
 * One call where other_keys, number_keys and a dozen numpy passes between them took three
 * (a 200-row sheet's 800 cells; tests/engine/registers/test_present_chain.py compares). */
static PyObject *other_codes(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *keys, *texts;
    Py_ssize_t next;
    if (!PyArg_ParseTuple(args, "O!On", &PyDict_Type, &keys, &texts, &next))
        return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject *out = NULL;
    KeyedTexts k = {NULL, NULL, NULL, 0, 0};
    if (keyed_texts_walk(&k, seq, NULL, 0, register_other_key, "other_codes") == 0)
        out = k.unsures ? keyed_texts_answer(&k)
                        : keyed_texts_codes(&k, keys, next, PySequence_Fast_GET_SIZE(seq), NULL);
    keyed_texts_end(&k);
    Py_DECREF(seq);
    return out;
}

/* unique_codes(keys, cells, at, start) -> codes, or unique_keys(cells, at)' answer: when
 * unique_keys settles every str of ``cells`` at the int64 positions ``at`` (a sheet's
 * HKIDs, local phone numbers and ids: none left to Python), each found key numbered in the
 * dict ``keys`` as number_keys numbers it (from ``start``), and per cell of ``cells`` one
 * int64: its key's number plus one, 0 where none (match.Collector._unique_codes_at's
 * packing when no number is flagged international, which only Python's reading flags);
 * else unique_keys' (keys, found, unsure), nothing numbered.  One call where unique_keys,
 * number_keys and the numpy passes between them took three (test_present_chain.py compares). */
static PyObject *unique_codes(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *keys, *cells;
    Py_buffer at;
    Py_ssize_t next;
    if (!PyArg_ParseTuple(args, "O!Oy*n", &PyDict_Type, &keys, &cells, &at, &next))
        return NULL;
    PyObject *seq = NULL, *out = NULL;
    KeyedTexts k = {NULL, NULL, NULL, 0, 0};
    Py_ssize_t n = at.len / (Py_ssize_t)sizeof(int64_t);
    if (at.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "unique_codes: at must be int64s");
        goto done;
    }
    seq = PySequence_Fast(cells, "cells must be a sequence");
    if (seq == NULL ||
        keyed_texts_walk(&k, seq, at.buf, n, register_unique_key, "unique_codes") != 0)
        goto done;
    out = k.unsures ? keyed_texts_answer(&k)
                    : keyed_texts_codes(&k, keys, next, PySequence_Fast_GET_SIZE(seq), at.buf);
done:
    keyed_texts_end(&k);
    Py_XDECREF(seq);
    PyBuffer_Release(&at);
    return out;
}

/* ==== End of register matching, second block ============================================= */

/* ==== Detector verdicts (engine/detect): the HKID, phone and name checks of a batch (14) ====
 *
 * A spreadsheet brings an HKID and a phone number a row, and their PatternDetector hooks
 * (validate, invalidate: a check digit, the characters around the match) cost 2 us a hit in
 * Python.  judge_hits works them out for a whole batch, the same as the hooks, for the hit
 * with and without context; a hit it cannot settle (full-width forms, characters of other
 * scripts or a newline just before a phone) is left to the hooks.  A phone without context
 * (a register's column of numbers under no heading) is settled too: its cell, date, count
 * and label checks are repeated here; so is the English name's check for a place word after
 * it (a name a row).  Characters are classed with the macros str.isspace, str.isalpha and
 * str.isalnum use, and re's \s (Py_UNICODE_ISSPACE) and \w (Py_UNICODE_ISALNUM and _).
 * tests/engine/detect/test_verdicts.py compares every verdict with the hooks.
 */

#define VERDICT_REJECT 0
#define VERDICT_ACCEPT 1
#define VERDICT_ASK 2
#define VERDICT_GLUED 16

/* base.py's _WORD_CHARS: ASCII and full-width letters and digits. */
static inline int verdict_word_char(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') ||
           (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) ||
           (c >= 0xFF41 && c <= 0xFF5A);
}

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
    PyObject *unit;  /* borrowed: the unit whose text this is */
    PyObject *cells; /* its cells once read (a new reference), else NULL */
    int cells_read;  /* 0 not yet, 1 read, -1 unreadable (asked) */
} VerdictText;

static inline Py_UCS4 verdict_char(const VerdictText *t, Py_ssize_t i) {
    return PyUnicode_READ(t->kind, t->data, i);
}

static inline int verdict_in(Py_UCS4 c, const char *set) {
    /* A loop the compiler unrolls over the literal set: strchr's call was a tenth of the
     * verdicts of a sheet's phone numbers.  Every set is ASCII punctuation and spaces: an
     * ASCII letter or digit (most of what the token walks read) or a character past ASCII
     * is in none, told without the loop (a fifth of a sheet's phone verdicts). */
    if (c >= 128 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'))
        return 0;
    for (; *set != '\0'; set++)
        if ((Py_UCS4)(unsigned char)*set == c)
            return 1;
    return 0;
}

static inline int verdict_digit(Py_UCS4 c) { return c >= '0' && c <= '9'; }

/* The verdict of HkidDetector.validate and invalidate on text[s:e] with context; without,
 * the same but that a value not starting with a capital letter is rejected
 * (verdict_hkid_without). */
static int verdict_hkid(const VerdictText *t, Py_ssize_t s, Py_ssize_t e) {
    char value[16];
    int n = 0;
    if (e - s > 12)
        return VERDICT_ASK;
    for (Py_ssize_t i = s; i < e; i++) { /* nfkc(text).upper().replace(" ", "") */
        Py_UCS4 c = verdict_char(t, i);
        if (c >= 128)
            return VERDICT_ASK; /* full-width forms: NFKC in Python */
        if (c == ' ')
            continue;
        value[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    if (n > 0 && value[n - 1] == ')') {
        if (n < 3)
            return VERDICT_ASK;
        value[n - 3] = value[n - 2];
        n -= 2;
    }
    if (n != 8 && n != 9)
        return VERDICT_ASK;
    int letters = n - 7;
    for (int i = 0; i < letters; i++)
        if (value[i] < 'A' || value[i] > 'Z')
            return VERDICT_ASK;
    for (int i = letters; i < n - 1; i++)
        if (!verdict_digit((Py_UCS4)value[i]))
            return VERDICT_ASK;
    long total = (letters == 1 ? 36 : value[0] - 55) * 9 + (value[letters - 1] - 55) * 8;
    static const int weights[6] = {7, 6, 5, 4, 3, 2};
    for (int i = 0; i < 6; i++)
        total += (value[letters + i] - '0') * weights[i];
    if ("0123456789A"[(11 - total % 11) % 11] != value[n - 1])
        return VERDICT_REJECT;
    /* invalidate: each condition rejects. */
    if (s > 0 && verdict_in(verdict_char(t, s - 1), "./=?&%#@_-\\:+"))
        return VERDICT_REJECT;
    if (e < t->len) {
        Py_UCS4 c = verdict_char(t, e);
        if (verdict_in(c, "/=?&%#@_\\"))
            return VERDICT_REJECT;
        if (verdict_in(c, ".-:") && e + 1 < t->len && Py_UNICODE_ISALNUM(verdict_char(t, e + 1)))
            return VERDICT_REJECT;
    }
    for (Py_ssize_t i = s; i > 0 && !Py_UNICODE_ISSPACE(verdict_char(t, i - 1)) && s - i < 200;) {
        i--;
        if (verdict_in(verdict_char(t, i), "/=?&%#@\\"))
            return VERDICT_REJECT;
    }
    return VERDICT_ACCEPT;
}

/* verdict_hkid's verdict `with` (with context) made the one without: every check after the
 * capital's rejects, so a value the capital's check rejects ends rejected either way. */
static int verdict_hkid_without(const VerdictText *t, Py_ssize_t s, int with) {
    Py_UCS4 first = verdict_char(t, s);
    return with == VERDICT_ACCEPT && !(first >= 'A' && first <= 'Z') ? VERDICT_REJECT : with;
}

/* _is_date: eight digits that read as a plausible YYYYMMDD or DDMMYYYY date. */
static int verdict_is_date(const char *d) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* (year, month, day) at (0, 4, 6) and (4, 2, 0) */
    static const int at[2][3] = {{0, 4, 6}, {4, 2, 0}};
    for (int k = 0; k < 2; k++) {
        const char *y = d + at[k][0];
        if (!((y[0] == '1' && y[1] == '9') || (y[0] == '2' && y[1] == '0')))
            continue;
        int year = (y[0] - '0') * 1000 + (y[1] - '0') * 100 + (y[2] - '0') * 10 + (y[3] - '0');
        int month = (d[at[k][1]] - '0') * 10 + (d[at[k][1] + 1] - '0');
        int day = (d[at[k][2]] - '0') * 10 + (d[at[k][2] + 1] - '0');
        if (month < 1 || month > 12 || day < 1)
            continue;
        int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        if (day <= days[month - 1] + (month == 2 && leap))
            return 1;
    }
    return 0;
}

/* _whole_cell: 1 when text[s:e] is one of the unit's cells stripped (str.strip), 0 when
 * not (or the unit has no cells), -1 when its cells are not a tuple of str (asked). */
static int verdict_whole_cell(VerdictText *t, Py_ssize_t s, Py_ssize_t e) {
    if (t->cells_read == 0) {
        t->cells_read = -1;
        t->cells = unit_attr(t->unit, 2);
        if (t->cells == NULL) {
            PyErr_Clear();
            return -1;
        }
        if (t->cells == Py_None || PyTuple_CheckExact(t->cells))
            t->cells_read = 1;
        for (Py_ssize_t c = 0; t->cells_read == 1 && t->cells != Py_None &&
                               c < PyTuple_GET_SIZE(t->cells);
             c++) {
            PyObject *cell = PyTuple_GET_ITEM(t->cells, c);
            if (!PyUnicode_CheckExact(cell) || PyUnicode_READY(cell) < 0)
                t->cells_read = -1;
        }
        PyErr_Clear();
    }
    if (t->cells_read < 0)
        return -1;
    if (t->cells == Py_None)
        return 0;
    for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(t->cells); c++) {
        PyObject *cell = PyTuple_GET_ITEM(t->cells, c);
        int kind = PyUnicode_KIND(cell);
        const void *data = PyUnicode_DATA(cell);
        Py_ssize_t lo = 0, hi = PyUnicode_GET_LENGTH(cell);
        while (lo < hi && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, lo)))
            lo++;
        while (hi > lo && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, hi - 1)))
            hi--;
        if (hi - lo != e - s)
            continue;
        Py_ssize_t i = 0;
        while (i < e - s && PyUnicode_READ(kind, data, lo + i) == verdict_char(t, s + i))
            i++;
        if (i == e - s)
            return 1;
    }
    return 0;
}

/* A word the phone checks look for: ASCII, its length, and how caseless (0 not, 1 its first
 * letter either case, 2 every letter). */
typedef struct {
    const char *word;
    Py_ssize_t len;
    int caseless;
} VerdictWord;

#define VERDICT_WORD(w, caseless) {w, (Py_ssize_t)sizeof(w) - 1, caseless}

/* Whether `w` is at text[at:] and ends by `end` (compared from its last letter: most
 * words differ there). */
static int verdict_word_at(const VerdictText *t, Py_ssize_t at, Py_ssize_t end,
                           const VerdictWord *w) {
    if (at < 0 || at + w->len > end)
        return 0;
    for (Py_ssize_t i = w->len - 1; i >= 0; i--) {
        Py_UCS4 c = verdict_char(t, at + i), x = (Py_UCS4)w->word[i];
        if (c != x && !((w->caseless == 2 || (w->caseless == 1 && i == 0)) && c < 128 &&
                        (c | 32) == x && x >= 'a' && x <= 'z'))
            return 0;
    }
    return 1;
}

/* _COUNT_AFTER.match(text, e, e + 12): a count or quantity after the number. */
static int verdict_count_after(const VerdictText *t, Py_ssize_t e) {
    static const Py_UCS4 marks[][4] = {
        {0x5E74}, {0x5B78, 0x5E74}, {0x8CA1, 0x653F, 0x5E74}, {0x500B}, {0x4EBA},
        {0x5143}, {0x6B21},         {0x5B57},                 {0x842C}, {0x5104},
        {0x4EFD}, {0x9805},         {0x9801},                 {'%'}}; /* 年 學年 財政年 個 人 元 次 字 萬 億 份 項 頁 */
    static const VerdictWord words[] = {
        VERDICT_WORD("byte", 0),      VERDICT_WORD("bytes", 0),    VERDICT_WORD("word", 0),
        VERDICT_WORD("words", 0),     VERDICT_WORD("line", 0),     VERDICT_WORD("lines", 0),
        VERDICT_WORD("char", 0),      VERDICT_WORD("chars", 0),    VERDICT_WORD("characters", 0),
        VERDICT_WORD("hits", 0),      VERDICT_WORD("visits", 0),   VERDICT_WORD("visitors", 0),
        VERDICT_WORD("message", 0),   VERDICT_WORD("messages", 0), VERDICT_WORD("post", 0),
        VERDICT_WORD("posts", 0),     VERDICT_WORD("user", 0),     VERDICT_WORD("users", 0),
        VERDICT_WORD("members", 0),   VERDICT_WORD("times", 0),    VERDICT_WORD("downloads", 0),
        VERDICT_WORD("record", 0),    VERDICT_WORD("records", 0),  VERDICT_WORD("row", 0),
        VERDICT_WORD("rows", 0),      VERDICT_WORD("kb", 0),       VERDICT_WORD("KB", 0),
        VERDICT_WORD("MB", 0),        VERDICT_WORD("bps", 0)};
    Py_ssize_t end = e + 12 < t->len ? e + 12 : t->len, p = e;
    /* \s? : no word or mark starts with a space, so taking one when there is one is the
     * only way to match */
    if (p < end && Py_UNICODE_ISSPACE(verdict_char(t, p)))
        p++;
    if (p >= end)
        return 0;
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        Py_ssize_t i = 0;
        while (i < 4 && marks[k][i] != 0 && p + i < end && verdict_char(t, p + i) == marks[k][i])
            i++;
        if (i == 4 || marks[k][i] == 0)
            return 1;
    }
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        Py_ssize_t q = p + words[k].len;
        if (!verdict_word_at(t, p, end, &words[k]))
            continue;
        /* \b after a letter: the end (endpos), or no word character next (re's \w) */
        if (q == end || !(Py_UNICODE_ISALNUM(verdict_char(t, q)) || verdict_char(t, q) == '_'))
            return 1;
    }
    return 0;
}

/* Whether text[q:x] is `\s?[:#]?\s?`. */
static int verdict_label_gap(const VerdictText *t, Py_ssize_t q, Py_ssize_t x) {
    for (int mask = 0; mask < 8; mask++) { /* which of the three parts are there */
        Py_ssize_t i = q;
        for (int part = 0; part < 3; part++) {
            if (!(mask >> part & 1))
                continue;
            if (i >= x) {
                i = -1;
                break;
            }
            Py_UCS4 c = verdict_char(t, i);
            if (part == 1 ? !(c == ':' || c == '#') : !Py_UNICODE_ISSPACE(c)) {
                i = -1;
                break;
            }
            i++;
        }
        if (i == x)
            return 1;
    }
    return 0;
}

/* _LABEL_BEFORE.search(text, max(0, s - 12), s): an instant-messenger number or a range. */
static int verdict_label_before(const VerdictText *t, Py_ssize_t s) {
    static const VerdictWord labels[] = {
        VERDICT_WORD("ICQ", 0),     VERDICT_WORD("UIN", 0),     VERDICT_WORD("QQ", 0),
        VERDICT_WORD("uin", 0),     VERDICT_WORD("icq", 0),     VERDICT_WORD("message", 1),
        VERDICT_WORD("messages", 1), VERDICT_WORD("msg", 1),    VERDICT_WORD("msgs", 1),
        VERDICT_WORD("no", 1),      VERDICT_WORD("nos", 1),     VERDICT_WORD("no.", 1),
        VERDICT_WORD("nos.", 1),    VERDICT_WORD("page", 1),    VERDICT_WORD("pages", 1),
        VERDICT_WORD("pp", 0),      VERDICT_WORD("pp.", 0),     VERDICT_WORD("range", 1),
        VERDICT_WORD("issue", 1),   VERDICT_WORD("issues", 1),  VERDICT_WORD("vol", 1),
        VERDICT_WORD("vol.", 1),    VERDICT_WORD("rev", 1),     VERDICT_WORD("revision", 1),
        VERDICT_WORD("build", 1),   VERDICT_WORD("version", 1), VERDICT_WORD("id", 2),
        VERDICT_WORD("ref", 1),     VERDICT_WORD("ref.", 1)};
    Py_ssize_t low = s > 12 ? s - 12 : 0;
    /* $ holds at s, and before a newline that ends the window */
    for (Py_ssize_t x = s; x >= s - 1 && x >= low; x--) {
        if (x < s && verdict_char(t, x) != '\n')
            break;
        for (Py_ssize_t q = x; q >= x - 3 && q > low; q--) {
            /* every label ends with an ASCII letter or a full stop */
            Py_UCS4 last = verdict_char(t, q - 1);
            if (!(last == '.' || ((last | 32) >= 'a' && (last | 32) <= 'z')) ||
                !verdict_label_gap(t, q, x))
                continue;
            for (size_t k = 0; k < sizeof labels / sizeof labels[0]; k++)
                if (verdict_word_at(t, q - labels[k].len, q, &labels[k]) &&
                    q - labels[k].len >= low)
                    return 1;
        }
    }
    return 0;
}

/* The verdict of PhoneDetector.validate and invalidate on text[s:e], a match of pattern
 * `pattern` (0 phone_intl, 1 phone_grouped, 2 phone_bare, else another: asked), without
 * context; the one with context in *with (the checks up to there are the same: one pass). */
static int verdict_phone(VerdictText *t, Py_ssize_t s, Py_ssize_t e, int64_t pattern,
                         int *with) {
    *with = VERDICT_ASK;
    if (pattern < 0 || pattern > 2 || e - s > 32 || e <= s)
        return VERDICT_ASK;
    char digits[32];
    int n = 0;
    for (Py_ssize_t i = s; i < e; i++) {
        Py_UCS4 c = verdict_char(t, i);
        if (c >= 128)
            return *with = VERDICT_ASK;
        if (!verdict_in(c, " -+()"))
            digits[n++] = (char)c;
    }
    /* len(set(digits[-8:])) == 1: a placeholder */
    int from = n > 8 ? n - 8 : 0, same = n > from;
    for (int i = from + 1; i < n; i++)
        if (digits[i] != digits[from])
            same = 0;
    if (same)
        return *with = VERDICT_REJECT;
    if (pattern == 1) { /* _is_range(value[:4], value[5:], value[4] == "-") */
        if (e - s != 9)
            return *with = VERDICT_ASK;
        long a = 0, b = 0;
        for (Py_ssize_t i = 0; i < 4; i++) {
            Py_UCS4 x = verdict_char(t, s + i), y = verdict_char(t, s + 5 + i);
            if (!verdict_digit(x) || !verdict_digit(y))
                return *with = VERDICT_ASK;
            a = a * 10 + (long)(x - '0');
            b = b * 10 + (long)(y - '0');
        }
        if (1900 <= a && a <= 2099 && 1900 <= b && b <= 2099)
            return *with = VERDICT_REJECT;
        if (verdict_char(t, s + 4) == '-' &&
            ((a <= b && b <= a + 500) || (a % 100 == 0 && b % 100 == 0)))
            return *with = VERDICT_REJECT;
    }
    /* A bare number's _whole_cell and _is_date read eight ASCII digits, else asked. */
    int unsure = 0, unsure_bare = pattern == 2 && n != 8;
    for (int i = 0; pattern == 2 && i < n; i++)
        if (!verdict_digit((Py_UCS4)digits[i]))
            unsure_bare = 1;
    /* _GLUED_BEFORE.search(text, max(0, s - 3), s): an ending at s; a newline in the window
     * (where $ also holds before it) is asked. */
    Py_ssize_t low = s > 3 ? s - 3 : 0;
    for (Py_ssize_t i = low; i < s; i++) {
        Py_UCS4 c = verdict_char(t, i);
        if (c == '\n' || c >= 128)
            unsure = 1; /* and \d, \s of other scripts */
    }
    if (s - 1 >= low) {
        Py_UCS4 last = verdict_char(t, s - 1);
        if (verdict_in(last, "$#"))
            return *with = VERDICT_REJECT;
        if (s - 2 >= low && last < 128) {
            Py_UCS4 before = verdict_char(t, s - 2);
            if ((verdict_digit(before) && verdict_in(last, " -.,")) ||
                (verdict_in(before, "$#") && Py_UNICODE_ISSPACE(last)) ||
                (((before | 32) >= 'a' && (before | 32) <= 'z') && last == '-'))
                return *with = VERDICT_REJECT;
        }
    }
    /* _GLUED_AFTER.match(text, e, e + 2) */
    if (e < t->len) {
        Py_UCS4 c = verdict_char(t, e);
        if (c == '%')
            return *with = VERDICT_REJECT;
        if (verdict_in(c, " -.,") && e + 1 < t->len) {
            Py_UCS4 d = verdict_char(t, e + 1);
            if (verdict_digit(d))
                return *with = VERDICT_REJECT;
            if (d >= 128)
                unsure = 1;
        }
    }
    /* _in_token */
    for (Py_ssize_t i = s; i > 0 && verdict_char(t, i - 1) < 0x2E80 &&
                           !Py_UNICODE_ISSPACE(verdict_char(t, i - 1)) && s - i < 200;) {
        i--;
        if (verdict_in(verdict_char(t, i), "/=?&%#@_\\"))
            return *with = VERDICT_REJECT;
    }
    for (Py_ssize_t j = e; j < t->len && verdict_char(t, j) < 0x2E80 &&
                           !Py_UNICODE_ISSPACE(verdict_char(t, j)) && j - e < 200;
         j++) {
        Py_UCS4 c = verdict_char(t, j);
        if (verdict_in(c, "/=?&%#@_\\") ||
            (c == '.' && j + 1 < t->len && Py_UNICODE_ISALPHA(verdict_char(t, j + 1))))
            return *with = VERDICT_REJECT;
    }
    *with = unsure ? VERDICT_ASK : VERDICT_ACCEPT;
    unsure |= unsure_bare;
    if (pattern == 2 && !unsure_bare) { /* _whole_cell(candidate) and not _is_date(digits) */
        int whole = verdict_whole_cell(t, s, e);
        if (whole == 0 || verdict_is_date(digits))
            return VERDICT_REJECT;
        if (whole < 0)
            unsure = 1;
    }
    if (verdict_count_after(t, e) || verdict_label_before(t, s))
        return VERDICT_REJECT;
    return unsure ? VERDICT_ASK : VERDICT_ACCEPT;
}

/* NameEnDetector.invalidate on a match ending at e: _PLACE_WORDS.match(text, e, e + 14), a
 * street, building, firm or institution named after the name. */
static int verdict_place_after(const VerdictText *t, Py_ssize_t e) {
    static const VerdictWord places[] = {
        VERDICT_WORD("Road", 0),       VERDICT_WORD("Rd", 0),         VERDICT_WORD("Street", 0),
        VERDICT_WORD("St", 0),         VERDICT_WORD("Avenue", 0),     VERDICT_WORD("Ave", 0),
        VERDICT_WORD("Lane", 0),       VERDICT_WORD("Path", 0),       VERDICT_WORD("Drive", 0),
        VERDICT_WORD("Terrace", 0),    VERDICT_WORD("Building", 0),   VERDICT_WORD("Bldg", 0),
        VERDICT_WORD("Estate", 0),     VERDICT_WORD("Court", 0),      VERDICT_WORD("Garden", 0),
        VERDICT_WORD("Gardens", 0),    VERDICT_WORD("Centre", 0),     VERDICT_WORD("Center", 0),
        VERDICT_WORD("Plaza", 0),      VERDICT_WORD("Tower", 0),      VERDICT_WORD("House", 0),
        VERDICT_WORD("Mansion", 0),    VERDICT_WORD("Villa", 0),      VERDICT_WORD("Station", 0),
        VERDICT_WORD("Bank", 0),       VERDICT_WORD("Company", 0),    VERDICT_WORD("Co", 0),
        VERDICT_WORD("Ltd", 0),        VERDICT_WORD("Limited", 0),    VERDICT_WORD("Hospital", 0),
        VERDICT_WORD("School", 0),     VERDICT_WORD("College", 0),    VERDICT_WORD("Temple", 0),
        VERDICT_WORD("Village", 0),    VERDICT_WORD("Park", 0),       VERDICT_WORD("Square", 0),
        VERDICT_WORD("Hall", 0),       VERDICT_WORD("Industrial", 0), VERDICT_WORD("Commercial", 0),
        VERDICT_WORD("Market", 0),     VERDICT_WORD("Bay", 0),        VERDICT_WORD("Hill", 0),
        VERDICT_WORD("Bus", 0),        VERDICT_WORD("Stadium", 0),    VERDICT_WORD("Library", 0),
        VERDICT_WORD("Church", 0),     VERDICT_WORD("Kindergarten", 0), VERDICT_WORD("Primary", 0),
        VERDICT_WORD("Secondary", 0),  VERDICT_WORD("Memorial", 0),   VERDICT_WORD("Holdings", 0),
        VERDICT_WORD("Group", 0),      VERDICT_WORD("Restaurant", 0), VERDICT_WORD("Theatre", 0),
        VERDICT_WORD("Cinema", 0),     VERDICT_WORD("Wan", 0),        VERDICT_WORD("Chuen", 0),
        VERDICT_WORD("Tsuen", 0)};
    enum { PLACES = sizeof places / sizeof places[0], MOST_BY_LETTER = 16 };
    /* The places by first letter, listed once (with the GIL held): a name a row followed by
     * a given name's capital tried all fifty-nine places, a third of the name verdicts. */
    static unsigned char by_letter[26][MOST_BY_LETTER], letter_count[26];
    static int listed; /* 0 not yet, 1 listed, -1 not listable: every place tried */
    if (listed == 0) {
        listed = 1;
        for (size_t k = 0; k < PLACES && listed == 1; k++) {
            int letter = places[k].word[0] - 'A';
            if (letter < 0 || letter >= 26 || letter_count[letter] >= MOST_BY_LETTER)
                listed = -1;
            else
                by_letter[letter][letter_count[letter]++] = (unsigned char)k;
        }
    }
    Py_ssize_t end = e + 14 < t->len ? e + 14 : t->len, p = e;
    /* [ ,]* : every word starts with a capital, so only after all of them */
    while (p < end && (verdict_char(t, p) == ' ' || verdict_char(t, p) == ','))
        p++;
    if (p >= end || verdict_char(t, p) < 'A' || verdict_char(t, p) > 'Z')
        return 0;
    int letter = (int)(verdict_char(t, p) - 'A');
    size_t tried = listed == 1 ? letter_count[letter] : PLACES;
    for (size_t j = 0; j < tried; j++) {
        size_t k = listed == 1 ? by_letter[letter][j] : j;
        Py_ssize_t q = p + places[k].len;
        if (!verdict_word_at(t, p, end, &places[k]))
            continue;
        /* \b after a letter: the end (endpos), or no word character next (re's \w) */
        if (q == end || !(Py_UNICODE_ISALNUM(verdict_char(t, q)) || verdict_char(t, q) == '_'))
            return 1;
    }
    return 0;
}

/* The verdict of NameEnDetector.invalidate on a match of `pattern` ending at e (0 a pattern
 * it only looks after, 1 english_upper, whose first word is also looked up: asked unless
 * rejected, else asked). */
static int verdict_name_en(const VerdictText *t, Py_ssize_t e, int64_t pattern) {
    if (pattern < 0 || pattern > 1)
        return VERDICT_ASK;
    if (verdict_place_after(t, e))
        return VERDICT_REJECT;
    return pattern == 0 ? VERDICT_ACCEPT : VERDICT_ASK;
}

/* judge_hits(detector, units, unit_of, starts, ends, patterns) -> bytes: per hit of
 * units[unit_of[i]].text[starts[i]:ends[i]], the verdict of the detector's checks without
 * context (bits 0-1) and with it (bits 2-3): 0 rejected, 1 accepted, 2 asked of the hooks;
 * bit 4 (16) when the hit is glued to a letter or digit before or after it (``bounded``).
 * ``detector``: 0 hkid, 1 phone, 2 name_en (whose ``patterns`` say which pattern matched);
 * native int64 arrays. */
/* judge_hits's verdicts for the hits given by its arrays, of the units of ``seq`` (a
 * PySequence_Fast), their texts read through ``cache`` (NULL: none): the bytes, or NULL with
 * an exception set. */
static PyObject *judge_seq(int detector, PyObject *seq, UnitCache *cache, const Py_buffer *unit_of,
                           const Py_buffer *starts, const Py_buffer *ends,
                           const Py_buffer *patterns) {
    PyObject *out = NULL, *text = NULL;
    Py_ssize_t n = unit_of->len / (Py_ssize_t)sizeof(int64_t), last = -1;
    VerdictText t = {0, NULL, 0, NULL, NULL, 0};
    if (unit_of->len % (Py_ssize_t)sizeof(int64_t) || starts->len != unit_of->len ||
        ends->len != unit_of->len || patterns->len != unit_of->len) {
        PyErr_SetString(PyExc_ValueError, "unit_of, starts, ends, patterns: int64s, as many each");
        goto done;
    }
    if (detector < 0 || detector > 2) {
        PyErr_SetString(PyExc_ValueError, "judge_hits: detector 0 (hkid), 1 (phone), 2 (name_en)");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        goto done;
    const int64_t *u = unit_of->buf, *from = starts->buf, *to = ends->buf, *kind = patterns->buf;
    char *verdicts = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (u[i] < 0 || u[i] >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_IndexError, "a unit out of range");
            Py_CLEAR(out);
            goto done;
        }
        if (u[i] != last) {
            if (cached_unit_text(seq, cache, u[i], &text) != 0) {
                Py_CLEAR(out);
                goto done;
            }
            if (u[i] >= PySequence_Fast_GET_SIZE(seq)) { /* the text's getattr shrank them */
                PyErr_SetString(PyExc_RuntimeError, "the units changed size");
                Py_CLEAR(out);
                goto done;
            }
            t.kind = PyUnicode_KIND(text);
            t.data = PyUnicode_DATA(text);
            t.len = PyUnicode_GET_LENGTH(text);
            t.unit = PySequence_Fast_GET_ITEM(seq, u[i]);
            Py_CLEAR(t.cells);
            t.cells_read = 0;
            last = u[i];
        }
        if (from[i] < 0 || to[i] > t.len || from[i] >= to[i]) {
            verdicts[i] = VERDICT_ASK | VERDICT_ASK << 2; /* not a match: the hooks say */
            continue;
        }
        int without, with;
        if (detector == 0) {
            with = verdict_hkid(&t, from[i], to[i]);
            without = verdict_hkid_without(&t, from[i], with);
        } else if (detector == 1) {
            without = verdict_phone(&t, from[i], to[i], kind[i], &with);
        } else {
            without = with = verdict_name_en(&t, to[i], kind[i]);
        }
        int glued = (from[i] > 0 && verdict_word_char(verdict_char(&t, from[i] - 1))) ||
                    (to[i] < t.len && verdict_word_char(verdict_char(&t, to[i])));
        verdicts[i] = (char)(without | with << 2 | (glued ? VERDICT_GLUED : 0));
    }
done:
    Py_XDECREF(text);
    Py_XDECREF(t.cells);
    return out;
}

static PyObject *judge_hits(PyObject *module, PyObject *args) {
    (void)module;
    int detector;
    PyObject *units;
    Py_buffer unit_of, starts, ends, patterns;
    if (!PyArg_ParseTuple(args, "iOy*y*y*y*", &detector, &units, &unit_of, &starts, &ends,
                          &patterns))
        return NULL;
    PyObject *out = NULL, *seq = PySequence_Fast(units, "units must be a sequence");
    if (seq != NULL)
        out = judge_seq(detector, seq, NULL, &unit_of, &starts, &ends, &patterns);
    Py_XDECREF(seq);
    PyBuffer_Release(&unit_of);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&patterns);
    return out;
}

/* ==== End of detector verdicts ========================================================= */

/* ---- cell_bounds: where each table row's cells are in its text (issue 14) ----
 *
 * detectorset._TableCells tells which hits lie in a cell under a heading, for a whole table
 * at once; it needs every cell's bounds as detectorset._cell_bounds finds them (each cell's
 * first occurrence after the cell before).  Found with arrays, that took twenty numpy and
 * str passes over a 15,070-row table (21 ms); here one find per cell, most answered at the
 * place the " | " between cells puts them.
 */

/* Whether `cell` (m characters) is at `at` of `text` (at + m within it). */
static int cell_bounds_at(int text_kind, const void *text_data, Py_ssize_t at, int cell_kind,
                          const void *cell_data, Py_ssize_t m) {
    if (text_kind == cell_kind)
        return memcmp((const char *)text_data + at * text_kind, cell_data,
                      (size_t)(m * cell_kind)) == 0;
    for (Py_ssize_t k = 0; k < m; k++)
        if (PyUnicode_READ(text_kind, text_data, at + k) != PyUnicode_READ(cell_kind, cell_data, k))
            return 0;
    return 1;
}

/* text.find(cell, position) for position <= len(text): -1 not found, -2 with an error set.
 * The four first places are tried in place (a cell after " | " is at the fourth), the rest
 * left to PyUnicode_Find (which copies a narrower cell to the text's width first). */
static Py_ssize_t cell_bounds_find(PyObject *text, PyObject *cell, Py_ssize_t position) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), m = PyUnicode_GET_LENGTH(cell), at = position;
    int text_kind = PyUnicode_KIND(text), cell_kind = PyUnicode_KIND(cell);
    const void *text_data = PyUnicode_DATA(text), *cell_data = PyUnicode_DATA(cell);
    for (; at <= position + 3; at++) {
        if (at + m > n)
            return -1;
        if (cell_bounds_at(text_kind, text_data, at, cell_kind, cell_data, m))
            return at;
    }
    return PyUnicode_Find(text, cell, at, n, 1);
}

/* cell_bounds(rows) -> (spans, found): for each row (an object with a str ``text`` and
 * ``cells``, a sequence of str or None), in order, the start and end of each of its cells
 * found as detectorset._cell_bounds finds them (native int64 pairs), and how many of its
 * cells were found (native int64s).  detectorset._TableCells._find_bounds_py does the same
 * with arrays (a test compares). */
static PyObject *cell_bounds(PyObject *module, PyObject *arg) {
    (void)module;
    /* A tuple, not the list itself: a row's getattr may run Python code that shrinks it. */
    PyObject *seq = PySequence_Tuple(arg);
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), used = 0, room = 0;
    PyObject *out = NULL, *text = NULL, *cells = NULL, *spans = NULL;
    int64_t *bounds = NULL;
    PyObject *found = NULL;
    static PyObject *cells_name; /* interned once */
    if (cells_name == NULL && (cells_name = PyUnicode_InternFromString("cells")) == NULL)
        goto done;
    found = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (found == NULL)
        goto done;
    int64_t *found_at = (int64_t *)PyBytes_AS_STRING(found);
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *row = PySequence_Fast_GET_ITEM(seq, r);
        if (take_unit_text(seq, r, &text) != 0)
            goto done;
        Py_XDECREF(cells);
        cells = NULL;
        PyObject *held = PyObject_GetAttr(row, cells_name);
        if (held == NULL)
            goto done;
        cells = held == Py_None ? PyTuple_New(0) : PySequence_Fast(held, "cells: a sequence");
        Py_DECREF(held);
        if (cells == NULL)
            goto done;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(cells), position = 0, k = 0;
        if (used + 2 * m > room) {
            Py_ssize_t grown = 2 * (used + 2 * m) + 1024;
            int64_t *more = PyMem_Realloc(bounds, (size_t)grown * sizeof(int64_t));
            if (more == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            bounds = more;
            room = grown;
        }
        for (; k < m; k++) {
            PyObject *cell = PySequence_Fast_GET_ITEM(cells, k);
            if (!PyUnicode_Check(cell) || PyUnicode_READY(cell) < 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "a cell must be a str");
                goto done;
            }
            Py_ssize_t at = cell_bounds_find(text, cell, position);
            if (at == -2)
                goto done;
            if (at < 0)
                break;
            position = at + PyUnicode_GET_LENGTH(cell);
            bounds[used++] = at;
            bounds[used++] = position;
        }
        found_at[r] = k;
    }
    spans = PyBytes_FromStringAndSize((const char *)bounds, used * (Py_ssize_t)sizeof(int64_t));
    if (spans != NULL)
        out = PyTuple_Pack(2, spans, found);
done:
    PyMem_Free(bounds);
    Py_XDECREF(spans);
    Py_XDECREF(found);
    Py_XDECREF(cells);
    Py_XDECREF(text);
    Py_DECREF(seq);
    return out;
}

/* ---- make_findings: a batch of findings made at once (issue 14) ----
 *
 * A table's detectors settle tens of thousands of findings with arrays (a column of HKIDs,
 * of phone numbers, of addresses), then made each in a Python loop: the unit looked up, its
 * text sliced, three numbers boxed, the maker called, 0.6 us a finding.  Here in one call.
 */

/* make_findings(maker, detector, units, unit_of, starts, ends, scores) -> list: for each i,
 * maker(detector, u.where, u.text[starts[i]:ends[i]], starts[i], ends[i], scores[i]) with
 * u = units[unit_of[i]]; ``maker`` a maker slot_maker made (six arguments); native int64
 * arrays and float64 ``scores``. */
static PyObject *make_findings(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *maker, *detector, *units;
    Py_buffer unit_of, starts, ends, scores;
    if (!PyArg_ParseTuple(args, "OUOy*y*y*y*", &maker, &detector, &units, &unit_of, &starts,
                          &ends, &scores))
        return NULL;
    PyObject *seq = NULL, *out = NULL, *text = NULL, *where = NULL;
    Py_ssize_t n = unit_of.len / (Py_ssize_t)sizeof(int64_t), last = -1;
    if (unit_of.len % (Py_ssize_t)sizeof(int64_t) || starts.len != unit_of.len ||
        ends.len != unit_of.len || scores.len != n * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "unit_of, starts, ends: int64s, scores: float64s");
        goto done;
    }
    if (!PyCFunction_Check(maker) ||
        PyCFunction_GET_FUNCTION(maker) != (PyCFunction)(void (*)(void))make_slotted) {
        PyErr_SetString(PyExc_TypeError, "maker: a maker slot_maker made");
        goto done;
    }
    PyObject *state = PyCFunction_GET_SELF(maker);
    if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(state, 2)) / (Py_ssize_t)sizeof(Py_ssize_t) -
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(state, 1)) !=
        6) {
        PyErr_SetString(PyExc_TypeError, "maker: one of six arguments");
        goto done;
    }
    static PyObject *where_name; /* interned once */
    if (where_name == NULL && (where_name = PyUnicode_InternFromString("where")) == NULL)
        goto done;
    seq = PySequence_Fast(units, "units must be a sequence");
    if (seq == NULL)
        goto done;
    out = PyList_New(n);
    if (out == NULL)
        goto done;
    const int64_t *u = unit_of.buf, *from = starts.buf, *to = ends.buf;
    const double *score = scores.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (u[i] < 0 || u[i] >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_IndexError, "a unit out of range");
            goto failed;
        }
        if (u[i] != last) {
            if (take_unit_text(seq, u[i], &text) != 0)
                goto failed;
            if (u[i] >= PySequence_Fast_GET_SIZE(seq)) { /* the text's getattr shrank them */
                PyErr_SetString(PyExc_RuntimeError, "the units changed size");
                goto failed;
            }
            PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, u[i]));
            Py_XSETREF(where, PyObject_GetAttr(item, where_name));
            Py_DECREF(item);
            if (where == NULL)
                goto failed;
            last = u[i];
        }
        if (from[i] < 0 || from[i] > to[i] || to[i] > PyUnicode_GET_LENGTH(text)) {
            PyErr_SetString(PyExc_IndexError, "a span out of its unit's text");
            goto failed;
        }
        PyObject *made[6] = {detector, where, PyUnicode_Substring(text, from[i], to[i]),
                             PyLong_FromLongLong(from[i]), PyLong_FromLongLong(to[i]),
                             PyFloat_FromDouble(score[i])};
        PyObject *finding = NULL;
        if (made[2] != NULL && made[3] != NULL && made[4] != NULL && made[5] != NULL)
            finding = make_slotted(state, made, 6);
        for (int k = 2; k < 6; k++)
            Py_XDECREF(made[k]);
        if (finding == NULL)
            goto failed;
        PyList_SET_ITEM(out, i, finding);
    }
    goto done;
failed:
    Py_CLEAR(out);
done:
    Py_XDECREF(where);
    Py_XDECREF(text);
    Py_XDECREF(seq);
    PyBuffer_Release(&unit_of);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&scores);
    return out;
}

/* ---- name_cells: table cells that are exactly a Chinese name (issue 14) ----
 *
 * name_zh reads every cell of a table for one that is a surname and one or two given
 * characters (its _CELL, matched whole); a 15,070-row table has 120,000 cells, each tested
 * in Python.  Here the cells are walked in C and only those shaped as a name come back.
 */

static inline int name_cells_cjk(Py_UCS4 c) { return c >= 0x4E00 && c <= 0x9FFF; }

/* Whether the `m` characters at `at` of `cell` are all Chinese (U+4E00 to U+9FFF). */
static int name_cells_all_cjk(int kind, const void *data, Py_ssize_t at, Py_ssize_t m) {
    for (Py_ssize_t k = at; k < at + m; k++)
        if (!name_cells_cjk(PyUnicode_READ(kind, data, k)))
            return 0;
    return 1;
}

/* Whether the two characters at `at` of `cell` are one of `doubles` (a tuple of str). */
static int name_cells_double(int kind, const void *data, Py_ssize_t at, PyObject *doubles) {
    for (Py_ssize_t d = 0; d < PyTuple_GET_SIZE(doubles); d++) {
        PyObject *two = PyTuple_GET_ITEM(doubles, d);
        if (PyUnicode_GET_LENGTH(two) == 2 &&
            PyUnicode_READ_CHAR(two, 0) == PyUnicode_READ(kind, data, at) &&
            PyUnicode_READ_CHAR(two, 1) == PyUnicode_READ(kind, data, at + 1))
            return 1;
    }
    return 0;
}

/* name_cells(units, rows, singles, doubles, shortest, longest) -> (cells, rows, spans): the
 * cells of the units at the int64 positions ``rows`` (``unit.cells``; None: none), in
 * order, of ``shortest`` to ``longest`` characters that are, between whitespace at either
 * end (str.isspace), a surname (a character of the str ``singles``, or one of the tuple of
 * two-character str ``doubles``) and one or two Chinese characters (U+4E00 to U+9FFF): the
 * cells (a list of the str), each one's unit (native int64s) and the start and end of the
 * name in it (native int64 pairs).  That is name_zh._CELL matching the whole cell, its
 * group 1 the name (name_zh._name_cells_py does the same in Python; a test compares). */
static PyObject *name_cells(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *singles, *doubles;
    Py_buffer rows;
    Py_ssize_t shortest, longest;
    if (!PyArg_ParseTuple(args, "Oy*UO!nn", &units, &rows, &singles, &PyTuple_Type, &doubles,
                          &shortest, &longest))
        return NULL;
    PyObject *seq = NULL, *out = NULL, *cells_out = NULL, *cells = NULL;
    PyObject *row_bytes = NULL, *span_bytes = NULL;
    int64_t *row_of = NULL, *spans = NULL;
    Py_ssize_t used = 0, room = 0;
    uint8_t single[(0x9FFF - 0x4E00 + 1 + 7) / 8];
    memset(single, 0, sizeof single);
    for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(singles); k++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(singles, k);
        if (!name_cells_cjk(c)) {
            PyErr_SetString(PyExc_ValueError, "a surname outside U+4E00 to U+9FFF");
            goto done;
        }
        single[(c - 0x4E00) >> 3] |= (uint8_t)(1 << ((c - 0x4E00) & 7));
    }
    for (Py_ssize_t d = 0; d < PyTuple_GET_SIZE(doubles); d++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(doubles, d))) {
            PyErr_SetString(PyExc_TypeError, "doubles: a tuple of str");
            goto done;
        }
    }
    if (rows.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "rows: int64s");
        goto done;
    }
    static PyObject *cells_name; /* interned once */
    if (cells_name == NULL && (cells_name = PyUnicode_InternFromString("cells")) == NULL)
        goto done;
    seq = PySequence_Fast(units, "units must be a sequence");
    if (seq == NULL)
        goto done;
    cells_out = PyList_New(0);
    if (cells_out == NULL)
        goto done;
    const int64_t *row = rows.buf;
    Py_ssize_t count = rows.len / (Py_ssize_t)sizeof(int64_t);
    for (Py_ssize_t r = 0; r < count; r++) {
        if (row[r] < 0 || row[r] >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_IndexError, "a row out of range");
            goto done;
        }
        PyObject *held = PyObject_GetAttr(PySequence_Fast_GET_ITEM(seq, row[r]), cells_name);
        if (held == NULL)
            goto done;
        Py_XSETREF(cells, held == Py_None ? PyTuple_New(0)
                                          : PySequence_Fast(held, "cells: a sequence"));
        Py_DECREF(held);
        if (cells == NULL)
            goto done;
        for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(cells); k++) {
            PyObject *cell = PySequence_Fast_GET_ITEM(cells, k);
            if (!PyUnicode_Check(cell) || PyUnicode_READY(cell) < 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "a cell must be a str");
                goto done;
            }
            Py_ssize_t n = PyUnicode_GET_LENGTH(cell);
            int kind = PyUnicode_KIND(cell);
            if (n < shortest || n > longest || kind == PyUnicode_1BYTE_KIND)
                continue; /* a name's characters are all above U+00FF */
            const void *data = PyUnicode_DATA(cell);
            Py_ssize_t a = 0, b = n;
            while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a)))
                a++;
            while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1)))
                b--;
            Py_ssize_t m = b - a;
            if (m < 2)
                continue;
            Py_UCS4 first = PyUnicode_READ(kind, data, a);
            int shaped =
                (m <= 3 && name_cells_cjk(first) &&
                 (single[(first - 0x4E00) >> 3] >> ((first - 0x4E00) & 7) & 1) &&
                 name_cells_all_cjk(kind, data, a + 1, m - 1)) ||
                (m >= 3 && m <= 4 && name_cells_double(kind, data, a, doubles) &&
                 name_cells_all_cjk(kind, data, a + 2, m - 2));
            if (!shaped)
                continue;
            if (used + 2 > room) {
                Py_ssize_t grown = 2 * room + 1024;
                int64_t *more_rows = PyMem_Realloc(row_of, (size_t)grown / 2 * sizeof(int64_t));
                if (more_rows == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                row_of = more_rows;
                int64_t *more = PyMem_Realloc(spans, (size_t)grown * sizeof(int64_t));
                if (more == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                spans = more;
                room = grown;
            }
            if (PyList_Append(cells_out, cell) != 0)
                goto done;
            row_of[used / 2] = row[r];
            spans[used++] = a;
            spans[used++] = b;
        }
    }
    row_bytes = PyBytes_FromStringAndSize((const char *)row_of,
                                          used / 2 * (Py_ssize_t)sizeof(int64_t));
    span_bytes = PyBytes_FromStringAndSize((const char *)spans,
                                           used * (Py_ssize_t)sizeof(int64_t));
    if (row_bytes != NULL && span_bytes != NULL)
        out = PyTuple_Pack(3, cells_out, row_bytes, span_bytes);
done:
    PyMem_Free(row_of);
    PyMem_Free(spans);
    Py_XDECREF(row_bytes);
    Py_XDECREF(span_bytes);
    Py_XDECREF(cells_out);
    Py_XDECREF(cells);
    Py_XDECREF(seq);
    PyBuffer_Release(&rows);
    return out;
}

/* ==== Running text of register matching ================================================ */

/* segmented(line) -> bool: whether match.py's _SEGMENT (a tab, a separator "|:;：；", or two
 * whitespace characters in a row, whitespace as str.isspace) splits the str ``line``.  One
 * pass over the str's own storage: a paragraph of prose is one long line with none of them,
 * where match._segmented_py's bytes passes take 1.5 us (a test compares the two and the
 * regex). */
static PyObject *segmented(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "line must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    if (kind == PyUnicode_1BYTE_KIND) {
        /* A line of Latin-1 (most mail), classed by a table of its 256 characters: 2 a
         * separator (the tab too), 1 other whitespace.  A letter's paragraph of prose is one
         * line of thousands of characters with neither, where reading each through
         * PyUnicode_READ and Py_UNICODE_ISSPACE took 6 us a paragraph (a third of the
         * running-text matching of a one-page docx). */
        static unsigned char classes[256];
        static int classed = 0;
        if (!classed) {
            for (int c = 0; c < 256; c++)
                classes[c] = (unsigned char)(c == '\t' || c == '|' || c == ':' || c == ';'
                                                 ? 2
                                                 : Py_UNICODE_ISSPACE((Py_UCS4)c) ? 1 : 0);
            classed = 1;
        }
        const Py_UCS1 *line = data;
        unsigned before = 0; /* the class of the character before */
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned now = classes[line[i]];
            if ((now & 2) || (now & before))
                Py_RETURN_TRUE;
            before = now;
        }
        Py_RETURN_FALSE;
    }
    int space = 0; /* the character before was whitespace */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '\t' || c == '|' || c == ':' || c == ';' || c == 0xFF1A || c == 0xFF1B)
            Py_RETURN_TRUE;
        if (Py_UNICODE_ISSPACE(c)) {
            if (space)
                Py_RETURN_TRUE;
            space = 1;
        } else {
            space = 0;
        }
    }
    Py_RETURN_FALSE;
}

/* presence(g, k, f, lo, n, c, strong, records, fact_of, expand_max, pivot_max): the middle
 * of match.present for a message's useful entries (int64 buffers g, k, f, lo, n, c; bool
 * ``strong``), against the uint32 ``records`` of the index and the int64 ``fact_of`` table
 * (16 fields): each group's smallest lookup is its pivot; lookups of at most ``expand_max``
 * records (the pivot: ``pivot_max``) are expanded, the larger ones only tested against the
 * group's candidate records; a group's values owned by a record a unique field identified
 * there are that record's alone (match._unclaimed); then per (group, record) the fields
 * matched.  Returns, in (group, record) order, for each pair present (two facts, or a
 * unique field): its ``group << 32 | record``, its field bits and whether a unique field
 * identified it; and for each matched value of the identified pairs its group, record,
 * field and column (seven bytes buffers).  match._present_pairs_py is the numpy version
 * (a test compares): ~80 array operations, each with its fixed cost, on a sheet's few
 * thousand matches. */
/* A match: its record, and the entry it came from (``-1 - entry`` for a verified one, which
 * is never strong): its group, field, key and column are the entry's. */
typedef struct {
    int64_t r, entry;
} PresenceMatch;

typedef struct {
    PresenceMatch *at;
    Py_ssize_t len, cap;
} PresenceMatches;

typedef struct {
    int64_t key, second;
    Py_ssize_t at;
} PresenceOrder;

static int presence_push(PresenceMatches *m, PresenceMatch x) {
    if (m->len == m->cap) {
        Py_ssize_t cap = m->cap ? 2 * m->cap : 256;
        PresenceMatch *grown = PyMem_Realloc(m->at, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        m->at = grown;
        m->cap = cap;
    }
    m->at[m->len++] = x;
    return 0;
}

/* By key, then second, then place: a stable sort by (key, second). */
static int presence_order_cmp(const void *a, const void *b) {
    const PresenceOrder *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->second != y->second)
        return x->second < y->second ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

static int presence_less(const PresenceOrder *x, const PresenceOrder *y) {
    if (x->key != y->key)
        return x->key < y->key;
    if (x->second != y->second)
        return x->second < y->second;
    return x->at < y->at;
}

/* ``o[0:n]`` sorted by (key, second, place) by insertion while that takes at most a few
 * moves an element, else by qsort (the same order: no two are equal). */
static void presence_insertion_sort(PresenceOrder *o, Py_ssize_t n) {
    Py_ssize_t moves = 0, budget = 8 * n + 64;
    for (Py_ssize_t i = 1; i < n; i++) {
        PresenceOrder x = o[i];
        Py_ssize_t j = i;
        while (j > 0 && presence_less(&x, &o[j - 1])) {
            o[j] = o[j - 1];
            j--;
            if (++moves > budget) {
                o[j] = x;
                qsort(o, (size_t)n, sizeof *o, presence_order_cmp);
                return;
            }
        }
        o[j] = x;
    }
}

/* ``o[0:n]`` sorted by (key, second, place), for keys whose groups (``key >> shift``) come
 * mostly in order (a message's matches: group by group, then the verified ones group by
 * group again): cut where the group falls back, each piece sorted by insertion (its
 * groups' few out of order), then the pieces merged pairwise.  -1 (MemoryError) if the
 * scratch cannot be had. */
static int presence_sort(PresenceOrder *o, Py_ssize_t n, int shift) {
    Py_ssize_t pieces = 1;
    for (Py_ssize_t i = 1; i < n; i++)
        if ((o[i].key >> shift) < (o[i - 1].key >> shift))
            pieces++;
    Py_ssize_t *cuts = PyMem_Malloc((size_t)(pieces + 1) * sizeof *cuts);
    PresenceOrder *tmp = pieces > 1 ? PyMem_Malloc((size_t)n * sizeof *tmp) : NULL;
    if (cuts == NULL || (pieces > 1 && tmp == NULL)) {
        PyMem_Free(cuts);
        PyMem_Free(tmp);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t p = 0;
    cuts[p++] = 0;
    for (Py_ssize_t i = 1; i < n; i++)
        if ((o[i].key >> shift) < (o[i - 1].key >> shift))
            cuts[p++] = i;
    cuts[p] = n;
    for (Py_ssize_t q = 0; q < pieces; q++)
        presence_insertion_sort(o + cuts[q], cuts[q + 1] - cuts[q]);
    PresenceOrder *from = o, *to = tmp;
    while (pieces > 1) {
        Py_ssize_t merged = 0;
        for (Py_ssize_t q = 0; q < pieces; q += 2) {
            /* The last piece of an odd number is copied over as it is. */
            Py_ssize_t a = cuts[q], mid = cuts[q + 1], end = q + 1 < pieces ? cuts[q + 2] : mid;
            Py_ssize_t i = a, j = mid, k = a;
            while (i < mid && j < end)
                to[k++] = presence_less(&from[j], &from[i]) ? from[j++] : from[i++];
            while (i < mid)
                to[k++] = from[i++];
            while (j < end)
                to[k++] = from[j++];
            cuts[merged++] = a;
        }
        cuts[merged] = n;
        pieces = merged;
        PresenceOrder *swap = from;
        from = to;
        to = swap;
    }
    if (from != o)
        memcpy(o, from, (size_t)n * sizeof *o);
    PyMem_Free(cuts);
    PyMem_Free(tmp);
    return 0;
}

/* ``values`` sorted and made distinct in place (groups ``value >> 32`` mostly in order, as
 * presence_sort); returns how many are left, -1 on MemoryError. */
static Py_ssize_t presence_distinct(int64_t *values, Py_ssize_t n) {
    if (n == 0)
        return 0;
    PresenceOrder *o = PyMem_Malloc((size_t)n * sizeof *o);
    if (o == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        o[i] = (PresenceOrder){values[i], 0, i};
    if (presence_sort(o, n, 32) < 0) {
        PyMem_Free(o);
        return -1;
    }
    Py_ssize_t out = 1;
    values[0] = o[0].key;
    for (Py_ssize_t i = 1; i < n; i++)
        if (o[i].key != values[out - 1])
            values[out++] = o[i].key;
    PyMem_Free(o);
    return out;
}

/* The first index of the ascending ``values[0:n]`` whose value (shifted right by
 * ``shift``) is >= x (right: > x). */
static Py_ssize_t presence_bound(const int64_t *values, Py_ssize_t n, int64_t x, int shift,
                                 int right) {
    Py_ssize_t a = 0, b = n;
    while (a < b) {
        Py_ssize_t mid = a + ((b - a) >> 1);
        int64_t v = values[mid] >> shift;
        if (v < x || (right && v == x))
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

/* Whether ``x`` is in the ascending ``values[0:n]``, searched from ``*at`` (where the last
 * search ended: values sought in about ascending order take a few steps), left at the
 * first index whose value is >= x. */
static int presence_member(const int64_t *values, Py_ssize_t n, int64_t x, Py_ssize_t *at) {
    Py_ssize_t lo, hi;
    if (*at > 0 && values[*at - 1] >= x) {
        lo = 0;
        hi = *at - 1;
    } else {
        Py_ssize_t step = 1;
        lo = hi = *at;
        while (hi < n && values[hi] < x) {
            lo = hi + 1;
            hi += step;
            step <<= 1;
        }
        if (hi > n)
            hi = n;
    }
    while (lo < hi) {
        Py_ssize_t mid = lo + ((hi - lo) >> 1);
        if (values[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < n && values[lo] == x;
}

/* Like presence_member, over an ascending run of uint32 records. */
static int presence_member_u32(const uint32_t *values, Py_ssize_t n, int64_t x, Py_ssize_t *at) {
    Py_ssize_t lo, hi;
    if (*at > 0 && (int64_t)values[*at - 1] >= x) {
        lo = 0;
        hi = *at - 1;
    } else {
        Py_ssize_t step = 1;
        lo = hi = *at;
        while (hi < n && (int64_t)values[hi] < x) {
            lo = hi + 1;
            hi += step;
            step <<= 1;
        }
        if (hi > n)
            hi = n;
    }
    while (lo < hi) {
        Py_ssize_t mid = lo + ((hi - lo) >> 1);
        if ((int64_t)values[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < n && (int64_t)values[lo] == x;
}

/* The large lookups (``flags[i]`` 0) tested against their group's candidate records (the
 * distinct (group, record) of the ``expanded`` first matches): each found pair pushed as a
 * verified match, entry by entry, its records ascending.  Each distinct (group, run) (a
 * key's: a value repeated in a row is looked up once) is intersected once, walking the smaller of its run and the group's candidates and
 * searching the other from where the last search ended: testing every candidate against
 * every large lookup of a row took its candidates times its lookups (4,000 values in one
 * row: 1.2 s).  -1 on MemoryError. */
static int presence_verify(PresenceMatches *found, Py_ssize_t expanded, const int64_t *g,
                           const int64_t *lo, const int64_t *n,
                           const char *flags, Py_ssize_t m, const uint32_t *records) {
    int ok = -1;
    Py_ssize_t large = 0, distinct = 0, hit_len = 0, hit_cap = 256;
    int64_t *cands = PyMem_Malloc((size_t)expanded * sizeof *cands);
    PresenceOrder *keys = PyMem_Malloc((size_t)(m ? m : 1) * sizeof *keys);
    Py_ssize_t *key_of = PyMem_Malloc((size_t)(m ? m : 1) * sizeof *key_of);
    Py_ssize_t *from = PyMem_Malloc((size_t)(m + 1) * sizeof *from);
    int64_t *hits = PyMem_Malloc((size_t)hit_cap * sizeof *hits);
    if (cands == NULL || keys == NULL || key_of == NULL || from == NULL || hits == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t j = 0; j < expanded; j++)
        cands[j] = (int64_t)(((uint64_t)g[found->at[j].entry] << 32) | (uint64_t)found->at[j].r);
    Py_ssize_t count = presence_distinct(cands, expanded);
    if (count < 0)
        goto out;
    for (Py_ssize_t i = 0; i < m; i++)
        if (!flags[i])
            keys[large++] = (PresenceOrder){g[i], lo[i], i};
    if (presence_sort(keys, large, 0) < 0)
        goto out;
    for (Py_ssize_t a = 0; a < large;) {
        Py_ssize_t b = a, e = keys[a].at;
        while (b < large && keys[b].key == keys[a].key && keys[b].second == keys[a].second &&
               n[keys[b].at] == n[e])
            key_of[keys[b++].at] = distinct;
        from[distinct++] = hit_len;
        Py_ssize_t left = presence_bound(cands, count, g[e], 32, 0);
        Py_ssize_t right = presence_bound(cands, count, g[e], 32, 1);
        const uint32_t *run = records + lo[e];
        Py_ssize_t run_len = (Py_ssize_t)n[e], cursor = 0, many = right - left;
        int64_t high = (int64_t)((uint64_t)g[e] << 32), last = -1;
        for (Py_ssize_t j = 0; j < (many <= run_len ? many : run_len); j++) {
            int64_t r = many <= run_len ? cands[left + j] & 0xFFFFFFFF : (int64_t)run[j];
            int in = many <= run_len ? presence_member_u32(run, run_len, r, &cursor)
                                     : presence_member(cands + left, many, high | r, &cursor);
            if (!in || r == last)
                continue;
            if (hit_len == hit_cap) {
                int64_t *grown = PyMem_Realloc(hits, (size_t)(2 * hit_cap) * sizeof *hits);
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto out;
                }
                hits = grown;
                hit_cap *= 2;
            }
            hits[hit_len++] = last = r;
        }
        a = b;
    }
    from[distinct] = hit_len;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (flags[i])
            continue;
        for (Py_ssize_t h = from[key_of[i]]; h < from[key_of[i] + 1]; h++)
            if (presence_push(found, (PresenceMatch){hits[h], -1 - i}) < 0)
                goto out;
    }
    ok = 0;
out:
    PyMem_Free(cands);
    PyMem_Free(keys);
    PyMem_Free(key_of);
    PyMem_Free(from);
    PyMem_Free(hits);
    return ok;
}

/* How many entries the match.present arrays hold (int64 g, k, f, lo, n, c and a byte each of
 * ``strong``), beside ``records`` (uint32s); -1 with a ValueError naming ``who`` when their
 * sizes do not agree.  presence and owned_runs take the same arrays. */
static Py_ssize_t entry_count(const char *who, const Py_buffer *g, const Py_buffer *k,
                              const Py_buffer *f, const Py_buffer *lo, const Py_buffer *n,
                              const Py_buffer *c, const Py_buffer *strong,
                              const Py_buffer *records) {
    Py_ssize_t m = g->len / 8;
    if (g->len % 8 || k->len != g->len || f->len != g->len || lo->len != g->len ||
        n->len != g->len || c->len != g->len || strong->len != m || records->len % 4) {
        PyErr_Format(PyExc_ValueError, "%s: buffers of mismatched sizes", who);
        return -1;
    }
    return m;
}

/* The seven arrays of ``count`` entries useful_entries and owned_runs give (six of int64s,
 * then the ``strong`` bytes) into ``parts``; -1 when one cannot be made. */
static int entry_parts(PyObject *parts[7], Py_ssize_t count) {
    for (int p = 0; p < 7; p++)
        if ((parts[p] = PyBytes_FromStringAndSize(NULL, p < 6 ? count * 8 : count)) == NULL)
            return -1;
    return 0;
}

static PyObject *presence(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer gb, kb, fb, lob, nb, cb, sb, rb, factb;
    Py_ssize_t expand_max, pivot_max;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*nn", &gb, &kb, &fb, &lob, &nb, &cb, &sb, &rb,
                          &factb, &expand_max, &pivot_max))
        return NULL;
    PyObject *answer = NULL, *parts[7] = {NULL};
    PresenceMatches found = {NULL, 0, 0};
    PresenceOrder *order = NULL;
    int64_t *scratch = NULL, *claimed = NULL;
    char *flags = NULL;
    Py_ssize_t m = entry_count("presence", &gb, &kb, &fb, &lob, &nb, &cb, &sb, &rb),
               size = rb.len / 4;
    if (m < 0)
        goto done;
    if (factb.len != 16 * 8) {
        PyErr_SetString(PyExc_ValueError, "presence: buffers of mismatched sizes");
        goto done;
    }
    {
        const int64_t *g = gb.buf, *k = kb.buf, *f = fb.buf, *lo = lob.buf, *n = nb.buf,
                      *c = cb.buf, *fact_of = factb.buf;
        const char *strong = sb.buf;
        const uint32_t *records = rb.buf;
        for (Py_ssize_t i = 0; i < m; i++) {
            if (lo[i] < 0 || n[i] < 0 || lo[i] + n[i] > size || f[i] < 0 || f[i] > 15) {
                PyErr_SetString(PyExc_IndexError, "presence: a run outside records");
                goto done;
            }
        }
        /* Each group's pivot: its smallest lookup, the first of equals. */
        order = PyMem_Malloc((size_t)(m ? m : 1) * sizeof *order);
        flags = PyMem_Calloc((size_t)(m ? m : 1), 1);
        if (order == NULL || flags == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < m; i++)
            order[i] = (PresenceOrder){g[i], n[i], i};
        if (presence_sort(order, m, 0) < 0)
            goto done;
        for (Py_ssize_t j = 0; j < m; j++)
            if (j == 0 || order[j].key != order[j - 1].key)
                flags[order[j].at] = 1;
        int verify = 0;
        /* Each entry's run lies anywhere in the index's records (2.4 MB at 100,000 rows,
         * out of the cache after the rest of a message's work): the runs of the entries
         * eight ahead are fetched while these are read, where each was a cache miss in
         * turn. */
        for (Py_ssize_t i = 0; i < m && i < 8; i++)
            if (n[i] > 0)
                __builtin_prefetch(records + lo[i]);
        for (Py_ssize_t i = 0; i < m; i++) {
            if (i + 8 < m && n[i + 8] > 0)
                __builtin_prefetch(records + lo[i + 8]);
            int expand = n[i] <= expand_max || (flags[i] && n[i] <= pivot_max);
            flags[i] = (char)expand;
            if (!expand) {
                verify = 1;
                continue;
            }
            for (int64_t pos = lo[i]; pos < lo[i] + n[i]; pos++)
                if (presence_push(&found, (PresenceMatch){(int64_t)records[pos], i}) < 0)
                    goto done;
        }
        Py_ssize_t expanded = found.len;
        /* Large lookups (common names): each tested against its group's candidates. */
        if (verify && expanded && presence_verify(&found, expanded, g, lo, n, flags, m,
                                                  records) < 0)
            goto done;
        Py_ssize_t count = found.len;
        PresenceMatch *at = found.at;
#define ENTRY(x) ((x).entry >= 0 ? (x).entry : -1 - (x).entry)
#define STRONG(x) ((x).entry >= 0 && strong[(x).entry])
#define PAIR(x, second) ((int64_t)(((uint64_t)g[ENTRY(x)] << 32) | (uint64_t)(second)))
        /* The values of a group owned by a record a unique field identified there. */
        scratch = PyMem_Malloc((size_t)(count ? count : 1) * sizeof *scratch);
        claimed = PyMem_Malloc((size_t)(count ? count : 1) * sizeof *claimed);
        if (scratch == NULL || claimed == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t owners = 0;
        for (Py_ssize_t j = 0; j < count; j++)
            if (STRONG(at[j]))
                scratch[owners++] = PAIR(at[j], at[j].r);
        owners = presence_distinct(scratch, owners);
        if (owners < 0)
            goto done;
        if (owners) {
            /* Owned: marked in place by the sign bit of the record (records are uint32). */
            Py_ssize_t claims = 0, kept = 0, from = 0;
            for (Py_ssize_t j = 0; j < count; j++) {
                if (presence_member(scratch, owners, PAIR(at[j], at[j].r), &from)) {
                    claimed[claims++] = PAIR(at[j], k[ENTRY(at[j])]);
                    at[j].r |= INT64_MIN;
                }
            }
            claims = presence_distinct(claimed, claims);
            if (claims < 0)
                goto done;
            from = 0;
            for (Py_ssize_t j = 0; j < count; j++) {
                int own = at[j].r < 0;
                at[j].r &= INT64_MAX;
                if (own || !presence_member(claimed, claims, PAIR(at[j], k[ENTRY(at[j])]), &from))
                    at[kept++] = at[j];
            }
            count = kept;
        }
        /* Per (group, record): the fields found, whether a unique field is one. */
        PyMem_Free(order);
        order = PyMem_Malloc((size_t)(count ? count : 1) * sizeof *order);
        if (order == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t j = 0; j < count; j++) {
            Py_ssize_t e = ENTRY(at[j]);
            uint64_t key = ((uint64_t)g[e] << 36) | ((uint64_t)at[j].r << 4) | (uint64_t)f[e];
            order[j] = (PresenceOrder){(int64_t)key, 0, j};
        }
        if (presence_sort(order, count, 36) < 0)
            goto done;
        /* Twice over the runs: first to count what to answer, then to write it. */
        Py_ssize_t runs = 0, picked = 0;
        int64_t *run_gr = NULL, *run_mask = NULL, *mg = NULL, *mr = NULL, *mf = NULL, *mc = NULL;
        char *run_strong = NULL;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                Py_ssize_t sizes[7] = {runs * 8, runs * 8, runs, picked * 8,
                                       picked * 8, picked * 8, picked * 8};
                for (int i = 0; i < 7; i++)
                    if ((parts[i] = PyBytes_FromStringAndSize(NULL, sizes[i])) == NULL)
                        goto done;
                run_gr = (int64_t *)PyBytes_AS_STRING(parts[0]);
                run_mask = (int64_t *)PyBytes_AS_STRING(parts[1]);
                run_strong = PyBytes_AS_STRING(parts[2]);
                mg = (int64_t *)PyBytes_AS_STRING(parts[3]);
                mr = (int64_t *)PyBytes_AS_STRING(parts[4]);
                mf = (int64_t *)PyBytes_AS_STRING(parts[5]);
                mc = (int64_t *)PyBytes_AS_STRING(parts[6]);
                runs = picked = 0;
            }
            for (Py_ssize_t a = 0; a < count;) {
                int64_t gr = order[a].key >> 4;
                Py_ssize_t b = a;
                int64_t mask = 0, facts = 0;
                int any_strong = 0;
                for (; b < count && (order[b].key >> 4) == gr; b++) {
                    int64_t field = order[b].key & 0xF;
                    any_strong |= STRONG(at[order[b].at]);
                    mask |= (int64_t)1 << field;
                    facts |= (int64_t)1 << (fact_of[field] & 63);
                }
                if (__builtin_popcountll((unsigned long long)facts) >= 2 || any_strong) {
                    if (pass == 1) {
                        run_gr[runs] = gr;
                        run_mask[runs] = mask;
                        run_strong[runs] = (char)any_strong;
                    }
                    runs++;
                    if (any_strong) {
                        for (Py_ssize_t j = a; j < b; j++, picked++) {
                            if (pass == 0)
                                continue;
                            int64_t key = order[j].key;
                            mg[picked] = (key >> 4) >> 32;
                            mr[picked] = (key >> 4) & 0xFFFFFFFF;
                            mf[picked] = key & 0xF;
                            mc[picked] = c[ENTRY(at[order[j].at])];
                        }
                    }
                }
                a = b;
            }
        }
#undef ENTRY
#undef STRONG
#undef PAIR
        answer = PyTuple_New(7);
        if (answer != NULL)
            for (int i = 0; i < 7; i++) {
                PyTuple_SET_ITEM(answer, i, parts[i]);
                parts[i] = NULL;
            }
    }
done:
    for (int i = 0; i < 7; i++)
        Py_XDECREF(parts[i]);
    PyMem_Free(found.at);
    PyMem_Free(order);
    PyMem_Free(scratch);
    PyMem_Free(claimed);
    PyMem_Free(flags);
    PyBuffer_Release(&gb);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&fb);
    PyBuffer_Release(&lob);
    PyBuffer_Release(&nb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&factb);
    return answer;
}

/* ==== End of running text of register matching ========================================= */

/* ==== Spreadsheets (engine/extract/spreadsheet.py): the cells of plain xlsx worksheets ===
 *
 * python-calamine reads a worksheet's XML twice (get_sheet_by_name reads its cells, then
 * reads the whole part again for its merged cells, which we do not use), each time inflating
 * it again, though the office guard has already inflated and checked it: 0.69 ms of a 12 KB
 * workbook's 1.6 ms of extraction.  These two functions read the bytes the guard kept, once.
 *
 * They read a strict subset of what calamine reads, and give exactly what it gives there:
 * the value of every cell, in the rows python-calamine's iter_rows yields (from the sheet's
 * first row, from the leftmost column holding a value, "" where there is none).  Anything
 * outside the subset -- a DTD, comment, CDATA or processing instruction, bytes that are not
 * UTF-8, a reference to white space, an ``_xHHHH_`` escape, a carriage return in a value, a
 * name with a prefix where calamine matches local names, a cell without its reference or out
 * of order, a date cell, a boolean not 0 or 1, an error calamine does not know, a number
 * with a style not known plain (it may be a date) or not plainly written, a merged range not plainly
 * written, tags that do not nest -- returns None, and the caller asks calamine
 * (spreadsheet.py; tests/engine/extract/test_sheet_cells.py compares the two).  Both only
 * read the bytes given; nothing here decides what is refused. */

typedef struct SGrid SGrid;
static void sg_tag(SGrid *grid, const char *name, Py_ssize_t len, const char *r, Py_ssize_t r_len,
                   int empty);
static int sg_over(const SGrid *grid);

typedef struct {
    const char *p, *end;
    /* the names of the open elements, to check that tags nest */
    const char *open[64];
    Py_ssize_t open_len[64];
    int depth;
    int rooted; /* the root element was met: no other may follow it */
    SGrid *grid; /* sheet_cells: each start tag told to sg_tag (NULL: none) */
} XScan;

enum { XT_EOF, XT_START, XT_END, XT_EMPTY, XT_TEXT, XT_BAD };

typedef struct {
    int kind;
    const char *name, *attrs, *text;
    Py_ssize_t name_len, attrs_len, text_len;
    /* a start tag's attributes r, t and s (a cell's reference, type and style), their values
     * as written, NULL where it has none: met by xs_attrs_ok's pass over them */
    const char *rts[3];
    Py_ssize_t rts_len[3];
} XTok;

static inline int xs_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static inline int xs_name_char(char c, int first) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':')
        return 1;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

/* xs_name_char as a table (a third of its instructions): 1 a name's first byte, 2 any. */
static const unsigned char xs_name_bytes[256] = {
    ['A' ... 'Z'] = 3, ['a' ... 'z'] = 3, ['_'] = 3, [':'] = 3,
    ['0' ... '9'] = 2, ['-'] = 2,         ['.'] = 2,
};

/* The bytes that end or quote within a tag: '<', '>', '"' and '\''. */
static const unsigned char xs_tag_bytes[256] = {['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1};

/* The bytes that end or matter in an attribute value: its quotes, '<' and '&'. */
static const unsigned char xs_value_bytes[256] = {['"'] = 1, ['\''] = 1, ['<'] = 1, ['&'] = 1};

/* An ASCII XML name at p; its length, 0 if none. */
static Py_ssize_t xs_name(const char *p, const char *end) {
    if (p >= end || !(xs_name_bytes[(unsigned char)*p] & 1))
        return 0;
    Py_ssize_t n = 1;
    while (p + n < end && xs_name_bytes[(unsigned char)p[n]])
        n++;
    return n;
}

/* Whether text (outside a value read) holds only well-formed references. */
static int xs_refs_ok(const char *s, Py_ssize_t n) {
    const char *end = s + n;
    for (const char *p = memchr(s, '&', n); p != NULL; p = memchr(p, '&', end - p)) {
        const char *semi = memchr(p, ';', end - p);
        if (semi == NULL || semi - p < 3 || semi - p > 10)
            return 0;
        const char *q = p + 1;
        if (*q == '#') {
            q++;
            int hex = q < semi && *q == 'x';
            q += hex;
            if (q == semi)
                return 0;
            for (; q < semi; q++)
                if (!((*q >= '0' && *q <= '9') ||
                      (hex && ((*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F')))))
                    return 0;
        } else if (xs_name(q, semi) != semi - q) {
            return 0;
        }
        p = semi + 1;
    }
    return 1;
}

/* Attributes: (space+ name = "value")* space* with each value free of '<', references
 * well-formed, no name twice; the values of ``r``, ``t`` and ``s`` into tok->rts (left as
 * they are where absent) where tok is not NULL. */
static int xs_attrs_ok(const char *a, Py_ssize_t n, XTok *tok) {
    const char *p = a, *end = a + n;
    const char *names[32];
    Py_ssize_t lens[32];
    int count = 0;
    while (p < end) {
        if (!xs_space(*p))
            return 0;
        while (p < end && xs_space(*p))
            p++;
        if (p == end)
            return 1;
        Py_ssize_t len = xs_name(p, end);
        if (len == 0 || p + len + 2 > end || p[len] != '=' ||
            (p[len + 1] != '"' && p[len + 1] != '\''))
            return 0;
        for (int i = 0; i < count; i++)
            if (lens[i] == len && names[i][0] == p[0] && memcmp(names[i], p, len) == 0)
                return 0;
        if (count == 32)
            return 0;
        names[count] = p;
        lens[count++] = len;
        char quote = p[len + 1];
        const char *v = p + len + 2;
        /* the value up to its quote, free of '<', in one pass (values are short: three calls
         * to memchr cost more), to the next byte that matters by table (half the
         * instructions of testing each byte for three) */
        const char *close = v;
        int references = 0;
        for (;; close++) {
            while (close < end && !xs_value_bytes[(unsigned char)*close])
                close++;
            if (close == end || *close == quote)
                break;
            if (*close == '<')
                return 0;
            references |= *close == '&';
        }
        if (close == end || (references && !xs_refs_ok(v, close - v)))
            return 0;
        if (tok != NULL && len == 1) {
            int k = *p == 'r' ? 0 : *p == 't' ? 1 : *p == 's' ? 2 : -1;
            if (k >= 0) {
                tok->rts[k] = v;
                tok->rts_len[k] = close - v;
            }
        }
        p = close + 1;
    }
    return 1;
}

/* The value of attribute ``name`` (raw bytes), or NULL. */
static const char *xs_attr(const XTok *t, const char *name, Py_ssize_t *len) {
    Py_ssize_t nl = (Py_ssize_t)strlen(name);
    const char *p = t->attrs, *end = t->attrs + t->attrs_len;
    while (p < end) {
        while (p < end && xs_space(*p))
            p++;
        if (p == end)
            break;
        Py_ssize_t l = xs_name(p, end);
        char quote = p[l + 1];
        const char *v = p + l + 2;
        const char *close = memchr(v, quote, end - v);
        if (l == nl && memcmp(p, name, nl) == 0) {
            *len = close - v;
            return v;
        }
        p = close + 1;
    }
    return NULL;
}

/* The next token; tags are checked to nest and their attributes to be well-formed. */
static void xs_next(XScan *s, XTok *t) {
    t->kind = XT_BAD;
    /* no name but a tag's: xs_is on a text or bad token (xs_run asks) read stale memory */
    t->name = NULL;
    t->name_len = 0;
    if (s->p >= s->end) {
        t->kind = s->depth == 0 ? XT_EOF : XT_BAD;
        return;
    }
    if (*s->p != '<') {
        const char *lt = memchr(s->p, '<', s->end - s->p);
        const char *stop = lt ? lt : s->end;
        t->text = s->p;
        t->text_len = stop - s->p;
        s->p = stop;
        if (!xs_refs_ok(t->text, t->text_len))
            return;
        if (s->depth == 0)
            for (Py_ssize_t i = 0; i < t->text_len; i++)
                if (!xs_space(t->text[i]))
                    return;
        t->kind = XT_TEXT;
        return;
    }
    const char *p = s->p + 1;
    int closing = p < s->end && *p == '/';
    p += closing;
    Py_ssize_t len = xs_name(p, s->end);
    if (len == 0)
        return; /* '<?', '<!', or no name */
    t->name = p;
    t->name_len = len;
    const char *gt = p + len;
    char quote = 0;
    for (;; gt++) {
        while (gt < s->end && !xs_tag_bytes[(unsigned char)*gt])
            gt++;
        if (gt == s->end)
            break;
        if (quote) {
            if (*gt == quote)
                quote = 0;
        } else if (*gt == '"' || *gt == '\'') {
            quote = *gt;
        } else {
            break; /* '>' or '<' */
        }
    }
    if (gt == s->end || *gt != '>')
        return;
    s->p = gt + 1;
    if (closing) {
        for (const char *q = p + len; q < gt; q++)
            if (!xs_space(*q))
                return;
        if (s->depth == 0 || s->open_len[s->depth - 1] != len ||
            s->open[s->depth - 1][0] != p[0] || memcmp(s->open[s->depth - 1], p, len) != 0)
            return;
        s->depth--;
        t->kind = XT_END;
        return;
    }
    int empty = gt[-1] == '/' && gt - 1 >= p + len;
    if (s->depth == 0) {
        if (s->rooted)
            return;
        s->rooted = 1;
    }
    t->attrs = p + len;
    t->attrs_len = (gt - empty) - t->attrs;
    t->rts[0] = t->rts[1] = t->rts[2] = NULL;
    t->rts_len[0] = t->rts_len[1] = t->rts_len[2] = 0;
    if (!xs_attrs_ok(t->attrs, t->attrs_len, t))
        return;
    if (s->grid != NULL)
        sg_tag(s->grid, p, len, t->rts[0], t->rts_len[0], empty);
    if (empty) {
        t->kind = XT_EMPTY;
        return;
    }
    if (s->depth == 64)
        return;
    s->open[s->depth] = p;
    s->open_len[s->depth++] = len;
    t->kind = XT_START;
}

static inline int xs_is(const XTok *t, const char *name) {
    Py_ssize_t n = (Py_ssize_t)strlen(name);
    return t->name_len == n && memcmp(t->name, name, n) == 0;
}

/* Whether a name is ``local`` with a prefix (calamine matches local names). */
static int xs_prefixed(const XTok *t, const char *local) {
    Py_ssize_t n = (Py_ssize_t)strlen(local);
    return t->name_len > n && t->name[t->name_len - n - 1] == ':' &&
           memcmp(t->name + t->name_len - n, local, n) == 0;
}

/* Skip the content of the element just opened, up to its end tag. */
static int xs_skip(XScan *s) {
    int depth = s->depth;
    XTok t;
    do {
        xs_next(s, &t);
        if (t.kind == XT_BAD || t.kind == XT_EOF)
            return 0;
    } while (s->depth >= depth);
    return 1;
}

/* Whether bytes are well-formed UTF-8 (calamine refuses a part that is not, wherever). */
static int xs_utf8(const unsigned char *p, Py_ssize_t n) {
    const unsigned char *end = p + n;
    while (p < end) {
        if (end - p >= 8) {
            uint64_t word;
            memcpy(&word, p, 8);
            if (!(word & 0x8080808080808080ULL)) {
                p += 8;
                continue;
            }
        }
        unsigned char c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        int len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (end - p < len)
            return 0;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        p += len;
    }
    return 1;
}

/* An XML declaration at the start (UTF-8 or none named), skipped; 0 for anything else
 * that starts with '<?', '<!' or a byte order mark. */
static int xs_start(XScan *s) {
    if (!xs_utf8((const unsigned char *)s->p, s->end - s->p))
        return 0;
    if (s->end - s->p >= 6 && memcmp(s->p, "<?xml", 5) == 0 && xs_space(s->p[5])) {
        const char *close = NULL;
        for (const char *q = s->p; q + 1 < s->end; q++)
            if (q[0] == '?' && q[1] == '>') {
                close = q;
                break;
            }
        if (close == NULL)
            return 0;
        XTok t;
        t.attrs = s->p + 5;
        t.attrs_len = close - t.attrs;
        while (t.attrs_len && xs_space(t.attrs[t.attrs_len - 1]))
            t.attrs_len--;
        if (!xs_attrs_ok(t.attrs, t.attrs_len, NULL))
            return 0;
        Py_ssize_t n;
        const char *enc = xs_attr(&t, "encoding", &n);
        if (enc != NULL && !(n == 5 && PyOS_strnicmp(enc, "utf-8", 5) == 0))
            return 0;
        s->p = close + 2;
    }
    return 1;
}

/* A character reference's code point (``&#...;`` at s, its length n with the ';'), or 0
 * outside the subset: only characters that are no XML white space (calamine trims those
 * around a value, before or after resolving, we do not know: left to it). */
static Py_UCS4 xs_char_ref(const char *s, Py_ssize_t n) {
    Py_ssize_t i = 2;
    int hex = n > 2 && s[2] == 'x';
    i += hex;
    if (i >= n - 1 || n - 1 - i > 8)
        return 0;
    Py_UCS4 c = 0;
    for (; i < n - 1; i++) {
        char d = s[i];
        if (d >= '0' && d <= '9')
            c = c * (hex ? 16 : 10) + (Py_UCS4)(d - '0');
        else if (hex && d >= 'a' && d <= 'f')
            c = c * 16 + (Py_UCS4)(d - 'a' + 10);
        else if (hex && d >= 'A' && d <= 'F')
            c = c * 16 + (Py_UCS4)(d - 'A' + 10);
        else
            return 0;
        if (c > 0x10FFFF)
            return 0;
    }
    if (c < 0x21 || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF)
        return 0;
    return c;
}

/* The bytes xs_text reads further: '\r', '&', '_' and those of non-ASCII characters. */
static const unsigned char xs_text_bytes[256] = {
    ['\r'] = 1, ['&'] = 1, ['_'] = 1, [0x80 ... 0xFF] = 1};

/* UTF-8 bytes as a str: ASCII ones copied into their string (the decoder costs a short
 * value twice the copy), any other decoded.  The same str either way (a compact ASCII one
 * is what the decoder makes of ASCII bytes). */
static PyObject *xs_ascii(const char *text, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)text[i] >= 0x80)
            return PyUnicode_DecodeUTF8(text, n, NULL);
    PyObject *out = PyUnicode_New(n, 127);
    if (out != NULL)
        memcpy(PyUnicode_DATA(out), text, n);
    return out;
}

/* A value's text, references resolved, trimmed of XML white space unless ``preserve``;
 * NULL with no exception set when outside the subset. */
static PyObject *xs_text(const char *s, Py_ssize_t n, int preserve) {
    /* Most values hold none of the bytes that need more below: one pass tells, and such a
     * value is copied into its str as it is (trimmed), as the steps below would make it. */
    unsigned char special = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        special |= xs_text_bytes[(unsigned char)s[i]];
    if (special && memchr(s, '\r', n) != NULL)
        return NULL; /* calamine turns line ends into "\n" */
    if (!preserve) {
        while (n && xs_space(*s)) {
            s++;
            n--;
        }
        while (n && xs_space(s[n - 1]))
            n--;
    }
    if (!special) {
        PyObject *plain = PyUnicode_New(n, 127);
        if (plain != NULL)
            memcpy(PyUnicode_DATA(plain), s, n);
        return plain;
    }
    const char *text = s;
    char *buf = NULL;
    Py_ssize_t k = n;
    if (memchr(s, '&', n) != NULL) {
        /* A reference is never shorter than the UTF-8 it stands for (&#x10FFFF; is 4). */
        buf = PyMem_Malloc(n);
        if (buf == NULL)
            return PyErr_NoMemory();
        k = 0;
        for (Py_ssize_t i = 0; i < n;) {
            if (s[i] != '&') {
                buf[k++] = s[i++];
                continue;
            }
            const char *semi = memchr(s + i, ';', n - i);
            Py_ssize_t l = semi ? semi - (s + i) + 1 : 0;
            Py_UCS4 c = 0;
            if (l == 4 && memcmp(s + i, "&lt;", 4) == 0)
                c = '<';
            else if (l == 4 && memcmp(s + i, "&gt;", 4) == 0)
                c = '>';
            else if (l == 5 && memcmp(s + i, "&amp;", 5) == 0)
                c = '&';
            else if (l == 6 && memcmp(s + i, "&quot;", 6) == 0)
                c = '"';
            else if (l == 6 && memcmp(s + i, "&apos;", 6) == 0)
                c = '\'';
            else if (l > 3 && s[i + 1] == '#')
                c = xs_char_ref(s + i, l);
            if (c == 0) {
                PyMem_Free(buf);
                return NULL;
            }
            if (c < 0x80) {
                buf[k++] = (char)c;
            } else if (c < 0x800) {
                buf[k++] = (char)(0xC0 | (c >> 6));
                buf[k++] = (char)(0x80 | (c & 0x3F));
            } else if (c < 0x10000) {
                buf[k++] = (char)(0xE0 | (c >> 12));
                buf[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
                buf[k++] = (char)(0x80 | (c & 0x3F));
            } else {
                buf[k++] = (char)(0xF0 | (c >> 18));
                buf[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
                buf[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
                buf[k++] = (char)(0x80 | (c & 0x3F));
            }
            i += l;
        }
        text = buf;
    }
    PyObject *out = NULL;
    for (const char *u = memchr(text, '_', k); u != NULL && u + 1 < text + k;
         u = memchr(u + 1, '_', text + k - u - 1))
        if (u[1] == 'x')
            goto done; /* calamine reads _xHHHH_ as a character */
    out = xs_ascii(text, k);
    if (out == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
done:
    PyMem_Free(buf);
    return out;
}

/* A ``<t>`` just opened (or empty): its text. */
static PyObject *xs_t(XScan *s, const XTok *open) {
    Py_ssize_t n;
    const char *space = xs_attr(open, "xml:space", &n);
    int preserve = space != NULL && n == 8 && memcmp(space, "preserve", 8) == 0;
    if (open->attrs_len && !(space != NULL && (preserve || (n == 7 && memcmp(space, "default", 7) == 0))))
        return NULL;
    for (const char *q = open->attrs; q < open->attrs + open->attrs_len; q++)
        if (*q == '&')
            return NULL;
    if (open->kind == XT_EMPTY)
        return PyUnicode_FromStringAndSize("", 0);
    XTok t;
    xs_next(s, &t);
    if (t.kind == XT_END)
        return PyUnicode_FromStringAndSize("", 0);
    if (t.kind != XT_TEXT)
        return NULL;
    PyObject *text = xs_text(t.text, t.text_len, preserve);
    if (text == NULL)
        return NULL;
    xs_next(s, &t);
    if (t.kind != XT_END) {
        Py_DECREF(text);
        return NULL;
    }
    return text;
}

/* Whether a text token is white space only. */
static int xs_blank(const XTok *t) {
    for (Py_ssize_t i = 0; i < t->text_len; i++)
        if (!xs_space(t->text[i]))
            return 0;
    return 1;
}

/* A run (``<r>`` just opened): an optional ``<rPr>``, then one ``<t>``: its text. */
static PyObject *xs_run(XScan *s) {
    PyObject *run = NULL;
    XTok u;
    for (;;) {
        xs_next(s, &u);
        if (u.kind == XT_TEXT && xs_blank(&u))
            continue;
        if (u.kind == XT_END)
            return run;
        if (run == NULL && xs_is(&u, "rPr") &&
            (u.kind == XT_EMPTY || (u.kind == XT_START && xs_skip(s))))
            continue;
        if (run == NULL && xs_is(&u, "t") && (u.kind == XT_START || u.kind == XT_EMPTY)) {
            run = xs_t(s, &u);
            if (run == NULL)
                return NULL;
            continue;
        }
        Py_XDECREF(run);
        return NULL;
    }
}

/* A string item (``<si>`` or ``<is>``, just opened or empty): one ``<t>``, or runs, then
 * phonetic runs and properties (not read).  NULL with no exception set when outside the
 * subset. */
static PyObject *xs_string(XScan *s, const XTok *open) {
    if (open->kind == XT_EMPTY)
        return PyUnicode_FromStringAndSize("", 0);
    /* out: the first piece; pieces: all of them once there are two, joined at the end
     * (concatenating each run onto the rest would copy a string of n runs n times) */
    PyObject *out = NULL, *pieces = NULL;
    int direct = 0, runs = 0, phonetic = 0;
    XTok t;
    for (;;) {
        xs_next(s, &t);
        if (t.kind == XT_TEXT && xs_blank(&t))
            continue;
        if (t.kind == XT_END)
            break;
        PyObject *piece = NULL;
        if (t.kind == XT_START || t.kind == XT_EMPTY) {
            if (xs_is(&t, "t") && !direct && !runs && !phonetic) {
                direct = 1;
                piece = xs_t(s, &t);
            } else if (xs_is(&t, "r") && t.kind == XT_START && !direct && !phonetic) {
                runs = 1;
                piece = xs_run(s);
            } else if (xs_is(&t, "rPh") || xs_is(&t, "phoneticPr")) {
                phonetic = 1;
                if (t.kind == XT_EMPTY || xs_skip(s))
                    continue;
            }
        }
        if (piece == NULL) {
            Py_XDECREF(out);
            Py_XDECREF(pieces);
            return NULL;
        }
        if (out == NULL) {
            out = piece;
            continue;
        }
        if (pieces == NULL && (pieces = PyList_New(0)) != NULL && PyList_Append(pieces, out) < 0)
            Py_CLEAR(pieces);
        int failed = pieces == NULL || PyList_Append(pieces, piece) < 0;
        Py_DECREF(piece);
        if (failed) {
            Py_DECREF(out);
            Py_XDECREF(pieces);
            return NULL;
        }
    }
    if (pieces != NULL) {
        PyObject *none = PyUnicode_FromStringAndSize("", 0);
        Py_SETREF(out, none == NULL ? NULL : PyUnicode_Join(none, pieces));
        Py_XDECREF(none);
        Py_DECREF(pieces);
        return out;
    }
    if (out == NULL && !phonetic)
        return PyUnicode_FromStringAndSize("", 0);
    return out;
}

/* shared_strings(xml) -> list of str, or None outside the subset: ``<sst>`` of ``<si>``. */
static PyObject *shared_strings(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    XScan s = {.p = view.buf, .end = (const char *)view.buf + view.len, .depth = 0, .rooted = 0};
    PyObject *out = PyList_New(0);
    XTok t;
    if (out == NULL)
        goto done;
    if (!xs_start(&s))
        goto outside; /* not UTF-8, another encoding named: read as [] it hid every string */
    do
        xs_next(&s, &t);
    while (t.kind == XT_TEXT);
    if (t.kind != XT_START || !xs_is(&t, "sst"))
        goto outside;
    for (;;) {
        xs_next(&s, &t);
        if (t.kind == XT_TEXT && xs_blank(&t))
            continue;
        if (t.kind == XT_END)
            break;
        if ((t.kind != XT_START && t.kind != XT_EMPTY) || !xs_is(&t, "si"))
            goto outside;
        PyObject *item = xs_string(&s, &t);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            goto outside;
        }
        Py_DECREF(item);
    }
    do
        xs_next(&s, &t);
    while (t.kind == XT_TEXT);
    if (t.kind == XT_EOF)
        goto done;
outside:
    Py_CLEAR(out);
    if (!PyErr_Occurred())
        out = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return out;
}

typedef struct {
    int32_t row, col; /* 0-based */
    PyObject *value;  /* NULL: an empty cell */
} XCell;

/* A cell reference (``B12``): 0-based row and column; 0 if malformed or out of bounds. */
static int xs_ref(const char *p, Py_ssize_t n, int32_t *row, int32_t *col) {
    Py_ssize_t i = 0;
    int32_t c = 0, r = 0;
    while (i < n && i < 3 && p[i] >= 'A' && p[i] <= 'Z')
        c = c * 26 + (p[i++] - 'A' + 1);
    if (i == 0 || i == n || p[i] == '0' || n - i > 7)
        return 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        r = r * 10 + (p[i] - '0');
    }
    if (c > 16384 || r < 1 || r > 1048576)
        return 0;
    *row = r - 1;
    *col = c - 1;
    return 1;
}

/* Whether a row number (``r`` of ``<row>``) is plainly written and in bounds. */
static int xs_row_number(const char *p, Py_ssize_t n) {
    if (n == 0 || n > 7 || p[0] == '0')
        return 0;
    int32_t r = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        r = r * 10 + (p[i] - '0');
    }
    return r <= 1048576;
}

/* A number as calamine parses it where both agree: -?digits(.digits)?([eE][-+]?digits)?,
 * finite; NULL with no exception set otherwise. */
static PyObject *xs_number(const char *p, Py_ssize_t n) {
    char buf[64];
    Py_ssize_t i = 0;
    if (n == 0 || n >= (Py_ssize_t)sizeof buf)
        return NULL;
    if (p[i] == '-')
        i++;
    Py_ssize_t d = i;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == d)
        return NULL;
    if (i < n && p[i] == '.') {
        d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return NULL;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            i++;
        d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return NULL;
    }
    if (i != n)
        return NULL;
    memcpy(buf, p, n);
    buf[n] = 0;
    double v = PyOS_string_to_double(buf, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred())
        return NULL;
    if (!isfinite(v))
        return NULL;
    return PyFloat_FromDouble(v);
}

enum { XC_NUMBER, XC_SHARED, XC_INLINE, XC_BOOL, XC_ERROR, XC_STR };

/* The error values calamine knows; python-calamine gives each cell holding one "". */
static const char *const xs_errors[] = {"#DIV/0!", "#N/A",  "#NAME?", "#NULL!",
                                        "#NUM!",   "#REF!", "#VALUE!"};

/* A ``<v>`` just opened: its raw text, references unresolved. */
static int xs_v(XScan *s, const XTok *open, const char **text, Py_ssize_t *len) {
    *text = "";
    *len = 0;
    if (open->kind == XT_EMPTY)
        return 1;
    XTok t;
    xs_next(s, &t);
    if (t.kind == XT_TEXT) {
        *text = t.text;
        *len = t.text_len;
        xs_next(s, &t);
    }
    return t.kind == XT_END;
}

/* Whether a cell style (``s``) is one ``styles`` marks plain: its number is a number. */
static int xs_plain_style(const char *p, Py_ssize_t n, const Py_buffer *styles) {
    Py_ssize_t index = 0;
    if (n == 0 || n > 9 || (n > 1 && p[0] == '0'))
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        index = index * 10 + (p[i] - '0');
    }
    return index < styles->len && ((const char *)styles->buf)[index] == 1;
}

/* A ``<v>``'s raw text (references unresolved) as the value of a cell of ``type`` (not an
 * inline string) into ``*value``, left NULL where the cell is empty; 0 outside the subset. */
static int xs_cell_value(int type, const char *v, Py_ssize_t len, PyObject *strings,
                         const Py_buffer *styles, const char *style, Py_ssize_t style_len,
                         PyObject **value) {
    if (type == XC_STR) {
        *value = xs_text(v, len, 1); /* as written, "" too */
        if (*value == NULL)
            return 0;
    } else if (type == XC_BOOL) {
        if (len == 0)
            return 1; /* empty */
        if (len != 1 || (v[0] != '0' && v[0] != '1'))
            return 0;
        *value = Py_NewRef(v[0] == '1' ? Py_True : Py_False);
    } else if (type == XC_ERROR) {
        size_t i = 0;
        while (i < sizeof xs_errors / sizeof *xs_errors &&
               !((Py_ssize_t)strlen(xs_errors[i]) == len &&
                 memcmp(xs_errors[i], v, len) == 0))
            i++;
        if (i == sizeof xs_errors / sizeof *xs_errors)
            return 0;
        *value = PyUnicode_FromStringAndSize("", 0);
        if (*value == NULL)
            return 0;
    } else if (type == XC_SHARED) {
        Py_ssize_t index = 0;
        if (len == 0 || len > 9 || (len > 1 && v[0] == '0'))
            return 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 0;
            index = index * 10 + (v[i] - '0');
        }
        if (strings == NULL || index >= PyList_GET_SIZE(strings))
            return 0;
        *value = Py_NewRef(PyList_GET_ITEM(strings, index));
    } else if (len == 0) {
        return 1; /* a number with no value: empty */
    } else {
        if (style != NULL && !xs_plain_style(style, style_len, styles))
            return 0; /* its style may make it a date */
        *value = xs_number(v, len);
        if (*value == NULL)
            return 0;
    }
    return 1;
}

/* A cell's content in the form office programs write it, ``<v>text</v></c>`` or, for an
 * inline string, ``<is><t>text</t></is></c>``, with no reference in the text: the text and
 * where the cell's end tag ends, found with two comparisons and a search instead of the
 * five or six tokens xs_next reads (half of sheet_rows' instructions); 0 for any other form,
 * which the tokenizer reads.  These bytes are tags that nest, none with attributes, and a
 * text token whose references (none) need no check: what xs_next would find in them, the
 * elements two deeper than ``s->depth`` at most (xs_next refuses a 65th). */
static int xs_plain_content(const XScan *s, int inline_string, const char **text,
                            Py_ssize_t *len, const char **after) {
    const char *open = inline_string ? "<is><t>" : "<v>";
    const char *close = inline_string ? "</t></is></c>" : "</v></c>";
    Py_ssize_t open_len = inline_string ? 7 : 3, close_len = inline_string ? 13 : 8;
    if (s->depth > 62 || s->end - s->p < open_len + close_len ||
        memcmp(s->p, open, open_len) != 0)
        return 0;
    const char *p = s->p + open_len;
    const char *lt = memchr(p, '<', s->end - p);
    if (lt == NULL || s->end - lt < close_len || memcmp(lt, close, close_len) != 0 ||
        memchr(p, '&', lt - p) != NULL)
        return 0;
    *text = p;
    *len = lt - p;
    *after = lt + close_len;
    return 1;
}

/* A ``<c>`` just opened or empty: its value into ``cell``; 0 outside the subset. */
static int xs_cell(XScan *s, const XTok *c, PyObject *strings, const Py_buffer *styles,
                   XCell *cell) {
    /* r, t and s, as xs_attrs_ok met them checking the attributes (none twice) */
    const char *ref = c->rts[0], *typ = c->rts[1], *style = c->rts[2];
    Py_ssize_t ref_len = c->rts_len[0], n = c->rts_len[1], style_len = c->rts_len[2];
    if (ref == NULL || !xs_ref(ref, ref_len, &cell->row, &cell->col))
        return 0;
    int type = XC_NUMBER;
    if (typ != NULL) {
        if (n == 1 && typ[0] == 's')
            type = XC_SHARED;
        else if (n == 9 && memcmp(typ, "inlineStr", 9) == 0)
            type = XC_INLINE;
        else if (n == 1 && typ[0] == 'b')
            type = XC_BOOL;
        else if (n == 1 && typ[0] == 'e')
            type = XC_ERROR;
        else if (n == 3 && memcmp(typ, "str", 3) == 0)
            type = XC_STR; /* a formula's string */
        else if (!(n == 1 && typ[0] == 'n'))
            return 0; /* dates (t="d"), anything else */
    }
    cell->value = NULL;
    if (c->kind == XT_EMPTY)
        return 1;
    const char *text, *after;
    Py_ssize_t len;
    if (xs_plain_content(s, type == XC_INLINE, &text, &len, &after)) {
        /* what xs_t makes of a <t> without attributes; xs_cell_value of a <v> */
        if (type == XC_INLINE ? (cell->value = xs_text(text, len, 0)) == NULL
                              : !xs_cell_value(type, text, len, strings, styles, style,
                                               style_len, &cell->value))
            return 0;
        s->p = after;
        s->depth--; /* the cell's end tag */
        return 1;
    }
    XTok t;
    for (;;) {
        xs_next(s, &t);
        if (t.kind == XT_TEXT && xs_blank(&t))
            continue;
        if (t.kind == XT_END)
            return 1;
        if (t.kind != XT_START && t.kind != XT_EMPTY)
            return 0;
        Py_CLEAR(cell->value);
        if (xs_is(&t, "f")) {
            /* a formula: calamine gives its cell no value but from a <v> after it */
            if (t.kind == XT_START && !xs_skip(s))
                return 0;
        } else if (xs_is(&t, "is")) {
            if (type != XC_INLINE)
                return 0;
            cell->value = xs_string(s, &t);
            if (cell->value == NULL)
                return 0;
        } else if (xs_is(&t, "v")) {
            if (type == XC_INLINE || !xs_v(s, &t, &text, &len) ||
                !xs_cell_value(type, text, len, strings, styles, style, style_len, &cell->value))
                return 0;
        } else {
            return 0;
        }
    }
}

static void xs_cells_free(XCell *cells, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(cells[i].value);
    PyMem_Free(cells);
}

/* The rows of python-calamine's iter_rows from the cells of ``<sheetData>``. */
static PyObject *xs_rows(XCell *cells, Py_ssize_t n) {
    int32_t first = INT32_MAX, last = -1, bottom = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (cells[i].value == NULL)
            continue;
        if (cells[i].col < first)
            first = cells[i].col;
        if (cells[i].col > last)
            last = cells[i].col;
        bottom = cells[i].row;
    }
    if (bottom < 0)
        return PyList_New(0);
    Py_ssize_t width = last - first + 1;
    if ((Py_ssize_t)(bottom + 1) * width > 50000000)
        return Py_NewRef(Py_None); /* left to calamine */
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    PyObject *rows = empty ? PyList_New(bottom + 1) : NULL;
    if (rows == NULL) {
        Py_XDECREF(empty);
        return NULL;
    }
    for (Py_ssize_t r = 0; r <= bottom; r++) {
        PyObject *row = PyList_New(width);
        if (row == NULL) {
            Py_DECREF(rows);
            Py_DECREF(empty);
            return NULL;
        }
        for (Py_ssize_t k = 0; k < width; k++)
            PyList_SET_ITEM(row, k, Py_NewRef(empty));
        PyList_SET_ITEM(rows, r, row);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (cells[i].value == NULL)
            continue;
        PyObject *row = PyList_GET_ITEM(rows, cells[i].row);
        Py_ssize_t k = cells[i].col - first;
        Py_DECREF(PyList_GET_ITEM(row, k));
        PyList_SET_ITEM(row, k, cells[i].value);
        cells[i].value = NULL;
    }
    Py_DECREF(empty);
    return rows;
}

/* A range (``A1:C3``) or a cell reference, plainly written and in bounds. */
static int xs_range(const char *ref, Py_ssize_t n) {
    const char *colon = memchr(ref, ':', n);
    int32_t r, c;
    if (colon == NULL)
        return xs_ref(ref, n, &r, &c);
    return xs_ref(ref, colon - ref, &r, &c) && xs_ref(colon + 1, n - (colon + 1 - ref), &r, &c);
}

/* Before ``<sheetData>``: elements calamine reads there by local name are plain. */
static int xs_before_data(XScan *s, XTok *t) {
    for (;;) {
        xs_next(s, t);
        if (t->kind == XT_TEXT)
            continue;
        if (t->kind != XT_START && t->kind != XT_EMPTY && t->kind != XT_END)
            return 0;
        if (t->kind == XT_END)
            continue;
        if (xs_prefixed(t, "sheetData") || xs_prefixed(t, "dimension") ||
            xs_prefixed(t, "row") || xs_prefixed(t, "c"))
            return 0;
        if (xs_is(t, "sheetData"))
            return 1;
        if (xs_is(t, "dimension")) {
            Py_ssize_t n;
            const char *ref = xs_attr(t, "ref", &n);
            if (ref == NULL || !xs_range(ref, n))
                return 0;
        }
    }
}

/* After ``<sheetData>``: well-formed to the end; the elements calamine reads there by local
 * name (``mergeCells``, ``mergeCell``) plain, each merged range plainly written. */
static int xs_after_data(XScan *s) {
    XTok t;
    for (;;) {
        xs_next(s, &t);
        if (t.kind == XT_EOF)
            return 1;
        if (t.kind == XT_BAD)
            return 0;
        if (t.kind != XT_START && t.kind != XT_EMPTY)
            continue;
        if (xs_prefixed(&t, "mergeCells") || xs_prefixed(&t, "mergeCell"))
            return 0;
        if (xs_is(&t, "mergeCell")) {
            Py_ssize_t n;
            const char *ref = xs_attr(&t, "ref", &n);
            if (ref == NULL || !xs_range(ref, n))
                return 0;
        }
    }
}

/* The rows of sheet_rows, or None outside the subset; with ``grid``, each start tag is told
 * to it, and None once its grid is over its limit (sheet_cells). */
static PyObject *xs_sheet(const Py_buffer *view, PyObject *strings, const Py_buffer *styles,
                          SGrid *grid);

/* sheet_rows(xml, strings, styles) -> the rows python-calamine's iter_rows gives for this
 * worksheet (``strings``: the shared strings, or None; ``styles``: a byte per cell style, 1
 * where its numbers are numbers, not dates), or None outside the subset. */
static PyObject *sheet_rows(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view, styles;
    PyObject *strings;
    if (!PyArg_ParseTuple(args, "y*Oy*", &view, &strings, &styles))
        return NULL;
    PyObject *out = NULL;
    if (strings != Py_None && !PyList_Check(strings))
        PyErr_SetString(PyExc_TypeError, "strings must be a list or None");
    else
        out = xs_sheet(&view, strings, &styles, NULL);
    PyBuffer_Release(&view);
    PyBuffer_Release(&styles);
    return out;
}

static PyObject *xs_sheet(const Py_buffer *view, PyObject *strings, const Py_buffer *styles,
                          SGrid *grid) {
    XScan s = {.p = view->buf, .end = (const char *)view->buf + view->len, .grid = grid};
    Py_ssize_t n = 0, cap = 256;
    XCell *cells = PyMem_Malloc(cap * sizeof(XCell));
    PyObject *out = NULL;
    XTok t;
    int64_t last = -1;
    if (cells == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (!xs_start(&s) || !xs_before_data(&s, &t))
        goto outside;
    if (t.kind == XT_START) {
        for (;;) {
            xs_next(&s, &t);
            if (t.kind == XT_TEXT && xs_blank(&t))
                continue;
            if (t.kind == XT_END)
                break; /* </sheetData> */
            if ((t.kind != XT_START && t.kind != XT_EMPTY) || !xs_is(&t, "row"))
                goto outside;
            const char *r = t.rts[0]; /* the row's number, as xs_attrs_ok met it */
            if (r != NULL && !xs_row_number(r, t.rts_len[0]))
                goto outside;
            if (t.kind == XT_EMPTY)
                continue;
            for (;;) {
                xs_next(&s, &t);
                if (t.kind == XT_TEXT && xs_blank(&t))
                    continue;
                if (t.kind == XT_END)
                    break; /* </row> */
                if ((t.kind != XT_START && t.kind != XT_EMPTY) || !xs_is(&t, "c"))
                    goto outside;
                if (n == cap) {
                    XCell *more = PyMem_Realloc(cells, 2 * cap * sizeof(XCell));
                    if (more == NULL) {
                        PyErr_NoMemory();
                        goto outside;
                    }
                    cells = more;
                    cap *= 2;
                }
                cells[n].value = NULL;
                int ok = xs_cell(&s, &t, strings == Py_None ? NULL : strings, styles,
                                 &cells[n]);
                n++;
                if (!ok || (grid != NULL && sg_over(grid)))
                    goto outside; /* over the limit: no more values read */
                int64_t at = (int64_t)cells[n - 1].row << 16 | cells[n - 1].col;
                if (at <= last)
                    goto outside; /* out of order: calamine's range would differ */
                last = at;
            }
        }
    }
    /* The rest is checked to be well-formed, and the merged ranges (calamine reads them
     * and refuses a malformed one) to be plain ones. */
    if (!xs_after_data(&s) || (grid != NULL && sg_over(grid)))
        goto outside;
    out = xs_rows(cells, n);
    goto done;
outside:
    if (!PyErr_Occurred())
        out = Py_NewRef(Py_None);
done:
    if (cells != NULL)
        xs_cells_free(cells, n);
    return out;
}

/* ---- sheet_texts: a worksheet's text no cell shows (issue 14) ----
 *
 * Calamine (and sheet_rows) read a worksheet's cells; its page headers and footers, its data
 * validations' lists and messages and the string literals of its formulas are text too.
 * Found by their names (odd/even/firstHeader and Footer, formula, formula1, formula2, f,
 * dataValidation, any prefix), searched for with memmem / memchr (a 9.8 MB sheet of cells
 * alone: 1.6 ms, no tokenising), never parsed: every start tag of such an element holds its
 * name in the bytes, so none is missed; one found where no element is (in a comment) only
 * reads more.  An element whose content is not plain text up to its own end tag, a reference
 * to an encoding other than UTF-8, or text that is not UTF-8 gives None: the caller parses
 * the part (spreadsheet.py; tests/engine/extract/test_sheet_leftovers.py compares). */

enum { ST_HEADER, ST_LIST, ST_MESSAGE, ST_FORMULA };

typedef struct {
    Py_ssize_t at;
    int kind;
    const char *text;
    Py_ssize_t len;
} SheetText;

typedef struct {
    SheetText *items;
    Py_ssize_t n, cap;
} SheetTexts;

static int st_push(SheetTexts *t, Py_ssize_t at, int kind, const char *text, Py_ssize_t len) {
    if (t->n == t->cap) {
        Py_ssize_t cap = t->cap ? 2 * t->cap : 16;
        SheetText *more = PyMem_Realloc(t->items, cap * sizeof(SheetText));
        if (more == NULL) {
            PyErr_NoMemory();
            return 0;
        }
        t->items = more;
        t->cap = cap;
    }
    t->items[t->n++] = (SheetText){at, kind, text, len};
    return 1;
}

/* The '<' of the start tag whose local name (``len`` bytes) begins at p, or NULL: p right
 * after '<', or after '<' and a prefix and ':'; the name followed by space, '>' or '/'. */
static const char *st_tag(const char *buf, const char *end, const char *p, Py_ssize_t len) {
    const char *after = p + len;
    if (p == buf || after >= end || !(xs_space(*after) || *after == '>' || *after == '/'))
        return NULL;
    if (p[-1] == '<')
        return p - 1;
    if (p[-1] != ':')
        return NULL;
    const char *q = p - 1;
    while (q > buf && q[-1] != ':' && xs_name_char(q[-1], 0))
        q--;
    if (q == p - 1 || q == buf || q[-1] != '<' || !xs_name_char(*q, 1))
        return NULL;
    return q - 1;
}

/* The '>' ending the tag whose attributes begin at p, or NULL. */
static const char *st_tag_end(const char *p, const char *end) {
    char quote = 0;
    for (; p < end; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '>') {
            return p;
        } else if (*p == '<') {
            return NULL;
        }
    }
    return NULL;
}

/* An element found at lt (its local name ends at name_end): its text into ``out`` as
 * ``kind`` (formulas only when they may hold a literal: a '"' or a reference).  0: outside
 * what is read here (the caller parses the part); -1: an error. */
static int st_element(const char *buf, const char *end, const char *lt, const char *name_end,
                      int kind, SheetTexts *out) {
    const char *gt = st_tag_end(name_end, end);
    if (gt == NULL)
        return 0;
    if (gt[-1] == '/')
        return 1; /* empty */
    const char *text = gt + 1;
    const char *close = memchr(text, '<', end - text);
    if (close == NULL)
        return 0;
    Py_ssize_t name_len = name_end - (lt + 1), len = close - text;
    if (!(end - close >= name_len + 3 && close[1] == '/' && memcmp(close + 2, lt + 1, name_len) == 0)) {
        /* x14's list: <x14:formula1><xm:f>"a,b"</xm:f></x14:formula1>, the f found itself */
        int blank = 1;
        for (Py_ssize_t i = 0; i < len && blank; i++)
            blank = xs_space(text[i]);
        return kind == ST_LIST && blank && close + 1 < end && xs_name_char(close[1], 1);
    }
    const char *q = close + 2 + name_len;
    while (q < end && xs_space(*q))
        q++;
    if (q == end || *q != '>')
        return 0;
    int keep = 0;
    if (kind == ST_HEADER) {
        for (Py_ssize_t i = 0; i < len && !keep; i++)
            keep = !xs_space(text[i]);
    } else {
        keep = memchr(text, '"', len) != NULL || memchr(text, '&', len) != NULL;
    }
    if (keep && !st_push(out, lt - buf, kind, text, len))
        return -1;
    return 1;
}

/* A dataValidation's messages (prompt, promptTitle, error, errorTitle) into ``out``. */
static int st_messages(const char *buf, const char *end, const char *name_end, SheetTexts *out) {
    const char *gt = st_tag_end(name_end, end);
    if (gt == NULL)
        return 0;
    const char *p = name_end, *stop = gt[-1] == '/' ? gt - 1 : gt;
    for (;;) {
        while (p < stop && xs_space(*p))
            p++;
        if (p == stop)
            return 1;
        Py_ssize_t n = xs_name(p, stop);
        const char *q = p + n;
        while (q < stop && xs_space(*q))
            q++;
        if (n == 0 || q == stop || *q != '=')
            return 0;
        q++;
        while (q < stop && xs_space(*q))
            q++;
        if (q == stop || (*q != '"' && *q != '\''))
            return 0;
        const char *v = q + 1, *close = memchr(v, *q, stop - v);
        if (close == NULL)
            return 0;
        if ((n == 6 && memcmp(p, "prompt", 6) == 0) || (n == 11 && memcmp(p, "promptTitle", 11) == 0) ||
            (n == 5 && memcmp(p, "error", 5) == 0) || (n == 10 && memcmp(p, "errorTitle", 10) == 0)) {
            if (close > v && !st_push(out, v - buf, ST_MESSAGE, v, close - v))
                return -1;
        }
        p = close + 1;
    }
}

/* Whether the part is plainly UTF-8: no byte order mark of UTF-16 or 32, no NUL in its first
 * bytes, and an XML declaration naming no other encoding. */
static int st_utf8(const char *buf, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n && i < 4; i++)
        if (buf[i] == 0 || (unsigned char)buf[i] >= 0xFE)
            return 0;
    if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    if (n < 5 || memcmp(buf, "<?xml", 5) != 0)
        return 1;
    const char *close = memmem(buf, n, "?>", 2);
    if (close == NULL)
        return 0;
    const char *enc = memmem(buf, close - buf, "encoding", 8);
    if (enc == NULL)
        return 1;
    const char *v = enc + 8;
    while (v < close && (xs_space(*v) || *v == '='))
        v++;
    if (v == close || (*v != '"' && *v != '\''))
        return 0;
    v++;
    return close - v >= 6 && PyOS_strnicmp(v, "utf-8", 5) == 0 && v[5] == v[-1];
}

static int st_by_place(const void *a, const void *b) {
    Py_ssize_t x = ((const SheetText *)a)->at, y = ((const SheetText *)b)->at;
    return (x > y) - (x < y);
}

/* The elements of one search: header and footer ("Header"/"Footer" after "odd", "even"). */
static int st_headers(const char *buf, const char *end, const char *word, SheetTexts *out) {
    for (const char *h = memmem(buf, end - buf, word, 6); h != NULL;
         h = memmem(h + 6, end - h - 6, word, 6)) {
        const char *p = NULL;
        if (h - buf >= 3 && memcmp(h - 3, "odd", 3) == 0)
            p = h - 3;
        else if (h - buf >= 4 && memcmp(h - 4, "even", 4) == 0)
            p = h - 4;
        const char *lt = p ? st_tag(buf, end, p, h + 6 - p) : NULL;
        if (lt != NULL) {
            int ok = st_element(buf, end, lt, h + 6, ST_HEADER, out);
            if (ok <= 0)
                return ok;
        }
    }
    return 1;
}

/* f, formula, formula1, formula2, firstHeader, firstFooter: found by their 'f'. */
static int st_f_names(const char *buf, const char *end, SheetTexts *out) {
    for (const char *p = memchr(buf, 'f', end - buf); p != NULL;
         p = memchr(p + 1, 'f', end - p - 1)) {
        if (p == buf || (p[-1] != '<' && p[-1] != ':'))
            continue;
        /* 12 bytes at most: longer than any name sought (scanning on could read ":f:f:f..."
         * to its end from each 'f', quadratic) */
        Py_ssize_t n = xs_name(p, end - p > 12 ? p + 12 : end);
        int kind;
        if (n == 1 || (n == 7 && memcmp(p, "formula", 7) == 0))
            kind = ST_FORMULA;
        else if (n == 8 && (memcmp(p, "formula1", 8) == 0 || memcmp(p, "formula2", 8) == 0))
            kind = ST_LIST;
        else if (n == 11 && (memcmp(p, "firstHeader", 11) == 0 || memcmp(p, "firstFooter", 11) == 0))
            kind = ST_HEADER;
        else
            continue;
        const char *lt = st_tag(buf, end, p, n);
        if (lt != NULL) {
            int ok = st_element(buf, end, lt, p + n, kind, out);
            if (ok <= 0)
                return ok;
        }
    }
    return 1;
}

static int st_validations(const char *buf, const char *end, SheetTexts *out) {
    for (const char *p = memmem(buf, end - buf, "dataValidation", 14); p != NULL;
         p = memmem(p + 14, end - p - 14, "dataValidation", 14)) {
        const char *lt = st_tag(buf, end, p, 14);
        if (lt != NULL) {
            int ok = st_messages(buf, end, p + 14, out);
            if (ok <= 0)
                return ok;
        }
    }
    return 1;
}

/* sheet_texts(xml) -> [(kind, raw text)] in the part's order (kind 0: a header or footer, 1:
 * a validation's formula, 2: a validation's message, 3: a formula; references unresolved),
 * or None where the caller must parse the part. */
static PyObject *sheet_texts(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *buf = view.buf, *end = buf + view.len;
    SheetTexts found = {NULL, 0, 0};
    PyObject *out = NULL;
    int ok = st_utf8(buf, view.len);
    /* Headers and footers are the children of <headerFooter> (one in another place is
     * printed by no reader, like any unknown element): searched for only where it is, one
     * pass of a long name (0.7 ms for 9.8 MB) instead of two of short ones (2.7 ms). */
    int paged = memmem(buf, view.len, "headerFooter", 12) != NULL;
    if (ok > 0 && paged)
        ok = st_headers(buf, end, "Header", &found);
    if (ok > 0 && paged)
        ok = st_headers(buf, end, "Footer", &found);
    if (ok > 0)
        ok = st_f_names(buf, end, &found);
    if (ok > 0)
        ok = st_validations(buf, end, &found);
    if (ok < 0)
        goto done;
    if (ok == 0) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    if (found.n > 1) /* qsort's base may not be NULL, as it is with nothing found */
        qsort(found.items, found.n, sizeof(SheetText), st_by_place);
    out = PyList_New(found.n);
    for (Py_ssize_t i = 0; out != NULL && i < found.n; i++) {
        PyObject *text = PyUnicode_DecodeUTF8(found.items[i].text, found.items[i].len, NULL);
        if (text == NULL) {
            Py_CLEAR(out);
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear();
                out = Py_NewRef(Py_None);
            }
            break;
        }
        PyObject *item = Py_BuildValue("(iN)", found.items[i].kind, text);
        if (item == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item);
    }
done:
    PyMem_Free(found.items);
    PyBuffer_Release(&view);
    return out;
}

/* ---- sheet_grid: the cells of the grid a reader would build of a worksheet (issue 14) ----
 *
 * Calamine builds a worksheet's cells as one dense grid (32 bytes a cell) spanning every cell
 * holding a value, and python-calamine's iter_rows (and sheet_rows) gives each row from the
 * first one: a 132-byte part naming A1 and XFD3051 makes 50 million cells (1.6 GB in calamine;
 * A1 and XFD1048576 make calamine abort the process on a failed 550 GB allocation).  This
 * tells how large that grid is, before any reader builds it, by a scan of the tags alone:
 * rows from the first to the last cell's, columns from the leftmost cell to the rightmost.
 * An upper bound: every ``<c>`` (any prefix) that is not empty counts, wherever it is (in a
 * comment too), placed by its ``r``, or, without one, after the cell before it in its row
 * (in a row placed by its ``r`` or after the row before it), as calamine places it. */

/* A tag's attribute ``r`` (exactly), its value unresolved; 0 if it has none, -1 if it has
 * two (a reader may take the last: calamine does). */
static int sg_attr_r(const char *p, const char *end, const char **value, Py_ssize_t *len) {
    int found = 0;
    while (p < end) {
        while (p < end && (xs_space(*p) || *p == '/'))
            p++;
        const char *name = p;
        while (p < end && *p != '=' && !xs_space(*p) && *p != '/')
            p++;
        Py_ssize_t name_len = p - name;
        while (p < end && xs_space(*p))
            p++;
        if (p == end || *p != '=') {
            if (p < end)
                p++;
            continue;
        }
        p++;
        while (p < end && xs_space(*p))
            p++;
        if (p == end || (*p != '"' && *p != '\''))
            return found;
        const char *close = memchr(p + 1, *p, end - p - 1);
        if (close == NULL)
            return found;
        if (name_len == 1 && *name == 'r') {
            if (found)
                return -1;
            *value = p + 1;
            *len = close - p - 1;
            found = 1;
        }
        p = close + 1;
    }
    return found;
}

/* A reference's 0-based row (or -1 if it has no digits) and column (or -1 if no letters),
 * letters of either case; 0 if it is no reference or past 2^31. */
static int sg_ref(const char *p, Py_ssize_t n, int64_t *row, int64_t *col) {
    Py_ssize_t i = 0;
    int64_t c = 0, r = 0;
    for (; i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')); i++) {
        c = c * 26 + ((p[i] | 0x20) - 'a' + 1);
        if (c > INT32_MAX)
            return 0;
    }
    Py_ssize_t digits = i;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        r = r * 10 + (p[i] - '0');
        if (r > INT32_MAX)
            return 0;
    }
    if (i != n || (digits == 0 && i == 0))
        return 0;
    *col = digits == 0 ? -1 : c - 1;
    *row = i == digits ? -1 : r - 1;
    return 1;
}

/* The bytes that end a tag's name here: XML white space, '/' and '>'. */
static const unsigned char sg_name_ends[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['/'] = 1, ['>'] = 1};

/* The first '<' at or after p, or NULL: looked for byte by byte first, as the next tag is
 * most often a few bytes on (``</t></is></c>``), where a call to memchr cost more. */
static inline const char *sg_next_lt(const char *p, const char *end) {
    const char *stop = end - p > 16 ? p + 16 : end;
    for (; p < stop; p++)
        if (*p == '<')
            return p;
    return p == end ? NULL : memchr(p, '<', end - p);
}

/* Past a cell's content written as office programs write it, ``<v>text</v></c>`` or
 * ``<is><t>text</t></is></c>`` (``p`` at the '>' of the cell's start tag): the '>' of its
 * end tag, or ``p`` for any other content.  None of those tags is a row's or a cell's, and
 * the text holds no '<': the loop below would only have read their names (five tags a cell,
 * most of its instructions). */
static const char *sg_value_end(const char *p, const char *end) {
    const char *v = p + 1, *close;
    Py_ssize_t open_len, close_len;
    if (end - v >= 3 && memcmp(v, "<v>", 3) == 0) {
        open_len = 3;
        close = "</v></c>";
        close_len = 8;
    } else if (end - v >= 7 && memcmp(v, "<is><t>", 7) == 0) {
        open_len = 7;
        close = "</t></is></c>";
        close_len = 13;
    } else {
        return p;
    }
    const char *lt = sg_next_lt(v + open_len, end);
    if (lt == NULL || end - lt < close_len || memcmp(lt, close, close_len) != 0)
        return p;
    return lt + close_len - 1;
}

static PyObject *sheet_grid(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *p = view.buf, *end = p + view.len;
    int64_t row = -1, col = -1, bottom = -1, left = INT64_MAX, right = -1;
    int known = 1;
    while (known && (p = sg_next_lt(p, end)) != NULL) {
        const char *name = ++p;
        while (p < end && !sg_name_ends[(unsigned char)*p])
            p++;
        const char *local = name;
        for (const char *q = name; q < p; q++)
            if (*q == ':')
                local = q + 1;
        Py_ssize_t local_len = p - local;
        int is_row = local_len == 3 && memcmp(local, "row", 3) == 0;
        int is_cell = local_len == 1 && *local == 'c';
        if (name == end || *name == '/' || (!is_row && !is_cell))
            continue;
        /* the tag's end: the first '>' outside quotes.  A '<' before it is not plainly
         * written (XML allows none in a tag): a "tag" in a comment or an attribute value,
         * read with quotes that are none to the reader, could hide the cells after it. */
        const char *q = p;
        char quote = 0;
        for (;; q++) {
            /* the bytes that matter here skipped to by a table (a third of the instructions
             * of testing each byte for all four) */
            while (q < end && !xs_tag_bytes[(unsigned char)*q])
                q++;
            if (q == end || (!quote && *q == '>'))
                break;
            if (*q == '<')
                known = 0;
            else if (*q != '>')
                quote = quote == *q ? 0 : quote ? quote : *q;
        }
        const char *value = NULL;
        Py_ssize_t len = 0;
        int64_t r = -1, c = -1;
        int has_r = sg_attr_r(p, q, &value, &len);
        if (has_r < 0 || (has_r && !sg_ref(value, len, &r, &c)))
            known = 0; /* a reference no reader reads the same: not known */
        if (is_row) {
            row = r >= 0 && c < 0 ? r : row + 1;
            if (r >= 0 && c >= 0)
                known = 0;
            col = -1;
        } else {
            if (r >= 0)
                row = r > row ? r : row; /* a cell's own row: never less than its row's */
            col = c >= 0 ? c : col + 1;
            int empty = q > p && q[-1] == '/';
            if (!empty) {
                int64_t at = r >= 0 ? r : row < 0 ? 0 : row;
                bottom = at > bottom ? at : bottom;
                left = col < left ? col : left;
                right = col > right ? col : right;
                q = sg_value_end(q, end);
            }
        }
        p = q;
    }
    PyBuffer_Release(&view);
    if (!known)
        return PyLong_FromLong(-1);
    if (bottom < 0)
        return PyLong_FromLong(0);
    return PyLong_FromLongLong((bottom + 1) * (right - left + 1));
}

/* ---- sheet_cells: a worksheet's grid and rows in one pass (issue 14, seventh round) ----
 *
 * sheet_cells(xml, strings, styles, max_cells) -> (sheet_grid(xml), sheet_rows(xml, strings,
 * styles)), or None.  The grid check and the reader each walked the whole part (a 48 KB
 * sheet: 45 and 90 us); here the reader's own tokenizer tells sg_tag each start tag it meets,
 * and sg_tag counts it as sheet_grid counts it.  Where sheet_rows gives rows, every '<' of the
 * part begins a tag xs_next read (it refuses comments, CDATA, processing instructions and a
 * DTD; no '<' stands in an attribute value or text; only xs_start's declaration and
 * xs_plain_content's ``<v>``, ``<is>``, ``<t>`` and end tags are passed over, none a row or
 * a cell), with its attributes well-formed: exactly the tags sheet_grid reads, in its order,
 * so the count is sheet_grid's.  None (the caller judges and reads the part apart, as
 * before) where sheet_rows gives None, where the count reaches -1 (a reference not plainly
 * written), and as soon as the grid is over ``max_cells``: no value is read past the cell
 * that makes it so, and no grid over the limit is built.  tests/engine/extract/
 * test_sheet_one_pass.py compares both with sheet_grid and sheet_rows. */

struct SGrid {
    int64_t row, col, bottom, left, right, max_cells;
    int known;
};

/* sheet_grid's reading of one start tag (``name`` its ``len`` bytes, ``r`` the value of its
 * attribute r, NULL without one): its attributes are well-formed (xs_attrs_ok), none twice,
 * so that value is the one sg_attr_r finds. */
static void sg_tag(SGrid *g, const char *name, Py_ssize_t len, const char *r_value,
                   Py_ssize_t r_len, int empty) {
    if (name[len - 1] != 'c' && name[len - 1] != 'w')
        return; /* neither ``row`` nor ``c`` (most tags, at one comparison) */
    const char *local = name;
    for (const char *q = name; q < name + len; q++)
        if (*q == ':')
            local = q + 1;
    Py_ssize_t local_len = name + len - local;
    int is_row = local_len == 3 && memcmp(local, "row", 3) == 0;
    int is_cell = local_len == 1 && *local == 'c';
    if (!is_row && !is_cell)
        return;
    int64_t r = -1, c = -1;
    if (r_value != NULL && !sg_ref(r_value, r_len, &r, &c))
        g->known = 0;
    if (is_row) {
        g->row = r >= 0 && c < 0 ? r : g->row + 1;
        if (r >= 0 && c >= 0)
            g->known = 0;
        g->col = -1;
        return;
    }
    if (r >= 0)
        g->row = r > g->row ? r : g->row;
    g->col = c >= 0 ? c : g->col + 1;
    if (!empty) {
        int64_t at = r >= 0 ? r : g->row < 0 ? 0 : g->row;
        g->bottom = at > g->bottom ? at : g->bottom;
        g->left = g->col < g->left ? g->col : g->left;
        g->right = g->col > g->right ? g->col : g->right;
    }
}

static int64_t sg_cells(const SGrid *g) {
    return g->bottom < 0 ? 0 : (g->bottom + 1) * (g->right - g->left + 1);
}

/* Whether the count is past knowing (-1) or over the limit: the pass stops. */
static int sg_over(const SGrid *g) { return !g->known || sg_cells(g) > g->max_cells; }

static PyObject *sheet_cells(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view, styles;
    PyObject *strings;
    long long max_cells;
    if (!PyArg_ParseTuple(args, "y*Oy*L", &view, &strings, &styles, &max_cells))
        return NULL;
    PyObject *out = NULL;
    SGrid grid = {.row = -1, .col = -1, .bottom = -1, .left = INT64_MAX, .right = -1,
                  .max_cells = max_cells, .known = 1};
    if (strings != Py_None && !PyList_Check(strings)) {
        PyErr_SetString(PyExc_TypeError, "strings must be a list or None");
    } else {
        PyObject *rows = xs_sheet(&view, strings, &styles, &grid);
        if (rows == NULL || rows == Py_None)
            out = rows;
        else
            out = Py_BuildValue("(LN)", (long long)sg_cells(&grid), rows);
    }
    PyBuffer_Release(&view);
    PyBuffer_Release(&styles);
    return out;
}

/* ==== End of spreadsheets ============================================================== */


/* ==== Detection: the spans of a batch of findings ========================================
 *
 * finding_spans(units, findings) -> bytes: the int64s of ``units`` (a list of int, one per
 * finding), then each finding's ``start``, then each one's ``end``: detectorset._spans_of's
 * three arrays in one pass, the slots read at their offsets (register_attr), where
 * np.fromiter over attrgetter costs 80 ns a finding (a 200-row sheet's phones and HKIDs,
 * whose overlaps are resolved: 35 us a check).  detectorset keeps the numpy version where
 * this is not built, and a test compares the two.
 */

static PyObject *spans_names[REGISTER_SLOTS];

/* ``value`` (a new reference, or NULL with an exception set) as an int64, released. */
static int spans_int(PyObject *value, int64_t *out) {
    if (value == NULL)
        return -1;
    long long v = PyLong_AsLongLong(value);
    Py_DECREF(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (int64_t)v;
    return 0;
}

static PyObject *finding_spans(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *findings;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &units, &PyList_Type, &findings))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(findings);
    if (PyList_GET_SIZE(units) != n) {
        PyErr_SetString(PyExc_ValueError, "finding_spans: one unit per finding");
        return NULL;
    }
    if (spans_names[0] == NULL) {
        spans_names[0] = PyUnicode_InternFromString("start");
        spans_names[1] = PyUnicode_InternFromString("end");
        if (spans_names[0] == NULL || spans_names[1] == NULL) {
            Py_CLEAR(spans_names[0]);
            Py_CLEAR(spans_names[1]);
            return NULL;
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, 3 * n * (Py_ssize_t)sizeof(int64_t));
    if (out == NULL)
        return NULL;
    int64_t *at = (int64_t *)PyBytes_AS_STRING(out);
    RegisterSlots slots = {NULL, {-1, -1, -1}};
    for (Py_ssize_t i = 0; i < n; i++) {
        /* A getattr or an int subclass could run Python code that shrinks the lists. */
        if (PyList_GET_SIZE(units) != n || PyList_GET_SIZE(findings) != n) {
            PyErr_SetString(PyExc_RuntimeError, "finding_spans: the lists changed size");
            goto fail;
        }
        PyObject *finding = PyList_GET_ITEM(findings, i);
        Py_INCREF(finding);
        int failed = spans_int(Py_NewRef(PyList_GET_ITEM(units, i)), &at[i]) < 0 ||
                     spans_int(register_attr(finding, &slots, spans_names, 0), &at[n + i]) < 0 ||
                     spans_int(register_attr(finding, &slots, spans_names, 1), &at[2 * n + i]) < 0;
        Py_DECREF(finding);
        if (failed)
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ==== End of finding spans ============================================================= */


/* ==== Key hashes =======================================================================
 *
 * key_hashes(key, texts) -> (hashes, fields): for each str of ``texts``, a register key as
 * match.py's Collector numbers them (its field's number as a character, then the normal
 * form), what keyed_hashes(key, fields, values) gives for that field and normal form, and
 * the field's byte.  The field's number (below 128) is its own UTF-8 byte, so the text's
 * UTF-8 is the hashed message itself: the keys are hashed without cutting each into a
 * field and a new str of its normal form (a 200-row sheet has 600 of them).  A text that is
 * empty or whose first character is not ASCII is refused (ValueError).
 */

static PyObject *key_hashes(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer key;
    PyObject *texts;
    if (!PyArg_ParseTuple(args, "y*O", &key, &texts))
        return NULL;
    PyObject *hashes = NULL, *fields = NULL, *seq = NULL, *out = NULL;
    if (key.len < 1 || key.len > 64) {
        PyErr_SetString(PyExc_ValueError, "key_hashes: the key must be 1 to 64 bytes");
        goto done;
    }
    seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL)
        goto done;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    uint64_t keyed[8];
    blake2b_keyed_state(key.buf, (size_t)key.len, keyed);
    hashes = PyBytes_FromStringAndSize(NULL, count * 8);
    fields = PyBytes_FromStringAndSize(NULL, count);
    if (hashes == NULL || fields == NULL)
        goto done;
    uint8_t *at = (uint8_t *)PyBytes_AS_STRING(hashes);
    uint8_t *field = (uint8_t *)PyBytes_AS_STRING(fields);
    /* The texts' UTF-8 stays valid until the flush: the str objects are held by seq. */
    Blake2bBatch batch;
    blake2b_batch_init(&batch, keyed);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            goto done;
        }
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size); /* raises on surrogates */
        if (utf8 == NULL)
            goto done;
        if (size < 1 || (uint8_t)utf8[0] >= 0x80) {
            PyErr_SetString(PyExc_ValueError, "key_hashes: a key starts with its field's byte");
            goto done;
        }
        field[k] = (uint8_t)utf8[0];
        blake2b_batch_add(&batch, field[k], utf8 + 1, size - 1, at + 8 * k);
    }
    blake2b_batch_flush(&batch);
    out = PyTuple_Pack(2, hashes, fields);
done:
    Py_XDECREF(hashes);
    Py_XDECREF(fields);
    Py_XDECREF(seq);
    PyBuffer_Release(&key);
    return out;
}

/* ==== End of key hashes ================================================================ */


/* ==== Useful entries ===================================================================
 *
 * useful_entries(keys, groups, columns, sure, fields, lo_of, n_of, unique, unique_max,
 * phone) -> (g, k, f, lo, n, c, strong) or None: of a message's entries (int64 ``keys``,
 * ``groups`` ascending, ``columns``; bool ``sure``), given each key's field (uint8
 * ``fields``), run start and length in a register's index (int64 ``lo_of``, ``n_of``) and
 * which fields are unique (16 bools), the entries match.py's present hands to presence, in
 * order: those matching a record (n > 0) that are strong (a unique field matching at most
 * ``unique_max`` records, and sure if the field is ``phone``) or share their group with
 * another such entry; each with its group, key, field, run start and length, column
 * (int64s) and whether it is strong (bools).  None when the groups are not in order (the
 * numpy version, match._useful_entries_py, handles any order; a test compares the two).
 * One pass where numpy's ~35 array operations cost a 200-row sheet ~40 us.
 */

static PyObject *useful_entries(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer kb, gb, cb, sb, fb, lob, nb, ub;
    Py_ssize_t unique_max, phone;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*nn", &kb, &gb, &cb, &sb, &fb, &lob, &nb, &ub,
                          &unique_max, &phone))
        return NULL;
    PyObject *out = NULL, *parts[7] = {NULL};
    char *keep = NULL;
    Py_ssize_t m = kb.len / 8, size = nb.len / 8;
    if (kb.len % 8 || gb.len != kb.len || cb.len != kb.len || sb.len != m || nb.len % 8 ||
        lob.len != nb.len || fb.len != size || ub.len != 16) {
        PyErr_SetString(PyExc_ValueError, "useful_entries: buffers of mismatched sizes");
        goto done;
    }
    const int64_t *keys = kb.buf, *groups = gb.buf, *columns = cb.buf, *lo_of = lob.buf,
                  *n_of = nb.buf;
    const uint8_t *sure = sb.buf, *fields = fb.buf, *unique = ub.buf;
    for (Py_ssize_t i = 1; i < m; i++)
        if (groups[i] < groups[i - 1]) {
            out = Py_NewRef(Py_None);
            goto done;
        }
    keep = PyMem_Malloc((size_t)(m ? m : 1)); /* 0: not a match, 1: a match, 3: strong */
    if (keep == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t key = keys[i];
        if (key < 0 || key >= size || fields[key] >= 16) {
            PyErr_SetString(PyExc_ValueError, "useful_entries: a key or field out of range");
            goto done;
        }
        int64_t n = n_of[key];
        uint8_t f = fields[key];
        keep[i] = n <= 0 ? 0
                  : unique[f] && n <= unique_max && (sure[i] || f != phone) ? 3
                                                                             : 1;
    }
    /* A match alone in its group and not strong is dropped: it can make nobody present. */
    Py_ssize_t count = 0;
    for (Py_ssize_t a = 0, b; a < m; a = b) {
        Py_ssize_t matches = 0;
        for (b = a; b < m && groups[b] == groups[a]; b++)
            matches += keep[b] != 0;
        for (Py_ssize_t i = a; i < b; i++) {
            if (keep[i] == 1 && matches < 2)
                keep[i] = 0;
            count += keep[i] != 0;
        }
    }
    if (entry_parts(parts, count) < 0)
        goto done;
    int64_t *at[6];
    for (int j = 0; j < 6; j++)
        at[j] = (int64_t *)PyBytes_AS_STRING(parts[j]);
    char *strong = PyBytes_AS_STRING(parts[6]);
    for (Py_ssize_t i = 0, u = 0; i < m; i++) {
        if (!keep[i])
            continue;
        int64_t key = keys[i];
        at[0][u] = groups[i];
        at[1][u] = key;
        at[2][u] = fields[key];
        at[3][u] = lo_of[key];
        at[4][u] = n_of[key];
        at[5][u] = columns[i];
        strong[u++] = keep[i] == 3;
    }
    out = PyTuple_Pack(7, parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]);
done:
    for (int j = 0; j < 7; j++)
        Py_XDECREF(parts[j]);
    PyMem_Free(keep);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&gb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&fb);
    PyBuffer_Release(&lob);
    PyBuffer_Release(&nb);
    PyBuffer_Release(&ub);
    return out;
}

/* ==== End of useful entries ============================================================ */
/* ---- settled_findings: a settled batch's findings in one pass (issue 14) ----
 *
 * base.PatternDetector._settled_batch turns a batch whose every hit the compiled checks
 * settled (a spreadsheet's column of HKIDs, phones or names) into findings: the verdict by
 * context, the glued hits dropped, the second hit at one start skipped, each kept hit's
 * confidence looked up by pattern.  With arrays that is thirty numpy calls a detector (a
 * tenth of a 200-row sheet's detection, for three detectors); here one walk, then the
 * findings made as make_findings makes them.  _settled_batch_arrays does the same with
 * arrays (a test compares).
 */

/* settled_findings(maker, detector, units, unit_of, starts, ends, numbers, verdicts, headed,
 * scores, requires_context, bounded) -> (units, findings) or None.
 * ``unit_of``, ``starts``, ``ends``, ``numbers``: native int64s, sorted by unit, start and
 * longest first; ``verdicts``: a byte a hit as PatternDetector.judge gives; ``headed``: a
 * byte a hit, nonzero where it has context (empty: none has); ``scores``: float64s, each
 * pattern number's confidence without context, then each one's with (NaN: not known).
 * None when a verdict asks the hooks, two hits of one unit pass (at different starts) or
 * a kept hit's confidence is not known: the loop decides those. */
/* settled_findings of the units of ``seq`` (a PySequence_Fast), their texts and places read
 * through ``cache`` (NULL: none), given its parsed arguments. */
static PyObject *settle_seq(PyObject *maker, PyObject *detector, PyObject *seq, UnitCache *cache,
                            const Py_buffer *unit_of, const Py_buffer *starts,
                            const Py_buffer *ends, const Py_buffer *numbers,
                            const Py_buffer *verdicts, const Py_buffer *headed,
                            const Py_buffer *scores, int requires_context, int bounded) {
    PyObject *out = NULL, *text = NULL, *where = NULL, *kept_units = NULL,
             *findings = NULL;
    Py_ssize_t *chosen = NULL;
    /* Each confidence a float once, shared by the findings that have it (a detector's few
     * patterns: a float a finding was made and freed for each of a sheet's rows). */
    PyObject **confidence = NULL;
    Py_ssize_t n = unit_of->len / (Py_ssize_t)sizeof(int64_t), patterns = 0, count = 0;
    if (unit_of->len % (Py_ssize_t)sizeof(int64_t) || starts->len != unit_of->len ||
        ends->len != unit_of->len || numbers->len != unit_of->len || verdicts->len != n ||
        (headed->len != 0 && headed->len != n) || scores->len % (2 * (Py_ssize_t)sizeof(double))) {
        PyErr_SetString(PyExc_ValueError,
                        "unit_of, starts, ends, numbers: int64s; verdicts, headed: a byte a hit; "
                        "scores: float64 pairs");
        goto done;
    }
    patterns = scores->len / (2 * (Py_ssize_t)sizeof(double));
    if (!PyCFunction_Check(maker) ||
        PyCFunction_GET_FUNCTION(maker) != (PyCFunction)(void (*)(void))make_slotted) {
        PyErr_SetString(PyExc_TypeError, "maker: a maker slot_maker made");
        goto done;
    }
    PyObject *state = PyCFunction_GET_SELF(maker);
    if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(state, 2)) / (Py_ssize_t)sizeof(Py_ssize_t) -
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(state, 1)) !=
        6) {
        PyErr_SetString(PyExc_TypeError, "maker: one of six arguments");
        goto done;
    }
    const int64_t *u = unit_of->buf, *from = starts->buf, *to = ends->buf, *number = numbers->buf;
    const uint8_t *judged = verdicts->buf, *context = headed->len ? headed->buf : NULL;
    const double *score = scores->buf;
    chosen = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(Py_ssize_t));
    if (chosen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* First every verdict (one that asks settles nothing), then the hits kept. */
    for (Py_ssize_t i = 0; i < n; i++) {
        int has = context != NULL && context[i];
        int verdict = (has ? judged[i] >> 2 : judged[i]) & 3;
        if (verdict == VERDICT_ASK) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        if (verdict != VERDICT_ACCEPT || (requires_context && !has) ||
            (bounded && (judged[i] & VERDICT_GLUED)))
            continue;
        if (number[i] < 0 || number[i] >= patterns) {
            PyErr_SetString(PyExc_IndexError, "a pattern number without scores");
            goto done;
        }
        if (count > 0 && u[chosen[count - 1]] == u[i]) {
            /* The loop skips a hit at the start of the one it kept; another start in the
             * same unit would compete with it. */
            if (from[chosen[count - 1]] == from[i])
                continue;
            out = Py_NewRef(Py_None);
            goto done;
        }
        double plain = score[number[i]], boosted = score[patterns + number[i]];
        if (plain != plain || boosted != boosted) {
            out = Py_NewRef(Py_None); /* NaN: a confidence the detector works out itself */
            goto done;
        }
        chosen[count++] = i;
    }
    confidence = PyMem_Calloc((size_t)(2 * patterns > 0 ? 2 * patterns : 1), sizeof(PyObject *));
    if (confidence == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    kept_units = PyList_New(count);
    findings = PyList_New(count);
    if (kept_units == NULL || findings == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t i = chosen[k];
        if (u[i] < 0 || u[i] >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_IndexError, "a unit out of range");
            goto done;
        }
        /* Each kept hit is in a unit of its own: its text and place read once. */
        if (cached_unit_text(seq, cache, u[i], &text) != 0)
            goto done;
        if (u[i] >= PySequence_Fast_GET_SIZE(seq)) { /* the text's getattr shrank them */
            PyErr_SetString(PyExc_RuntimeError, "the units changed size");
            goto done;
        }
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, u[i]));
        Py_XSETREF(where, cached_unit_where(item, cache, u[i]));
        Py_DECREF(item);
        if (where == NULL)
            goto done;
        if (from[i] < 0 || from[i] > to[i] || to[i] > PyUnicode_GET_LENGTH(text)) {
            PyErr_SetString(PyExc_IndexError, "a span out of its unit's text");
            goto done;
        }
        int has = context != NULL && context[i];
        PyObject *unit = PyLong_FromLongLong(u[i]);
        if (unit == NULL)
            goto done;
        PyList_SET_ITEM(kept_units, k, unit);
        Py_ssize_t c = (has ? patterns : 0) + number[i];
        if (confidence[c] == NULL && (confidence[c] = PyFloat_FromDouble(score[c])) == NULL)
            goto done;
        PyObject *made[6] = {detector,
                             where,
                             PyUnicode_Substring(text, from[i], to[i]),
                             PyLong_FromLongLong(from[i]),
                             PyLong_FromLongLong(to[i]),
                             confidence[c]};
        PyObject *finding = NULL;
        if (made[2] != NULL && made[3] != NULL && made[4] != NULL)
            finding = make_slotted(state, made, 6);
        for (int j = 2; j < 5; j++)
            Py_XDECREF(made[j]);
        if (finding == NULL)
            goto done;
        PyList_SET_ITEM(findings, k, finding);
    }
    out = PyTuple_Pack(2, kept_units, findings);
done:
    if (confidence != NULL)
        for (Py_ssize_t c = 0; c < 2 * patterns; c++)
            Py_XDECREF(confidence[c]);
    PyMem_Free(confidence);
    PyMem_Free(chosen);
    Py_XDECREF(kept_units);
    Py_XDECREF(findings);
    Py_XDECREF(where);
    Py_XDECREF(text);
    return out;
}

static PyObject *settled_findings(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *maker, *detector, *units;
    Py_buffer unit_of, starts, ends, numbers, verdicts, headed, scores;
    int requires_context, bounded;
    if (!PyArg_ParseTuple(args, "OUOy*y*y*y*y*y*y*pp", &maker, &detector, &units, &unit_of,
                          &starts, &ends, &numbers, &verdicts, &headed, &scores,
                          &requires_context, &bounded))
        return NULL;
    PyObject *out = NULL, *seq = PySequence_Fast(units, "units must be a sequence");
    if (seq != NULL)
        out = settle_seq(maker, detector, seq, NULL, &unit_of, &starts, &ends, &numbers,
                         &verdicts, &headed, &scores, requires_context, bounded);
    Py_XDECREF(seq);
    PyBuffer_Release(&unit_of);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&numbers);
    PyBuffer_Release(&verdicts);
    PyBuffer_Release(&headed);
    PyBuffer_Release(&scores);
    return out;
}

/* ==== End of settled findings ========================================================== */

/* ---- by_unit: every detector's findings in unit order (issue 14) ----
 *
 * DetectorSet.scan hands back the detectors' findings ordered by unit, each unit's by
 * detector, then as each detector found them: a stable sort by unit of the batches one
 * after the other.  With a key per finding that cost 50 us of a 200-row sheet's 600
 * findings; here a counting sort (units number fewer than the units scanned).
 * detectorset._by_unit_py sorts as the list sort did (a test compares).
 */

/* by_unit(units, findings, count) -> list: the items of the lists in ``findings`` (one per
 * batch) stably sorted by the int in the same place of the lists in ``units``.  None when
 * a batch's are not lists of one length, or a unit is no int in [0, count): the caller
 * sorts those itself. */
static PyObject *by_unit(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *findings;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "O!O!n", &PyList_Type, &units, &PyList_Type, &findings, &count))
        return NULL;
    Py_ssize_t batches = PyList_GET_SIZE(units), total = 0;
    if (PyList_GET_SIZE(findings) != batches || count < 0) {
        PyErr_SetString(PyExc_ValueError, "by_unit: a list of units per list of findings");
        return NULL;
    }
    for (Py_ssize_t b = 0; b < batches; b++) {
        PyObject *u = PyList_GET_ITEM(units, b), *f = PyList_GET_ITEM(findings, b);
        if (!PyList_Check(u) || !PyList_Check(f) || PyList_GET_SIZE(u) != PyList_GET_SIZE(f))
            Py_RETURN_NONE;
        total += PyList_GET_SIZE(f);
    }
    Py_ssize_t *place = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    Py_ssize_t *unit_of = PyMem_Malloc((size_t)(total > 0 ? total : 1) * sizeof(Py_ssize_t));
    PyObject *out = NULL;
    if (place == NULL || unit_of == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* The units read once (an int's value cannot run Python code: the lists stay as they
     * are), counted, then each unit's first place. */
    Py_ssize_t at = 0;
    for (Py_ssize_t b = 0; b < batches; b++) {
        PyObject *u = PyList_GET_ITEM(units, b);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(u); i++, at++) {
            PyObject *item = PyList_GET_ITEM(u, i);
            Py_ssize_t v = PyLong_CheckExact(item) ? PyLong_AsSsize_t(item) : -1;
            if (v == -1 && PyErr_Occurred())
                PyErr_Clear(); /* past Py_ssize_t: out of range */
            if (v < 0 || v >= count) {
                out = Py_NewRef(Py_None);
                goto done;
            }
            unit_of[at] = v;
            place[v + 1]++;
        }
    }
    for (Py_ssize_t v = 0; v < count; v++)
        place[v + 1] += place[v];
    out = PyList_New(total);
    if (out == NULL)
        goto done;
    at = 0;
    for (Py_ssize_t b = 0; b < batches; b++) {
        PyObject *f = PyList_GET_ITEM(findings, b);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(f); i++, at++)
            PyList_SET_ITEM(out, place[unit_of[at]]++, Py_NewRef(PyList_GET_ITEM(f, i)));
    }
done:
    PyMem_Free(place);
    PyMem_Free(unit_of);
    return out;
}

/* ==== End of by_unit =================================================================== */

/* ---- finding_counts: what a discovery scan keeps of a file's findings (issue 14) ----
 *
 * A scan's result is counts: findings per detector, and register findings per register and
 * place (the text of ``where`` before its first "#").  Counted with attrgetter, Counter and
 * a partition per register finding, that took 130 us of a 200-row sheet's 800 findings.
 * Here each finding's two slots are read in place (register_attr), the detectors counted by
 * identity (a scan's findings share a few detector strings) and a run of register findings
 * in one place counted without a slice.  scan._counted_py counts the same (a test compares).
 */

/* Up to this many distinct detector strings are counted in an array, the rest in a dict. */
#define COUNTS_KEPT 32

typedef struct {
    PyObject *key; /* borrowed: the findings hold it */
    Py_ssize_t n;
} CountRun;

/* dict[key] += n (a new int). */
static int counts_add(PyObject *dict, PyObject *key, Py_ssize_t n) {
    PyObject *had = PyDict_GetItemWithError(dict, key); /* borrowed */
    if (had == NULL && PyErr_Occurred())
        return -1;
    Py_ssize_t total = n;
    if (had != NULL) {
        Py_ssize_t before = PyLong_AsSsize_t(had);
        if (before == -1 && PyErr_Occurred())
            return -1;
        total += before;
    }
    PyObject *value = PyLong_FromSsize_t(total);
    if (value == NULL)
        return -1;
    int failed = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return failed;
}

/* The run of register findings of one detector in one place, added to ``places``. */
static int counts_flush_place(PyObject *places, PyObject *detector, PyObject *source,
                              Py_ssize_t n) {
    if (n == 0)
        return 0;
    PyObject *key = PyTuple_Pack(2, detector, source);
    if (key == NULL)
        return -1;
    int failed = counts_add(places, key, n);
    Py_DECREF(key);
    return failed;
}

/* finding_counts(findings, prefix) -> (counts, places): the findings per ``detector``, and
 * per (detector, place) those whose detector starts with ``prefix``, both dicts in the order
 * first seen (as Counter counts them). */
static PyObject *finding_counts(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *findings, *prefix;
    if (!PyArg_ParseTuple(args, "O!U", &PyList_Type, &findings, &prefix))
        return NULL;
    static PyObject *names[REGISTER_SLOTS];
    if (names[0] == NULL) {
        names[0] = PyUnicode_InternFromString("detector");
        names[1] = PyUnicode_InternFromString("where");
        names[2] = PyUnicode_InternFromString("start"); /* not read */
        if (names[0] == NULL || names[1] == NULL || names[2] == NULL) {
            Py_CLEAR(names[0]);
            Py_CLEAR(names[1]);
            Py_CLEAR(names[2]);
            return NULL;
        }
    }
    RegisterSlots slots = {NULL, {-1, -1, -1}};
    CountRun kept[COUNTS_KEPT];
    int distinct = 0;
    PyObject *counts = PyDict_New(), *places = PyDict_New(), *out = NULL;
    /* The current run of register findings: its detector, its place and their count. */
    PyObject *run_detector = NULL, *run_source = NULL, *detector = NULL, *where = NULL;
    Py_ssize_t run = 0;
    if (counts == NULL || places == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(findings); i++) {
        PyObject *finding = Py_NewRef(PyList_GET_ITEM(findings, i));
        Py_XSETREF(detector, register_attr(finding, &slots, names, 0));
        Py_CLEAR(where);
        if (detector == NULL) {
            Py_DECREF(finding);
            goto done;
        }
        if (!PyUnicode_Check(detector)) {
            Py_DECREF(finding);
            PyErr_SetString(PyExc_TypeError, "a finding's detector must be a str");
            goto done;
        }
        int k = 0;
        while (k < distinct && kept[k].key != detector)
            k++;
        if (k < distinct) {
            kept[k].n++;
        } else if (distinct < COUNTS_KEPT) {
            kept[distinct].key = Py_NewRef(detector);
            kept[distinct++].n = 1;
        } else if (counts_add(counts, detector, 1) < 0) {
            Py_DECREF(finding);
            goto done;
        }
        if (PyUnicode_Tailmatch(detector, prefix, 0, PY_SSIZE_T_MAX, -1) != 1) {
            Py_DECREF(finding);
            if (PyErr_Occurred())
                goto done;
            continue;
        }
        where = register_attr(finding, &slots, names, 1);
        Py_DECREF(finding);
        if (where == NULL)
            goto done;
        if (!PyUnicode_Check(where)) {
            PyErr_SetString(PyExc_TypeError, "a finding's where must be a str");
            goto done;
        }
        Py_ssize_t length = PyUnicode_GET_LENGTH(where);
        Py_ssize_t cut = PyUnicode_FindChar(where, '#', 0, length, 1);
        if (cut == -2)
            goto done;
        if (cut < 0)
            cut = length;
        /* The same place as the run's: its characters, then a "#" or the end. */
        if (run_detector != NULL && PyUnicode_Compare(run_detector, detector) == 0 &&
            PyUnicode_GET_LENGTH(run_source) == cut &&
            PyUnicode_Tailmatch(where, run_source, 0, cut, -1) == 1) {
            run++;
            continue;
        }
        if (PyErr_Occurred() ||
            counts_flush_place(places, run_detector, run_source, run) < 0)
            goto done;
        Py_XSETREF(run_detector, Py_NewRef(detector));
        Py_XSETREF(run_source, PyUnicode_Substring(where, 0, cut));
        if (run_source == NULL)
            goto done;
        run = 1;
    }
    if (run_detector != NULL && counts_flush_place(places, run_detector, run_source, run) < 0)
        goto done;
    /* The array's counts in the order first seen, before those the dict holds already
     * (which came later: the array was full). */
    PyObject *ordered = PyDict_New();
    if (ordered == NULL)
        goto done;
    for (int k = 0; k < distinct; k++)
        if (counts_add(ordered, kept[k].key, kept[k].n) < 0) {
            Py_DECREF(ordered);
            goto done;
        }
    PyObject *key, *value;
    Py_ssize_t at = 0;
    while (PyDict_Next(counts, &at, &key, &value)) {
        Py_ssize_t n = PyLong_AsSsize_t(value);
        if ((n == -1 && PyErr_Occurred()) || counts_add(ordered, key, n) < 0) {
            Py_DECREF(ordered);
            goto done;
        }
    }
    Py_SETREF(counts, ordered);
    out = PyTuple_Pack(2, counts, places);
done:
    for (int k = 0; k < distinct; k++)
        Py_DECREF(kept[k].key);
    Py_XDECREF(detector);
    Py_XDECREF(where);
    Py_XDECREF(run_detector);
    Py_XDECREF(run_source);
    Py_XDECREF(counts);
    Py_XDECREF(places);
    return out;
}

/* ==== End of finding counts ============================================================ */

/* ---- overlapped: the findings a winning detector's findings overlap (issue 14) ----
 *
 * DetectorSet._resolve_overlaps drops the findings of a detector that yields (a phone)
 * overlapped, in their unit, by a finding of one it yields to (an HKID).  With arrays that
 * is a dozen numpy calls and two reads of the spans per pair of detectors (35 us of a
 * 200-row sheet); here one read of each and a bisection per finding, as
 * detectorset._overlapped_py bisects (a test compares).
 */

typedef struct {
    int64_t unit;
    int64_t start;
    int64_t end;
} OverlapSpan;

static int overlap_span_order(const void *a, const void *b) {
    const OverlapSpan *x = a, *y = b;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static PyObject *overlap_names[REGISTER_SLOTS];

/* The spans of a batch (its units, and its findings' ``start`` and ``end``) into a new
 * array of n (PyMem_Free it); NULL with an exception set. */
static OverlapSpan *overlap_spans(PyObject *units, PyObject *findings, Py_ssize_t *n) {
    if (!PyList_Check(units) || !PyList_Check(findings) ||
        PyList_GET_SIZE(units) != PyList_GET_SIZE(findings)) {
        PyErr_SetString(PyExc_ValueError, "overlapped: lists, a unit per finding");
        return NULL;
    }
    *n = PyList_GET_SIZE(findings);
    OverlapSpan *spans = PyMem_Malloc((size_t)(*n > 0 ? *n : 1) * sizeof(OverlapSpan));
    if (spans == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    RegisterSlots slots = {NULL, {-1, -1, -1}};
    for (Py_ssize_t i = 0; i < *n; i++) {
        /* A getattr or an int subclass could run Python code that shrinks the lists. */
        if (PyList_GET_SIZE(units) != *n || PyList_GET_SIZE(findings) != *n) {
            PyErr_SetString(PyExc_RuntimeError, "overlapped: the lists changed size");
            goto fail;
        }
        PyObject *finding = Py_NewRef(PyList_GET_ITEM(findings, i));
        int failed =
            spans_int(Py_NewRef(PyList_GET_ITEM(units, i)), &spans[i].unit) < 0 ||
            spans_int(register_attr(finding, &slots, overlap_names, 0), &spans[i].start) < 0 ||
            spans_int(register_attr(finding, &slots, overlap_names, 1), &spans[i].end) < 0;
        Py_DECREF(finding);
        if (failed)
            goto fail;
    }
    return spans;
fail:
    PyMem_Free(spans);
    return NULL;
}

/* overlapped(units, findings, winners) -> bytes: 1 at i when finding i (in unit units[i]) is
 * overlapped by a finding of one of ``winners``, each a (units, findings) pair of lists, in
 * the same unit: of a winner's spans sorted by unit, start and end, the last one starting
 * (in that unit) before the finding's end reaches past its start (a detector's spans do
 * not nest). */
static PyObject *overlapped(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *units, *findings, *winners;
    if (!PyArg_ParseTuple(args, "OOO!", &units, &findings, &PyList_Type, &winners))
        return NULL;
    if (overlap_names[0] == NULL) {
        overlap_names[0] = PyUnicode_InternFromString("start");
        overlap_names[1] = PyUnicode_InternFromString("end");
        if (overlap_names[0] == NULL || overlap_names[1] == NULL) {
            Py_CLEAR(overlap_names[0]);
            Py_CLEAR(overlap_names[1]);
            return NULL;
        }
    }
    Py_ssize_t n = 0, m = 0;
    OverlapSpan *mine = overlap_spans(units, findings, &n), *theirs = NULL;
    if (mine == NULL)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        goto done;
    char *hit = PyBytes_AS_STRING(out);
    memset(hit, 0, (size_t)n);
    for (Py_ssize_t w = 0; w < PyList_GET_SIZE(winners); w++) {
        PyObject *pair = PyList_GET_ITEM(winners, w);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "overlapped: winners are (units, findings) pairs");
            Py_CLEAR(out);
            goto done;
        }
        Py_INCREF(pair); /* reading its findings could run Python code */
        PyMem_Free(theirs);
        theirs = overlap_spans(PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), &m);
        Py_DECREF(pair);
        if (theirs == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        sort_unless_sorted(theirs, (size_t)m, sizeof(OverlapSpan), overlap_span_order);
        for (Py_ssize_t i = 0; i < n; i++) {
            /* The first winner span at or past (unit, end), then the one before it. */
            Py_ssize_t a = 0, b = m;
            while (a < b) {
                Py_ssize_t mid = a + ((b - a) >> 1);
                if (theirs[mid].unit < mine[i].unit ||
                    (theirs[mid].unit == mine[i].unit && theirs[mid].start < mine[i].end))
                    a = mid + 1;
                else
                    b = mid;
            }
            if (a > 0 && theirs[a - 1].unit == mine[i].unit && theirs[a - 1].end > mine[i].start)
                hit[i] = 1;
        }
    }
done:
    PyMem_Free(mine);
    PyMem_Free(theirs);
    return out;
}

/* ==== End of overlapped ================================================================ */
/* ==== Row units ========================================================================
 *
 * row_units(rows, start, stop, prefix) -> (texts, places, cells): what the loop of
 * spreadsheet.SpreadsheetExtractor._sheets makes of rows[start:stop] of sheet_rows' rows
 * (numbered from 1), without a Python-level join, tuple, f-string and three appends a row
 * (0.5 us a row, a third of reading a 200-row workbook).  Trailing empty cells ("" or None)
 * are no cells and a row of none is left out; a str cell is kept as it is, a float is
 * cell_text's (``91234567`` for 91234567.0, else its repr), a bool ``TRUE`` or ``FALSE``,
 * None "" (sheet_rows gives no other type: any other is a TypeError).  ``texts[i]`` is the
 * cells joined with " | ", ``places[i]`` prefix + the row's number.  A test compares it
 * with the Python loop.
 */

static PyObject *row_units_bools[2];

/* cell_text of one value (a new reference), or NULL with an exception set. */
static PyObject *row_units_cell(PyObject *value, PyObject *empty) {
    if (PyUnicode_CheckExact(value))
        return Py_NewRef(value);
    if (value == Py_None)
        return Py_NewRef(empty);
    if (PyBool_Check(value))
        return Py_NewRef(row_units_bools[value == Py_True]);
    if (PyFloat_CheckExact(value)) {
        double d = PyFloat_AS_DOUBLE(value);
        if (!isfinite(d) || floor(d) != d)
            return PyObject_Repr(value);
        PyObject *whole = PyLong_FromDouble(d);
        if (whole == NULL)
            return NULL;
        PyObject *text = PyObject_Str(whole);
        Py_DECREF(whole);
        return text;
    }
    PyErr_SetString(PyExc_TypeError, "row_units: a cell neither str, float, bool nor None");
    return NULL;
}

/* prefix + the decimal digits of number (>= 1): PyUnicode_FromFormat parses its format at
 * every call, a third of this module's time on a short row. */
static PyObject *row_units_place(PyObject *prefix, Py_ssize_t number) {
    char digits[24];
    int n = 0;
    for (size_t v = (size_t)number; v; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    Py_ssize_t length = PyUnicode_GET_LENGTH(prefix);
    PyObject *place = PyUnicode_New(length + n, PyUnicode_MAX_CHAR_VALUE(prefix));
    if (place == NULL)
        return NULL;
    if (PyUnicode_CopyCharacters(place, 0, prefix, 0, length) < 0) {
        Py_DECREF(place);
        return NULL;
    }
    int kind = PyUnicode_KIND(place);
    void *data = PyUnicode_DATA(place);
    for (int i = 0; i < n; i++)
        PyUnicode_WRITE(kind, data, length + i, digits[n - 1 - i]);
    return place;
}

/* One row's unit into the three lists (nothing for a row of no cells); -1 on error. */
static int row_units_row(PyObject *row, Py_ssize_t number, PyObject *prefix, PyObject *sep,
                         PyObject *empty, PyObject *out[3]) {
    Py_ssize_t n = PyList_GET_SIZE(row);
    while (n > 0) {
        PyObject *last = PyList_GET_ITEM(row, n - 1);
        if (last != Py_None && !(PyUnicode_Check(last) && PyUnicode_GET_LENGTH(last) == 0))
            break;
        n--;
    }
    if (n == 0)
        return 0;
    PyObject *cells = PyTuple_New(n);
    if (cells == NULL)
        return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        /* An allocation may collect garbage, whose finalizers may shrink the row. */
        if (k >= PyList_GET_SIZE(row)) {
            PyErr_SetString(PyExc_RuntimeError, "row_units: a row changed size");
            Py_DECREF(cells);
            return -1;
        }
        PyObject *text = row_units_cell(PyList_GET_ITEM(row, k), empty);
        if (text == NULL) {
            Py_DECREF(cells);
            return -1;
        }
        PyTuple_SET_ITEM(cells, k, text);
    }
    PyObject *joined = PyUnicode_Join(sep, cells);
    PyObject *place = joined ? row_units_place(prefix, number) : NULL;
    int failed = place == NULL || PyList_Append(out[0], joined) < 0 ||
                 PyList_Append(out[1], place) < 0 || PyList_Append(out[2], cells) < 0;
    Py_XDECREF(joined);
    Py_XDECREF(place);
    Py_DECREF(cells);
    return failed ? -1 : 0;
}

static PyObject *row_units(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *rows, *prefix;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "O!nnU", &PyList_Type, &rows, &start, &stop, &prefix))
        return NULL;
    if (start < 0 || stop < start || stop > PyList_GET_SIZE(rows)) {
        PyErr_SetString(PyExc_IndexError, "row_units: start and stop out of range");
        return NULL;
    }
    if (row_units_bools[0] == NULL) {
        row_units_bools[0] = PyUnicode_InternFromString("FALSE");
        row_units_bools[1] = PyUnicode_InternFromString("TRUE");
        if (row_units_bools[0] == NULL || row_units_bools[1] == NULL) {
            Py_CLEAR(row_units_bools[0]);
            Py_CLEAR(row_units_bools[1]);
            return NULL;
        }
    }
    PyObject *out[3] = {PyList_New(0), PyList_New(0), PyList_New(0)};
    PyObject *sep = PyUnicode_FromString(" | ");
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    PyObject *answer = NULL;
    if (out[0] == NULL || out[1] == NULL || out[2] == NULL || sep == NULL || empty == NULL)
        goto done;
    for (Py_ssize_t i = start; i < stop; i++) {
        if (i >= PyList_GET_SIZE(rows)) {
            PyErr_SetString(PyExc_RuntimeError, "row_units: the rows changed size");
            goto done;
        }
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyList_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "row_units: each row must be a list");
            goto done;
        }
        Py_INCREF(row);
        int failed = row_units_row(row, i + 1, prefix, sep, empty, out) < 0;
        Py_DECREF(row);
        if (failed)
            goto done;
    }
    answer = PyTuple_Pack(3, out[0], out[1], out[2]);
done:
    Py_XDECREF(out[0]);
    Py_XDECREF(out[1]);
    Py_XDECREF(out[2]);
    Py_XDECREF(sep);
    Py_XDECREF(empty);
    return answer;
}

/* ==== End of row units ================================================================= */
/* ---- pdf_value: one value of a plain pdf's object (issue 14) ----
 *
 * extract/pdf_plain.py's ``_Plain._value`` in C: the same tokens as its ``_TOKEN`` pattern
 * (whitespace, then a name, a reference, an integer, ``<<`` ``[``, ``>>`` ``]``, a real, a
 * literal string, a hex string or a keyword, each kind with the same delimiter after it),
 * the same stack of arrays and dictionaries and the same refusals (nesting past 32, an
 * array or dictionary of 10,000 elements, a key that is no name or is repeated, a closing
 * bracket of the other kind).  The Python tokenizer cost most of a small pdf's plain check
 * (0.1 of 0.17 ms: ~200 regular-expression matches and their Python objects); here a token
 * costs a few nanoseconds.  The Python version stays where the module is not built, and
 * tests/engine/extract/test_pdf_plain.py compares the two. */

#define PV_MAX_DEPTH 32
#define PV_MAX_ELEMENTS 10000

static int pv_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* What may follow a number, a reference or a keyword (``_DELIMITED``). */
static int pv_delimiter(unsigned char c) {
    return pv_space(c) || c == '/' || c == '[' || c == ']' || c == '<' || c == '>';
}

static int pv_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int pv_name_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || pv_digit(c) || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

static int pv_hex(unsigned char c) {
    return pv_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* The run of digits at s[i] (at most ``cap + 1`` counted). */
static Py_ssize_t pv_digits(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, Py_ssize_t cap) {
    Py_ssize_t j = i;
    while (j < n && j - i <= cap && pv_digit(s[j]))
        j++;
    return j - i;
}

static int pv_delimited(const unsigned char *s, Py_ssize_t at, Py_ssize_t n) {
    return at < n && pv_delimiter(s[at]);
}

enum { PV_NONE, PV_NAME, PV_REF, PV_INT, PV_OPEN, PV_CLOSE, PV_REAL, PV_OTHER };

/* The token at s[i] after whitespace: its kind, where it begins (``*start``) and ends
 * (``*end``); PV_NONE where ``_TOKEN`` does not match. */
static int pv_token(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *start,
                    Py_ssize_t *end) {
    while (i < n && pv_space(s[i]))
        i++;
    *start = i;
    if (i >= n)
        return PV_NONE;
    unsigned char c = s[i];
    if (c == '/') {
        Py_ssize_t j = i + 1;
        while (j < n && j - i - 1 < 127 && pv_name_char(s[j]))
            j++;
        if (j == i + 1 || j >= n || !(pv_delimiter(s[j]) || s[j] == '('))
            return PV_NONE;
        *end = j;
        return PV_NAME;
    }
    if (pv_digit(c) || c == '-' || c == '.') {
        Py_ssize_t d = pv_digit(c) ? pv_digits(s, i, n, 10) : 0;
        if (d >= 1 && d <= 10 && i + d + 4 <= n && memcmp(s + i + d, " 0 R", 4) == 0 &&
            pv_delimited(s, i + d + 4, n)) {
            *end = i + d;  /* the number's digits: the caller reads them */
            return PV_REF;
        }
        Py_ssize_t j = c == '-' ? i + 1 : i;
        Py_ssize_t whole = pv_digits(s, j, n, 10);
        if (whole >= 1 && whole <= 10 && pv_delimited(s, j + whole, n)) {
            *end = j + whole;
            return PV_INT;
        }
        if (whole <= 10 && j + whole < n && s[j + whole] == '.') {
            Py_ssize_t k = j + whole + 1;
            Py_ssize_t frac = pv_digits(s, k, n, 10);
            if ((whole >= 1 || frac >= 1) && frac <= 10 && pv_delimited(s, k + frac, n)) {
                *end = k + frac;
                return PV_REAL;
            }
        }
        return PV_NONE;
    }
    if (c == '<' || c == '[') {
        if (c == '[' || (i + 1 < n && s[i + 1] == '<')) {
            *end = i + (c == '[' ? 1 : 2);
            return PV_OPEN;
        }
        Py_ssize_t j = i + 1;
        while (j < n && pv_hex(s[j]))
            j++;
        if (j >= n || s[j] != '>')
            return PV_NONE;
        *end = j + 1;
        return PV_OTHER;
    }
    if (c == ']' || c == '>') {
        if (c == '>' && !(i + 1 < n && s[i + 1] == '>'))
            return PV_NONE;
        *end = i + (c == ']' ? 1 : 2);
        return PV_CLOSE;
    }
    if (c == '(') {
        Py_ssize_t j = i + 1;
        while (j < n) {
            unsigned char b = s[j];
            if (b >= 0x20 && b <= 0x7e && b != '(' && b != ')' && b != '\\') {
                j++;
            } else if (b == '\\' && j + 1 < n && strchr("nrtbf()\\", s[j + 1]) && s[j + 1]) {
                j += 2;
            } else if (b == '\\' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '7') {
                j += 2;
                for (int k = 0; k < 2 && j < n && s[j] >= '0' && s[j] <= '7'; k++)
                    j++;
            } else {
                break;
            }
        }
        if (j >= n || s[j] != ')')
            return PV_NONE;
        *end = j + 1;
        return PV_OTHER;
    }
    static const char *const keywords[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        Py_ssize_t len = (Py_ssize_t)strlen(keywords[k]);
        if (i + len <= n && memcmp(s + i, keywords[k], (size_t)len) == 0 &&
            pv_delimited(s, i + len, n)) {
            *end = i + len;
            return PV_OTHER;
        }
    }
    return PV_NONE;
}

/* The integer of digits s[i:j] (at most 10 of them, after an optional '-'). */
static PyObject *pv_int(const unsigned char *s, Py_ssize_t i, Py_ssize_t j) {
    int negative = s[i] == '-';
    long long v = 0;
    for (Py_ssize_t k = i + negative; k < j; k++)
        v = v * 10 + (s[k] - '0');
    return PyLong_FromLongLong(negative ? -v : v);
}

/* The value whose first token begins at s[pos] (after whitespace): a new reference, with
 * where it ends in *end_out and *opened counted on; NULL with *refused set where ``_value``
 * refuses, or NULL with an error (what ``check_time`` raised).  ``every`` is positive. */
static PyObject *pv_read(const unsigned char *s, Py_ssize_t n, Py_ssize_t pos, PyObject *ref,
                         PyObject *other, PyObject *check_time, Py_ssize_t every,
                         Py_ssize_t *opened_io, Py_ssize_t *end_out, int *refused) {
    Py_ssize_t opened = *opened_io;
    if (pos > n) {
        *refused = 1;
        return NULL;
    }
    pos = pos < 0 ? 0 : pos; /* as ``re`` takes a negative position */
    PyObject *open[PV_MAX_DEPTH];
    PyObject *keys[PV_MAX_DEPTH]; /* the key read whose value is still to come, or NULL */
    int depth = 0;
    for (;;) {
        Py_ssize_t start = 0, end = 0;
        int kind = pv_token(s, pos, n, &start, &end);
        PyObject *value = NULL;
        if (kind == PV_NONE)
            goto refuse;
        pos = end;
        if (kind == PV_OPEN) {
            if (depth == PV_MAX_DEPTH || opened == PY_SSIZE_T_MAX)
                goto refuse; /* the count would wrap (signed overflow) */
            if (++opened % every == 0) {
                PyObject *looked = PyObject_CallNoArgs(check_time);
                if (looked == NULL)
                    goto fail;
                Py_DECREF(looked);
            }
            PyObject *made = s[start] == '[' ? PyList_New(0) : PyDict_New();
            if (made == NULL)
                goto fail;
            open[depth] = made;
            keys[depth] = NULL;
            depth++;
            continue;
        }
        if (kind == PV_CLOSE) {
            if (!depth)
                goto refuse;
            depth--;
            value = open[depth];
            int pending = keys[depth] != NULL;
            Py_CLEAR(keys[depth]);
            if (pending || (s[start] == ']') != PyList_CheckExact(value)) {
                Py_DECREF(value);
                goto refuse;
            }
        } else if (kind == PV_NAME) {
            value = PyBytes_FromStringAndSize((const char *)s + start, end - start);
        } else if (kind == PV_REF) {
            PyObject *number = pv_int(s, start, end);
            if (number == NULL)
                goto fail;
            pos = end + 4; /* `` 0 R`` */
            value = PyObject_CallOneArg(ref, number);
            Py_DECREF(number);
        } else if (kind == PV_INT) {
            value = pv_int(s, start, end);
        } else if (kind == PV_REAL) {
            PyObject *text = PyBytes_FromStringAndSize((const char *)s + start, end - start);
            if (text == NULL)
                goto fail;
            value = PyFloat_FromString(text);
            Py_DECREF(text);
        } else {
            value = Py_NewRef(other);
        }
        if (value == NULL)
            goto fail;
        if (!depth) {
            *opened_io = opened;
            *end_out = pos;
            return value;
        }
        PyObject *top = open[depth - 1];
        int full = PyList_CheckExact(top) ? PyList_GET_SIZE(top) == PV_MAX_ELEMENTS
                                          : PyDict_GET_SIZE(top) == PV_MAX_ELEMENTS;
        if (full) {
            Py_DECREF(value);
            goto refuse;
        }
        if (PyList_CheckExact(top)) {
            int failed = PyList_Append(top, value);
            Py_DECREF(value);
            if (failed < 0)
                goto fail;
        } else if (keys[depth - 1] != NULL) {
            int failed = PyDict_SetItem(top, keys[depth - 1], value);
            Py_DECREF(value);
            Py_CLEAR(keys[depth - 1]);
            if (failed < 0)
                goto fail;
        } else {
            /* A key must be a name; pypdf's strict reading refuses a repeated one. */
            int repeated = PyBytes_CheckExact(value) ? PyDict_Contains(top, value) : 1;
            if (repeated < 0) {
                Py_DECREF(value);
                goto fail;
            }
            if (repeated) {
                Py_DECREF(value);
                goto refuse;
            }
            keys[depth - 1] = value;
        }
    }
refuse:
    *refused = 1;
fail:
    for (int i = 0; i < depth; i++) {
        Py_DECREF(open[i]);
        Py_XDECREF(keys[i]);
    }
    *opened_io = opened;
    return NULL;
}

/* pdf_value(data, pos, ref, other, check_time, every, opened) -> (value, end, opened), or
 * None where ``_value`` refuses: ``opened`` counts the arrays and dictionaries opened so far,
 * and ``check_time()`` is called each time it reaches a multiple of ``every`` (one value may
 * open millions); what it raises passes (`pv_read`, which pdf_plain also reads with). */
static PyObject *pdf_value(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *ref, *other, *check_time;
    Py_ssize_t pos, every, opened;
    if (!PyArg_ParseTuple(args, "O!nOOOnn", &PyBytes_Type, &data, &pos, &ref, &other,
                          &check_time, &every, &opened))
        return NULL;
    if (every < 1) {
        PyErr_SetString(PyExc_ValueError, "every must be positive");
        return NULL;
    }
    Py_ssize_t end = 0;
    int refused = 0;
    PyObject *value = pv_read((const unsigned char *)PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), pos, ref, other, check_time, every,
                              &opened, &end, &refused);
    if (value == NULL) {
        if (refused)
            Py_RETURN_NONE;
        return NULL;
    }
    return Py_BuildValue("(Nnn)", value, end, opened);
}

/* ==== End of pdf_value ================================================================= */

/* ---- plain_relationships: an office package's relationships part (issue 14) ----
 *
 * plain_relationships(xml) -> the attributes of each ``Relationship`` element, as
 * ``[rel.attrib for rel in fromstring(xml).iter(...Relationship)]`` gives them, for a part
 * in the one form office programs write: an optional XML declaration (version 1.0, UTF-8,
 * standalone), the ``Relationships`` root with its namespace alone, then only
 * ``Relationship`` elements with double-quoted ``Id``, ``Type``, ``Target`` and
 * ``TargetMode`` attributes, each at most once, whose values are printable ASCII without
 * ``"``, ``&`` or ``<`` (no reference to resolve, no whitespace for XML to normalise);
 * single spaces in the declaration, none in the end tag.  None for anything else: the
 * caller parses the part (office.relationships), and expat gives its verdict.  Parsing cost
 * a docx its two relationships parts' 30 us; tests/engine/extract/test_plain_relationships.py
 * compares the two on every office file of the tests and one-byte edits of their parts. */

static const char RELS_ROOT[] =
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"";
static PyObject *rels_names[4];
static const char *const RELS_NAMES[4] = {"Id", "Type", "Target", "TargetMode"};

static Py_ssize_t rels_space(const char *s, Py_ssize_t i, Py_ssize_t n) {
    Py_ssize_t j = i;
    while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
        j++;
    return j - i;
}

static int rels_at(const char *s, Py_ssize_t i, Py_ssize_t n, const char *lit) {
    Py_ssize_t len = (Py_ssize_t)strlen(lit);
    return i + len <= n && memcmp(s + i, lit, (size_t)len) == 0;
}

/* `` name=QvalueQ`` of the declaration at s[*i] (either quote), the value one of ``values``. */
static int rels_pseudo(const char *s, Py_ssize_t *i, Py_ssize_t n, const char *name,
                       const char *const *values, int count) {
    Py_ssize_t j = *i;
    if (!rels_at(s, j, n, name))
        return 0;
    j += (Py_ssize_t)strlen(name);
    if (j >= n || (s[j] != '"' && s[j] != '\''))
        return 0;
    char quote = s[j++];
    for (int k = 0; k < count; k++) {
        Py_ssize_t len = (Py_ssize_t)strlen(values[k]);
        if (rels_at(s, j, n, values[k]) && j + len < n && s[j + len] == quote) {
            *i = j + len + 1;
            return 1;
        }
    }
    return 0;
}

/* Where the declaration ends (0 when there is none), or -1 when it is not the plain one. */
static Py_ssize_t rels_declaration(const char *s, Py_ssize_t n) {
    static const char *const version[] = {"1.0"}, *const utf8[] = {"UTF-8"},
                             *const standalone[] = {"yes", "no"};
    Py_ssize_t i = 0;
    if (!rels_at(s, 0, n, "<?xml"))
        return 0;
    i = 5;
    if (!rels_pseudo(s, &i, n, " version=", version, 1))
        return -1;
    rels_pseudo(s, &i, n, " encoding=", utf8, 1);
    rels_pseudo(s, &i, n, " standalone=", standalone, 2);
    i += rels_space(s, i, n);
    return rels_at(s, i, n, "?>") ? i + 2 : -1;
}

static int rels_value_char(unsigned char c) {
    return c >= 0x20 && c <= 0x7e && c != '"' && c != '&' && c != '<';
}

/* One element's attributes from s[*i] (after ``<Relationship``) to its ``/>``, into a new
 * dict; NULL with no error set when it is not plain. */
static PyObject *rels_element(const char *s, Py_ssize_t *i, Py_ssize_t n) {
    PyObject *attrib = PyDict_New();
    if (attrib == NULL)
        return NULL;
    int seen = 0;
    Py_ssize_t j = *i;
    for (;;) {
        Py_ssize_t space = rels_space(s, j, n);
        j += space;
        if (rels_at(s, j, n, "/>")) {
            *i = j + 2;
            return attrib;
        }
        if (!space)
            break;
        int k = 3;
        /* Longest first: ``TargetMode`` before ``Target``. */
        while (k >= 0 && !(rels_at(s, j, n, RELS_NAMES[k]) &&
                           rels_at(s, j + (Py_ssize_t)strlen(RELS_NAMES[k]), n, "=\"")))
            k--;
        if (k < 0 || seen & (1 << k))
            break; /* another attribute, or a repeated one (an error to expat) */
        seen |= 1 << k;
        j += (Py_ssize_t)strlen(RELS_NAMES[k]) + 2;
        Py_ssize_t start = j;
        while (j < n && rels_value_char((unsigned char)s[j]))
            j++;
        if (j >= n || s[j] != '"')
            break;
        PyObject *value = PyUnicode_DecodeASCII(s + start, j - start, NULL);
        if (value == NULL || PyDict_SetItem(attrib, rels_names[k], value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(attrib);
            return NULL;
        }
        Py_DECREF(value);
        j++;
    }
    Py_DECREF(attrib);
    return NULL;
}

static PyObject *plain_relationships(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_relationships: bytes expected");
        return NULL;
    }
    if (rels_names[0] == NULL) {
        for (int k = 0; k < 4; k++) {
            rels_names[k] = PyUnicode_InternFromString(RELS_NAMES[k]);
            if (rels_names[k] == NULL)
                return NULL;
        }
    }
    const char *s = PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    Py_ssize_t i = rels_declaration(s, n);
    if (i < 0)
        Py_RETURN_NONE;
    i += rels_space(s, i, n);
    if (!rels_at(s, i, n, RELS_ROOT))
        Py_RETURN_NONE;
    i += (Py_ssize_t)sizeof(RELS_ROOT) - 1;
    i += rels_space(s, i, n);
    if (!rels_at(s, i, n, ">"))
        Py_RETURN_NONE;
    i++;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (;;) {
        i += rels_space(s, i, n);
        if (rels_at(s, i, n, "</Relationships>")) {
            i += 16;
            break;
        }
        /* ``<Relationship`` then whitespace or ``/>``: not a longer name. */
        if (!rels_at(s, i, n, "<Relationship"))
            goto plain_not;
        i += 13;
        PyObject *attrib = rels_element(s, &i, n);
        if (attrib == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
            goto plain_not;
        }
        int failed = PyList_Append(out, attrib);
        Py_DECREF(attrib);
        if (failed < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    i += rels_space(s, i, n);
    if (i == n)
        return out;
plain_not:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

/* ==== End of plain_relationships ======================================================= */

/* ---- pdf_offsets: a plain pdf's cross-reference entries (issue 14) ----
 *
 * pdf_offsets(data, first, count, check_time, every) -> {number: offset} of the entries in
 * use of the table whose entry 0 begins at ``first`` (20 bytes each, already matched as
 * ``\d{10} \d{5} [fn]`` and an end of line by pdf_plain's ``_ENTRIES``), each of generation 0
 * and pointing exactly at its ``N 0 obj``; None when one is not (pdf_plain's ``_offsets``
 * loop, a microsecond and a half an entry in Python; test_pdf_value.py compares the two).
 * ``check_time()`` is called every ``every`` entries (a table may list ten million) and
 * what it raises passes. */

static PyObject *pdf_offsets(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *check_time;
    Py_ssize_t first, count, every;
    if (!PyArg_ParseTuple(args, "O!nnOn", &PyBytes_Type, &data, &first, &count, &check_time,
                          &every))
        return NULL;
    if (every < 1) {
        PyErr_SetString(PyExc_ValueError, "every must be positive");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (first < 0 || first > n || count < 1 || count > (n - first) / 20)
        Py_RETURN_NONE; /* not the table _ENTRIES matched: not plain */
    PyObject *offsets = PyDict_New();
    if (offsets == NULL)
        return NULL;
    for (Py_ssize_t number = 1; number < count; number++) {
        if (number % every == 0) {
            PyObject *looked = PyObject_CallNoArgs(check_time);
            if (looked == NULL) {
                Py_DECREF(offsets);
                return NULL;
            }
            Py_DECREF(looked);
        }
        const char *entry = s + first + 20 * number;
        if (entry[17] != 'n')
            continue;
        long long offset = 0;
        for (int k = 0; k < 10; k++) {
            if (entry[k] < '0' || entry[k] > '9') {
                Py_DECREF(offsets);
                Py_RETURN_NONE;
            }
            offset = offset * 10 + (entry[k] - '0');
        }
        char head[32];
        int len = snprintf(head, sizeof head, "%zd 0 obj", number);
        if (memcmp(entry + 11, "00000", 5) != 0 || offset + len > n ||
            memcmp(s + offset, head, (size_t)len) != 0) {
            Py_DECREF(offsets);
            Py_RETURN_NONE;
        }
        PyObject *key = PyLong_FromSsize_t(number), *value = PyLong_FromLongLong(offset);
        int failed = key == NULL || value == NULL || PyDict_SetItem(offsets, key, value) < 0;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(offsets);
            return NULL;
        }
    }
    return offsets;
}

/* ==== End of pdf_offsets =============================================================== */

/* ---- xls_grid: the grids calamine builds of an xls sheet (issue 14) ----
 *
 * xls_grid(stream, at, check_time, every) -> (cells, claimed): grids._xls_grid of the
 * BIFF8 records of the sheet that begin at ``at`` in an xls's Workbook stream: the cells of
 * its values' grid plus its formulas' (each from the top row to the bottom one, the leftmost
 * column to the rightmost), and the most cells a DIMENSIONS record claims (32-bit wrapping,
 * as calamine reserves them); (-1, 0) where the records are cut short before an EOF.  In
 * Python a record costs 0.7 microseconds, four times calamine's own reading (test_xls_grid
 * compares the two).  ``check_time()`` is called every ``every`` records. */

typedef struct {
    long long top, bottom, left, right;
} XgBounds;

static void xg_add(XgBounds *b, long long row, long long left, long long right) {
    if (row < b->top)
        b->top = row;
    if (row > b->bottom)
        b->bottom = row;
    if (left < b->left)
        b->left = left;
    if (right > b->right)
        b->right = right;
}

static long long xg_cells(const XgBounds *b) {
    return b->bottom < 0 ? 0 : (b->bottom - b->top + 1) * (b->right - b->left + 1);
}

static unsigned xg_u16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

static unsigned long long xg_u32(const unsigned char *p) {
    return (unsigned long long)xg_u16(p) | (unsigned long long)xg_u16(p + 2) << 16;
}

static unsigned long long xg_claimed(const unsigned char *p, Py_ssize_t size) {
    unsigned long long first, last, left, right;
    if (size == 14) {
        first = xg_u32(p), last = xg_u32(p + 4), left = xg_u16(p + 8), right = xg_u16(p + 10);
    } else if (size == 10) {
        first = xg_u16(p), last = xg_u16(p + 2), left = xg_u16(p + 4), right = xg_u16(p + 6);
    } else {
        return 0; /* calamine refuses the workbook */
    }
    if (last < 1 || right < 1)
        return 1;
    return ((last - first) & 0xFFFFFFFFULL) * ((right - left) & 0xFFFFFFFFULL);
}

static PyObject *xls_grid(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *stream, *check_time;
    Py_ssize_t at, every;
    if (!PyArg_ParseTuple(args, "O!nOn", &PyBytes_Type, &stream, &at, &check_time, &every))
        return NULL;
    if (every < 1 || at < 0) {
        PyErr_SetString(PyExc_ValueError, "every must be positive, at not negative");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(stream);
    Py_ssize_t end = PyBytes_GET_SIZE(stream), count = 0;
    const long long far = 1LL << 62;
    XgBounds values = {far, -1, far, -1}, formulas = {far, -1, far, -1};
    unsigned long long claimed = 0;
    long long formula_row = 0, formula_col = 0;
    while (at < end) {
        if (end - at < 4)
            return Py_BuildValue("(iK)", -1, 0ULL);
        unsigned kind = xg_u16(s + at), size = xg_u16(s + at + 2);
        Py_ssize_t body = at + 4;
        at = body + size;
        if (at > end)
            return Py_BuildValue("(iK)", -1, 0ULL);
        if (++count % every == 0) {
            PyObject *looked = PyObject_CallNoArgs(check_time);
            if (looked == NULL)
                return NULL;
            Py_DECREF(looked);
        }
        if (kind == 0x000A) /* EOF */
            break;
        if (size < 4)
            continue;
        long long row = xg_u16(s + body), col = xg_u16(s + body + 2);
        switch (kind) {
        case 0x0203: /* NUMBER */
        case 0x0204: /* LABEL */
        case 0x0205: /* BOOLERR */
        case 0x027E: /* RK */
        case 0x00FD: /* LABELSST */
            xg_add(&values, row, col, col);
            break;
        case 0x0006: /* FORMULA */
            formula_row = row, formula_col = col;
            xg_add(&values, row, col, col);
            xg_add(&formulas, row, col, col);
            break;
        case 0x0207: /* STRING */
            xg_add(&values, formula_row, formula_col, formula_col);
            break;
        case 0x00BD: /* MULRK */
            if (size >= 12)
                xg_add(&values, row, col, col + (size - 6) / 6 - 1);
            break;
        case 0x0200: { /* DIMENSIONS */
            unsigned long long cells = xg_claimed(s + body, size);
            if (cells > claimed)
                claimed = cells;
            break;
        }
        default:
            break;
        }
    }
    return Py_BuildValue("(LK)", xg_cells(&values) + xg_cells(&formulas), claimed);
}

/* ==== End of xls_grid ================================================================== */
/* ---- plain_texts: the text of a small office XML part without a parse (issue 14) ----
 *
 * plain_texts(xml) -> what office._tree_texts(fromstring(xml)) gives (before part_texts
 * drops the _NO_DATA lines), for a part in a plain form: an optional XML declaration as
 * plain_relationships reads it, then UTF-8 elements, attributes, text and the five
 * predefined entities only: no comment, processing instruction, CDATA section, DOCTYPE,
 * character reference, carriage return, non-ASCII name or "]]>" anywhere.  Everything
 * expat checks of such a part is checked here (tags nested and matched, names, attribute
 * syntax, whitespace between attributes, duplicate attributes raw or expanded, prefixes
 * bound, reserved prefixes and namespaces, no '}' in a namespace (ElementTree's separator:
 * an error to expat), characters XML allows, strict UTF-8, nothing but
 * whitespace around the root element); anything else gives None: the caller parses the part
 * and expat gives its verdict.  Parsing and walking cost a docx's document properties
 * 55 us; tests/engine/extract/test_plain_texts.py compares the two on every office part of
 * the tests, one-byte edits and hand-made edges. */

static const char PT_XML_NS[] = "http://www.w3.org/XML/1998/namespace";
static const char PT_XMLNS_NS[] = "http://www.w3.org/2000/xmlns/";
static const char PT_W15[] = "http://schemas.microsoft.com/office/word/2012/wordml";
static const char *const PT_WORD[2] = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
};
/* The unprefixed attributes read, in office._VALUES's order (the prefixed ones follow). */
static const char *const PT_PLAIN[7] = {"v", "name", "displayName", "descr", "title", "alt",
                                        "userId"};
enum { PT_TARGET = 11, PT_MODE = 12, PT_SLOTS = 13, PT_MAX_BINDINGS = 256 };

typedef struct {
    const char *prefix, *uri; /* prefix NULL: the default namespace; uri_len 0: none */
    Py_ssize_t prefix_len, uri_len;
} PtBinding;

typedef struct {
    const char *name;
    Py_ssize_t name_len, bindings, pending;
} PtFrame;

typedef struct {
    PtBinding *bindings;
    Py_ssize_t n_bindings, cap_bindings;
    PtFrame *frames;
    Py_ssize_t n_frames, cap_frames;
    PyObject *pending; /* list: the texts of the open elements, innermost last */
} PtState;

static int pt_grow(void **items, Py_ssize_t *cap, Py_ssize_t n, size_t size) {
    if (n < *cap)
        return 1;
    Py_ssize_t more = *cap ? 2 * *cap : 16;
    void *grown = PyMem_Realloc(*items, more * size);
    if (grown == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    *items = grown;
    *cap = more;
    return 1;
}

/* Whether every character is one XML 1.0 allows, in strict UTF-8 (no overlong form,
 * surrogate, U+FFFE, U+FFFF or past U+10FFFF); no carriage return unless ``cr`` (expat turns
 * it into a line feed in text).  With ``markup``, also none of what plain_texts leaves to
 * expat: "<!" or "<?" from ``from`` on (a comment, CDATA, DTD or processing instruction),
 * "]]>" or "&#" (one pass: four searches cost as much as the rest of the read). */
/* The bytes among the eight at p that pt_chars_ok looks at (a control, a non-ASCII byte, and
 * with ``markup`` '<', ']' or '&'), as the high bit of each: the "has a byte less than" and
 * "has a zero byte" word tests, whose lowest flag is exact (a borrow only flags bytes above
 * the first true one), so the first byte to look at is found without a look at the others.
 * Most of a part is bytes not looked at: a docx's 16 KB main part took 130,000 instructions
 * a byte at a time, 68,000 eight bytes at a time, 12,000 sixteen at a time (SSE2, where the
 * compiler has it; these words after it, for what is left). */
static inline uint64_t pt_look_word(const unsigned char *p, int markup) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t look = w | ((w - 0x20 * ones) & ~w);
    if (markup) {
        uint64_t lt = w ^ (0x3C * ones), br = w ^ (0x5D * ones), amp = w ^ (0x26 * ones);
        look |= ((lt - ones) & ~lt) | ((br - ones) & ~br) | ((amp - ones) & ~amp);
    }
    return look & high;
}

static int pt_chars_ok(const unsigned char *s, Py_ssize_t n, int cr, int markup, Py_ssize_t from) {
    /* 1: a byte to look at (a control, non-ASCII, or with ``markup`` '<', ']', '&') */
    static unsigned char look[2][256];
    if (!look[0][0]) {
        for (int c = 0; c < 256; c++) {
            look[0][c] = look[1][c] = c < 0x20 || c >= 0x80;
            look[1][c] |= c == '<' || c == ']' || c == '&';
        }
    }
    const unsigned char *table = look[markup != 0];
    Py_ssize_t i = 0;
    while (i < n) {
#if defined(__SSE2__)
        /* Sixteen bytes a step: a signed compare finds controls and non-ASCII bytes at once. */
        const __m128i below = _mm_set1_epi8(0x20), lt = _mm_set1_epi8('<'),
                      br = _mm_set1_epi8(']'), amp = _mm_set1_epi8('&');
        while (n - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i look = _mm_cmplt_epi8(v, below);
            if (markup)
                look = _mm_or_si128(look, _mm_or_si128(_mm_cmpeq_epi8(v, lt),
                                                       _mm_or_si128(_mm_cmpeq_epi8(v, br),
                                                                    _mm_cmpeq_epi8(v, amp))));
            int mask = _mm_movemask_epi8(look);
            if (mask) {
                i += __builtin_ctz((unsigned)mask); /* the first byte to look at */
                break;
            }
            i += 16;
        }
        if (i == n)
            break;
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (n - i >= 8) {
            uint64_t look = pt_look_word(s + i, markup);
            if (look) {
                i += __builtin_ctzll(look) >> 3; /* the first byte to look at */
                break;
            }
            i += 8;
        }
        if (i == n)
            break;
#endif
        unsigned char c = s[i];
        if (!table[c]) {
            i++;
            continue;
        }
        if (c < 0x80) {
            if (c == '<') {
                if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?') && i >= from)
                    return 0;
            } else if (c == ']') {
                if (i + 2 < n && s[i + 1] == ']' && s[i + 2] == '>')
                    return 0;
            } else if (c == '&') {
                if (i + 1 < n && s[i + 1] == '#')
                    return 0;
            } else if (c != '\t' && c != '\n' && !(cr && c == '\r')) {
                return 0;
            }
            i++;
            continue;
        }
        uint32_t cp;
        int len;
        if (c >= 0xC2 && c <= 0xDF) {
            cp = c & 0x1F;
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            cp = c & 0x0F;
            len = 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            cp = c & 0x07;
            len = 4;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
            return 0;
        i += len;
    }
    return 1;
}

/* s[0..n) with the five predefined entities resolved and, in an attribute value, tabs and
 * line feeds made spaces (as expat normalises them); NULL with no error set when it holds
 * another reference or (in a value) a '<'. */
static PyObject *pt_decoded(const char *s, Py_ssize_t n, int value) {
    if (memchr(s, '&', n) == NULL && (!value || (memchr(s, '\t', n) == NULL &&
                                                memchr(s, '\n', n) == NULL && memchr(s, '<', n) == NULL)))
        return PyUnicode_DecodeUTF8(s, n, NULL);
    char *buf = PyMem_Malloc(n ? n : 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '&') {
            static const char *const names[5] = {"lt;", "gt;", "amp;", "quot;", "apos;"};
            static const char chars[5] = {'<', '>', '&', '"', '\''};
            int k = 0;
            while (k < 5 && !rels_at(s, i + 1, n, names[k]))
                k++;
            if (k == 5) {
                PyMem_Free(buf);
                return NULL;
            }
            buf[m++] = chars[k];
            i += (Py_ssize_t)strlen(names[k]);
            continue;
        }
        if (value && c == '<') {
            PyMem_Free(buf);
            return NULL;
        }
        buf[m++] = value && (c == '\t' || c == '\n') ? ' ' : c;
    }
    PyObject *out = PyUnicode_DecodeUTF8(buf, m, NULL);
    PyMem_Free(buf);
    return out;
}

/* ``text.strip()`` if ``text`` holds more than whitespace, else NULL (no error set; NULL
 * with an error when the copy fails: callers check PyErr_Occurred). */
static PyObject *pt_stripped(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), a = 0, b = n;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a)))
        a++;
    while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1)))
        b--;
    if (a == b)
        return NULL;
    if (a == 0 && b == n)
        return Py_NewRef(text);
    return PyUnicode_Substring(text, a, b);
}

/* Append the text of s[0..n) (character data: entities resolved, stripped) to ``list`` unless
 * it is only whitespace.  1, 0 when not plain, -1 on an error. */
static int pt_data(PyObject *list, const char *s, Py_ssize_t n) {
    while (n && (*s == ' ' || *s == '\t' || *s == '\n')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
        n--;
    if (!n)
        return 1;
    PyObject *text = pt_decoded(s, n, 0);
    if (text == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *stripped = pt_stripped(text);
    Py_DECREF(text);
    if (stripped == NULL)
        return PyErr_Occurred() ? -1 : 1;
    int failed = PyList_Append(list, stripped);
    Py_DECREF(stripped);
    return failed ? -1 : 1;
}

/* A qualified name at p: its length, and where its colon is (NULL: none); 0 when it is no
 * NCName or NCName:NCName of ASCII. */
static Py_ssize_t pt_qname(const char *p, const char *end, const char **colon) {
    Py_ssize_t n = 0;
    *colon = NULL;
    while (p + n < end && xs_name_char(p[n], 0)) {
        if (p[n] == ':') {
            if (*colon != NULL || n == 0)
                return 0;
            *colon = p + n;
        } else if (n == 0 || p[n - 1] == ':') {
            if (!xs_name_char(p[n], 1))
                return 0;
        }
        n++;
    }
    if (p + n < end && (unsigned char)p[n] >= 0x80)
        return 0; /* a non-ASCII name character: outside the plain form */
    if (n == 0 || p[n - 1] == ':')
        return 0;
    return n;
}

/* The namespace bound to a prefix (NULL, 0: the default namespace) in the open elements:
 * 1 and uri, uri_len (0: none); 0 when the prefix is unbound. */
static int pt_lookup(const PtState *st, const char *prefix, Py_ssize_t len, const char **uri,
                     Py_ssize_t *uri_len) {
    for (Py_ssize_t k = st->n_bindings - 1; k >= 0; k--) {
        const PtBinding *b = &st->bindings[k];
        if ((prefix == NULL) == (b->prefix == NULL) &&
            (prefix == NULL || (b->prefix_len == len && memcmp(b->prefix, prefix, len) == 0))) {
            *uri = b->uri;
            *uri_len = b->uri_len;
            return 1;
        }
    }
    if (prefix != NULL && len == 3 && memcmp(prefix, "xml", 3) == 0) {
        *uri = PT_XML_NS;
        *uri_len = (Py_ssize_t)strlen(PT_XML_NS);
        return 1;
    }
    *uri = NULL;
    *uri_len = 0;
    return prefix == NULL;
}

static int pt_is(const char *s, Py_ssize_t n, const char *lit) {
    return n == (Py_ssize_t)strlen(lit) && memcmp(s, lit, n) == 0;
}

typedef struct {
    const char *name, *colon, *value, *uri; /* uri: a prefixed attribute's namespace */
    Py_ssize_t name_len, value_len, uri_len;
} PtAttr;

/* The attributes of one start tag, from p (right after the name) to its '>' or "/>": into
 * ``attrs`` (at most ``cap``), their namespace declarations pushed.  The end of the tag, or
 * NULL when not plain (and an error set on failure). */
static const char *pt_attributes(PtState *st, const char *p, const char *end, PtAttr *attrs,
                                 int cap, int *count, int *empty) {
    *count = 0;
    for (;;) {
        const char *spaced = p;
        while (p < end && xs_space(*p))
            p++;
        if (p == end)
            return NULL;
        if (*p == '>' || (*p == '/' && p + 1 < end && p[1] == '>')) {
            *empty = *p == '/';
            return p + (*empty ? 2 : 1);
        }
        if (p == spaced || *count == cap)
            return NULL; /* no whitespace before an attribute; or too many to read here */
        PtAttr *a = &attrs[(*count)++];
        a->name = p;
        a->name_len = pt_qname(p, end, &a->colon);
        if (a->name_len == 0)
            return NULL;
        p += a->name_len;
        while (p < end && xs_space(*p))
            p++;
        if (p == end || *p != '=')
            return NULL;
        p++;
        while (p < end && xs_space(*p))
            p++;
        if (p == end || (*p != '"' && *p != '\''))
            return NULL;
        const char *close = memchr(p + 1, *p, end - p - 1);
        if (close == NULL)
            return NULL;
        a->value = p + 1;
        a->value_len = close - p - 1;
        if (memchr(a->value, '<', a->value_len) != NULL)
            return NULL;
        p = close + 1;
        int plain_decl = a->colon == NULL && pt_is(a->name, a->name_len, "xmlns");
        int prefix_decl = a->colon != NULL && pt_is(a->name, a->colon - a->name, "xmlns");
        if (plain_decl || prefix_decl) {
            const char *uri = a->value;
            Py_ssize_t uri_len = a->value_len;
            if (memchr(uri, '&', uri_len) != NULL || memchr(uri, '\t', uri_len) != NULL ||
                memchr(uri, '\n', uri_len) != NULL || memchr(uri, '\r', uri_len) != NULL ||
                memchr(uri, '}', uri_len) != NULL ||
                pt_is(uri, uri_len, PT_XML_NS) ||
                pt_is(uri, uri_len, PT_XMLNS_NS))
                return NULL;
            const char *prefix = NULL;
            Py_ssize_t prefix_len = 0;
            if (prefix_decl) {
                prefix = a->colon + 1;
                prefix_len = a->name + a->name_len - prefix;
                if (uri_len == 0 || (prefix_len >= 3 && PyOS_strnicmp(prefix, "xml", 3) == 0))
                    return NULL;
            }
            if (st->n_bindings == PT_MAX_BINDINGS)
                return NULL; /* each lookup walks them: left to expat's hash tables */
            if (!pt_grow((void **)&st->bindings, &st->cap_bindings, st->n_bindings,
                         sizeof(PtBinding)))
                return NULL;
            st->bindings[st->n_bindings++] = (PtBinding){prefix, uri, prefix_len, uri_len};
        } else if (a->colon != NULL && a->colon - a->name >= 3 &&
                   PyOS_strnicmp(a->name, "xml", 3) == 0 &&
                   !pt_is(a->name, a->colon - a->name, "xml")) {
            return NULL; /* a reserved prefix (xmlns2:, XML:): left to expat */
        }
    }
}

static int pt_is_decl(const PtAttr *a) {
    return a->colon == NULL ? pt_is(a->name, a->name_len, "xmlns")
                            : pt_is(a->name, a->colon - a->name, "xmlns");
}

/* Whether one start tag's attributes are as expat takes them: each prefix bound (its
 * namespace kept in ``uri``), none twice, by its raw name or by its expanded one (the same
 * local name in the same namespace). */
static int pt_attrs_ok(const PtState *st, PtAttr *attrs, int count) {
    for (int i = 0; i < count; i++) {
        PtAttr *a = &attrs[i];
        a->uri = NULL;
        a->uri_len = 0;
        if (a->colon != NULL && !pt_is_decl(a) &&
            !pt_lookup(st, a->name, a->colon - a->name, &a->uri, &a->uri_len))
            return 0;
        for (int j = 0; j < i; j++) {
            const PtAttr *b = &attrs[j];
            if (b->name_len == a->name_len && memcmp(b->name, a->name, a->name_len) == 0)
                return 0;
            if (a->uri == NULL || b->uri == NULL || b->uri_len != a->uri_len ||
                memcmp(b->uri, a->uri, a->uri_len) != 0)
                continue;
            Py_ssize_t local_len = a->name + a->name_len - (a->colon + 1);
            if (b->name + b->name_len - (b->colon + 1) == local_len &&
                memcmp(b->colon + 1, a->colon + 1, local_len) == 0)
                return 0;
        }
    }
    return 1;
}

/* The texts of one element's read attributes (office._values) onto ``list``.  1, 0 when not
 * plain, -1 on an error. */
static int pt_values(const PtState *st, PtAttr *attrs, int count, int local_x, PyObject *list) {
    const PtAttr *slots[PT_SLOTS] = {NULL};
    if (!pt_attrs_ok(st, attrs, count))
        return 0;
    for (int i = 0; i < count; i++) {
        PtAttr *a = &attrs[i];
        if (pt_is_decl(a))
            continue;
        if (a->colon == NULL) {
            for (int k = 0; k < 7; k++)
                if (pt_is(a->name, a->name_len, PT_PLAIN[k]))
                    slots[k] = a;
            if (pt_is(a->name, a->name_len, "Target"))
                slots[PT_TARGET] = a;
            if (pt_is(a->name, a->name_len, "TargetMode"))
                slots[PT_MODE] = a;
            continue;
        }
        const char *uri = a->uri;
        Py_ssize_t uri_len = a->uri_len;
        const char *local = a->colon + 1;
        Py_ssize_t local_len = a->name + a->name_len - local;
        if (pt_is(local, local_len, "author")) {
            for (int k = 0; k < 2; k++)
                if (pt_is(uri, uri_len, PT_WORD[k]))
                    slots[7 + k] = a;
            if (pt_is(uri, uri_len, PT_W15))
                slots[9] = a;
        } else if (pt_is(local, local_len, "userId") && pt_is(uri, uri_len, PT_W15)) {
            slots[10] = a;
        }
    }
    if (slots[PT_MODE] != NULL) {
        PyObject *mode = pt_decoded(slots[PT_MODE]->value, slots[PT_MODE]->value_len, 1);
        if (mode == NULL)
            return PyErr_Occurred() ? -1 : 0;
        int external = PyUnicode_CompareWithASCIIString(mode, "External") == 0;
        Py_DECREF(mode);
        if (external) {
            PyObject *target = slots[PT_TARGET] == NULL
                                   ? PyUnicode_FromStringAndSize("", 0)
                                   : pt_decoded(slots[PT_TARGET]->value,
                                                slots[PT_TARGET]->value_len, 1);
            if (target == NULL)
                return PyErr_Occurred() ? -1 : 0;
            int failed = PyList_Append(list, target);
            Py_DECREF(target);
            if (failed)
                return -1;
        }
    }
    for (int k = 0; k < 11; k++) {
        if (slots[k] == NULL || (k == 0 && local_x))
            continue;
        PyObject *value = pt_decoded(slots[k]->value, slots[k]->value_len, 1);
        if (value == NULL)
            return PyErr_Occurred() ? -1 : 0;
        PyObject *stripped = pt_stripped(value);
        Py_DECREF(value);
        if (stripped == NULL && PyErr_Occurred())
            return -1;
        if (stripped != NULL) {
            int failed = PyList_Append(list, stripped);
            Py_DECREF(stripped);
            if (failed)
                return -1;
        }
    }
    return 1;
}

/* Every other attribute value's references are checked too (expat refuses an undefined
 * entity in any of them). */
static int pt_refs_ok(const PtAttr *attrs, int count) {
    for (int i = 0; i < count; i++) {
        const char *s = attrs[i].value, *end = s + attrs[i].value_len;
        for (const char *p = memchr(s, '&', end - s); p != NULL; p = memchr(p + 1, '&', end - p - 1)) {
            Py_ssize_t left = end - p - 1;
            if (!(rels_at(p + 1, 0, left, "lt;") || rels_at(p + 1, 0, left, "gt;") ||
                  rels_at(p + 1, 0, left, "amp;") || rels_at(p + 1, 0, left, "quot;") ||
                  rels_at(p + 1, 0, left, "apos;")))
                return 0;
        }
    }
    return 1;
}

enum { PT_MAX_ATTRS = 64 };

/* The elements from the root's '<' at p to the end: 1, 0 when not plain, -1 on an error. */
static int pt_elements(PtState *st, const char *p, const char *end, PyObject *out) {
    PtAttr attrs[PT_MAX_ATTRS];
    for (;;) {
        /* at a '<' */
        if (p + 1 < end && p[1] == '/') {
            if (st->n_frames == 0)
                return 0;
            PtFrame *f = &st->frames[st->n_frames - 1];
            const char *q = p + 2;
            if (end - q < f->name_len || memcmp(q, f->name, f->name_len) != 0)
                return 0;
            q += f->name_len;
            while (q < end && xs_space(*q))
                q++;
            if (q == end || *q != '>')
                return 0;
            p = q + 1;
            Py_ssize_t size = PyList_GET_SIZE(st->pending);
            if (size > f->pending) { /* the element's texts, after its children's */
                for (Py_ssize_t k = f->pending; k < size; k++)
                    if (PyList_Append(out, PyList_GET_ITEM(st->pending, k)) < 0)
                        return -1;
                if (PyList_SetSlice(st->pending, f->pending, size, NULL) < 0)
                    return -1;
            }
            st->n_bindings = f->bindings;
            st->n_frames--;
        } else {
            const char *colon;
            Py_ssize_t name_len = pt_qname(p + 1, end, &colon);
            if (name_len == 0)
                return 0;
            const char *name = p + 1;
            Py_ssize_t bindings = st->n_bindings;
            int count, empty;
            const char *after = pt_attributes(st, name + name_len, end, attrs, PT_MAX_ATTRS,
                                              &count, &empty);
            if (after == NULL)
                return PyErr_Occurred() ? -1 : 0;
            const char *uri;
            Py_ssize_t uri_len;
            const char *prefix = colon ? name : NULL;
            Py_ssize_t prefix_len = colon ? colon - name : 0;
            if ((colon && prefix_len >= 3 && PyOS_strnicmp(name, "xml", 3) == 0) ||
                !pt_lookup(st, prefix, prefix_len, &uri, &uri_len) || !pt_refs_ok(attrs, count))
                return 0;
            int local_x = uri_len > 0 && (colon ? name + name_len - colon - 1 == 1 && colon[1] == 'x'
                                                : name_len == 1 && name[0] == 'x');
            Py_ssize_t mark = PyList_GET_SIZE(st->pending);
            int ok = pt_values(st, attrs, count, local_x, empty ? out : st->pending);
            if (ok <= 0)
                return ok;
            p = after;
            if (empty) {
                st->n_bindings = bindings;
                if (st->n_frames == 0)
                    goto root_ended;
            } else {
                if (!pt_grow((void **)&st->frames, &st->cap_frames, st->n_frames, sizeof(PtFrame)))
                    return -1;
                st->frames[st->n_frames++] = (PtFrame){name, name_len, bindings, mark};
            }
        }
        if (st->n_frames == 0)
            goto root_ended;
        const char *lt = memchr(p, '<', end - p);
        if (lt == NULL)
            return 0;
        int ok = pt_data(st->pending, p, lt - p);
        if (ok <= 0)
            return ok;
        p = lt;
    }
root_ended:
    while (p < end && xs_space(*p))
        p++;
    return p == end;
}

static PyObject *plain_texts(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_texts: bytes expected");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    Py_ssize_t i = rels_declaration(s, n);
    if (i < 0 || !pt_chars_ok((const unsigned char *)s, n, 0, 1, i))
        Py_RETURN_NONE;
    i += rels_space(s, i, n);
    if (i == n || s[i] != '<')
        Py_RETURN_NONE;
    PtState st = {NULL, 0, 0, NULL, 0, 0, PyList_New(0)};
    PyObject *out = st.pending == NULL ? NULL : PyList_New(0);
    if (out != NULL) {
        int ok = pt_elements(&st, s + i, s + n, out);
        if (ok <= 0) {
            Py_CLEAR(out);
            if (ok == 0)
                out = Py_NewRef(Py_None);
        }
    }
    Py_XDECREF(st.pending);
    PyMem_Free(st.bindings);
    PyMem_Free(st.frames);
    return out;
}

/* ==== End of plain_texts =============================================================== */

/* ---- plain_story: a docx story part's paragraphs without a parse (issue 14) ----
 *
 * plain_story(xml, tags, check_time, every) -> (lines, sections): what document._Story.read
 * makes of a story part (``root.lines``: each paragraph's text; ``sections``: per ``w:sectPr``
 * its header and footer references, ``{(reference, type): id}``), for a part in the plain
 * form plain_texts reads (the same checks of everything expat checks) whose elements are,
 * of those ``_Story.read`` looks at, only paragraphs, runs, text, tabs, breaks and section
 * properties with their references: ``tags`` maps each expanded name the story reads
 * (``b"{namespace}p"``) to what it is (PS_* below; document._PLAIN_TAGS, made from
 * document._TAG).  A table, text box, tracked change, comment mark, picture, a paragraph in a
 * paragraph, a section in a section or an element inside ``w:t`` gives None: the caller
 * reads the part with the parser.  ``check_time()`` is called every ``every`` paragraphs, as
 * ``_Story.read`` calls the budget's; what it raises passes.  The parse and the pass cost a
 * docx of the scan bench 0.11 ms; tests/engine/extract/test_plain_story.py compares the two. */

enum {
    PS_IGNORED = 0,
    PS_P = 1,
    PS_R = 2,
    PS_T = 3,
    PS_TAB = 4,
    PS_CR = 5,
    PS_HYPHEN = 6,
    PS_BR = 7,
    PS_SECT = 8,
    PS_HEADER = 9,
    PS_FOOTER = 10,
    PS_OTHER = 11,
};
static const char *const PS_REL[2] = {
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
};

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} PsBuffer;

static int ps_put(PsBuffer *b, const char *s, Py_ssize_t n) {
    if (n > PY_SSIZE_T_MAX - b->len) {
        PyErr_NoMemory();
        return 0;
    }
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap = cap > PY_SSIZE_T_MAX / 2 ? b->len + n : 2 * cap;
        char *grown = PyMem_Realloc(b->data, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return 0;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 1;
}

/* Character data s[0..n) onto ``b`` with the five predefined entities resolved: 1, 0 when it
 * holds another reference, -1 on an error. */
static int ps_text(PsBuffer *b, const char *s, Py_ssize_t n) {
    static const char *const names[5] = {"lt;", "gt;", "amp;", "quot;", "apos;"};
    static const char chars[5] = {'<', '>', '&', '"', '\''};
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', end - s);
        const char *upto = amp == NULL ? end : amp;
        if (!ps_put(b, s, upto - s))
            return -1;
        if (amp == NULL)
            return 1;
        int k = 0;
        while (k < 5 && !rels_at(amp, 1, end - amp, names[k]))
            k++;
        if (k == 5)
            return 0;
        if (!ps_put(b, &chars[k], 1))
            return -1;
        s = amp + 1 + strlen(names[k]);
    }
    return 1;
}

/* What ``tags`` says an element is (PS_IGNORED when it names no such element); -1 on an
 * error. */
static int ps_code(PyObject *tags, const char *uri, Py_ssize_t uri_len, const char *local,
                   Py_ssize_t local_len) {
    Py_ssize_t size = uri_len ? uri_len + 2 + local_len : local_len;
    PyObject *key = PyBytes_FromStringAndSize(NULL, size);
    if (key == NULL)
        return -1;
    char *k = PyBytes_AS_STRING(key);
    if (uri_len) {
        k[0] = '{';
        memcpy(k + 1, uri, (size_t)uri_len);
        k[uri_len + 1] = '}';
        memcpy(k + uri_len + 2, local, (size_t)local_len);
    } else {
        memcpy(k, local, (size_t)local_len);
    }
    PyObject *found = PyDict_GetItemWithError(tags, key);
    Py_DECREF(key);
    if (found == NULL)
        return PyErr_Occurred() ? -1 : PS_IGNORED;
    long code = PyLong_AsLong(found);
    if (code == -1 && PyErr_Occurred())
        return -1;
    return code < PS_IGNORED || code > PS_OTHER ? PS_OTHER : (int)code;
}

/* The value of the attribute ``local`` in one of ``spaces`` (the first found, in their order,
 * as document._attr looks), decoded; NULL with no error set when there is none. */
static PyObject *ps_attr(const PtAttr *attrs, int count, const char *const *spaces,
                         const char *local) {
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < count; i++) {
            const PtAttr *a = &attrs[i];
            if (a->colon == NULL || a->uri == NULL || pt_is_decl(a) ||
                !pt_is(a->uri, a->uri_len, spaces[k]) ||
                !pt_is(a->colon + 1, a->name + a->name_len - a->colon - 1, local))
                continue;
            return pt_decoded(a->value, a->value_len, 1);
        }
    return NULL;
}

typedef struct {
    PyObject *tags, *check_time, *lines, *sections, *section;
    Py_ssize_t every, read, runs, section_depth;
    int in_p;
    PsBuffer text;
} PsStory;

/* A header or footer reference directly in the open section: setdefault into its dict
 * (document._references).  1, -1 on an error. */
static int ps_reference(PsStory *ps, int code, PtAttr *attrs, int count) {
    PyObject *rid = ps_attr(attrs, count, PS_REL, "id");
    if (rid == NULL)
        return PyErr_Occurred() ? -1 : 1;
    int ok = 1;
    if (PyUnicode_GET_LENGTH(rid) > 0) {
        PyObject *kind = ps_attr(attrs, count, PT_WORD, "type");
        if (kind == NULL && PyErr_Occurred()) {
            Py_DECREF(rid);
            return -1;
        }
        const char *name = code == PS_HEADER ? "headerReference" : "footerReference";
        PyObject *key = kind != NULL && PyUnicode_GET_LENGTH(kind) > 0
                            ? Py_BuildValue("(sO)", name, kind)
                            : Py_BuildValue("(ss)", name, "default");
        Py_XDECREF(kind);
        ok = key != NULL && PyDict_SetDefault(ps->section, key, rid) != NULL ? 1 : -1;
        Py_XDECREF(key);
    }
    Py_DECREF(rid);
    return ok;
}

/* An element of ``code`` ends (an empty one right after it starts); ``run_char`` is what a
 * tab or break adds to the paragraph (0: nothing).  1, -1 on an error. */
static int ps_end(PsStory *ps, int code, char run_char) {
    if (code == PS_P) {
        PyObject *line = PyUnicode_DecodeUTF8(ps->text.data, ps->text.len, NULL);
        if (line == NULL)
            return -1;
        int failed = PyList_Append(ps->lines, line);
        Py_DECREF(line);
        if (failed)
            return -1;
        ps->in_p = 0;
        ps->text.len = 0;
        if (++ps->read % ps->every == 0) {
            PyObject *looked = PyObject_CallNoArgs(ps->check_time);
            if (looked == NULL)
                return -1;
            Py_DECREF(looked);
        }
    } else if (code == PS_R) {
        if (ps->in_p)
            ps->runs--;
    } else if (code == PS_SECT) {
        int failed = PyList_Append(ps->sections, ps->section);
        Py_CLEAR(ps->section);
        if (failed)
            return -1;
    } else if (run_char && ps->in_p && ps->runs > 0) {
        if (!ps_put(&ps->text, &run_char, 1))
            return -1;
    }
    return 1;
}

/* The character a tab or break adds to its paragraph (0: none; document._run_text). */
static int ps_run_char(int code, PtAttr *attrs, int count) {
    if (code == PS_TAB)
        return '\t';
    if (code == PS_CR)
        return '\n';
    if (code == PS_HYPHEN)
        return '-';
    if (code != PS_BR)
        return 0;
    PyObject *kind = ps_attr(attrs, count, PT_WORD, "type");
    if (kind == NULL)
        return PyErr_Occurred() ? -1 : '\n';
    int line = PyUnicode_CompareWithASCIIString(kind, "textWrapping") == 0;
    Py_DECREF(kind);
    return line ? '\n' : 0;
}

/* A ``w:t`` that is not empty, from right after its start tag: its text onto the paragraph
 * and where its end tag ends, or NULL when it holds an element or its end tag is not plain
 * (``*ok`` 0) or on an error (``*ok`` -1). */
static const char *ps_t(PsStory *ps, const char *name, Py_ssize_t name_len, const char *p,
                        const char *end, int *ok) {
    *ok = 0;
    const char *lt = memchr(p, '<', end - p);
    if (lt == NULL || end - lt < name_len + 3 || lt[1] != '/' ||
        memcmp(lt + 2, name, (size_t)name_len) != 0)
        return NULL;
    const char *q = lt + 2 + name_len;
    while (q < end && xs_space(*q))
        q++;
    if (q == end || *q != '>')
        return NULL;
    Py_ssize_t mark = ps->text.len;
    *ok = ps_text(&ps->text, p, lt - p);
    if (*ok <= 0)
        return NULL;
    if (!ps->in_p)
        ps->text.len = mark; /* text outside a paragraph is not read */
    return q + 1;
}

/* The elements from the root's '<' at p to the end: 1, 0 when not plain, -1 on an error. */
static int ps_elements(PsStory *ps, PtState *st, const char *p, const char *end) {
    PtAttr attrs[PT_MAX_ATTRS];
    for (;;) {
        /* at a '<' */
        if (p + 1 < end && p[1] == '/') {
            if (st->n_frames == 0)
                return 0;
            PtFrame *f = &st->frames[st->n_frames - 1];
            const char *q = p + 2;
            if (end - q < f->name_len || memcmp(q, f->name, (size_t)f->name_len) != 0)
                return 0;
            q += f->name_len;
            while (q < end && xs_space(*q))
                q++;
            if (q == end || *q != '>')
                return 0;
            p = q + 1;
            st->n_bindings = f->bindings;
            st->n_frames--;
            /* ``pending``: the element's code, and its run character above the low byte */
            if (ps_end(ps, (int)(f->pending & 0xFF), (char)(f->pending >> 8)) < 0)
                return -1;
        } else {
            const char *colon;
            Py_ssize_t name_len = pt_qname(p + 1, end, &colon);
            if (name_len == 0)
                return 0;
            const char *name = p + 1;
            Py_ssize_t bindings = st->n_bindings;
            int count, empty;
            const char *after = pt_attributes(st, name + name_len, end, attrs, PT_MAX_ATTRS,
                                              &count, &empty);
            if (after == NULL)
                return PyErr_Occurred() ? -1 : 0;
            const char *uri;
            Py_ssize_t uri_len;
            const char *prefix = colon ? name : NULL;
            Py_ssize_t prefix_len = colon ? colon - name : 0;
            if ((colon && prefix_len >= 3 && PyOS_strnicmp(name, "xml", 3) == 0) ||
                !pt_lookup(st, prefix, prefix_len, &uri, &uri_len) || !pt_refs_ok(attrs, count) ||
                !pt_attrs_ok(st, attrs, count))
                return 0;
            const char *local = colon ? colon + 1 : name;
            int code = ps_code(ps->tags, uri, uri_len, local, name + name_len - local);
            if (code < 0)
                return -1;
            int run_char = ps_run_char(code, attrs, count);
            if (run_char < 0)
                return -1;
            if (code == PS_OTHER || (code == PS_P && ps->in_p) ||
                (code == PS_SECT && ps->section != NULL))
                return 0;
            if (code == PS_P) {
                ps->in_p = 1;
                ps->runs = 0;
            } else if (code == PS_R && ps->in_p) {
                ps->runs++;
            } else if (code == PS_SECT) {
                ps->section = PyDict_New();
                if (ps->section == NULL)
                    return -1;
                ps->section_depth = st->n_frames;
            } else if ((code == PS_HEADER || code == PS_FOOTER) && ps->section != NULL &&
                       st->n_frames == ps->section_depth + 1) {
                if (ps_reference(ps, code, attrs, count) < 0)
                    return -1;
            }
            p = after;
            if (code == PS_T && !empty) {
                int ok;
                p = ps_t(ps, name, name_len, after, end, &ok);
                if (p == NULL)
                    return ok;
                empty = 1; /* read to its end tag */
            }
            if (empty) {
                st->n_bindings = bindings;
                if (code != PS_T && ps_end(ps, code, (char)run_char) < 0)
                    return -1;
            } else {
                if (!pt_grow((void **)&st->frames, &st->cap_frames, st->n_frames, sizeof(PtFrame)))
                    return -1;
                st->frames[st->n_frames++] =
                    (PtFrame){name, name_len, bindings, (Py_ssize_t)code | run_char << 8};
            }
        }
        if (st->n_frames == 0)
            goto root_ended;
        const char *lt = memchr(p, '<', end - p);
        if (lt == NULL)
            return 0;
        PtAttr data = {NULL, NULL, p, NULL, 0, lt - p, 0}; /* its references checked */
        if (!pt_refs_ok(&data, 1))
            return 0;
        p = lt;
    }
root_ended:
    while (p < end && xs_space(*p))
        p++;
    return p == end;
}

static PyObject *plain_story(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *xml, *tags, *check_time;
    Py_ssize_t every;
    if (!PyArg_ParseTuple(args, "O!O!On", &PyBytes_Type, &xml, &PyDict_Type, &tags, &check_time,
                          &every))
        return NULL;
    if (every < 1) {
        PyErr_SetString(PyExc_ValueError, "every must be positive");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(xml);
    Py_ssize_t n = PyBytes_GET_SIZE(xml);
    Py_ssize_t i = rels_declaration(s, n);
    if (i < 0 || !pt_chars_ok((const unsigned char *)s, n, 0, 1, i))
        Py_RETURN_NONE;
    i += rels_space(s, i, n);
    if (i == n || s[i] != '<')
        Py_RETURN_NONE;
    PtState st = {NULL, 0, 0, NULL, 0, 0, NULL};
    PsStory ps = {tags, check_time, PyList_New(0), PyList_New(0), NULL, every, 0, 0, 0, 0,
                  {NULL, 0, 0}};
    PyObject *out = NULL;
    if (ps.lines != NULL && ps.sections != NULL) {
        int ok = ps_elements(&ps, &st, s + i, s + n);
        if (ok > 0)
            out = PyTuple_Pack(2, ps.lines, ps.sections);
        else if (ok == 0)
            out = Py_NewRef(Py_None);
    }
    Py_XDECREF(ps.lines);
    Py_XDECREF(ps.sections);
    Py_XDECREF(ps.section);
    PyMem_Free(ps.text.data);
    PyMem_Free(st.bindings);
    PyMem_Free(st.frames);
    return out;
}

/* ==== End of plain_story =============================================================== */
/* ---- zip_entries: a plain zip's central directory (issue 14) ----
 *
 * zip_entries(data, offset, size, make) -> the ``ZipInfo`` of each entry of the central
 * directory at data[offset:offset + size], made by ``make`` (zipdir.MAKE_INFO, the slot maker
 * of ZipInfo) with the values zipdir.central_directory gives it, in order; None where that
 * loop must decide: an entry cut short, unsigned, with an extra field, of a version over 63,
 * running past the directory, or named in cp437 or in bad UTF-8.  The loop in Python cost a
 * docx's 17 members 250,000 instructions; tests/engine/extract/test_zip_directory.py
 * compares the two on every zip of the tests, their mutants and hand-made edges. */

static uint32_t ze_u16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static uint32_t ze_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum { ZE_ENTRY = 46, ZE_MAX_VERSION = 63, ZE_UTF8 = 0x800, ZE_ARGS = 20 };

/* One entry's ZipInfo; NULL with no error set where the Python loop must decide. */
static PyObject *ze_info(const unsigned char *e, const unsigned char *name, Py_ssize_t name_len,
                         const unsigned char *comment, Py_ssize_t comment_len, PyObject *make) {
    uint32_t flags = ze_u16(e + 8), time = ze_u16(e + 12), date = ze_u16(e + 14);
    int ascii = 1;
    for (Py_ssize_t k = 0; k < name_len && ascii; k++)
        ascii = name[k] < 0x80;
    if (!ascii && !(flags & ZE_UTF8))
        return NULL; /* cp437: decoded by the Python loop */
    PyObject *args[ZE_ARGS] = {NULL};
    PyObject *out = NULL;
    args[0] = ascii ? PyUnicode_DecodeASCII((const char *)name, name_len, NULL)
                    : PyUnicode_DecodeUTF8((const char *)name, name_len, NULL);
    if (args[0] == NULL) {
        if (!ascii && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            PyErr_Clear(); /* the Python loop says: not plain */
        return NULL;
    }
    /* ZipInfo keeps a name up to a NUL byte (name.partition("\0")[0]) */
    Py_ssize_t cut = memchr(name, 0, (size_t)name_len) == NULL
                         ? -1
                         : PyUnicode_FindChar(args[0], 0, 0, PyUnicode_GET_LENGTH(args[0]), 1);
    if (cut == -2) {
        Py_DECREF(args[0]);
        return NULL;
    }
    args[1] = cut < 0 ? Py_NewRef(args[0]) : PyUnicode_Substring(args[0], 0, cut);
    args[2] = Py_BuildValue("(IIIIII)", (date >> 9) + 1980, (date >> 5) & 0xF, date & 0x1F,
                            time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2);
    args[3] = PyLong_FromUnsignedLong(ze_u16(e + 10)); /* method */
    args[4] = Py_NewRef(Py_None);
    args[5] = PyBytes_FromStringAndSize((const char *)comment, comment_len);
    args[6] = PyBytes_FromStringAndSize("", 0);
    args[7] = PyLong_FromUnsignedLong(e[5]);           /* create_system */
    args[8] = PyLong_FromUnsignedLong(e[4]);           /* create_version */
    args[9] = PyLong_FromUnsignedLong(e[6]);           /* extract_version */
    args[10] = PyLong_FromUnsignedLong(e[7]);          /* reserved */
    args[11] = PyLong_FromUnsignedLong(flags);
    args[12] = PyLong_FromUnsignedLong(ze_u16(e + 34)); /* volume */
    args[13] = PyLong_FromUnsignedLong(ze_u16(e + 36)); /* internal_attr */
    args[14] = PyLong_FromUnsignedLong(ze_u32(e + 38)); /* external_attr */
    args[15] = PyLong_FromUnsignedLong(ze_u32(e + 42)); /* header_offset */
    args[16] = PyLong_FromUnsignedLong(ze_u32(e + 16)); /* CRC */
    args[17] = PyLong_FromUnsignedLong(ze_u32(e + 20)); /* compress_size */
    args[18] = PyLong_FromUnsignedLong(ze_u32(e + 24)); /* file_size */
    args[19] = PyLong_FromUnsignedLong(time);
    int made = 1;
    for (int k = 0; k < ZE_ARGS; k++)
        made &= args[k] != NULL;
    if (made)
        out = PyObject_Vectorcall(make, args, ZE_ARGS, NULL);
    for (int k = 0; k < ZE_ARGS; k++)
        Py_XDECREF(args[k]);
    if (out == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "zip_entries: a member was not made");
    return out;
}

static PyObject *zip_entries(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *make;
    Py_ssize_t offset, size;
    if (!PyArg_ParseTuple(args, "O!nnO", &PyBytes_Type, &data, &offset, &size, &make))
        return NULL;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (offset < 0 || size < 0 || offset > n || size > n - offset)
        Py_RETURN_NONE;
    Py_ssize_t pos = offset, stop = offset + size;
    PyObject *infos = PyList_New(0);
    if (infos == NULL)
        return NULL;
    while (pos < stop) {
        if (stop - pos < ZE_ENTRY)
            goto decide;
        const unsigned char *e = s + pos;
        Py_ssize_t name_len = ze_u16(e + 28), extra_len = ze_u16(e + 30),
                   comment_len = ze_u16(e + 32);
        Py_ssize_t start = pos + ZE_ENTRY;
        pos = start + name_len + comment_len;
        if (memcmp(e, "PK\x01\x02", 4) != 0 || extra_len || e[6] > ZE_MAX_VERSION || pos > stop)
            goto decide;
        PyObject *info = ze_info(e, s + start, name_len, s + start + name_len, comment_len, make);
        if (info == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(infos);
                return NULL;
            }
            goto decide;
        }
        int failed = PyList_Append(infos, info);
        Py_DECREF(info);
        if (failed) {
            Py_DECREF(infos);
            return NULL;
        }
    }
    return infos;
decide:
    Py_DECREF(infos);
    Py_RETURN_NONE;
}

/* ==== End of zip_entries =============================================================== */
/* ---- plain_prolog: an office XML part's prolog checked without a parser (issue 14) ----
 *
 * plain_prolog(chunk) -> True when the first chunk of a part holds, in the plain form
 * plain_texts reads, an optional XML declaration, whitespace and the whole start tag of the
 * root element, and that tag is one expat takes (every check plain_texts makes of a start
 * tag, and characters XML allows up to its end): no DTD can follow, and office._check's
 * defusedxml parser, which stops at that tag, would have found nothing to refuse (it cost
 * 56 us a part, mostly its making).  False for anything else: the parser checks the part.
 * tests/engine/extract/test_plain_texts.py compares the two. */

static PyObject *plain_prolog(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_prolog: bytes expected");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(arg), *end = s + PyBytes_GET_SIZE(arg);
    Py_ssize_t n = end - s, i = rels_declaration(s, n);
    if (i < 0)
        Py_RETURN_FALSE;
    i += rels_space(s, i, n);
    if (i == n || s[i] != '<')
        Py_RETURN_FALSE;
    const char *name = s + i + 1, *colon;
    Py_ssize_t name_len = pt_qname(name, end, &colon);
    if (name_len == 0)
        Py_RETURN_FALSE;
    PtState st = {NULL, 0, 0, NULL, 0, 0, NULL};
    PtAttr attrs[PT_MAX_ATTRS];
    int count, empty, ok = 0;
    const char *after =
        pt_attributes(&st, name + name_len, end, attrs, PT_MAX_ATTRS, &count, &empty);
    if (after != NULL) {
        const char *uri;
        Py_ssize_t uri_len, prefix_len = colon ? colon - name : 0;
        ok = pt_chars_ok((const unsigned char *)s, after - s, 1, 0, 0) &&
             !(colon && prefix_len >= 3 && PyOS_strnicmp(name, "xml", 3) == 0) &&
             pt_lookup(&st, colon ? name : NULL, prefix_len, &uri, &uri_len) &&
             pt_refs_ok(attrs, count) && pt_attrs_ok(&st, attrs, count);
    }
    PyMem_Free(st.bindings);
    if (PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(ok);
}

/* ==== End of plain_prolog ============================================================== */
/* ==== Table entries: a message's entries, one per (group, key) (issue 14) ================
 *
 * table_entries(parts, keys, groups, sure, key_bits, n_groups) -> (keys, groups, columns,
 * sure) or None: match.Collector.queries' entries in one pass.  ``parts`` is a list of (codes,
 * groups, columns, sure) of table cells (int64s, bools), each code holding up to two keys
 * plus one (``key_bits`` bits each, 0: none, the low key first; bit 2 * key_bits and above
 * flags an international number, already in ``sure``); then the running text's entries
 * (int64 ``keys`` and ``groups``, bool ``sure``: one per (group, key) already, column -1).
 * Every entry in that order (a part's low keys, then its high keys, part after part, then
 * the running text's), one per (group, key) ascending: its first entry's column, sure if any
 * of them is.  None when a group is not in [0, n_groups) (the numpy version in queries
 * handles any).
 * numpy's split, concatenation, stable sort and reductions cost a 200-row sheet ~0.1 ms;
 * here a counting sort by group, then each group's few entries sorted by key. */

typedef struct {
    int64_t key, pos, column;
    char sure;
} te_entry;

static int te_cmp(const void *a, const void *b) {
    const te_entry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct {
    Py_buffer codes, groups, columns, sure;
    int held;
} te_part;

static PyObject *table_entries(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *list, *out = NULL, *made[4] = {NULL};
    Py_buffer kb, gb, sb;
    int key_bits;
    Py_ssize_t n_groups;
    if (!PyArg_ParseTuple(args, "O!y*y*y*in", &PyList_Type, &list, &kb, &gb, &sb, &key_bits,
                          &n_groups))
        return NULL;
    Py_ssize_t n_parts = PyList_GET_SIZE(list), run = kb.len / 8;
    te_part *parts = PyMem_Calloc((size_t)(n_parts ? n_parts : 1), sizeof(te_part));
    te_entry *entries = NULL, *sorted = NULL;
    Py_ssize_t *starts = NULL;
    if (parts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (kb.len % 8 || gb.len != kb.len || sb.len != run || key_bits < 1 || key_bits > 31) {
        PyErr_SetString(PyExc_ValueError, "table_entries: buffers of mismatched sizes");
        goto done;
    }
    Py_ssize_t total = run;
    for (Py_ssize_t p = 0; p < n_parts; p++) {
        PyObject *part = PyList_GET_ITEM(list, p);
        te_part *t = &parts[p];
        if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 4) {
            PyErr_SetString(PyExc_TypeError, "table_entries: a part is no 4-tuple");
            goto done;
        }
        Py_buffer *views[4] = {&t->codes, &t->groups, &t->columns, &t->sure};
        for (int j = 0; j < 4; j++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(part, j), views[j], PyBUF_SIMPLE) < 0) {
                for (int i = 0; i < j; i++)
                    PyBuffer_Release(views[i]);
                goto done;
            }
        }
        t->held = 1;
        Py_ssize_t m = t->codes.len / 8;
        if (t->codes.len % 8 || t->groups.len != t->codes.len || t->columns.len != t->codes.len ||
            t->sure.len != m) {
            PyErr_SetString(PyExc_ValueError, "table_entries: buffers of mismatched sizes");
            goto done;
        }
        total += 2 * m;
    }
    entries = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(te_entry));
    int64_t *group_of = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    if (entries == NULL || group_of == NULL) {
        PyMem_Free(group_of);
        PyErr_NoMemory();
        goto done;
    }
    /* Every entry in order, its group aside. */
    const int64_t mask = ((int64_t)1 << key_bits) - 1;
    Py_ssize_t count = 0;
    int64_t top = -1;
    int negative = 0;
    for (Py_ssize_t p = 0; p < n_parts; p++) {
        te_part *t = &parts[p];
        const int64_t *codes = t->codes.buf, *groups = t->groups.buf, *columns = t->columns.buf;
        const uint8_t *sure = t->sure.buf;
        Py_ssize_t m = t->codes.len / 8;
        for (int shift = 0; shift <= key_bits; shift += key_bits)
            for (Py_ssize_t i = 0; i < m; i++) {
                int64_t key = ((codes[i] >> shift) & mask) - 1;
                if (key < 0)
                    continue;
                te_entry *e = &entries[count];
                e->key = key;
                e->pos = count;
                e->column = columns[i];
                e->sure = sure[i] != 0;
                group_of[count++] = groups[i];
                negative |= groups[i] < 0;
                top = groups[i] > top ? groups[i] : top;
            }
    }
    const int64_t *run_keys = kb.buf, *run_groups = gb.buf;
    const uint8_t *run_sure = sb.buf;
    for (Py_ssize_t i = 0; i < run; i++) {
        te_entry *e = &entries[count];
        e->key = run_keys[i];
        e->pos = count;
        e->column = -1;
        e->sure = run_sure[i] != 0;
        group_of[count++] = run_groups[i];
        negative |= run_groups[i] < 0;
        top = run_groups[i] > top ? run_groups[i] : top;
    }
    if (negative || top >= n_groups) {
        PyMem_Free(group_of);
        out = Py_NewRef(Py_None);
        goto done;
    }
    /* A counting sort by group (stable: each group's entries in order), then each group's
     * entries by key (and order), and one entry per (group, key). */
    starts = PyMem_Calloc((size_t)n_groups + 1, sizeof(Py_ssize_t));
    sorted = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(te_entry));
    if (starts == NULL || sorted == NULL) {
        PyMem_Free(group_of);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        starts[group_of[i] + 1]++;
    for (Py_ssize_t g = 0; g < n_groups; g++)
        starts[g + 1] += starts[g];
    for (Py_ssize_t i = 0; i < count; i++)
        sorted[starts[group_of[i]]++] = entries[i];
    PyMem_Free(group_of);
    Py_ssize_t kept = 0;
    for (Py_ssize_t g = 0, a = 0; g < n_groups; g++) {
        Py_ssize_t b = starts[g]; /* after the placing pass: where group g ends */
        te_entry *e = sorted + a;
        Py_ssize_t k = b - a;
        if (k > 16) {
            qsort(e, (size_t)k, sizeof(te_entry), te_cmp);
        } else {
            for (Py_ssize_t i = 1; i < k; i++) {
                te_entry x = e[i];
                Py_ssize_t j = i;
                for (; j > 0 && te_cmp(&e[j - 1], &x) > 0; j--)
                    e[j] = e[j - 1];
                e[j] = x;
            }
        }
        for (Py_ssize_t i = 0; i < k; i++) {
            if (i && e[i].key == entries[kept - 1].key) {
                entries[kept - 1].sure |= e[i].sure;
                continue;
            }
            entries[kept] = e[i];
            entries[kept].pos = g; /* the group, where its place is no longer needed */
            kept++;
        }
        a = b;
    }
    for (int j = 0; j < 3; j++)
        if ((made[j] = PyBytes_FromStringAndSize(NULL, kept * 8)) == NULL)
            goto done;
    if ((made[3] = PyBytes_FromStringAndSize(NULL, kept)) == NULL)
        goto done;
    int64_t *ok = (int64_t *)PyBytes_AS_STRING(made[0]), *og = (int64_t *)PyBytes_AS_STRING(made[1]),
            *oc = (int64_t *)PyBytes_AS_STRING(made[2]);
    char *os = PyBytes_AS_STRING(made[3]);
    for (Py_ssize_t i = 0; i < kept; i++) {
        ok[i] = entries[i].key;
        og[i] = entries[i].pos;
        oc[i] = entries[i].column;
        os[i] = entries[i].sure;
    }
    out = PyTuple_Pack(4, made[0], made[1], made[2], made[3]);
done:
    for (int j = 0; j < 4; j++)
        Py_XDECREF(made[j]);
    if (parts != NULL)
        for (Py_ssize_t p = 0; p < n_parts; p++)
            if (parts[p].held) {
                PyBuffer_Release(&parts[p].codes);
                PyBuffer_Release(&parts[p].groups);
                PyBuffer_Release(&parts[p].columns);
                PyBuffer_Release(&parts[p].sure);
            }
    PyMem_Free(parts);
    PyMem_Free(entries);
    PyMem_Free(sorted);
    PyMem_Free(starts);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&gb);
    PyBuffer_Release(&sb);
    return out;
}

/* ==== End of table entries ============================================================= */

/* ==== Hit layout: the start of detectorset._analyze (issue 14) ===========================
 *
 * hit_layout(texts, raw, separator, owner, owners) -> (begins, starts, ends, expressions,
 * units, bounds) or None: of hyperscan's (start, end, expression) rows (int64 ``raw``,
 * character offsets in ``texts`` joined by a separator of ``separator`` characters), where
 * each text begins, and the hits inside one text (a hit across a separator is dropped) with
 * their text, ordered by owner (int64 ``owner`` per expression, in [0, owners)), start,
 * longest first, expression, then as they came (detectorset._hit_order's order); ``bounds``
 * (a list) where each owner's hits begin, then their count.  None when an expression or
 * owner is out of range, an offset negative or an end before its start (numpy's version gives
 * what it gives).  numpy's
 * twenty calls cost a 200-row sheet's 800 hits ~40 us; here a counting sort by owner, then
 * each owner's hits (in order by end already, nearly so by start) by insertion. */

typedef struct {
    int64_t start, end, expression, unit, index;
} hl_hit;

static int hl_cmp(const void *a, const void *b) {
    const hl_hit *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    int64_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    if (x->expression != y->expression)
        return x->expression < y->expression ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort by hl_cmp: by insertion while that stays near linear, else by qsort (hl_cmp is a total
 * order: both give the one answer). */
static void hl_sort(hl_hit *h, Py_ssize_t n) {
    Py_ssize_t budget = 8 * n + 64;
    for (Py_ssize_t i = 1; i < n; i++) {
        hl_hit x = h[i];
        Py_ssize_t j = i;
        for (; j > 0 && hl_cmp(&h[j - 1], &x) > 0; j--) {
            h[j] = h[j - 1];
            if (--budget < 0) {
                h[j - 1] = x;
                qsort(h, (size_t)n, sizeof(hl_hit), hl_cmp);
                return;
            }
        }
        h[j] = x;
    }
}

static PyObject *hit_layout(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *texts, *out = NULL, *made[5] = {NULL}, *bounds = NULL;
    Py_buffer rb, ob;
    Py_ssize_t separator, owners;
    if (!PyArg_ParseTuple(args, "O!y*ny*n", &PyList_Type, &texts, &rb, &separator, &ob, &owners))
        return NULL;
    Py_ssize_t n_units = PyList_GET_SIZE(texts), n = rb.len / 24, n_expr = ob.len / 8;
    hl_hit *hits = NULL, *sorted = NULL;
    Py_ssize_t *starts_of = NULL;
    if (rb.len % 24 || ob.len % 8 || n_units < 1 || owners < 1 || separator < 0) {
        PyErr_SetString(PyExc_ValueError, "hit_layout: buffers of mismatched sizes");
        goto done;
    }
    if ((made[0] = PyBytes_FromStringAndSize(NULL, n_units * 8)) == NULL)
        goto done;
    int64_t *begins = (int64_t *)PyBytes_AS_STRING(made[0]);
    int64_t at = 0;
    for (Py_ssize_t u = 0; u < n_units; u++) {
        PyObject *text = PyList_GET_ITEM(texts, u);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "hit_layout: a text is no str");
            goto done;
        }
        begins[u] = at;
        Py_ssize_t length = PyUnicode_GET_LENGTH(text);
        if (separator > PY_SSIZE_T_MAX - length || at > PY_SSIZE_T_MAX - length - separator) {
            PyErr_SetString(PyExc_OverflowError, "hit_layout: the texts' offsets overflow");
            goto done;
        }
        at += length + separator;
    }
    hits = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(hl_hit));
    sorted = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(hl_hit));
    starts_of = PyMem_Calloc((size_t)owners + 1, sizeof(Py_ssize_t));
    if (hits == NULL || sorted == NULL || starts_of == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *raw = rb.buf, *owner = ob.buf;
    Py_ssize_t kept = 0, last = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t start = raw[3 * i], end = raw[3 * i + 1], expression = raw[3 * i + 2];
        if (start < 0 || end < start || expression < 0 || expression >= n_expr ||
            owner[expression] < 0 ||
            owner[expression] >= owners) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        /* the text it starts in: the last whose begin is at most its start; first the text
         * of the hit before (hyperscan reports by end: a row's hits come together, and the
         * bisection's mispredicted branches were a third of this pass on a sheet) */
        Py_ssize_t lo = last, hi = n_units;
        if (!(begins[lo] <= start && (lo + 1 == n_units || begins[lo + 1] > start))) {
            lo = 0;
            while (hi - lo > 1) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (begins[mid] <= start)
                    lo = mid;
                else
                    hi = mid;
            }
        }
        last = lo;
        int64_t text_end = (lo + 1 < n_units ? begins[lo + 1] : at) - separator;
        if (end > text_end)
            continue;
        hl_hit *h = &hits[kept++];
        h->start = start;
        h->end = end;
        h->expression = expression;
        h->unit = lo;
        h->index = i;
        starts_of[owner[expression] + 1]++;
    }
    for (Py_ssize_t o = 0; o < owners; o++)
        starts_of[o + 1] += starts_of[o];
    if ((bounds = PyList_New(owners + 1)) == NULL)
        goto done;
    for (Py_ssize_t o = 0; o <= owners; o++) {
        PyObject *bound = PyLong_FromSsize_t(starts_of[o]);
        if (bound == NULL)
            goto done;
        PyList_SET_ITEM(bounds, o, bound);
    }
    for (Py_ssize_t i = 0; i < kept; i++)
        sorted[starts_of[owner[hits[i].expression]]++] = hits[i];
    for (Py_ssize_t o = 0, a = 0; o < owners; o++) {
        hl_sort(sorted + a, starts_of[o] - a);
        a = starts_of[o];
    }
    for (int j = 1; j < 5; j++)
        if ((made[j] = PyBytes_FromStringAndSize(NULL, kept * 8)) == NULL)
            goto done;
    int64_t *os = (int64_t *)PyBytes_AS_STRING(made[1]), *oe = (int64_t *)PyBytes_AS_STRING(made[2]),
            *ox = (int64_t *)PyBytes_AS_STRING(made[3]), *ou = (int64_t *)PyBytes_AS_STRING(made[4]);
    for (Py_ssize_t i = 0; i < kept; i++) {
        os[i] = sorted[i].start;
        oe[i] = sorted[i].end;
        ox[i] = sorted[i].expression;
        ou[i] = sorted[i].unit;
    }
    out = PyTuple_Pack(6, made[0], made[1], made[2], made[3], made[4], bounds);
done:
    for (int j = 0; j < 5; j++)
        Py_XDECREF(made[j]);
    Py_XDECREF(bounds);
    PyMem_Free(hits);
    PyMem_Free(sorted);
    PyMem_Free(starts_of);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&ob);
    return out;
}

/* ==== End of hit layout ================================================================ */

/* ==== Detection fast paths (engine/detect), seventh round ==============================
 *
 * unit_fields: DetectorSet.scan reads every unit's text (to join and scan) and header (which
 * rows are under headings): two maps of attrgetter over a 200-row sheet, 12 us of its 400
 * us detection; here one walk reading both slots at their offsets.
 */

static PyObject *unit_field_names[REGISTER_SLOTS]; /* "text", "header": interned once */
static RegisterSlots unit_field_slots;

/* unit_fields(units) -> (texts, headed, chars): ``[u.text for u in units]``, the positions
 * of the units whose ``header`` is true, ascending (as detectorset's compress of the
 * headers), and the texts' characters all told (-1 when a text is no str). */
static PyObject *unit_fields(PyObject *module, PyObject *arg) {
    (void)module;
    if (unit_field_names[1] == NULL) {
        if ((unit_field_names[0] = PyUnicode_InternFromString("text")) == NULL ||
            (unit_field_names[1] = PyUnicode_InternFromString("header")) == NULL)
            return NULL;
        unit_field_slots.type = NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "units must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject *texts = PyList_New(0), *headed = PyList_New(0), *out = NULL;
    Py_ssize_t chars = 0;
    if (texts == NULL || headed == NULL)
        goto done;
    /* (A getattr may run Python code that changes a list of units: its size read each time.) */
    for (Py_ssize_t u = 0; u < PySequence_Fast_GET_SIZE(seq); u++) {
        PyObject *unit = Py_NewRef(PySequence_Fast_GET_ITEM(seq, u));
        PyObject *text = register_attr(unit, &unit_field_slots, unit_field_names, 0);
        PyObject *header = text == NULL ? NULL
                                        : register_attr(unit, &unit_field_slots, unit_field_names, 1);
        Py_DECREF(unit);
        int appended = text == NULL ? -1 : PyList_Append(texts, text);
        if (appended == 0 && chars >= 0)
            chars = PyUnicode_Check(text) && PyUnicode_IS_READY(text) &&
                            PY_SSIZE_T_MAX - chars >= PyUnicode_GET_LENGTH(text)
                        ? chars + PyUnicode_GET_LENGTH(text)
                        : -1;
        Py_XDECREF(text);
        int truth = header == NULL || appended < 0 ? -1 : PyObject_IsTrue(header);
        Py_XDECREF(header);
        if (truth < 0)
            goto done;
        if (truth) {
            PyObject *at = PyLong_FromSsize_t(u);
            if (at == NULL || PyList_Append(headed, at) < 0) {
                Py_XDECREF(at);
                goto done;
            }
            Py_DECREF(at);
        }
    }
    out = Py_BuildValue("(OOn)", texts, headed, chars);
done:
    Py_XDECREF(texts);
    Py_XDECREF(headed);
    Py_DECREF(seq);
    return out;
}

/* settle_hits: PatternDetector._analyze_batch of a detector whose checks are compiled
 * (compiled_checks) asks judge_hits for a batch's verdicts, then settled_findings for its
 * findings: two calls of Python glue each (the arrays checked and made contiguous twice,
 * the verdicts handed back and forth), 5 us of a 200-row sheet's three such detectors.
 * Here one call, returning what the two would, each unit's text read once for both
 * (UnitCache). */

/* settle_hits's answer, given its parsed arguments and the units as a PySequence_Fast. */
static PyObject *settle_parsed(int detector, PyObject *maker, PyObject *name, PyObject *seq,
                               UnitCache *cache, const Py_buffer *unit_of,
                               const Py_buffer *starts, const Py_buffer *ends,
                               const Py_buffer *kinds, const Py_buffer *numbers,
                               const Py_buffer *headed, const Py_buffer *scores,
                               int requires_context, int bounded) {
    PyObject *verdicts = judge_seq(detector, seq, cache, unit_of, starts, ends, kinds);
    if (verdicts == NULL)
        return NULL;
    Py_buffer judged;
    if (PyObject_GetBuffer(verdicts, &judged, PyBUF_SIMPLE) < 0) {
        Py_DECREF(verdicts);
        return NULL;
    }
    PyObject *settled = settle_seq(maker, name, seq, cache, unit_of, starts, ends, numbers,
                                   &judged, headed, scores, requires_context, bounded);
    PyBuffer_Release(&judged);
    if (settled != Py_None) {
        Py_DECREF(verdicts);
        return settled; /* the findings, or NULL with the error */
    }
    Py_DECREF(settled);
    return verdicts;
}


/* settle_hits(detector, maker, name, units, unit_of, starts, ends, kinds, numbers, headed,
 * scores, requires_context, bounded) -> (units, findings), or the verdicts (bytes) when
 * they settle nothing: judge_hits(detector, units, unit_of, starts, ends, kinds), then
 * settled_findings(maker, name, units, unit_of, starts, ends, numbers, verdicts, headed,
 * scores, requires_context, bounded) unless that is None. */
static PyObject *settle_hits(PyObject *module, PyObject *args) {
    (void)module;
    int detector, requires_context, bounded;
    PyObject *maker, *name, *units;
    Py_buffer b[7]; /* unit_of, starts, ends, kinds, numbers, headed, scores */
    if (!PyArg_ParseTuple(args, "iOUOy*y*y*y*y*y*y*pp", &detector, &maker, &name, &units, &b[0],
                          &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &requires_context, &bounded))
        return NULL;
    PyObject *out = NULL, *seq = PySequence_Fast(units, "units must be a sequence");
    UnitCache cache = {NULL, NULL, 0};
    if (seq != NULL && unit_cache_open(&cache, PySequence_Fast_GET_SIZE(seq)) == 0)
        out = settle_parsed(detector, maker, name, seq, &cache, &b[0], &b[1], &b[2], &b[3],
                            &b[4], &b[5], &b[6], requires_context, bounded);
    unit_cache_close(&cache);
    Py_XDECREF(seq);
    for (int k = 0; k < 7; k++)
        PyBuffer_Release(&b[k]);
    return out;
}

/* ==== Register matching of small tables (issue 14, seventh round) ========================
 *
 * A 200-row sheet's matching was a pipeline of ~100 numpy calls and a dozen compiled passes,
 * most numpy's fixed costs on a few hundred values: the steps below take a dozen of those
 * calls each, and owned_runs spares presence the namesakes it would drop again.  Each has its
 * numpy version in match.py, and tests/engine/registers/test_small_tables.py compares them.
 *
 * present_records(gr, masks, ident) -> (records, groups, masks, id_groups, id_records): the
 * end of match.present for the (group, record) pairs present in a message (int64 ``gr``:
 * ``group << 32 | record``, ascending; int64 field bits ``masks`` and bool ``ident`` of
 * each): per record present, ascending, the first group it was seen in and every field
 * matched in any group; and the (group, record) of the pairs ``ident`` marks, in order.
 * match._present_records_py is the numpy version (a test compares): its lexsort, gathers
 * and reductions, each with numpy's fixed cost, took a 200-row sheet ~20 us; here a radix
 * sort of the pairs by (record, group) and one pass. */

/* keys[0:n] (with their payloads) sorted ascending, stably, by bytes from the lowest; a byte
 * the same in every key is skipped (a sheet's groups and records fit in a few).  ``tk`` and
 * ``tp`` are scratch of n each; ``out_keys`` and ``out_payload`` are set to the buffers
 * holding the result (the inputs' or the scratch). */
static void pr_radix_sort(uint64_t *keys, int64_t *payload, uint64_t *tk, int64_t *tp,
                          Py_ssize_t n, uint64_t **out_keys, int64_t **out_payload) {
    uint64_t *ka = keys, *kb = tk;
    int64_t *pa = payload, *pb = tp;
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (Py_ssize_t i = 0; i < n; i++) {
        all_or |= keys[i];
        all_and &= keys[i];
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xFF) == 0)
            continue; /* this byte is the same in every key */
        Py_ssize_t count[257] = {0};
        for (Py_ssize_t i = 0; i < n; i++)
            count[((ka[i] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t to = count[(ka[i] >> shift) & 0xFF]++;
            kb[to] = ka[i];
            pb[to] = pa[i];
        }
        uint64_t *ks = ka;
        ka = kb;
        kb = ks;
        int64_t *ps = pa;
        pa = pb;
        pb = ps;
    }
    *out_keys = ka;
    *out_payload = pa;
}

static PyObject *present_records(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer grb, mb, ib;
    if (!PyArg_ParseTuple(args, "y*y*y*", &grb, &mb, &ib))
        return NULL;
    PyObject *answer = NULL, *parts[5] = {NULL};
    uint64_t *keys = NULL, *tk = NULL;
    int64_t *payload = NULL, *tp = NULL;
    Py_ssize_t n = grb.len / 8;
    if (grb.len % 8 || mb.len != grb.len || ib.len != n) {
        PyErr_SetString(PyExc_ValueError, "present_records: buffers of mismatched sizes");
        goto done;
    }
    {
        const int64_t *gr = grb.buf, *masks = mb.buf;
        const char *ident = ib.buf;
        size_t room = (size_t)(n ? n : 1);
        keys = PyMem_Malloc(room * sizeof *keys);
        tk = PyMem_Malloc(room * sizeof *tk);
        payload = PyMem_Malloc(room * sizeof *payload);
        tp = PyMem_Malloc(room * sizeof *tp);
        if (keys == NULL || tk == NULL || payload == NULL || tp == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t identified = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (gr[i] < 0) {
                PyErr_SetString(PyExc_ValueError, "present_records: a negative pair");
                goto done;
            }
            uint64_t pair = (uint64_t)gr[i];
            /* (record, group): the record's 32 bits above the group's. */
            keys[i] = (pair << 32) | (pair >> 32);
            payload[i] = i;
            identified += ident[i] != 0;
        }
        uint64_t *sorted_keys;
        int64_t *sorted_at;
        pr_radix_sort(keys, payload, tk, tp, n, &sorted_keys, &sorted_at);
        Py_ssize_t distinct = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            distinct += i == 0 || (sorted_keys[i] >> 32) != (sorted_keys[i - 1] >> 32);
        for (int p = 0; p < 3; p++)
            parts[p] = PyBytes_FromStringAndSize(NULL, distinct * 8);
        parts[3] = PyBytes_FromStringAndSize(NULL, identified * 8);
        parts[4] = PyBytes_FromStringAndSize(NULL, identified * 8);
        for (int p = 0; p < 5; p++)
            if (parts[p] == NULL)
                goto done;
        int64_t *rec = (int64_t *)PyBytes_AS_STRING(parts[0]);
        int64_t *grp = (int64_t *)PyBytes_AS_STRING(parts[1]);
        int64_t *msk = (int64_t *)PyBytes_AS_STRING(parts[2]);
        Py_ssize_t d = -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t key = sorted_keys[i];
            if (i == 0 || (key >> 32) != (sorted_keys[i - 1] >> 32)) {
                d++;
                rec[d] = (int64_t)(key >> 32);
                grp[d] = (int64_t)(key & 0xFFFFFFFF); /* the smallest group: sorted by it */
                msk[d] = 0;
            }
            msk[d] |= masks[sorted_at[i]];
        }
        int64_t *ig = (int64_t *)PyBytes_AS_STRING(parts[3]);
        int64_t *ir = (int64_t *)PyBytes_AS_STRING(parts[4]);
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (ident[i]) {
                ig[j] = (int64_t)((uint64_t)gr[i] >> 32);
                ir[j] = (int64_t)((uint64_t)gr[i] & 0xFFFFFFFF);
                j++;
            }
        }
        answer = PyTuple_Pack(5, parts[0], parts[1], parts[2], parts[3], parts[4]);
    }
done:
    for (int p = 0; p < 5; p++)
        Py_XDECREF(parts[p]);
    PyMem_Free(keys);
    PyMem_Free(tk);
    PyMem_Free(payload);
    PyMem_Free(tp);
    PyBuffer_Release(&grb);
    PyBuffer_Release(&mb);
    PyBuffer_Release(&ib);
    return answer;
}

/* cell_layout(lengths, tables, groups, column_bits) -> (cell_groups, cell_columns): per cell
 * of a message's table rows flattened (int64 ``lengths``, ``tables`` and ``groups`` a row,
 * as match.Collector._rows has them), its row's group and its column: the row's table
 * shifted left by ``column_bits``, or'd with its place in the row (at most all ones in
 * ``column_bits``).  match._cell_layout_py is the numpy version (a test compares): its
 * aranges, cumsums and repeats cost a 200-row sheet ~15 us. */
static PyObject *cell_layout(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer lb, tb, gb;
    int bits;
    if (!PyArg_ParseTuple(args, "y*y*y*i", &lb, &tb, &gb, &bits))
        return NULL;
    PyObject *answer = NULL, *groups_out = NULL, *columns_out = NULL;
    Py_ssize_t rows = lb.len / 8, total = 0;
    if (lb.len % 8 || tb.len != lb.len || gb.len != lb.len || bits < 1 || bits > 30) {
        PyErr_SetString(PyExc_ValueError, "cell_layout: buffers of mismatched sizes");
        goto done;
    }
    {
        const int64_t *lengths = lb.buf, *tables = tb.buf, *groups = gb.buf;
        for (Py_ssize_t r = 0; r < rows; r++) {
            if (lengths[r] < 0 || lengths[r] > PY_SSIZE_T_MAX / 8 - total) {
                PyErr_SetString(PyExc_ValueError, "cell_layout: a row of no or too many cells");
                goto done;
            }
            total += (Py_ssize_t)lengths[r];
        }
        groups_out = PyBytes_FromStringAndSize(NULL, total * 8);
        columns_out = PyBytes_FromStringAndSize(NULL, total * 8);
        if (groups_out == NULL || columns_out == NULL)
            goto done;
        int64_t *cell_group = (int64_t *)PyBytes_AS_STRING(groups_out);
        int64_t *cell_column = (int64_t *)PyBytes_AS_STRING(columns_out);
        int64_t most = ((int64_t)1 << bits) - 1;
        Py_ssize_t at = 0;
        for (Py_ssize_t r = 0; r < rows; r++) {
            /* As numpy's int64 shift: the table's bits above the place's. */
            int64_t high = (int64_t)((uint64_t)tables[r] << bits);
            for (int64_t c = 0; c < lengths[r]; c++, at++) {
                cell_group[at] = groups[r];
                cell_column[at] = high | (c < most ? c : most);
            }
        }
        answer = PyTuple_Pack(2, groups_out, columns_out);
    }
done:
    Py_XDECREF(groups_out);
    Py_XDECREF(columns_out);
    PyBuffer_Release(&lb);
    PyBuffer_Release(&tb);
    PyBuffer_Release(&gb);
    return answer;
}

/* unique_cells(cells, unique_chars) -> (deep, blank): of the str ``cells``, the int64
 * indices of those that could be a unique field (an "@" in it; or a digit, 0-9 or
 * full-width, no Chinese character, and at most ``unique_chars`` long once stripped of
 * whitespace as str.strip strips it), and per cell whether it is blank (``not
 * cell.strip()``): what match.Collector._unique_codes reads off match._screen's columns
 * (screen_cells' flags, as register_screen_char tells them) in six numpy passes, ~20 us on
 * a 200-row sheet. */
static PyObject *unique_cells(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *cells;
    Py_ssize_t most;
    if (!PyArg_ParseTuple(args, "On", &cells, &most))
        return NULL;
    PyObject *seq = PySequence_Fast(cells, "cells must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject *answer = NULL, *deep_out = NULL, *blank_out = NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), deep = 0;
    int64_t *found = PyMem_Malloc((size_t)(count ? count : 1) * sizeof *found);
    blank_out = PyBytes_FromStringAndSize(NULL, count);
    if (found == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (blank_out == NULL)
        goto done;
    char *blank = PyBytes_AS_STRING(blank_out);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "cells must be str");
            goto done;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        int64_t flags = 0;
        if (kind == PyUnicode_1BYTE_KIND) {
            /* Below U+0100: only ASCII digits and "@" can count, each looked for until
             * found (an HKID's or a phone's first digit is its first or second place). */
            const Py_UCS1 *chars = data;
            for (Py_ssize_t i = 0; i < n; i++) {
                if ((Py_UCS1)(chars[i] - '0') < 10) {
                    flags = 1;
                    break;
                }
            }
            if (n > 0 && memchr(chars, '@', (size_t)n) != NULL)
                flags |= 2;
        } else {
            for (Py_ssize_t i = 0; i < n; i++)
                flags |= register_screen_char(PyUnicode_READ(kind, data, i));
        }
        /* The text between the whitespace at either end (str.strip's): read from the ends. */
        Py_ssize_t first = 0, end = n;
        while (first < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, first)))
            first++;
        while (end > first && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end - 1)))
            end--;
        blank[k] = first == n;
        Py_ssize_t stripped = end - first;
        if ((flags & 2) || ((flags & 1) && !(flags & 4) && stripped <= most))
            found[deep++] = k;
    }
    deep_out = PyBytes_FromStringAndSize((const char *)found, deep * 8);
    if (deep_out != NULL)
        answer = PyTuple_Pack(2, deep_out, blank_out);
done:
    PyMem_Free(found);
    Py_XDECREF(deep_out);
    Py_XDECREF(blank_out);
    Py_DECREF(seq);
    return answer;
}

/* bare_phones(keys, columns, sure, fields, n_of, phone, unique_max) -> (at, hits, columns):
 * of a message's entries (int64 ``keys`` and ``columns``, bool ``sure``; uint8 ``fields``
 * and int64 ``n_of`` per key), the int64 indices of the bare phone numbers in table columns
 * (field ``phone``, not sure, column >= 0), how many of them match 1 to ``unique_max``
 * records, and how many distinct columns they lie in (1, or 2 for two or more): what
 * match._sure reads off a dozen numpy passes (~12 us on a 200-row sheet's column of
 * phones).  IndexError for a key outside ``fields`` or ``n_of``. */
static PyObject *bare_phones(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer kb, cb, sb, fb, nb;
    int phone;
    long long unique_max;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*iL", &kb, &cb, &sb, &fb, &nb, &phone, &unique_max))
        return NULL;
    PyObject *answer = NULL;
    int64_t *at = NULL;
    Py_ssize_t m = kb.len / 8, n_keys = nb.len / 8;
    if (kb.len % 8 || cb.len != kb.len || sb.len != m || nb.len % 8 || fb.len != n_keys) {
        PyErr_SetString(PyExc_ValueError, "bare_phones: buffers of mismatched sizes");
        goto done;
    }
    {
        const int64_t *keys = kb.buf, *columns = cb.buf, *n_of = nb.buf;
        const char *sure = sb.buf;
        const uint8_t *fields = fb.buf;
        at = PyMem_Malloc((size_t)(m ? m : 1) * sizeof *at);
        if (at == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t bare = 0, hits = 0;
        int64_t first_column = -1;
        int many = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            int64_t key = keys[i];
            if (key < 0 || key >= n_keys) {
                PyErr_SetString(PyExc_IndexError, "bare_phones: a key outside fields");
                goto done;
            }
            if (fields[key] != phone || sure[i] || columns[i] < 0)
                continue;
            if (bare == 0)
                first_column = columns[i];
            else if (columns[i] != first_column)
                many = 1;
            hits += n_of[key] > 0 && n_of[key] <= unique_max;
            at[bare++] = i;
        }
        PyObject *found = PyBytes_FromStringAndSize((const char *)at, bare * 8);
        if (found != NULL)
            answer = Py_BuildValue("(Nni)", found, hits, bare ? 1 + many : 0);
    }
done:
    PyMem_Free(at);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&fb);
    PyBuffer_Release(&nb);
    return answer;
}

/* owned_runs(g, k, f, lo, n, c, strong, records, expand_max) -> (g, k, f, lo, n, c, strong)
 * or None: match.present's useful entries (int64 g, k, f, lo, n, c and bool ``strong``, in
 * group order) with the lookups whose value a unique field's record owns cut down to that
 * record's places in their run, for presence to expand: in a group whose every lookup is
 * expanded (at most ``expand_max`` records), a value matching a record a strong entry
 * identifies there is that record's alone (presence's _unclaimed step drops it from every
 * other record of the group), so of its run only the places of such owners are kept, one
 * entry of one place each, in the run's order.  presence then finds exactly what it finds
 * from the entries whole (a test compares): a group with a lookup it would verify instead,
 * or whose value no owner matches, is left whole.  A sheet's row has an HKID whose record
 * owns its name, whose run holds ~10 namesakes: presence then expands and sorts a fifth of
 * the matches.  None when nothing is cut or the groups are not in order. */
static PyObject *owned_runs(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer gb, kb, fb, lob, nb, cb, sb, rb;
    Py_ssize_t expand_max;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*n", &gb, &kb, &fb, &lob, &nb, &cb, &sb, &rb,
                          &expand_max))
        return NULL;
    PyObject *answer = NULL, *parts[7] = {NULL};
    uint32_t *owners = NULL;
    int64_t *places = NULL, *kept = NULL;
    Py_ssize_t m = entry_count("owned_runs", &gb, &kb, &fb, &lob, &nb, &cb, &sb, &rb),
               size = rb.len / 4;
    if (m < 0)
        goto done;
    {
        const int64_t *g = gb.buf, *k = kb.buf, *f = fb.buf, *lo = lob.buf, *n = nb.buf,
                      *c = cb.buf;
        const char *strong = sb.buf;
        const uint32_t *records = rb.buf;
        Py_ssize_t strong_places = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            if (lo[i] < 0 || n[i] < 0 || lo[i] > size || n[i] > size - lo[i]) {
                PyErr_SetString(PyExc_IndexError, "owned_runs: a run outside records");
                goto done;
            }
            if (i > 0 && g[i] < g[i - 1]) {
                answer = Py_NewRef(Py_None); /* not in group order: left whole */
                goto done;
            }
            if (strong[i] && n[i] <= expand_max)
                strong_places += (Py_ssize_t)n[i];
            /* Each run's first records asked for now, all at once: read in turn below (and
             * again by presence), each was a miss of its own once a scan's extraction and
             * detection had evicted the index (74 us of a 200-row sheet's ~1,500 entries in
             * the scan, 26 with the records in the caches). */
            if (n[i] > 0)
                __builtin_prefetch(records + lo[i]);
        }
        if (strong_places == 0) {
            answer = Py_NewRef(Py_None); /* nobody identified: nothing owned */
            goto done;
        }
        /* Per entry, how many places of its run it keeps (0: whole); the places kept, in
         * order, gathered in ``places`` (at most a run's length an entry). */
        Py_ssize_t room = 256, taken = 0, total = 0;
        owners = PyMem_Malloc((size_t)strong_places * sizeof *owners);
        kept = PyMem_Calloc((size_t)m, sizeof *kept);
        places = PyMem_Malloc((size_t)room * sizeof *places);
        if (owners == NULL || kept == NULL || places == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t a = 0; a < m;) {
            Py_ssize_t b = a, owned = 0;
            int whole = 0;
            for (; b < m && g[b] == g[a]; b++)
                whole |= n[b] > expand_max;
            for (Py_ssize_t i = a; i < b && !whole; i++) {
                if (!strong[i])
                    continue;
                for (int64_t p = lo[i]; p < lo[i] + n[i]; p++) {
                    Py_ssize_t o = 0; /* each owner once: a row's HKID and phone agree */
                    while (o < owned && owners[o] != records[p])
                        o++;
                    if (o == owned)
                        owners[owned++] = records[p];
                }
            }
            for (Py_ssize_t i = a; i < b; i++) {
                if (owned && !strong[i]) {
                    for (int64_t p = lo[i]; p < lo[i] + n[i]; p++) {
                        Py_ssize_t o = 0;
                        while (o < owned && owners[o] != records[p])
                            o++;
                        if (o == owned)
                            continue;
                        if (taken == room) {
                            int64_t *grown = PyMem_Realloc(places, (size_t)(2 * room) * 8);
                            if (grown == NULL) {
                                PyErr_NoMemory();
                                goto done;
                            }
                            places = grown;
                            room *= 2;
                        }
                        places[taken++] = p;
                        kept[i]++;
                    }
                }
                total += kept[i] ? kept[i] : 1;
            }
            a = b;
        }
        if (taken == 0) {
            answer = Py_NewRef(Py_None); /* no value owned: nothing cut */
            goto done;
        }
        if (entry_parts(parts, total) < 0)
            goto done;
        int64_t *og = (int64_t *)PyBytes_AS_STRING(parts[0]);
        int64_t *ok = (int64_t *)PyBytes_AS_STRING(parts[1]);
        int64_t *of = (int64_t *)PyBytes_AS_STRING(parts[2]);
        int64_t *olo = (int64_t *)PyBytes_AS_STRING(parts[3]);
        int64_t *on = (int64_t *)PyBytes_AS_STRING(parts[4]);
        int64_t *oc = (int64_t *)PyBytes_AS_STRING(parts[5]);
        char *os = PyBytes_AS_STRING(parts[6]);
        Py_ssize_t at = 0, next = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            /* One entry of one place for each place kept, else the entry as it was. */
            Py_ssize_t copies = kept[i] ? (Py_ssize_t)kept[i] : 1;
            for (Py_ssize_t j = 0; j < copies; j++, at++) {
                og[at] = g[i];
                ok[at] = k[i];
                of[at] = f[i];
                olo[at] = kept[i] ? places[next++] : lo[i];
                on[at] = kept[i] ? 1 : n[i];
                oc[at] = c[i];
                os[at] = kept[i] ? 0 : strong[i];
            }
        }
        answer = PyTuple_New(7);
        if (answer != NULL)
            for (int p = 0; p < 7; p++) {
                PyTuple_SET_ITEM(answer, p, parts[p]);
                parts[p] = NULL;
            }
    }
done:
    for (int p = 0; p < 7; p++)
        Py_XDECREF(parts[p]);
    PyMem_Free(owners);
    PyMem_Free(kept);
    PyMem_Free(places);
    PyBuffer_Release(&gb);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&fb);
    PyBuffer_Release(&lob);
    PyBuffer_Release(&nb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&rb);
    return answer;
}

/* present_chain(keys, groups, columns, sure, fields, lo_of, n_of, unique, unique_max, phone,
 * records, fact_of, expand_max, pivot_max) -> (records, groups, masks, id_groups,
 * id_records, m_groups, m_records, m_fields, m_columns) or None: match.present's steps in
 * one call, useful_entries, owned_runs, presence and present_records each run in turn on
 * the bytes the one before gave (their own checks of sizes and ranges included), where
 * Python took each step's bytes as numpy views and handed them on through
 * ascontiguousarray: ~35 numpy calls and three frames a sheet (6 us of a 200-row sheet's
 * 60 of presence).  The arguments are useful_entries', then presence's after its entries; None
 * where useful_entries gives None (groups out of order: match.present takes the steps
 * itself).  Nine empty bytes when nothing is present, as match.present then answers. */
static PyObject *present_chain(PyObject *module, PyObject *args) {
    PyObject *keys, *groups, *columns, *sure, *fields, *lo_of, *n_of, *unique, *records, *fact_of;
    Py_ssize_t unique_max, phone, expand_max, pivot_max;
    if (!PyArg_ParseTuple(args, "OOOOOOOOnnOOnn", &keys, &groups, &columns, &sure, &fields,
                          &lo_of, &n_of, &unique, &unique_max, &phone, &records, &fact_of,
                          &expand_max, &pivot_max))
        return NULL;
    PyObject *step = NULL, *entries = NULL, *owned = NULL, *pairs = NULL, *found = NULL,
             *answer = NULL;
    step = Py_BuildValue("(OOOOOOOOnn)", keys, groups, columns, sure, fields, lo_of, n_of,
                         unique, unique_max, phone);
    if (step == NULL || (entries = useful_entries(module, step)) == NULL)
        goto done;
    if (entries == Py_None) {
        answer = Py_NewRef(Py_None);
        goto done;
    }
    if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(entries, 6)) > 0) {
        PyObject *const *e = &PyTuple_GET_ITEM(entries, 0);
        Py_SETREF(step, Py_BuildValue("(OOOOOOOOn)", e[0], e[1], e[2], e[3], e[4], e[5], e[6],
                                      records, expand_max));
        if (step == NULL || (owned = owned_runs(module, step)) == NULL)
            goto done;
        if (owned != Py_None)
            e = &PyTuple_GET_ITEM(owned, 0);
        Py_SETREF(step, Py_BuildValue("(OOOOOOOOOnn)", e[0], e[1], e[2], e[3], e[4], e[5], e[6],
                                      records, fact_of, expand_max, pivot_max));
        if (step == NULL || (pairs = presence(module, step)) == NULL)
            goto done;
    }
    if (pairs != NULL && PyBytes_GET_SIZE(PyTuple_GET_ITEM(pairs, 0)) > 0) {
        Py_SETREF(step, PyTuple_Pack(3, PyTuple_GET_ITEM(pairs, 0), PyTuple_GET_ITEM(pairs, 1),
                                     PyTuple_GET_ITEM(pairs, 2)));
        if (step == NULL || (found = present_records(module, step)) == NULL)
            goto done;
        answer = PyTuple_Pack(9, PyTuple_GET_ITEM(found, 0), PyTuple_GET_ITEM(found, 1),
                              PyTuple_GET_ITEM(found, 2), PyTuple_GET_ITEM(found, 3),
                              PyTuple_GET_ITEM(found, 4), PyTuple_GET_ITEM(pairs, 3),
                              PyTuple_GET_ITEM(pairs, 4), PyTuple_GET_ITEM(pairs, 5),
                              PyTuple_GET_ITEM(pairs, 6));
    } else {
        PyObject *none = PyBytes_FromStringAndSize(NULL, 0);
        if (none != NULL)
            answer = PyTuple_Pack(9, none, none, none, none, none, none, none, none, none);
        Py_XDECREF(none);
    }
done:
    Py_XDECREF(step);
    Py_XDECREF(entries);
    Py_XDECREF(owned);
    Py_XDECREF(pairs);
    Py_XDECREF(found);
    return answer;
}

/* ==== End of register matching of small tables ========================================== */
/* ==== read_files: a batch of files read without the GIL (issue 14, seventh round) ========
 *
 * read_files(paths, limit) -> per path (str), its bytes; the OSError (errno, strerror, path)
 * opening or reading it met, as ``open(path, "rb").read()`` raises it (a folder:
 * IsADirectoryError); or None when it holds more than ``limit`` bytes (read in Python: a
 * larger file would be held twice here, once in the buffer and once in its bytes).
 *
 * The scan's reader thread (postwarden.scan.Scanner._read_all) read each file with
 * ``Path.read_bytes``, which lets the GIL go and takes it back around each of its open,
 * fstat, read and close: every time, the inspecting thread was made to hand the GIL over
 * (a forced switch, and two context switches). Here the whole batch is read with the GIL
 * let go once. Paths that do not encode (an embedded NUL) raise as ``open`` does. */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject *name; /* the path as given (str): the error's file name */
    PyObject *path; /* the encoded path (bytes) */
    char *buffer;
    Py_ssize_t size;
    int error;      /* an errno, or 0 */
    int too_large;  /* over the limit: None */
    int no_memory;  /* the buffer could not be had: MemoryError */
} RfFile;

/* Read one file into a malloc'd buffer, without the GIL. */
static void rf_read(RfFile *file, Py_ssize_t limit) {
    int fd;
    do {
        fd = open(PyBytes_AS_STRING(file->path), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        file->error = errno;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        file->error = errno;
        close(fd);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        file->error = EISDIR;
        close(fd);
        return;
    }
    if (st.st_size > limit) {
        file->too_large = 1;
        close(fd);
        return;
    }
    /* One byte more than fstat tells, to see the end of the file in the same read. */
    Py_ssize_t capacity = (st.st_size > 0 ? (Py_ssize_t)st.st_size : 0) + 1, got = 0;
    char *buffer = malloc((size_t)capacity);
    if (buffer == NULL) {
        file->no_memory = 1;
        close(fd);
        return;
    }
    for (;;) {
        if (got == capacity) { /* it grew since fstat */
            if (capacity > limit) {
                file->too_large = 1;
                break;
            }
            Py_ssize_t more = capacity > limit / 2 ? limit + 1 : 2 * capacity;
            char *grown = realloc(buffer, (size_t)more);
            if (grown == NULL) {
                file->no_memory = 1;
                break;
            }
            buffer = grown;
            capacity = more;
        }
        ssize_t n = read(fd, buffer + got, (size_t)(capacity - got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            file->error = errno;
            break;
        }
        if (n == 0)
            break;
        got += n;
    }
    close(fd);
    if (file->error || file->too_large || file->no_memory) {
        free(buffer);
        return;
    }
    file->buffer = buffer;
    file->size = got;
}

static PyObject *read_files(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *paths;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &paths, &limit))
        return NULL;
    if (limit < 0 || limit >= PY_SSIZE_T_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "read_files: limit out of range");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(paths);
    RfFile *files = PyMem_Calloc((size_t)(count ? count : 1), sizeof *files);
    if (files == NULL)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *path = PyList_GET_ITEM(paths, i);
        if (!PyUnicode_Check(path)) {
            PyErr_SetString(PyExc_TypeError, "read_files: a path is no str");
            goto done;
        }
        files[i].name = Py_NewRef(path); /* held: the list may change while the GIL is let go */
        if (!PyUnicode_FSConverter(path, &files[i].path))
            goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++)
        rf_read(&files[i], limit);
    Py_END_ALLOW_THREADS
    out = PyList_New(count);
    if (out == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        RfFile *file = &files[i];
        PyObject *item;
        if (file->too_large) {
            item = Py_NewRef(Py_None);
        } else if (file->no_memory) {
            PyErr_NoMemory();
            item = NULL;
        } else if (file->error) {
            item = PyObject_CallFunction(PyExc_OSError, "isO", file->error,
                                         strerror(file->error), file->name);
        } else {
            item = PyBytes_FromStringAndSize(file->buffer, file->size);
        }
        if (item == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, item);
    }
done:
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_XDECREF(files[i].name);
        Py_XDECREF(files[i].path);
        free(files[i].buffer);
    }
    PyMem_Free(files);
    return out;
}

/* ==== End of read_files ================================================================ */

/* ==== pdf_object: an object of a plain pdf and what follows it (issue 14, seventh round) ====
 *
 * pdf_object(read, data, pos, ref, other, check_time, every, opened) -> (value, stream,
 * opened), or None: ``read(data, pos, ref, other, check_time, every, opened)`` (pdf_plain
 * hands `pdf_value` over: the tokenizer stays one function, seen where it is called) gives
 * the value after ``N 0 obj`` and where it ends; then what pdf_plain's ``_AFTER_VALUE``
 * matches after it: whitespace and ``endobj`` (``stream`` is -1), or ``stream`` and an end
 * of line (``stream``: where the stream's data begins); None when ``read`` refuses or
 * neither follows.  A frame and a regular expression less per object (``_Plain._object``;
 * test_pdf_object.py compares the two). */

static Py_ssize_t po_after(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (n - i >= 6 && memcmp(s + i, "endobj", 6) == 0)
        return -1;
    if (n - i >= 6 && memcmp(s + i, "stream", 6) == 0) {
        i += 6;
        if (i < n && s[i] == '\n')
            return i + 1;
        if (n - i >= 2 && s[i] == '\r' && s[i + 1] == '\n')
            return i + 2;
    }
    return -2;
}

static PyObject *pdf_object(PyObject *module, PyObject *args) {
    (void)module;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs != 8 || !PyBytes_Check(PyTuple_GET_ITEM(args, 1))) {
        PyErr_SetString(PyExc_TypeError,
                        "pdf_object(read, data, pos, ref, other, check_time, every, opened)");
        return NULL;
    }
    PyObject *rest = PyTuple_GetSlice(args, 1, nargs);
    if (rest == NULL)
        return NULL;
    PyObject *found = PyObject_Call(PyTuple_GET_ITEM(args, 0), rest, NULL);
    Py_DECREF(rest);
    if (found == NULL || found == Py_None)
        return found;
    PyObject *data = PyTuple_GET_ITEM(args, 1);
    Py_ssize_t n = PyBytes_GET_SIZE(data), end = -1;
    if (PyTuple_CheckExact(found) && PyTuple_GET_SIZE(found) == 3) {
        end = PyLong_AsSsize_t(PyTuple_GET_ITEM(found, 1));
        if (end == -1 && PyErr_Occurred()) {
            Py_DECREF(found);
            return NULL;
        }
    }
    if (end < 0 || end > n) {
        Py_DECREF(found);
        PyErr_SetString(PyExc_ValueError, "pdf_object: read gave no (value, end, opened)");
        return NULL;
    }
    Py_ssize_t stream = po_after((const unsigned char *)PyBytes_AS_STRING(data), end, n);
    if (stream == -2) {
        Py_DECREF(found);
        Py_RETURN_NONE;
    }
    PyObject *result = Py_BuildValue("(OnO)", PyTuple_GET_ITEM(found, 0), stream,
                                     PyTuple_GET_ITEM(found, 2));
    Py_DECREF(found);
    return result;
}

/* ==== End of pdf_object ================================================================ */

/* ==== pdf_plain: the whole plain check in one call (issue 14, eighth round) ================
 *
 * pdf_plain(data, pages, check_time, ref, other, read_info, decompressobj, zlib_error, limits)
 * -> whether ``data`` is a plain pdf of ``pages`` pages: extract/pdf_plain.py's
 * ``_Plain.check`` step for step (the same objects read in the same order, the same values
 * through `pv_read`, the same refusals), where the Python walk cost a 3-page pdf 0.11 ms of
 * its 0.5 (the interpreter's code and objects cold after PDFium's pages; 0.05 ms warm).
 * ``limits`` is pdf_plain's (_MAX_DEPTH, _MAX_DECODED, _MAX_PAGES_NODES, _MAX_PAGE_ENTRIES,
 * _ENTRIES_TIMED, _OPENS_TIMED), read at each call; streams are inflated by
 * ``decompressobj()`` (zlib's: this module links no zlib), and what it raises as
 * ``zlib_error`` is a refusal, as in ``plain``.  What ``check_time()`` raises passes.  One
 * difference, in what is read and not in the verdict: a stream whose ``/Length`` refers to
 * a stream is refused when that stream is met (its dictionary is no number), without
 * following that stream's own ``/Length`` (Python recurses, and refuses at the end of the
 * chain, or on RecursionError).  test_pdf_plain_compiled.py compares the two. */

enum { PK_LENGTH, PK_TYPE, PK_CATALOG, PK_SIZE, PK_ROOT, PK_INFO, PK_METADATA, PK_AF, PK_NAMES,
       PK_EMBEDDED, PK_PAGES, PK_PAGE, PK_KIDS, PK_RESOURCES, PK_MEDIABOX, PK_CROPBOX,
       PK_ROTATE, PK_CONTENTS, PK_FONT, PK_TOUNICODE, PK_DESCENDANT, PK_FILTER, PK_FLATE,
       PK_PREV, PK_XREFSTM, PK_ENCRYPT, PK_DECODEPARMS, PK_F, PK_FFILTER, PK_FDECODEPARMS,
       PK_COUNT };
static const char *const pk_names[PK_COUNT] = {
    "/Length", "/Type", "/Catalog", "/Size", "/Root", "/Info", "/Metadata", "/AF", "/Names",
    "/EmbeddedFiles", "/Pages", "/Page", "/Kids", "/Resources", "/MediaBox", "/CropBox",
    "/Rotate", "/Contents", "/Font", "/ToUnicode", "/DescendantFonts", "/Filter",
    "/FlateDecode", "/Prev", "/XRefStm", "/Encrypt", "/DecodeParms", "/F", "/FFilter",
    "/FDecodeParms"};
static PyObject *pk_key[PK_COUNT]; /* the names as bytes, made once */

typedef struct {
    const unsigned char *s;
    Py_ssize_t n;
    PyObject *ref, *other, *check_time, *decompressobj, *zlib_error;
    Py_ssize_t opens_every, opened;
    Py_ssize_t count;    /* entries of the table */
    long long *offsets;  /* by number: where ``N 0 obj`` begins, -1 for an entry not in use */
    Py_ssize_t in_use;
    PyObject *objects;   /* {Ref: value} read so far */
    PyObject *streams;   /* {Ref: (start, length)} of the objects read that are streams */
    PyObject *decoded;   /* {Ref} */
    long long left, max_decoded;
    int refused;
} PkFile;

#define PK_REFUSE(pk) ((pk)->refused = 1, -1)

static int pk_is_ref(PkFile *pk, PyObject *v) { return v != NULL && Py_TYPE(v) == (PyTypeObject *)pk->ref; }

static int pk_name_is(PyObject *v, int key) {
    return v != NULL && PyBytes_CheckExact(v) &&
           PyBytes_GET_SIZE(v) == PyBytes_GET_SIZE(pk_key[key]) &&
           memcmp(PyBytes_AS_STRING(v), PyBytes_AS_STRING(pk_key[key]),
                  (size_t)PyBytes_GET_SIZE(v)) == 0;
}

/* d.get(key), borrowed; NULL when absent (or on an error, which the caller checks). */
static PyObject *pk_get(PyObject *d, int key) { return PyDict_GetItemWithError(d, pk_key[key]); }

/* ``(?:\r\n|\n|\r)?endstream[ \t\r\n]*endobj`` at s[i]. */
static int pk_end_stream(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t starts[3];
    int k = 0;
    if (i + 1 < n && s[i] == '\r' && s[i + 1] == '\n')
        starts[k++] = i + 2;
    if (i < n && (s[i] == '\n' || s[i] == '\r'))
        starts[k++] = i + 1;
    starts[k++] = i;
    for (int j = 0; j < k; j++) {
        Py_ssize_t at = starts[j];
        if (n - at < 9 || memcmp(s + at, "endstream", 9) != 0)
            continue;
        at += 9;
        while (at < n && pv_space(s[at]))
            at++;
        if (n - at >= 6 && memcmp(s + at, "endobj", 6) == 0)
            return 1;
    }
    return 0;
}

/* ``_Plain._object``: object ``key`` (a Ref), borrowed from ``objects``; NULL and refused, or
 * NULL and an error.  ``as_length``: read for a stream's /Length, where a stream is refused
 * when met (see above). */
static PyObject *pk_object(PkFile *pk, PyObject *key, int as_length) {
    PyObject *value = PyDict_GetItemWithError(pk->objects, key);
    if (value != NULL || PyErr_Occurred())
        return value;
    Py_ssize_t number = PyLong_AsSsize_t(key);
    if (number == -1 && PyErr_Occurred())
        return NULL;
    if (number < 1 || number >= pk->count || pk->offsets[number] < 0) {
        pk->refused = 1; /* free or missing */
        return NULL;
    }
    char head[32];
    int digits = snprintf(head, sizeof head, "%zd", number);
    Py_ssize_t end = 0;
    value = pv_read(pk->s, pk->n, (Py_ssize_t)pk->offsets[number] + digits + 6, pk->ref,
                    pk->other, pk->check_time, pk->opens_every, &pk->opened, &end, &pk->refused);
    if (value == NULL)
        return NULL;
    Py_ssize_t start = po_after(pk->s, end, pk->n);
    int failed = start == -2 ? PK_REFUSE(pk) : PyDict_SetItem(pk->objects, key, value);
    Py_DECREF(value); /* ``objects`` holds it */
    if (failed < 0 || start < 0)
        return failed < 0 ? NULL : value;
    if (as_length || !PyDict_CheckExact(value)) {
        pk->refused = 1;
        return NULL;
    }
    PyObject *length = pk_get(value, PK_LENGTH);
    if (length == NULL && PyErr_Occurred())
        return NULL;
    if (pk_is_ref(pk, length)) {
        length = pk_object(pk, length, 1);
        if (length == NULL)
            return NULL;
    }
    if (length == NULL || !PyLong_CheckExact(length)) {
        pk->refused = 1;
        return NULL;
    }
    int overflow = 0;
    long long size = PyLong_AsLongLongAndOverflow(length, &overflow);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (overflow || size < 0 || size > pk->max_decoded || size > pk->n - start ||
        !pk_end_stream(pk->s, pk->n, start + (Py_ssize_t)size)) {
        pk->refused = 1;
        return NULL;
    }
    PyObject *span = Py_BuildValue("(nL)", start, size);
    failed = span == NULL || PyDict_SetItem(pk->streams, key, span) < 0;
    Py_XDECREF(span);
    return failed ? NULL : value;
}

/* ``_Plain._dict``: the dictionary ``value`` is or refers to, borrowed. */
static PyObject *pk_dict(PkFile *pk, PyObject *value) {
    PyObject *found = pk_is_ref(pk, value) ? pk_object(pk, value, 0) : value;
    if (found == NULL) {
        if (!PyErr_Occurred())
            pk->refused = 1;
        return NULL;
    }
    if (!PyDict_CheckExact(found)) {
        pk->refused = 1;
        return NULL;
    }
    return found;
}

/* ``_Plain._decode``: 0, or -1 refused or with an error. */
static int pk_decode(PkFile *pk, PyObject *key) {
    int done = PySet_Contains(pk->decoded, key);
    if (done)
        return done < 0 ? -1 : 0;
    PyObject *head = PyDict_GetItemWithError(pk->objects, key);
    PyObject *span = head == NULL ? NULL : PyDict_GetItemWithError(pk->streams, key);
    if (span == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "pdf_plain: a stream not read");
        return -1;
    }
    for (int k = PK_DECODEPARMS; k <= PK_FDECODEPARMS; k++) {
        int has = PyDict_Contains(head, pk_key[k]);
        if (has)
            return has < 0 ? -1 : PK_REFUSE(pk);
    }
    Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
    Py_ssize_t raw = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
    PyObject *method = pk_get(head, PK_FILTER);
    if (method == NULL && PyErr_Occurred())
        return -1;
    long long size;
    if (method == NULL) {
        size = raw;
    } else {
        int flate = pk_name_is(method, PK_FLATE) ||
                    (PyList_CheckExact(method) && PyList_GET_SIZE(method) == 1 &&
                     pk_name_is(PyList_GET_ITEM(method, 0), PK_FLATE));
        if (!flate || pk->left <= 0) /* a max_length of 0 would be no limit */
            return PK_REFUSE(pk);
        PyObject *inflate = PyObject_CallNoArgs(pk->decompressobj);
        if (inflate == NULL)
            return -1;
        PyObject *view =
            PyMemoryView_FromMemory((char *)pk->s + start, raw, PyBUF_READ);
        PyObject *out = view == NULL ? NULL
                                     : PyObject_CallMethod(inflate, "decompress", "OL", view,
                                                           pk->left);
        Py_XDECREF(view);
        if (out == NULL) {
            Py_DECREF(inflate);
            if (PyErr_ExceptionMatches(pk->zlib_error)) {
                PyErr_Clear();
                return PK_REFUSE(pk);
            }
            return -1;
        }
        size = PyObject_Length(out);
        Py_DECREF(out);
        PyObject *tail = size < 0 ? NULL : PyObject_GetAttrString(inflate, "unconsumed_tail");
        Py_DECREF(inflate);
        if (tail == NULL)
            return -1;
        Py_ssize_t rest = PyObject_Length(tail);
        Py_DECREF(tail);
        if (rest < 0)
            return -1;
        if (rest)
            return PK_REFUSE(pk);
    }
    if (size > pk->left)
        return PK_REFUSE(pk);
    if (PySet_Add(pk->decoded, key) < 0)
        return -1;
    pk->left -= size;
    return 0;
}

/* ``_Plain._contents``. */
static int pk_contents(PkFile *pk, PyObject *contents) {
    if (contents == NULL)
        return 0;
    int list = PyList_CheckExact(contents);
    Py_ssize_t count = list ? PyList_GET_SIZE(contents) : 1;
    if (!count || count > 100)
        return PK_REFUSE(pk);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *stream = list ? PyList_GET_ITEM(contents, i) : contents;
        if (!pk_is_ref(pk, stream))
            return PK_REFUSE(pk);
        Py_INCREF(stream); /* a list read may not be the only holder of what it holds */
        int failed = pk_object(pk, stream, 0) == NULL;
        if (!failed) {
            int has = PyDict_Contains(pk->streams, stream);
            failed = has < 0 ? -1 : !has ? PK_REFUSE(pk) : pk_decode(pk, stream);
        }
        Py_DECREF(stream);
        if (failed)
            return -1;
    }
    return 0;
}

typedef struct {
    PyObject *ref, *inherited; /* borrowed */
    Py_ssize_t depth;
} PkTodo;

/* ``_Plain._page_tree``: the resources of every page into *pages (borrowed, NULL for none),
 * *found of them; 0, or -1 refused or with an error. */
static int pk_page_tree(PkFile *pk, PyObject *root, Py_ssize_t max_depth, Py_ssize_t max_nodes,
                        long long max_entries, PyObject ***pages, Py_ssize_t *found) {
    PyObject *seen = PySet_New(NULL);
    PkTodo *todo = PyMem_Malloc(sizeof *todo);
    Py_ssize_t top = 0, room = 1, have = 0, pages_room = 0;
    long long entries = 0;
    int result = -1;
    if (seen == NULL || todo == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    todo[top++] = (PkTodo){root, NULL, 0};
    while (top) {
        PkTodo item = todo[--top];
        int met = pk_is_ref(pk, item.ref) ? PySet_Contains(seen, item.ref) : 1;
        if (met < 0)
            goto done;
        if (met || item.depth > max_depth || PySet_GET_SIZE(seen) == max_nodes) {
            pk->refused = 1;
            goto done;
        }
        if (PySet_Add(seen, item.ref) < 0)
            goto done;
        PyObject *node = pk_dict(pk, item.ref);
        if (node == NULL)
            goto done;
        PyObject *kind = pk_get(node, PK_TYPE);
        PyObject *resources = kind == NULL && PyErr_Occurred() ? NULL : pk_get(node, PK_RESOURCES);
        if (PyErr_Occurred())
            goto done;
        if (resources == NULL)
            resources = item.inherited;
        int has_kids = PyDict_Contains(node, pk_key[PK_KIDS]);
        if (has_kids < 0)
            goto done;
        if (pk_name_is(kind, PK_PAGE) && !has_kids) {
            entries += PyDict_GET_SIZE(node) + 4; /* the 4 attributes a page may inherit */
            if (entries > max_entries) {
                pk->refused = 1;
                goto done;
            }
            if (have == pages_room) {
                Py_ssize_t more = pages_room ? 2 * pages_room : 16;
                PyObject **grown = PyMem_Realloc(*pages, (size_t)more * sizeof *grown);
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                *pages = grown;
                pages_room = more;
            }
            (*pages)[have++] = resources;
            PyObject *contents = pk_get(node, PK_CONTENTS);
            if ((contents == NULL && PyErr_Occurred()) || pk_contents(pk, contents) < 0)
                goto done;
            continue;
        }
        PyObject *kids = pk_get(node, PK_KIDS);
        if (kids == NULL && PyErr_Occurred())
            goto done;
        if (!pk_name_is(kind, PK_PAGES) || kids == NULL || !PyList_CheckExact(kids)) {
            pk->refused = 1;
            goto done;
        }
        for (int k = PK_RESOURCES; k <= PK_ROTATE; k++) {
            /* pypdf resolves what a node hands down, even when every page has its own. */
            PyObject *handed = pk_get(node, k);
            if (handed == NULL && PyErr_Occurred())
                goto done;
            if (pk_is_ref(pk, handed) && pk_object(pk, handed, 0) == NULL)
                goto done;
        }
        Py_ssize_t count = PyList_GET_SIZE(kids);
        if (top + count > room) {
            Py_ssize_t more = 2 * (top + count);
            PkTodo *grown = PyMem_Realloc(todo, (size_t)more * sizeof *grown);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            todo = grown;
            room = more;
        }
        for (Py_ssize_t i = count - 1; i >= 0; i--) /* the first kid on top */
            todo[top++] = (PkTodo){PyList_GET_ITEM(kids, i), resources, item.depth + 1};
    }
    result = 0;
done:
    Py_XDECREF(seen);
    PyMem_Free(todo);
    *found = have;
    return result;
}

/* ``_Plain._fonts``; ``done`` holds the addresses of the font dictionaries gone through. */
static int pk_fonts(PkFile *pk, PyObject *resources, PyObject *done) {
    if (resources == NULL)
        return 0;
    PyObject *dict = pk_dict(pk, resources);
    if (dict == NULL)
        return -1;
    PyObject *fonts = pk_get(dict, PK_FONT);
    if (fonts == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *described_fonts = pk_dict(pk, fonts);
    if (described_fonts == NULL)
        return -1;
    PyObject *id = PyLong_FromVoidPtr(described_fonts);
    if (id == NULL)
        return -1;
    int met = PySet_Contains(done, id);
    int failed = met < 0 || (!met && PySet_Add(done, id) < 0);
    Py_DECREF(id);
    if (failed || met)
        return failed ? -1 : 0;
    Py_ssize_t at = 0;
    PyObject *name, *font;
    while (PyDict_Next(described_fonts, &at, &name, &font)) {
        PyObject *described = pk_dict(pk, font);
        if (described == NULL)
            return -1;
        for (int k = PK_TOUNICODE; k <= PK_DESCENDANT; k++) {
            PyObject *target = pk_get(described, k);
            if (target == NULL && PyErr_Occurred())
                return -1;
            if (!pk_is_ref(pk, target))
                continue;
            Py_INCREF(target);
            int bad = pk_object(pk, target, 0) == NULL;
            if (!bad) {
                int has = PyDict_Contains(pk->streams, target);
                bad = has < 0 || (has && pk_decode(pk, target) < 0);
            }
            Py_DECREF(target);
            if (bad)
                return -1;
        }
    }
    return 0;
}

/* How many times ``/AF`` occurs in s[:n], counted up to 2. */
static int pk_count_af(const unsigned char *s, Py_ssize_t n) {
    int times = 0;
    const unsigned char *at = s, *end = s + n;
    while (times < 2 && end - at >= 3 && (at = memchr(at, '/', (size_t)(end - at - 2))) != NULL) {
        if (at[1] == 'A' && at[2] == 'F')
            times++;
        at++;
    }
    return times;
}

/* ``_Plain._no_other_files``. */
static int pk_no_other_files(PkFile *pk, PyObject *catalog) {
    PyObject *associated = pk_get(catalog, PK_AF);
    if (associated == NULL) {
        if (PyErr_Occurred())
            return -1;
        return pk_count_af(pk->s, pk->n) ? PK_REFUSE(pk) : 0;
    }
    PyObject *names = pk_get(catalog, PK_NAMES);
    PyObject *tree = names != NULL && PyDict_CheckExact(names) ? pk_get(names, PK_EMBEDDED) : NULL;
    PyObject *named = tree != NULL && PyDict_CheckExact(tree) ? pk_get(tree, PK_NAMES) : NULL;
    if (PyErr_Occurred())
        return -1;
    if (pk_count_af(pk->s, pk->n) != 1 || !PyList_CheckExact(associated) || named == NULL ||
        !PyList_CheckExact(named))
        return PK_REFUSE(pk);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(associated); i++)
        if (!pk_is_ref(pk, PyList_GET_ITEM(associated, i)))
            return PK_REFUSE(pk);
    PyObject *listed = PySet_New(NULL);
    if (listed == NULL)
        return -1;
    int result = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(named) && !result; i++)
        if (pk_is_ref(pk, PyList_GET_ITEM(named, i)))
            result = PySet_Add(listed, PyList_GET_ITEM(named, i));
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(associated) && !result; i++) {
        int has = PySet_Contains(listed, PyList_GET_ITEM(associated, i));
        result = has < 0 ? -1 : !has ? PK_REFUSE(pk) : 0;
    }
    Py_DECREF(listed);
    return result;
}

/* ``_TAIL`` searched from the last 64 bytes: where its match begins and the startxref
 * offset, or -1. */
static Py_ssize_t pk_tail(const unsigned char *s, Py_ssize_t n, long long *startxref) {
    Py_ssize_t lo = n > 64 ? n - 64 : 0, i = n;
    if (i >= 1 && s[i - 1] == '\n')
        i -= i >= 2 && s[i - 2] == '\r' ? 2 : 1;
    if (i - lo < 5 || memcmp(s + i - 5, "%%EOF", 5) != 0)
        return -1;
    i -= 5;
    if (i >= 1 && s[i - 1] == '\n')
        i -= i >= 2 && s[i - 2] == '\r' ? 2 : 1;
    else
        return -1;
    Py_ssize_t digits = 0;
    while (i - digits - 1 >= lo && pv_digit(s[i - digits - 1]))
        digits++;
    if (digits < 1 || digits > 10)
        return -1;
    long long value = 0;
    for (Py_ssize_t k = i - digits; k < i; k++)
        value = value * 10 + (s[k] - '0');
    i -= digits;
    if (i >= 1 && s[i - 1] == '\n')
        i -= i >= 2 && s[i - 2] == '\r' ? 2 : 1;
    else
        return -1;
    if (i - lo < 10 || memcmp(s + i - 10, "\nstartxref", 10) != 0)
        return -1;
    i -= 10;
    while (i > lo && pv_space(s[i - 1]))
        i--;
    *startxref = value;
    return i;
}

/* ``_Plain._xref``: the offsets into pk, and the trailer (a new reference), or NULL. */
static PyObject *pk_xref(PkFile *pk, long long start, Py_ssize_t end, Py_ssize_t entries_every) {
    const unsigned char *s = pk->s;
    Py_ssize_t n = pk->n;
    if (start <= 0 || start > n || !pv_space(s[start - 1]) || n - start < 7 ||
        memcmp(s + start, "xref", 4) != 0)
        goto refuse;
    Py_ssize_t i = (Py_ssize_t)start + 4;
    if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
        i += 2;
    else if (s[i] == '\n')
        i += 1;
    else
        goto refuse;
    if (n - i < 2 || s[i] != '0' || s[i + 1] != ' ')
        goto refuse;
    i += 2;
    Py_ssize_t digits = 0;
    while (i + digits < n && digits <= 7 && pv_digit(s[i + digits]))
        digits++;
    if (digits < 1 || digits > 7)
        goto refuse;
    Py_ssize_t count = 0;
    for (Py_ssize_t k = 0; k < digits; k++)
        count = count * 10 + (s[i + k] - '0');
    i += digits;
    if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
        i += 2;
    else if (i < n && s[i] == '\n')
        i += 1;
    else
        goto refuse;
    Py_ssize_t first = i;
    if (count < 1 || count > (n - first) / 20)
        goto refuse; /* past the end, the table's trailer cannot follow */
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *e = s + first + 20 * k;
        for (int d = 0; d < 10; d++)
            if (!pv_digit(e[d]))
                goto refuse;
        if (e[10] != ' ' || e[16] != ' ' || (e[17] != 'f' && e[17] != 'n'))
            goto refuse;
        for (int d = 11; d < 16; d++)
            if (!pv_digit(e[d]))
                goto refuse;
        if (!((e[18] == ' ' && (e[19] == '\r' || e[19] == '\n')) ||
              (e[18] == '\r' && e[19] == '\n')))
            goto refuse;
    }
    if (memcmp(s + first, "0000000000 65535 f", 18) != 0)
        goto refuse;
    pk->offsets = PyMem_Malloc((size_t)count * sizeof *pk->offsets);
    if (pk->offsets == NULL)
        return PyErr_NoMemory();
    pk->count = count;
    pk->offsets[0] = -1;
    for (Py_ssize_t number = 1; number < count; number++) {
        if (number % entries_every == 0) {
            PyObject *looked = PyObject_CallNoArgs(pk->check_time);
            if (looked == NULL)
                return NULL;
            Py_DECREF(looked);
        }
        const unsigned char *e = s + first + 20 * number;
        pk->offsets[number] = -1;
        if (e[17] != 'n')
            continue;
        long long offset = 0;
        for (int k = 0; k < 10; k++)
            offset = offset * 10 + (e[k] - '0');
        char head[32];
        int len = snprintf(head, sizeof head, "%zd 0 obj", number);
        if (memcmp(e + 11, "00000", 5) != 0 || offset + len > n ||
            memcmp(s + offset, head, (size_t)len) != 0)
            goto refuse;
        pk->offsets[number] = offset;
        pk->in_use++;
    }
    i = first + 20 * count; /* ``trailer[ \t\r\n]*(?=<<)`` */
    if (n - i < 7 || memcmp(s + i, "trailer", 7) != 0)
        goto refuse;
    i += 7;
    while (i < n && pv_space(s[i]))
        i++;
    if (n - i < 2 || s[i] != '<' || s[i + 1] != '<')
        goto refuse;
    Py_ssize_t after = 0;
    PyObject *trailer = pv_read(s, n, i, pk->ref, pk->other, pk->check_time, pk->opens_every,
                                &pk->opened, &after, &pk->refused);
    if (trailer == NULL)
        return NULL;
    if (after != end || !PyDict_CheckExact(trailer)) {
        Py_DECREF(trailer);
        goto refuse;
    }
    return trailer;
refuse:
    pk->refused = 1;
    return NULL;
}

static int pk_check(PkFile *pk, Py_ssize_t pages, Py_ssize_t *limits, PyObject *read_info) {
    if (pk->n < 5 || memcmp(pk->s, "%PDF-", 5) != 0)
        return PK_REFUSE(pk);
    long long startxref = 0;
    Py_ssize_t tail = pk_tail(pk->s, pk->n, &startxref);
    if (tail < 0)
        return PK_REFUSE(pk);
    PyObject *trailer = pk_xref(pk, startxref, tail, limits[4]);
    if (trailer == NULL)
        return -1;
    int result = -1;
    PyObject **found = NULL;
    PyObject *done = NULL;
    Py_ssize_t count = 0;
    for (int k = PK_PREV; k <= PK_ENCRYPT; k++) {
        int has = PyDict_Contains(trailer, pk_key[k]);
        if (has) {
            if (has > 0)
                pk->refused = 1;
            goto out;
        }
    }
    PyObject *size = pk_get(trailer, PK_SIZE);
    if (size == NULL || !PyLong_CheckExact(size)) {
        pk->refused = !PyErr_Occurred();
        goto out;
    }
    int overflow = 0;
    long long declared = PyLong_AsLongLongAndOverflow(size, &overflow);
    if (overflow || declared != (long long)pk->in_use + 1) {
        pk->refused = !PyErr_Occurred();
        goto out;
    }
    PyObject *root = pk_get(trailer, PK_ROOT);
    PyObject *catalog = PyErr_Occurred() ? NULL : pk_dict(pk, root);
    if (catalog == NULL)
        goto out;
    PyObject *type = pk_get(catalog, PK_TYPE);
    if (!pk_name_is(type, PK_CATALOG)) {
        pk->refused = !PyErr_Occurred();
        goto out;
    }
    /* _no_more_metadata */
    int has = PyDict_Contains(catalog, pk_key[PK_METADATA]);
    if (has) {
        pk->refused = has > 0;
        goto out;
    }
    PyObject *info = pk_get(trailer, PK_INFO);
    if (info == NULL && PyErr_Occurred())
        goto out;
    if (info != NULL) {
        PyObject *described = pk_dict(pk, info);
        if (described == NULL)
            goto out;
        Py_ssize_t at = 0;
        PyObject *key, *value;
        while (PyDict_Next(described, &at, &key, &value)) {
            int known = PySet_Contains(read_info, key);
            if (known <= 0) {
                pk->refused = known == 0;
                goto out;
            }
        }
    }
    if (pk_no_other_files(pk, catalog) < 0)
        goto out;
    PyObject *tree = pk_get(catalog, PK_PAGES);
    if (tree == NULL && PyErr_Occurred())
        goto out;
    if (pk_page_tree(pk, tree, limits[0], limits[2], limits[3], &found, &count) < 0)
        goto out;
    if (count != pages) {
        pk->refused = 1;
        goto out;
    }
    done = PySet_New(NULL);
    if (done == NULL)
        goto out;
    for (Py_ssize_t i = 0; i < count; i++)
        if (pk_fonts(pk, found[i], done) < 0)
            goto out;
    result = 0;
out:
    Py_XDECREF(done);
    PyMem_Free(found);
    Py_DECREF(trailer);
    return result;
}

static PyObject *pdf_plain(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *check_time, *ref, *other, *read_info, *decompressobj, *zlib_error;
    Py_ssize_t pages, limits[6];
    if (!PyArg_ParseTuple(args, "O!nOO!OO!OO(nnnnnn)", &PyBytes_Type, &data, &pages,
                          &check_time, &PyType_Type, &ref, &other, &PyFrozenSet_Type,
                          &read_info, &decompressobj, &zlib_error, &limits[0], &limits[1],
                          &limits[2], &limits[3], &limits[4], &limits[5]))
        return NULL;
    if (limits[4] < 1 || limits[5] < 1 || limits[1] < 0) {
        PyErr_SetString(PyExc_ValueError, "pdf_plain: clock intervals must be positive");
        return NULL;
    }
    for (int k = 0; k < PK_COUNT; k++)
        if (pk_key[k] == NULL && (pk_key[k] = PyBytes_FromString(pk_names[k])) == NULL)
            return NULL;
    PkFile pk = {(const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), ref,
                 other, check_time, decompressobj, zlib_error, limits[5], 0, 0, NULL, 0,
                 PyDict_New(), PyDict_New(), PySet_New(NULL), limits[1], limits[1], 0};
    int result = -1;
    if (pk.objects != NULL && pk.streams != NULL && pk.decoded != NULL) {
        Py_INCREF(data); /* the views of its streams */
        result = pk_check(&pk, pages, limits, read_info);
        Py_DECREF(data);
    }
    Py_XDECREF(pk.objects);
    Py_XDECREF(pk.streams);
    Py_XDECREF(pk.decoded);
    PyMem_Free(pk.offsets);
    if (result < 0 && !pk.refused)
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    if (result < 0 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(result == 0);
}

/* ==== End of pdf_plain ================================================================= */

/* ==== pdf_page_text: a pdf page's text layer in one call (issue 14, seventh round) ========
 *
 * pdfium_bind(functions) takes the addresses of PDFium's FPDF_LoadPage,
 * FPDFPage_GetAnnotCount, FPDFText_LoadPage, FPDFText_CountChars,
 * FPDFText_GetTextIndexFromCharIndex, FPDFText_GetText, FPDFText_ClosePage and FPDF_ClosePage,
 * as pypdfium2 loaded them (extract/pdf.py hands them over once).
 * pdf_page_text(document, index) -> the text of page ``index`` of the document (the address
 * of an FPDF_DOCUMENT) as pdf.py's ``_text_range`` reads it, or None: the page has
 * annotations, or any call fails or answers what the Python path would not take as it is
 * (no page, no text page, no count, a text range of no length, more written than asked) --
 * the caller then reads the page in Python, with its errors.  The same calls as through
 * ctypes, each of which cost 1.4-2.8 us (its arguments converted, the GIL let go and taken
 * back): ten a page.  The GIL is let go once while PDFium works, and the caller holds
 * pdf.py's PDFium lock. */

typedef void *(*pp_load_page_t)(void *, int);
typedef int (*pp_annot_count_t)(void *);
typedef void *(*pp_text_load_t)(void *);
typedef int (*pp_count_chars_t)(void *);
typedef int (*pp_text_index_t)(void *, int);
typedef int (*pp_get_text_t)(void *, int, int, unsigned short *);
typedef void (*pp_close_t)(void *);
typedef unsigned long (*pp_meta_text_t)(void *, const char *, void *, unsigned long);

static struct {
    pp_load_page_t load_page;
    pp_annot_count_t annot_count;
    pp_text_load_t text_load;
    pp_count_chars_t count_chars;
    pp_text_index_t text_index;
    pp_get_text_t get_text;
    pp_close_t close_text;
    pp_close_t close_page;
    pp_meta_text_t meta_text; /* FPDF_GetMetaText, for pdf_meta_texts (NULL: not bound) */
} pp_fn;
static int pp_bound;

static PyObject *pdfium_bind(PyObject *module, PyObject *arg) {
    (void)module;
    void *found[9];
    Py_ssize_t count = PyTuple_Check(arg) ? PyTuple_GET_SIZE(arg) : 0;
    if (count != 8 && count != 9) {
        PyErr_SetString(PyExc_TypeError, "pdfium_bind: a tuple of 8 or 9 function addresses");
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        found[i] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(arg, i));
        if (found[i] == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "pdfium_bind: a null function address");
            return NULL;
        }
    }
    pp_fn.load_page = (pp_load_page_t)found[0];
    pp_fn.annot_count = (pp_annot_count_t)found[1];
    pp_fn.text_load = (pp_text_load_t)found[2];
    pp_fn.count_chars = (pp_count_chars_t)found[3];
    pp_fn.text_index = (pp_text_index_t)found[4];
    pp_fn.get_text = (pp_get_text_t)found[5];
    pp_fn.close_text = (pp_close_t)found[6];
    pp_fn.close_page = (pp_close_t)found[7];
    pp_fn.meta_text = count == 9 ? (pp_meta_text_t)found[8] : NULL;
    pp_bound = 1;
    Py_RETURN_NONE;
}

/* The text range of a text page, as _text_range reads it: its UTF-16 units in *out (malloc'd,
 * *units of them) and 1; 0 when the Python path is to read the page. */
static int pp_range(void *textpage, unsigned short **out, Py_ssize_t *units) {
    int count = pp_fn.count_chars(textpage);
    if (count < 0)
        return 0;
    int first = 0, last = count - 1, first_index = -1, last_index = -1;
    while (first <= last && (first_index = pp_fn.text_index(textpage, first)) == -1)
        first++;
    if (first > last) {
        *out = NULL;
        *units = 0;
        return 1;
    }
    while ((last_index = pp_fn.text_index(textpage, last)) == -1)
        last--; /* stops at ``first`` at the latest, whose index is not -1 */
    long long size = (long long)last_index + 2 - first_index; /* with the NUL */
    /* PDFium writes up to two UTF-16 units a character (one beyond the first plane) and a
     * NUL, whatever the text range: room for them; more than ``size`` goes to Python. */
    long long room = 2 * ((long long)last - first + 1) + 2;
    if (size < 2 || size > INT_MAX / 2 || room > INT_MAX)
        return 0;
    unsigned short *buffer = calloc((size_t)(room > size ? room : size), sizeof *buffer);
    if (buffer == NULL)
        return 0;
    int written = pp_fn.get_text(textpage, first, last - first + 1, buffer);
    if (written < 1 || written > size) {
        free(buffer);
        return 0;
    }
    *out = buffer;
    *units = written - 1;
    return 1;
}

static PyObject *pdf_page_text(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *address;
    int index;
    if (!PyArg_ParseTuple(args, "Oi", &address, &index))
        return NULL;
    if (!pp_bound) {
        PyErr_SetString(PyExc_RuntimeError, "pdf_page_text: pdfium_bind was not called");
        return NULL;
    }
    void *document = PyLong_AsVoidPtr(address);
    if (document == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "pdf_page_text: a null document");
        return NULL;
    }
    unsigned short *text = NULL;
    Py_ssize_t units = 0;
    int read = 0;
    Py_BEGIN_ALLOW_THREADS
    void *page = pp_fn.load_page(document, index);
    if (page != NULL) {
        if (pp_fn.annot_count(page) == 0) {
            void *textpage = pp_fn.text_load(page);
            if (textpage != NULL) {
                read = pp_range(textpage, &text, &units);
                pp_fn.close_text(textpage);
            }
        }
        pp_fn.close_page(page);
    }
    Py_END_ALLOW_THREADS
    if (!read)
        Py_RETURN_NONE;
    if (text == NULL)
        return PyUnicode_New(0, 0);
    int order = -1; /* little-endian, a byte order mark kept: codecs' "utf-16-le" */
    PyObject *result =
        PyUnicode_DecodeUTF16((const char *)text, units * 2, "ignore", &order);
    free(text);
    return result;
}

/* pdf_meta_texts(document, keys) -> the Info entries ``keys`` (bytes) of the document as
 * pdf_hidden's ``_string`` reads each through ctypes (FPDF_GetMetaText asked its size, then
 * into a buffer of that size, decoded as UTF-16-LE without its terminator, errors ignored;
 * "" for a size of 2 or less): six calls through ctypes and their Python, 12 us of a 3-page
 * pdf, in one.  The caller holds pdf.py's PDFium lock; PDFium is called with the GIL held
 * (each call a lookup in the Info dictionary). */
static PyObject *pdf_meta_texts(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *address, *keys;
    if (!PyArg_ParseTuple(args, "OO!", &address, &PyTuple_Type, &keys))
        return NULL;
    if (!pp_bound || pp_fn.meta_text == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pdf_meta_texts: FPDF_GetMetaText is not bound");
        return NULL;
    }
    void *document = PyLong_AsVoidPtr(address);
    if (document == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "pdf_meta_texts: a null document");
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(keys);
    PyObject *out = PyTuple_New(count);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyBytes_Check(key) || (Py_ssize_t)strlen(PyBytes_AS_STRING(key)) !=
                                       PyBytes_GET_SIZE(key)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "pdf_meta_texts: keys are bytes without NUL");
            return NULL;
        }
        unsigned long size = pp_fn.meta_text(document, PyBytes_AS_STRING(key), NULL, 0);
        PyObject *text;
        if (size <= 2) {
            text = PyUnicode_New(0, 0);
        } else {
            /* room for size bytes rounded up, as PDFium may write them all */
            size_t units = size / 2 + 1;
            unsigned short *buffer = calloc(units, sizeof *buffer);
            if (buffer == NULL) {
                Py_DECREF(out);
                return PyErr_NoMemory();
            }
            pp_fn.meta_text(document, PyBytes_AS_STRING(key), buffer, size);
            int order = -1; /* little-endian, a byte order mark kept: codecs' "utf-16-le" */
            text = PyUnicode_DecodeUTF16((const char *)buffer, (Py_ssize_t)(size / 2 - 1) * 2,
                                         "ignore", &order);
            free(buffer);
        }
        if (text == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, text);
    }
    return out;
}

/* ==== End of pdf_page_text ============================================================= */

/* ---- packed_members: every member's compressed bytes (issue 14, seventh round) ----
 *
 * packed_members(data, infos) -> for each ZipInfo of ``infos`` (members of the zip on
 * ``data``, through archive.open_zip), what archive.plain_packed returns for it, or None
 * where it raises NotPlain: the local header signed PK\3\4, its name (ASCII; else UTF-8 by
 * its flag, cp437 without) the central directory's ``orig_filename``, no encryption or patch
 * flag, method stored or deflated, and the whole stream inside ``data``.  A header or name
 * past the end of ``data`` (open_zip's overlap guard refuses those first) and an attribute
 * that is not an int or str as zipfile makes it give None too: the member is then read
 * through zipfile, which decides.  plain_packed in Python cost a docx's 17 members 20 us
 * (tests/engine/extract/test_office_packed.py compares the two). */

enum { PM_LOCAL = 30, PM_PLAIN_FLAGS = 0x1 | 0x20 | 0x40, PM_UTF8 = 0x800 };

/* An int attribute of ``info`` in [0, limit], or -1 (an error cleared: not plain). */
static long long pm_int(PyObject *info, const char *name, long long limit) {
    PyObject *value = PyObject_GetAttrString(info, name);
    if (value == NULL) {
        PyErr_Clear();
        return -1;
    }
    long long out = PyLong_Check(value) ? PyLong_AsLongLong(value) : -1;
    Py_DECREF(value);
    if (out == -1 && PyErr_Occurred())
        PyErr_Clear();
    return out < 0 || out > limit ? -1 : out;
}

/* Whether the local name at ``name`` is ``info.orig_filename``; -1 on a memory error. */
static int pm_same_name(PyObject *info, const unsigned char *name, Py_ssize_t len,
                        unsigned flags) {
    PyObject *orig = PyObject_GetAttrString(info, "orig_filename");
    if (orig == NULL) {
        PyErr_Clear();
        return 0;
    }
    int ascii = 1;
    for (Py_ssize_t k = 0; k < len && ascii; k++)
        ascii = name[k] < 0x80;
    int same = 0;
    if (!PyUnicode_Check(orig)) {
        same = 0;
    } else if (ascii) {
        same = PyUnicode_IS_ASCII(orig) && PyUnicode_GET_LENGTH(orig) == len &&
               memcmp(PyUnicode_DATA(orig), name, (size_t)len) == 0;
    } else {
        PyObject *local = PyUnicode_Decode((const char *)name, len,
                                           flags & PM_UTF8 ? "utf-8" : "cp437", NULL);
        if (local == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                Py_DECREF(orig);
                return -1;
            }
            PyErr_Clear(); /* plain_packed: NotPlain */
        } else {
            same = PyUnicode_Compare(local, orig) == 0;
            Py_DECREF(local);
            if (PyErr_Occurred()) {
                Py_DECREF(orig);
                return -1;
            }
        }
    }
    Py_DECREF(orig);
    return same;
}

/* One member's compressed bytes; None where not plain; NULL on a memory error. */
static PyObject *pm_member(const unsigned char *s, Py_ssize_t n, PyObject *info) {
    long long start = pm_int(info, "header_offset", (long long)n);
    long long bits = pm_int(info, "flag_bits", 0xFFFF);
    long long method = pm_int(info, "compress_type", 0xFFFF);
    long long packed = pm_int(info, "compress_size", (long long)n);
    if (start < 0 || bits < 0 || method < 0 || packed < 0 || n - start < PM_LOCAL ||
        memcmp(s + start, "PK\x03\x04", 4) != 0 || bits & PM_PLAIN_FLAGS ||
        (method != 0 && method != 8))
        Py_RETURN_NONE;
    const unsigned char *local = s + start;
    unsigned flags = (unsigned)ze_u16(local + 6);
    Py_ssize_t name_len = ze_u16(local + 26), extra_len = ze_u16(local + 28);
    Py_ssize_t at = (Py_ssize_t)start + PM_LOCAL;
    /* Sliced as Python slices: cut at the end of ``data`` */
    int same = pm_same_name(info, s + at, name_len < n - at ? name_len : n - at, flags);
    if (same < 0)
        return NULL;
    at += name_len + extra_len;
    if (!same || (Py_ssize_t)packed > (at < n ? n - at : 0))
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(at < n ? (const char *)s + at : "", (Py_ssize_t)packed);
}

static PyObject *packed_members(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *infos;
    if (!PyArg_ParseTuple(args, "O!O!", &PyBytes_Type, &data, &PyList_Type, &infos))
        return NULL;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), count = PyList_GET_SIZE(infos);
    PyObject *out = PyList_New(count);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        /* A list item's reference is borrowed: the attribute reads below run no Python
         * code of ours, but hold it anyway (a hostile __getattr__ could shrink the list). */
        if (i >= PyList_GET_SIZE(infos)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_RuntimeError, "packed_members: infos changed");
            return NULL;
        }
        PyObject *info = Py_NewRef(PyList_GET_ITEM(infos, i));
        PyObject *packed = pm_member(s, n, info);
        Py_DECREF(info);
        if (packed == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, packed);
    }
    return out;
}

/* ==== End of packed_members ============================================================ */
/* ---- overlap_fault: archive.overlap_fault's loop in one call (issue 14, seventh round) ----
 *
 * overlap_fault(data, infos, cd_start) -> 0 where every member's local header lies inside
 * ``data``, is signed PK\3\4 and its header, name, extra field and compressed data end
 * before the next member's header (or ``cd_start`` for the last), in the order of their
 * header offsets (ties in list order, as Python's stable sort leaves them); else the fault
 * of the first member that fails, as archive.overlap_fault's loop gives it: 1 header
 * outside the archive, 2 bad member header, 3 overlapping entries.  None where an offset,
 * size or the directory's start is no int in [0, 2**62) (the start: in [-2**62, 2**62)) or
 * memory runs out: the Python loop decides.  The loop in Python cost a docx's 17 members as
 * much as reading its central directory. */

typedef struct {
    long long offset, packed;
    Py_ssize_t index;
} OfMember;

static int of_order(const void *a, const void *b) {
    const OfMember *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static PyObject *overlap_fault(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *infos, *where;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyBytes_Type, &data, &PyList_Type, &infos,
                          &PyLong_Type, &where))
        return NULL;
    long long cd_start = PyLong_AsLongLong(where);
    if (cd_start == -1 && PyErr_Occurred()) {
        PyErr_Clear(); /* out of range: the Python loop decides */
        Py_RETURN_NONE;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(data);
    long long n = PyBytes_GET_SIZE(data);
    Py_ssize_t count = PyList_GET_SIZE(infos);
    const long long limit = 1LL << 62;
    OfMember *members = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(OfMember));
    if (members == NULL)
        Py_RETURN_NONE;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *info = i < PyList_GET_SIZE(infos) ? PyList_GET_ITEM(infos, i) : NULL;
        if (info == NULL) {
            PyMem_Free(members);
            Py_RETURN_NONE;
        }
        Py_INCREF(info);
        members[i].offset = pm_int(info, "header_offset", limit - 1);
        members[i].packed = pm_int(info, "compress_size", limit - 1);
        members[i].index = i;
        Py_DECREF(info);
        if (members[i].offset < 0 || members[i].packed < 0) {
            PyMem_Free(members);
            Py_RETURN_NONE;
        }
    }
    if (cd_start < -limit || cd_start >= limit) {
        PyMem_Free(members);
        Py_RETURN_NONE;
    }
    qsort(members, (size_t)count, sizeof(OfMember), of_order);
    long fault = 0;
    for (Py_ssize_t i = 0; i < count && !fault; i++) {
        long long start = members[i].offset;
        long long end = i + 1 < count ? members[i + 1].offset : cd_start;
        if (start + PM_LOCAL > n) {
            fault = 1;
        } else if (memcmp(s + start, "PK\x03\x04", 4) != 0) {
            fault = 2;
        } else {
            long long name_len = ze_u16(s + start + 26), extra_len = ze_u16(s + start + 28);
            if (start + PM_LOCAL + name_len + extra_len + members[i].packed > end)
                fault = 3;
        }
    }
    PyMem_Free(members);
    return PyLong_FromLong(fault);
}

/* ==== End of overlap_fault ============================================================= */
