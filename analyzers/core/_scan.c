/* The optional C scanner of trace lines (`scan.py` loads it; `tableload.py` uses it).

It reads a stretch of a trace file's lines and accepts it only if every line is a START or an
END in the shape racetrace's tracer writes: one JSON object per line, no whitespace, strings of
printable ASCII without escapes, integers without sign tricks, leading zeros, fractions or
exponents, each key once, only the keys the loader knows (the detail keys it skips are checked
to be JSON of that same narrow kind). Anything else (a header, damage, text that is not plain
ASCII, a float, a key it does not know) rejects the whole stretch, which the caller then decodes
with msgspec exactly as before: what is accepted is a strict subset of what msgspec accepts,
decoded to the same values.

A stretch is taken in two steps, so that a stretch the caller turns down after all (a repeated
run id, an END whose run is not open) leaves nothing behind: `parse` checks every line and
returns what the caller needs to decide (the run ids, the times, the rare fields), and `take`
then interns the strings (into the table's `Interner`s, through a cache of their bytes, so that
no Python object is made per run for a string that becomes an integer) and appends the STARTs'
fields to machine buffers that `flush` hands over as bytes, one set per block of the file.
Everything runs with the GIL held; every read is bounded by the end of the stretch.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

typedef const unsigned char *Ptr;

/* -- growable byte buffers ----------------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t size, cap;
} Buf;

static int buf_room(Buf *b, Py_ssize_t more) {
    if (b->size + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->size + more) cap *= 2;
    char *grown = PyMem_Realloc(b->data, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *p, Py_ssize_t n) {
    if (buf_room(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->size, p, (size_t)n);
    b->size += n;
    return 0;
}

/* Append a value of type T to a buffer, or return -1 from the caller. */
#define PUT(b, T, v)                                          \
    do {                                                      \
        T put_value_ = (v);                                   \
        if (buf_put((b), &put_value_, sizeof put_value_) < 0) \
            return -1;                                        \
    } while (0)

static void buf_free(Buf *b) {
    PyMem_Free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

/* -- a cache of an Interner: the bytes of a string -> its number ---------------------------- */

typedef struct {
    uint64_t hash;
    Py_ssize_t off, len; /* the string's bytes in `keys` */
    int32_t id;
    int used;
} Slot;

typedef struct {
    PyObject *interner; /* a dict (subclass) whose __missing__ numbers new strings */
    Slot *slots;
    Py_ssize_t mask, count;
    Buf keys;
} Cache;

static uint64_t fnv(Ptr s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static int cache_grow(Cache *c) {
    Py_ssize_t size = c->slots ? 2 * (c->mask + 1) : 64;
    Slot *slots = PyMem_Calloc((size_t)size, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (c->slots) {
        for (Py_ssize_t i = 0; i <= c->mask; i++) {
            if (!c->slots[i].used) continue;
            Py_ssize_t j = (Py_ssize_t)(c->slots[i].hash & (uint64_t)(size - 1));
            while (slots[j].used) j = (j + 1) & (size - 1);
            slots[j] = c->slots[i];
        }
        PyMem_Free(c->slots);
    }
    c->slots = slots;
    c->mask = size - 1;
    return 0;
}

/* The number of the string `s[:n]` (ASCII), asked of the interner on first sight. */
static int cache_id(Cache *c, Ptr s, Py_ssize_t n, int32_t *out) {
    if (c->slots == NULL || 2 * (c->count + 1) > c->mask + 1) {
        if (cache_grow(c) < 0) return -1;
    }
    uint64_t h = fnv(s, n);
    Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)c->mask);
    while (c->slots[j].used) {
        Slot *slot = &c->slots[j];
        /* (An empty string is stored as no bytes: `keys.data` may still be NULL, which
           memcmp must not be given even for 0 bytes.) */
        if (slot->hash == h && slot->len == n
            && (n == 0 || memcmp(c->keys.data + slot->off, s, (size_t)n) == 0)) {
            *out = slot->id;
            return 0;
        }
        j = (j + 1) & c->mask;
    }
    PyObject *text = PyUnicode_FromStringAndSize((const char *)s, n);
    if (text == NULL) return -1;
    PyObject *number = PyObject_GetItem(c->interner, text);
    Py_DECREF(text);
    if (number == NULL) return -1;
    long id = PyLong_AsLong(number);
    Py_DECREF(number);
    if (id == -1 && PyErr_Occurred()) return -1;
    if (id < 0 || id > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "racetrace: an interned number out of range");
        return -1;
    }
    Py_ssize_t off = c->keys.size;
    if (buf_put(&c->keys, s, n) < 0) return -1;
    Slot *slot = &c->slots[j];
    slot->hash = h;
    slot->off = off;
    slot->len = n;
    slot->id = (int32_t)id;
    slot->used = 1;
    c->count++;
    *out = (int32_t)id;
    return 0;
}

/* -- one line's fields --------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t off; /* into the stretch's buffer */
    Py_ssize_t len; /* -1: absent or null */
} Span;

enum { STR_INSTANCE, STR_RESOURCE, STR_METHOD, STR_HOST, STR_FILE, STR_TASK, STR_PARENT,
       STR_CREATOR, STR_FAN, STR_RUN_ID, STR_STATUS, STR_REASON, STR_ERROR_TYPE,
       STR_ERROR_MESSAGE, N_STR };
enum { INT_START, INT_PID, INT_THREAD, INT_THREAD_STARTED, INT_TASK_CREATED, INT_LINE,
       INT_END, N_INT };

typedef struct {
    char end; /* 0: a START, 1: an END */
    int8_t stateful; /* -1 unknown */
    uint8_t outlives, loop;
    uint8_t has_int[N_INT];
    int64_t ints[N_INT];
    uint64_t rid;
    Span strs[N_STR];
} Rec;

/* What a key's value may be. */
enum { K_TYPE, K_STR, K_OSTR, K_NS, K_INT, K_OINT, K_BOOL, K_OBOOL, K_SKIP };
enum { FOR_START = 1, FOR_END = 2, FOR_BOTH = 3 };

typedef struct {
    const char *name;
    int kind, field, lines;
} Key;

/* docs/trace-format.md; model.Run, model.End, records.RunDetails: the keys each decodes. */
static const Key KEYS[] = {
    {"type", K_TYPE, 0, FOR_BOTH},
    {"run_id", K_STR, STR_RUN_ID, FOR_BOTH},
    {"trace_id", K_SKIP, 0, FOR_START},
    {"parent_span_id", K_SKIP, 0, FOR_START},
    {"name", K_STR, STR_METHOD, FOR_START},
    {"start_ns", K_NS, INT_START, FOR_START},
    {"racetrace.instance.key", K_STR, STR_INSTANCE, FOR_START},
    {"racetrace.instance.class", K_SKIP, 0, FOR_START},
    {"racetrace.instance.id", K_SKIP, 0, FOR_START},
    {"process.pid", K_INT, INT_PID, FOR_START},
    {"host.name", K_STR, STR_HOST, FOR_START},
    {"racetrace.instance.label", K_SKIP, 0, FOR_START},
    {"thread.id", K_OINT, INT_THREAD, FOR_START},
    {"thread.name", K_SKIP, 0, FOR_START},
    {"racetrace.thread.started_ns", K_OINT, INT_THREAD_STARTED, FOR_START},
    {"racetrace.thread.started_by", K_SKIP, 0, FOR_START},
    {"racetrace.task.name", K_SKIP, 0, FOR_START},
    {"racetrace.task.id", K_OSTR, STR_TASK, FOR_START},
    {"racetrace.task.created_at", K_SKIP, 0, FOR_START},
    {"racetrace.task.created_ns", K_OINT, INT_TASK_CREATED, FOR_START},
    {"racetrace.task.created_by_task", K_SKIP, 0, FOR_START},
    {"racetrace.task.created_by_run", K_OSTR, STR_CREATOR, FOR_START},
    {"code.function.name", K_SKIP, 0, FOR_START},
    {"code.file.path", K_OSTR, STR_FILE, FOR_START},
    {"code.line.number", K_OINT, INT_LINE, FOR_START},
    {"racetrace.stack", K_SKIP, 0, FOR_START},
    {"racetrace.parent_run", K_OSTR, STR_PARENT, FOR_START},
    {"racetrace.fan_out_of", K_OSTR, STR_FAN, FOR_START},
    {"racetrace.resource.key", K_OSTR, STR_RESOURCE, FOR_START},
    {"racetrace.stateful", K_OBOOL, 0, FOR_START},
    {"racetrace.outlives_call", K_BOOL, 1, FOR_START},
    {"racetrace.loop.running", K_BOOL, 2, FOR_START},
    {"racetrace.loop.own", K_SKIP, 0, FOR_START},
    {"racetrace.args", K_SKIP, 0, FOR_START},
    {"racetrace.instance.created_at", K_SKIP, 0, FOR_START},
    {"racetrace.instance.created_in", K_SKIP, 0, FOR_START},
    {"racetrace.instance.created_scope", K_SKIP, 0, FOR_START},
    {"gen_ai.operation.name", K_SKIP, 0, FOR_START}, /* known to no struct: msgspec skips */
    {"gen_ai.agent.name", K_SKIP, 0, FOR_START},
    {"gen_ai.agent.id", K_SKIP, 0, FOR_START},
    {"end_ns", K_NS, INT_END, FOR_END},
    {"racetrace.end.status", K_STR, STR_STATUS, FOR_END},
    {"racetrace.end.reason", K_OSTR, STR_REASON, FOR_END},
    {"error.type", K_OSTR, STR_ERROR_TYPE, FOR_END},
    {"exception.message", K_OSTR, STR_ERROR_MESSAGE, FOR_END},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0])) /* at most 64: a bit each */
static Py_ssize_t key_len[N_KEYS];
/* Each key as it stands in a line, `"name":`: a line that holds those bytes holds that key
   (a known name has no quote, backslash or control character), with no scan of it. */
#define MAX_QUOTED 48
static char quoted[N_KEYS][MAX_QUOTED];
static Py_ssize_t quoted_len[N_KEYS];

/* -- the JSON this scanner accepts ------------------------------------------------------------ */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO(v) (((v) - ONES) & ~(v) & HIGHS)

/* A string at *pp ('"' there): printable ASCII without '"' or '\\' up to the closing quote.
   0 and *pp past it, or -1. */
static int scan_string(Ptr *pp, Ptr end, Span *span, Ptr origin) {
    Ptr p = *pp + 1;
    Ptr first = p;
    for (;;) {
#if defined(__SSE2__) && defined(__GNUC__)
        /* Sixteen bytes at a time, to the first special one: signed, a byte of 0x80 or more
           is below 0x20 too. */
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));
            int mask = _mm_movemask_epi8(special);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        /* Eight bytes at a time while none of them is special. */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t special = ((w - 0x2020202020202020ULL) & ~w & HIGHS) /* < 0x20 */
                               | (w & HIGHS)                                 /* >= 0x80 */
                               | HAS_ZERO(w ^ 0x7f7f7f7f7f7f7f7fULL)
                               | HAS_ZERO(w ^ 0x2222222222222222ULL)        /* '"' */
                               | HAS_ZERO(w ^ 0x5c5c5c5c5c5c5c5cULL);       /* '\\' */
            if (special) break;
            p += 8;
        }
        if (p >= end) return -1;
        unsigned char c = *p;
        if (c == '"') break;
        if (c < 0x20 || c >= 0x7f || c == '\\') return -1;
        p++;
    }
    if (span != NULL) {
        span->off = first - origin;
        span->len = p - first;
    }
    *pp = p + 1;
    return 0;
}

/* An integer at *pp: -?(0|[1-9][0-9]*) within 64 bits, followed by ',' '}' or ']'. */
static int scan_int(Ptr *pp, Ptr end, int64_t *out) {
    Ptr p = *pp;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    Ptr digits = p;
    uint64_t value = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (p - digits >= 19) return -1; /* 20 digits or more: not for us */
        value = value * 10 + (uint64_t)(*p - '0');
        p++;
    }
    Py_ssize_t n = p - digits;
    if (n == 0 || (n > 1 && *digits == '0') || p >= end) return -1;
    if (*p != ',' && *p != '}' && *p != ']') return -1;
    if (negative) {
        if (value == 0 || value > (uint64_t)INT64_MAX + 1) return -1;
        *out = value == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)value;
    } else {
        if (value > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)value;
    }
    *pp = p;
    return 0;
}

static int scan_word(Ptr *pp, Ptr end, const char *word, Py_ssize_t n) {
    if (end - *pp < n || memcmp(*pp, word, (size_t)n) != 0) return -1;
    *pp += n;
    return 0;
}

#define MAX_DEPTH 16

/* Any value of the accepted kind, its content unused (a detail field's). */
static int skip_value(Ptr *pp, Ptr end, int depth) {
    if (*pp >= end || depth > MAX_DEPTH) return -1;
    int64_t ignored;
    switch (**pp) {
    case '"':
        return scan_string(pp, end, NULL, NULL);
    case 't':
        return scan_word(pp, end, "true", 4);
    case 'f':
        return scan_word(pp, end, "false", 5);
    case 'n':
        return scan_word(pp, end, "null", 4);
    case '[':
        (*pp)++;
        if (*pp < end && **pp == ']') {
            (*pp)++;
            return 0;
        }
        for (;;) {
            if (skip_value(pp, end, depth + 1) < 0 || *pp >= end) return -1;
            unsigned char c = *(*pp)++;
            if (c == ']') return 0;
            if (c != ',') return -1;
        }
    case '{':
        (*pp)++;
        if (*pp < end && **pp == '}') {
            (*pp)++;
            return 0;
        }
        for (;;) {
            if (*pp >= end || **pp != '"' || scan_string(pp, end, NULL, NULL) < 0) return -1;
            if (*pp >= end || *(*pp)++ != ':') return -1;
            if (skip_value(pp, end, depth + 1) < 0 || *pp >= end) return -1;
            unsigned char c = *(*pp)++;
            if (c == '}') return 0;
            if (c != ',') return -1;
        }
    default:
        return scan_int(pp, end, &ignored);
    }
}

/* `null`: 1 (and *pp past it); else 0. */
static int is_null(Ptr *pp, Ptr end) {
    if (end - *pp >= 4 && memcmp(*pp, "null", 4) == 0) {
        *pp += 4;
        return 1;
    }
    return 0;
}

/* The key `s[:n]`, or -1. */
static int find_key(Ptr s, Py_ssize_t n) {
    for (int i = 0; i < N_KEYS; i++) {
        if (key_len[i] == n && memcmp(KEYS[i].name, s, (size_t)n) == 0) return i;
    }
    return -1;
}

/* 16 lowercase hex digits, not all zero (the tracer's run ids): 0 and the value, or -1. */
static int hex_id(Ptr s, Py_ssize_t n, uint64_t *out) {
    if (n != 16) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char c = s[i];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else return -1;
        v = (v << 4) | (uint64_t)d;
    }
    if (v == 0) return -1;
    *out = v;
    return 0;
}

#define NS_MAX (INT64_MAX - 1) /* records.NS_MAX */

/* One line from *pp (its '{') through its '\n': 0 and the record, or -1 (not for us).
   `follow[k + 1]`: the key met after key k last time (`follow[0]`: the first key). */
static int scan_line(Ptr *pp, Ptr end, Ptr origin, Rec *r, int8_t *follow) {
    Ptr p = *pp;
    uint64_t seen = 0;
    int kind = -1, last = -1;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < N_STR; i++) r->strs[i].len = -1;
    r->stateful = -1;
    if (p >= end || *p++ != '{') return -1;
    for (;;) {
        Span name;
        int k = follow[last + 1];
        if (k >= 0 && end - p >= quoted_len[k]
            && memcmp(p, quoted[k], (size_t)quoted_len[k]) == 0) {
            p += quoted_len[k]; /* the key the writer wrote here last time */
        } else {
            if (p >= end || *p != '"' || scan_string(&p, end, &name, origin) < 0) return -1;
            if (p >= end || *p++ != ':') return -1;
            k = find_key(origin + name.off, name.len);
        }
        if (k < 0 || (seen >> k) & 1) return -1; /* unknown, or said twice */
        follow[last + 1] = (int8_t)k;
        seen |= 1ULL << k;
        last = k;
        const Key *key = &KEYS[k];
        Span value;
        int64_t number;
        switch (key->kind) {
        case K_TYPE:
            if (p >= end || *p != '"' || scan_string(&p, end, &value, origin) < 0) return -1;
            if (value.len == 5 && memcmp(origin + value.off, "start", 5) == 0) kind = 0;
            else if (value.len == 3 && memcmp(origin + value.off, "end", 3) == 0) kind = 1;
            else return -1;
            break;
        case K_OSTR:
            if (is_null(&p, end)) break;
            /* fall through */
        case K_STR:
            if (p >= end || *p != '"' || scan_string(&p, end, &r->strs[key->field], origin) < 0)
                return -1;
            break;
        case K_NS:
            if (scan_int(&p, end, &number) < 0 || number < 0 || number > NS_MAX) return -1;
            r->ints[key->field] = number;
            r->has_int[key->field] = 1;
            break;
        case K_OINT:
            if (is_null(&p, end)) break;
            /* fall through */
        case K_INT:
            if (scan_int(&p, end, &number) < 0) return -1;
            r->ints[key->field] = number;
            r->has_int[key->field] = 1;
            break;
        case K_OBOOL:
            if (is_null(&p, end)) break;
            /* fall through */
        case K_BOOL: {
            int truth;
            if (scan_word(&p, end, "true", 4) == 0) truth = 1;
            else if (scan_word(&p, end, "false", 5) == 0) truth = 0;
            else return -1;
            if (key->field == 0) r->stateful = (int8_t)truth;
            else if (key->field == 1) r->outlives = (uint8_t)truth;
            else r->loop = (uint8_t)truth;
            break;
        }
        default:
            if (skip_value(&p, end, 0) < 0) return -1;
        }
        if (p >= end) return -1;
        unsigned char c = *p++;
        if (c == '}') break;
        if (c != ',') return -1;
    }
    if (p >= end || *p++ != '\n' || kind < 0) return -1;
    int allowed = kind == 0 ? FOR_START : FOR_END;
    for (int k = 0; k < N_KEYS; k++) {
        if ((seen >> k) & 1 && !(KEYS[k].lines & allowed)) return -1;
    }
    r->end = (char)kind;
    if (r->strs[STR_RUN_ID].len < 0) return -1;
    if (kind == 0) {
        if (!r->has_int[INT_START] || r->strs[STR_METHOD].len < 0
            || r->strs[STR_INSTANCE].len < 0)
            return -1;
        Span id = r->strs[STR_RUN_ID];
        if (hex_id(origin + id.off, id.len, &r->rid) < 0) return -1;
        /* An empty resource key or link: msgspec's path (its tests of a stretch's columns
           read "" as none). */
        if (r->strs[STR_RESOURCE].len == 0 || r->strs[STR_PARENT].len == 0
            || r->strs[STR_CREATOR].len == 0)
            return -1;
    } else if (!r->has_int[INT_END]) {
        return -1;
    }
    *pp = p;
    return 0;
}

/* -- the Scanner type -------------------------------------------------------------------------- */

/* The staged START columns, in `flush`'s order, with their item sizes. */
enum { C_START, C_PID, C_INSTANCE, C_RESOURCE, C_METHOD, C_HOST, C_FILE, C_STATEFUL,
       C_OUTLIVES, C_LOOP, C_LINE, C_HAS_LINE, C_THREAD, C_HAS_THREAD, C_THREAD_STARTED,
       C_HAS_THREAD_STARTED, C_TASK_CREATED, C_HAS_TASK_CREATED, C_RID, C_HAS_TASK, C_FAN,
       C_STRETCH, N_COLS };
static const char *COL_NAMES[N_COLS] = {
    "start", "pid", "instance", "resource", "method", "host", "file", "stateful", "outlives",
    "loop", "line", "has_line", "thread", "has_thread", "thread_started", "has_thread_started",
    "task_created", "has_task_created", "rid", "has_task", "fan_out", "stretch"};
enum { I_INSTANCE, I_RESOURCE, I_METHOD, I_HOST, I_FILE, I_STATUS, I_REASON, N_INTERNERS };

typedef struct {
    PyObject_HEAD
    Cache caches[N_INTERNERS];
    Rec *recs; /* the last stretch parsed */
    Py_ssize_t nrecs, caprecs;
    Ptr parsed; /* ... and where: `take` checks it is given the same */
    Py_ssize_t parsed_lo, parsed_hi;
    int8_t follow[N_KEYS + 1]; /* see scan_line */
    Buf cols[N_COLS];
    Buf tasks; /* task keys' bytes, one after the other */
    Buf task_lens; /* Py_ssize_t each; -1: no task */
    Py_ssize_t task_width, staged;
    /* In a method: an interner's `__missing__` (or a finalizer the GC runs) is Python code,
       which could call the scanner again, from this thread or another (it may switch), and
       move `recs` or the columns under the method's feet. */
    int busy;
} Scanner;

/* Enter a method: 0, or -1 with an exception where the scanner is in one already. */
static int enter(Scanner *self) {
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner: called again while in use");
        return -1;
    }
    self->busy = 1;
    return 0;
}

/* Forget the interners' numbers and whatever was parsed or staged. */
static void forget(Scanner *self) {
    for (int i = 0; i < N_INTERNERS; i++) {
        Cache *c = &self->caches[i];
        PyMem_Free(c->slots);
        c->slots = NULL;
        c->mask = c->count = 0;
        buf_free(&c->keys);
    }
    for (int i = 0; i < N_COLS; i++) self->cols[i].size = 0;
    self->tasks.size = self->task_lens.size = 0;
    self->task_width = self->staged = 0;
    self->nrecs = 0;
    self->parsed = NULL;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    PyObject *interners[N_INTERNERS];
    static char *names[] = {"instances", "resources", "methods", "hosts", "files", "statuses",
                            "reasons", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOO", names, &interners[0], &interners[1],
                                     &interners[2], &interners[3], &interners[4], &interners[5],
                                     &interners[6]))
        return -1;
    for (int i = 0; i < N_INTERNERS; i++) {
        if (!PyDict_Check(interners[i])) {
            PyErr_SetString(PyExc_TypeError, "Scanner: each interner must be a dict");
            return -1;
        }
    }
    if (enter(self) < 0) return -1;
    /* Called again (a Python object may be): its cached numbers were the old interners'. */
    forget(self);
    PyObject *old[N_INTERNERS];
    for (int i = 0; i < N_INTERNERS; i++) {
        old[i] = self->caches[i].interner;
        Py_INCREF(interners[i]);
        self->caches[i].interner = interners[i];
    }
    memset(self->follow, -1, sizeof self->follow);
    self->busy = 0;
    for (int i = 0; i < N_INTERNERS; i++) Py_XDECREF(old[i]); /* may run Python code: last */
    return 0;
}

static void Scanner_dealloc(Scanner *self) {
    for (int i = 0; i < N_INTERNERS; i++) {
        Py_XDECREF(self->caches[i].interner);
        PyMem_Free(self->caches[i].slots);
        buf_free(&self->caches[i].keys);
    }
    for (int i = 0; i < N_COLS; i++) buf_free(&self->cols[i]);
    buf_free(&self->tasks);
    buf_free(&self->task_lens);
    PyMem_Free(self->recs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *text_of(Ptr origin, Span s) {
    if (s.len < 0) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize((const char *)origin + s.off, s.len);
}

/* Append `o` (a new reference, or NULL on error) to `list`. */
static int append_new(PyObject *list, PyObject *o) {
    if (o == NULL) return -1;
    int failed = PyList_Append(list, o);
    Py_DECREF(o);
    return failed;
}

static PyObject *bytes_of_ints(const int64_t *values, Py_ssize_t n) {
    return PyBytes_FromStringAndSize((const char *)values, n * (Py_ssize_t)sizeof(int64_t));
}

/* parse(data, lo, hi): the lines of data[lo:hi], or None where one is not for this scanner.
   Else (start ids, end ids, start_ns, end_ns, links, resourced, looping, failed):
   the run ids (str) of the STARTs and of the ENDs in line order; their times (int64 bytes);
   (i, parent, created by, fan-out of) of the STARTs with any; the indexes of the STARTs with
   a resource key and of those on a running loop; (j, error type, error message) of the ENDs
   whose status is not "ok". */
/* Whether __init__ gave the scanner its interners (else, an exception). */
static int ready(Scanner *self) {
    if (self->caches[0].interner != NULL) return 1;
    PyErr_SetString(PyExc_ValueError, "Scanner: not initialized");
    return 0;
}

static PyObject *Scanner_parse(Scanner *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t lo, hi;
    if (!ready(self) || !PyArg_ParseTuple(args, "y*nn", &view, &lo, &hi)) return NULL;
    if (enter(self) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    PyObject *result = NULL;
    int64_t *times = NULL;
    self->nrecs = 0;
    self->parsed = NULL;
    if (lo < 0 || hi > view.len || lo > hi) {
        PyErr_SetString(PyExc_ValueError, "parse: lo:hi out of the buffer");
        goto done;
    }
    Ptr origin = (Ptr)view.buf;
    Ptr p = origin + lo, end = origin + hi;
    Py_ssize_t starts = 0;
    while (p < end) {
        if (self->nrecs == self->caprecs) {
            Py_ssize_t cap = self->caprecs ? 2 * self->caprecs : 256;
            Rec *grown = PyMem_Realloc(self->recs, (size_t)cap * sizeof(Rec));
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            self->recs = grown;
            self->caprecs = cap;
        }
        Rec *r = &self->recs[self->nrecs];
        if (scan_line(&p, end, origin, r, self->follow) < 0) {
            self->nrecs = 0;
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        starts += !r->end;
        self->nrecs++;
    }
    Py_ssize_t n = self->nrecs, ends = n - starts;
    times = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (times == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *start_ids = PyList_New(starts), *end_ids = PyList_New(ends);
    PyObject *links = PyList_New(0), *resourced = PyList_New(0), *looping = PyList_New(0);
    PyObject *failed = PyList_New(0);
    PyObject *start_ns = NULL, *end_ns = NULL;
    if (!start_ids || !end_ids || !links || !resourced || !looping || !failed) goto fail;
    Py_ssize_t i = 0, j = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        Rec *r = &self->recs[k];
        PyObject *id = text_of(origin, r->strs[STR_RUN_ID]);
        if (id == NULL) goto fail;
        if (!r->end) {
            PyList_SET_ITEM(start_ids, i, id);
            times[i] = r->ints[INT_START];
            if (r->strs[STR_PARENT].len >= 0 || r->strs[STR_CREATOR].len >= 0
                || r->strs[STR_FAN].len >= 0) {
                if (append_new(links, Py_BuildValue(
                        "(nNNN)", i, text_of(origin, r->strs[STR_PARENT]),
                        text_of(origin, r->strs[STR_CREATOR]),
                        text_of(origin, r->strs[STR_FAN]))) < 0)
                    goto fail;
            }
            if (r->strs[STR_RESOURCE].len >= 0 && append_new(resourced, PyLong_FromSsize_t(i)) < 0)
                goto fail;
            if (r->loop && append_new(looping, PyLong_FromSsize_t(i)) < 0) goto fail;
            i++;
        } else {
            PyList_SET_ITEM(end_ids, j, id);
            times[starts + j] = r->ints[INT_END];
            Span status = r->strs[STR_STATUS];
            if (status.len >= 0 && !(status.len == 2 && memcmp(origin + status.off, "ok", 2) == 0)) {
                if (append_new(failed, Py_BuildValue(
                        "(nNN)", j, text_of(origin, r->strs[STR_ERROR_TYPE]),
                        text_of(origin, r->strs[STR_ERROR_MESSAGE]))) < 0)
                    goto fail;
            }
            j++;
        }
    }
    start_ns = bytes_of_ints(times, starts);
    end_ns = bytes_of_ints(times + starts, ends);
    if (!start_ns || !end_ns) goto fail;
    result = PyTuple_Pack(8, start_ids, end_ids, start_ns, end_ns, links, resourced, looping,
                          failed);
    if (result != NULL) {
        self->parsed = origin;
        self->parsed_lo = lo;
        self->parsed_hi = hi;
    }
fail:
    Py_XDECREF(start_ids);
    Py_XDECREF(end_ids);
    Py_XDECREF(links);
    Py_XDECREF(resourced);
    Py_XDECREF(looping);
    Py_XDECREF(failed);
    Py_XDECREF(start_ns);
    Py_XDECREF(end_ns);
done:
    if (result == NULL || result == Py_None) self->nrecs = 0;
    PyMem_Free(times);
    PyBuffer_Release(&view);
    self->busy = 0;
    return result;
}

static int intern(Scanner *self, int which, Ptr origin, Span s, int32_t *out) {
    if (s.len < 0) {
        *out = -1; /* Interner: None is -1 */
        return 0;
    }
    return cache_id(&self->caches[which], origin + s.off, s.len, out);
}

static int stage(Scanner *self, Ptr origin, Rec *r, int32_t stretch) {
    Buf *c = self->cols;
    int32_t id;
    PUT(&c[C_START], int64_t, r->ints[INT_START]);
    PUT(&c[C_PID], int64_t, r->ints[INT_PID]);
    static const int which[] = {I_INSTANCE, I_RESOURCE, I_METHOD, I_HOST, I_FILE};
    static const int field[] = {STR_INSTANCE, STR_RESOURCE, STR_METHOD, STR_HOST, STR_FILE};
    static const int into[] = {C_INSTANCE, C_RESOURCE, C_METHOD, C_HOST, C_FILE};
    for (int i = 0; i < 5; i++) {
        Span s = r->strs[field[i]];
        if (field[i] == STR_HOST && s.len < 0) s.len = 0; /* Run.host defaults to "" */
        if (intern(self, which[i], origin, s, &id) < 0) return -1;
        PUT(&c[into[i]], int32_t, id);
    }
    PUT(&c[C_STATEFUL], int8_t, r->stateful);
    PUT(&c[C_OUTLIVES], int8_t, (int8_t)r->outlives);
    PUT(&c[C_LOOP], int8_t, (int8_t)r->loop);
    static const int ints[] = {INT_LINE, INT_THREAD, INT_THREAD_STARTED, INT_TASK_CREATED};
    static const int cols[] = {C_LINE, C_THREAD, C_THREAD_STARTED, C_TASK_CREATED};
    for (int i = 0; i < 4; i++) {
        PUT(&c[cols[i]], int64_t, r->ints[ints[i]]); /* 0 where absent, as `_nullable` fills */
        PUT(&c[cols[i] + 1], int8_t, (int8_t)r->has_int[ints[i]]);
    }
    PUT(&c[C_RID], uint64_t, r->rid);
    Span task = r->strs[STR_TASK];
    PUT(&c[C_HAS_TASK], int8_t, (int8_t)(task.len >= 0));
    PUT(&c[C_FAN], int8_t, (int8_t)(r->strs[STR_FAN].len >= 0));
    PUT(&c[C_STRETCH], int32_t, stretch);
    Py_ssize_t len = task.len;
    PUT(&self->task_lens, Py_ssize_t, len);
    if (len > 0) {
        if (buf_put(&self->tasks, origin + task.off, len) < 0) return -1;
        if (len > self->task_width) self->task_width = len;
    }
    self->staged++;
    return 0;
}

/* take(data, stretch): stage the STARTs of the stretch `parse` accepted last (`stretch`: the
   number of its `Origin`), interning their strings; the ENDs' status and reason numbers
   (int32 bytes, in line order). */
static PyObject *Scanner_take(Scanner *self, PyObject *args) {
    Py_buffer view;
    int stretch;
    if (!ready(self) || !PyArg_ParseTuple(args, "y*i", &view, &stretch)) return NULL;
    if (enter(self) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    PyObject *result = NULL;
    Buf codes = {0}, reasons = {0};
    Ptr origin = (Ptr)view.buf;
    /* All or nothing: where a string's interning fails midway (its interner raising, or no
       memory), the STARTs staged by this call are taken back, so that every column still
       holds `staged` values (a START is staged column by column). */
    Py_ssize_t sizes[N_COLS];
    for (int i = 0; i < N_COLS; i++) sizes[i] = self->cols[i].size;
    Py_ssize_t tasks_size = self->tasks.size, lens_size = self->task_lens.size;
    Py_ssize_t width = self->task_width, staged = self->staged;
    if (self->parsed == NULL || origin != self->parsed || view.len < self->parsed_hi) {
        PyErr_SetString(PyExc_ValueError, "take: not the buffer parse accepted last");
        goto done;
    }
    for (Py_ssize_t k = 0; k < self->nrecs; k++) {
        Rec *r = &self->recs[k];
        if (!r->end) {
            if (stage(self, origin, r, (int32_t)stretch) < 0) goto done;
            continue;
        }
        int32_t id;
        Span status = r->strs[STR_STATUS];
        if (status.len < 0) {
            if (cache_id(&self->caches[I_STATUS], (Ptr) "ok", 2, &id) < 0) goto done;
        } else if (intern(self, I_STATUS, origin, status, &id) < 0) {
            goto done;
        }
        if (buf_put(&codes, &id, sizeof id) < 0) goto done;
        if (intern(self, I_REASON, origin, r->strs[STR_REASON], &id) < 0) goto done;
        if (buf_put(&reasons, &id, sizeof id) < 0) goto done;
    }
    result = Py_BuildValue("(y#y#)", codes.data ? codes.data : "", codes.size,
                           reasons.data ? reasons.data : "", reasons.size);
done:
    if (result == NULL) {
        for (int i = 0; i < N_COLS; i++) self->cols[i].size = sizes[i];
        self->tasks.size = tasks_size;
        self->task_lens.size = lens_size;
        self->task_width = width;
        self->staged = staged;
    }
    self->nrecs = 0;
    self->parsed = NULL;
    buf_free(&codes);
    buf_free(&reasons);
    PyBuffer_Release(&view);
    self->busy = 0;
    return result;
}

static PyObject *Scanner_flush_columns(Scanner *self);

/* flush(): what was staged since the last flush, as {column: bytes} (and "task": the task
   keys, NUL-padded to "task_width" bytes each; "count": the STARTs), then forgotten. */
static PyObject *Scanner_flush(Scanner *self, PyObject *Py_UNUSED(ignored)) {
    if (enter(self) < 0) return NULL;
    PyObject *out = Scanner_flush_columns(self);
    self->busy = 0;
    return out;
}

static PyObject *Scanner_flush_columns(Scanner *self) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t n = self->staged;
    Py_ssize_t width = self->task_width ? self->task_width : 1;
    PyObject *task = NULL;
    for (int i = 0; i < N_COLS; i++) {
        PyObject *b = PyBytes_FromStringAndSize(self->cols[i].data ? self->cols[i].data : "",
                                                self->cols[i].size);
        if (b == NULL || PyDict_SetItemString(out, COL_NAMES[i], b) < 0) {
            Py_XDECREF(b);
            goto fail;
        }
        Py_DECREF(b);
    }
    if (n > PY_SSIZE_T_MAX / width) {
        PyErr_NoMemory();
        goto fail;
    }
    task = PyBytes_FromStringAndSize(NULL, n * width);
    if (task == NULL) goto fail;
    char *into = PyBytes_AS_STRING(task);
    memset(into, 0, (size_t)(n * width));
    const Py_ssize_t *lens = (const Py_ssize_t *)self->task_lens.data;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (lens[i] > 0) {
            memcpy(into + i * width, self->tasks.data + at, (size_t)lens[i]);
            at += lens[i];
        }
    }
    if (PyDict_SetItemString(out, "task", task) < 0) goto fail;
    Py_CLEAR(task);
    PyObject *number = PyLong_FromSsize_t(width);
    if (number == NULL || PyDict_SetItemString(out, "task_width", number) < 0) {
        Py_XDECREF(number);
        goto fail;
    }
    Py_DECREF(number);
    number = PyLong_FromSsize_t(n);
    if (number == NULL || PyDict_SetItemString(out, "count", number) < 0) {
        Py_XDECREF(number);
        goto fail;
    }
    Py_DECREF(number);
    for (int i = 0; i < N_COLS; i++) self->cols[i].size = 0;
    self->tasks.size = self->task_lens.size = 0;
    self->task_width = 0;
    self->staged = 0;
    return out;
fail:
    Py_XDECREF(task);
    Py_DECREF(out);
    return NULL;
}

static PyObject *Scanner_pending(Scanner *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->staged);
}

static PyMethodDef Scanner_methods[] = {
    {"parse", (PyCFunction)Scanner_parse, METH_VARARGS, "parse(data, lo, hi)"},
    {"take", (PyCFunction)Scanner_take, METH_VARARGS, "take(data, stretch)"},
    {"flush", (PyCFunction)Scanner_flush, METH_NOARGS, "flush()"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Scanner_getset[] = {
    {"pending", (getter)Scanner_pending, NULL, "STARTs staged since the last flush", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "racetrace.analyzers.core._scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(instances, resources, methods, hosts, files, statuses, reasons)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
    .tp_getset = Scanner_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "racetrace's C scanner of trace lines (see scan.py).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    for (int i = 0; i < N_KEYS; i++) {
        key_len[i] = (Py_ssize_t)strlen(KEYS[i].name);
        if (key_len[i] + 3 > MAX_QUOTED) {
            PyErr_SetString(PyExc_SystemError, "_scan: a key longer than MAX_QUOTED");
            return NULL;
        }
        quoted[i][0] = '"';
        memcpy(quoted[i] + 1, KEYS[i].name, (size_t)key_len[i]);
        quoted[i][key_len[i] + 1] = '"';
        quoted[i][key_len[i] + 2] = ':';
        quoted_len[i] = key_len[i] + 3;
    }
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
