/*
 * toml: a TOML 1.0 parser that builds an immutable document tree.
 *
 * This file owns the whole 1.0 grammar, the rules about which tables and
 * keys may be defined or extended, and the tree itself.  Every node, key
 * and string of one document lives in a single arena owned by the root, so
 * a failed parse cannot leak and toml_free() is a few free() calls.  Tables
 * keep their keys in document order and add a hash index once they grow,
 * so a large document parses in linear time.
 *
 * The input is never read past len: it need not be NUL-terminated.
 */
#include "toml.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Containers nested deeper than this are refused: parsing recurses. */
#define MAX_DEPTH 200
/* Tables with more keys than this get a hash index. */
#define INDEX_MIN 8
#define FIRST_CHUNK 4096u
#define MAX_CHUNK (1u << 20)
#define ARENA_ALIGN _Alignof(max_align_t)

/* ---------------------------------------------------------------- arena */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;	/* chunk that small allocations come from */
	size_t next_cap;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	struct chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		if (n > a->next_cap / 4) {
			/* A big block gets its own chunk, kept behind the head
			 * so the head's free space stays in use. */
			c = malloc(sizeof(*c) + n);
			if (!c)
				return NULL;
			c->used = c->cap = n;
			if (a->head) {
				c->next = a->head->next;
				a->head->next = c;
			} else {
				c->next = NULL;
				a->head = c;
			}
			return c->data;
		}
		c = malloc(sizeof(*c) + a->next_cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = a->next_cap;
		c->next = a->head;
		a->head = c;
		if (a->next_cap < MAX_CHUNK)
			a->next_cap *= 2;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

/* Vectors grow by doubling, so the copies left behind cost at most 2x. */
static void *arena_grow(struct arena *a, void *old, size_t oldn, size_t newn)
{
	void *p = arena_alloc(a, newn);
	if (p && oldn)
		memcpy(p, old, oldn);
	return p;
}

static void arena_release(struct arena *a)
{
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

/* ------------------------------------------------------------- the tree */

enum {
	TF_IMPLICIT = 1 << 0,	/* table created by the path of a [header] */
	TF_HEADER = 1 << 1,	/* table defined by a [header] or [[header]] */
	TF_DOTTED = 1 << 2,	/* table created by a dotted key */
	TF_FROZEN = 1 << 3,	/* inline table: may never be extended */
	TF_AOT = 1 << 4,	/* array created by [[header]]: may grow */
};

struct entry {
	const char *key;	/* NUL-terminated copy in the arena */
	size_t keylen;
	uint32_t hash;
	int line, col;
	toml_value *val;
};

struct toml_table {
	struct entry *ents;
	size_t len, cap;
	uint32_t *idx;		/* open addressing, entry index + 1; 0 = free */
	size_t idxcap;
};

struct toml_array {
	toml_value **items;
	size_t len, cap;
};

struct toml_value {
	enum toml_type type;
	unsigned flags;
	int depth;
	int line, col;
	union {
		struct {
			char *s;
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct toml_datetime dt;
		struct toml_array arr;
		struct toml_table tab;
	} u;
};

/* The root is the first member, so toml_free() can find the arena. */
struct toml_doc {
	toml_value root;
	struct arena arena;
};

static uint32_t hash_key(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 16777619u;
	}
	return h;
}

static struct entry *table_find(const toml_value *t, const char *k, size_t n,
				uint32_t h)
{
	const struct toml_table *tb = &t->u.tab;
	if (tb->idx) {
		size_t mask = tb->idxcap - 1;
		for (size_t i = h & mask;; i = (i + 1) & mask) {
			uint32_t slot = tb->idx[i];
			if (!slot)
				return NULL;
			struct entry *e = &tb->ents[slot - 1];
			if (e->hash == h && e->keylen == n &&
			    memcmp(e->key, k, n) == 0)
				return e;
		}
	}
	for (size_t i = 0; i < tb->len; i++) {
		struct entry *e = &tb->ents[i];
		if (e->hash == h && e->keylen == n && memcmp(e->key, k, n) == 0)
			return e;
	}
	return NULL;
}

static void index_put(struct toml_table *tb, size_t i)
{
	size_t mask = tb->idxcap - 1;
	size_t s = tb->ents[i].hash & mask;
	while (tb->idx[s])
		s = (s + 1) & mask;
	tb->idx[s] = (uint32_t)(i + 1);
}

/* Keep the index at most half full; returns false when out of memory. */
static bool index_update(struct arena *a, struct toml_table *tb)
{
	if (tb->len <= INDEX_MIN)
		return true;
	if (tb->idx && tb->len * 2 <= tb->idxcap) {
		index_put(tb, tb->len - 1);
		return true;
	}
	size_t cap = 32;
	while (cap < tb->len * 4)
		cap *= 2;
	uint32_t *idx = arena_alloc(a, cap * sizeof(*idx));
	if (!idx)
		return false;
	memset(idx, 0, cap * sizeof(*idx));
	tb->idx = idx;
	tb->idxcap = cap;
	for (size_t i = 0; i < tb->len; i++)
		index_put(tb, i);
	return true;
}

/* ---------------------------------------------------------------- parser */

struct sbuf {
	char *s;
	size_t len, cap;
};

struct keypart {
	size_t off, len;	/* bytes in parser.keys */
	uint32_t hash;
	int line, col;
};

struct parser {
	const char *src;
	size_t len, pos;
	int line;
	size_t line_start;	/* offset of the current line's first byte */
	struct arena *arena;
	struct toml_error *err;
	bool failed;
	toml_value *root, *cur;	/* cur: table that key = value goes into */
	struct sbuf buf;	/* decoded string being scanned */
	struct sbuf keys;	/* decoded parts of the key being parsed */
	struct keypart *parts;
	size_t nparts, partcap;
	char point[8];		/* the C library's decimal point for strtod */
};

static int cur_col(const struct parser *p)
{
	size_t c = p->pos - p->line_start + 1;
	return c > INT_MAX ? INT_MAX : (int)c;
}

__attribute__((format(printf, 4, 5)))
static int fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	if (p->failed)
		return -1;
	p->failed = true;
	if (p->err) {
		va_list ap;
		p->err->line = line;
		p->err->col = col;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define fail(p, ...) fail_at((p), (p)->line, cur_col(p), __VA_ARGS__)

static int oom(struct parser *p)
{
	p->failed = false;	/* out of memory trumps a pending message */
	return fail_at(p, 0, 0, "out of memory");
}

static int peek_at(const struct parser *p, size_t k)
{
	return k < p->len - p->pos ? (unsigned char)p->src[p->pos + k] : -1;
}

static int peek(const struct parser *p)
{
	return peek_at(p, 0);
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       is_digit(c) || c == '_' || c == '-';
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Name the character at the cursor for an error message. */
static const char *describe(const struct parser *p, char out[static 32])
{
	int c = peek(p);
	if (c < 0)
		return "end of file";
	if (c == '\n')
		return "end of line";
	if (c == '\r')
		return "a carriage return without a line feed";
	if (is_control(c)) {
		snprintf(out, 32, "control character U+%04X", (unsigned)c);
	} else if (c < 0x80) {
		snprintf(out, 32, "'%c'", c);
	} else {
		/* The document is valid UTF-8: print the whole character. */
		size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (n > p->len - p->pos)
			n = p->len - p->pos;
		snprintf(out, 32, "'%.*s'", (int)n, p->src + p->pos);
	}
	return out;
}

static int sb_add(struct parser *p, struct sbuf *b, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return oom(p);
			cap *= 2;
		}
		char *ns = realloc(b->s, cap);
		if (!ns)
			return oom(p);
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	return 0;
}

static int sb_addc(struct parser *p, struct sbuf *b, char c)
{
	if (b->len < b->cap) {
		b->s[b->len++] = c;
		return 0;
	}
	return sb_add(p, b, &c, 1);
}

static char *arena_strndup(struct parser *p, const char *s, size_t n)
{
	char *d = n < SIZE_MAX ? arena_alloc(p->arena, n + 1) : NULL;
	if (!d) {
		oom(p);
		return NULL;
	}
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static toml_value *new_value(struct parser *p, enum toml_type t, int line,
			     int col)
{
	toml_value *v = arena_alloc(p->arena, sizeof(*v));
	if (!v) {
		oom(p);
		return NULL;
	}
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->line = line;
	v->col = col;
	return v;
}

static toml_value *new_container(struct parser *p, enum toml_type t,
				 int depth, int line, int col)
{
	if (depth > MAX_DEPTH) {
		fail_at(p, line, col,
			"tables and arrays are nested more than %d deep",
			MAX_DEPTH);
		return NULL;
	}
	toml_value *v = new_value(p, t, line, col);
	if (v)
		v->depth = depth;
	return v;
}

static int table_add(struct parser *p, toml_value *t, const char *key,
		     size_t keylen, uint32_t hash, int line, int col,
		     toml_value *v)
{
	struct toml_table *tb = &t->u.tab;
	if (tb->len == tb->cap) {
		if (tb->cap >= UINT32_MAX / 4)
			return fail_at(p, line, col, "a table has too many keys");
		size_t cap = tb->cap ? tb->cap * 2 : 4;
		struct entry *e = arena_grow(p->arena, tb->ents,
					     tb->len * sizeof(*e),
					     cap * sizeof(*e));
		if (!e)
			return oom(p);
		tb->ents = e;
		tb->cap = cap;
	}
	tb->ents[tb->len++] = (struct entry){
		.key = key, .keylen = keylen, .hash = hash,
		.line = line, .col = col, .val = v,
	};
	if (!index_update(p->arena, tb))
		return oom(p);
	return 0;
}

static int array_push(struct parser *p, toml_value *a, toml_value *v)
{
	struct toml_array *ar = &a->u.arr;
	if (ar->len == ar->cap) {
		if (ar->cap > SIZE_MAX / (4 * sizeof(*ar->items)))
			return oom(p);
		size_t cap = ar->cap ? ar->cap * 2 : 4;
		toml_value **items = arena_grow(p->arena, ar->items,
						ar->len * sizeof(*items),
						cap * sizeof(*items));
		if (!items)
			return oom(p);
		ar->items = items;
		ar->cap = cap;
	}
	ar->items[ar->len++] = v;
	return 0;
}

/* ------------------------------------------------------------- lexing */

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len &&
	       (p->src[p->pos] == ' ' || p->src[p->pos] == '\t'))
		p->pos++;
}

/* Consume LF or CRLF; false when the cursor is not at a newline. */
static bool eat_newline(struct parser *p)
{
	int c = peek(p);
	if (c == '\n')
		p->pos++;
	else if (c == '\r' && peek_at(p, 1) == '\n')
		p->pos += 2;
	else
		return false;
	if (p->line < INT_MAX)
		p->line++;
	p->line_start = p->pos;
	return true;
}

/* The cursor is on '#'; stop before the newline that ends the comment. */
static int skip_comment(struct parser *p)
{
	for (p->pos++; p->pos < p->len; p->pos++) {
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c == '\n' || (c == '\r' && peek_at(p, 1) == '\n'))
			return 0;
		if (is_control(c))
			return fail(p, "control character U+%04X is not allowed "
				    "in a comment", (unsigned)c);
	}
	return 0;
}

/* Whitespace, comments and newlines, as allowed inside arrays. */
static int skip_ws_nl(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (peek(p) == '#') {
			if (skip_comment(p))
				return -1;
		} else if (!eat_newline(p)) {
			return 0;
		}
	}
}

static int end_of_line(struct parser *p)
{
	char d[32];
	skip_ws(p);
	if (peek(p) == '#' && skip_comment(p))
		return -1;
	if (p->pos >= p->len || eat_newline(p))
		return 0;
	return fail(p, "expected the end of the line, found %s", describe(p, d));
}

/*
 * Validate the whole document as UTF-8 up front (no overlong forms, no
 * surrogates, nothing above U+10FFFF), so that the grammar below can treat
 * every byte >= 0x80 as part of a valid character.
 */
static int check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->src;
	size_t i = p->pos, n = p->len;
	while (i < n) {
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint32_t cp, min;
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2, cp = c & 0x0F, min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (n - i <= need)
			goto bad;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto bad;
		i += need + 1;
	}
	return 0;
bad:
	/* Rare path: recount lines to place the error. */
	for (size_t k = p->pos; k < i; k++) {
		if (s[k] == '\n') {
			p->line++;
			p->line_start = k + 1;
		}
	}
	p->pos = i;
	return fail(p, "the document is not valid UTF-8");
}

/* ------------------------------------------------------------- strings */

static int put_utf8(struct parser *p, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return sb_add(p, &p->buf, b, n);
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \uXXXX or \UXXXXXXXX; the cursor is on the 'u' or 'U'. */
static int scan_unicode(struct parser *p, int line, int col)
{
	int ndig = p->src[p->pos] == 'u' ? 4 : 8;
	uint32_t cp = 0;
	p->pos++;
	for (int i = 0; i < ndig; i++) {
		int h = hex_value(peek(p));
		if (h < 0)
			return fail_at(p, line, col, "\\%c must be followed by "
				       "%d hexadecimal digits",
				       ndig == 4 ? 'u' : 'U', ndig);
		cp = cp << 4 | (uint32_t)h;
		p->pos++;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return fail_at(p, line, col, "escape \\%c%0*X is not a Unicode "
			       "scalar value", ndig == 4 ? 'u' : 'U', ndig,
			       (unsigned)cp);
	return put_utf8(p, cp);
}

/* A backslash at the end of a line in a multi-line basic string. */
static int scan_line_ending_backslash(struct parser *p, int line, int col)
{
	skip_ws(p);
	if (!eat_newline(p))
		return fail_at(p, line, col, "a backslash followed by "
			       "whitespace must end the line");
	for (;;) {
		skip_ws(p);
		if (!eat_newline(p))
			return 0;
	}
}

static int scan_escape(struct parser *p, bool multiline)
{
	int line = p->line, col = cur_col(p);
	char d[32];
	p->pos++;
	int c = peek(p);
	char out;
	switch (c) {
	case 'b': out = '\b'; break;
	case 't': out = '\t'; break;
	case 'n': out = '\n'; break;
	case 'f': out = '\f'; break;
	case 'r': out = '\r'; break;
	case '"': out = '"'; break;
	case '\\': out = '\\'; break;
	case 'u':
	case 'U':
		return scan_unicode(p, line, col);
	case ' ':
	case '\t':
	case '\n':
	case '\r':
		if (multiline)
			return scan_line_ending_backslash(p, line, col);
		__attribute__((fallthrough));
	default:
		return fail_at(p, line, col, "invalid escape sequence: "
			       "backslash followed by %s", describe(p, d));
	}
	p->pos++;
	return sb_addc(p, &p->buf, out);
}

/*
 * Scan a string body into p->buf.  The cursor is just past the opening
 * quote(s).  quote is '"' (basic, with escapes) or '\'' (literal).
 */
static int scan_string(struct parser *p, char quote, bool multiline,
		       int line0, int col0)
{
	bool basic = quote == '"';
	p->buf.len = 0;
	for (;;) {
		size_t start = p->pos;
		while (p->pos < p->len) {
			unsigned char c = (unsigned char)p->src[p->pos];
			if (c == (unsigned char)quote || (basic && c == '\\') ||
			    (c < 0x20 && c != '\t') || c == 0x7f)
				break;
			p->pos++;
		}
		if (p->pos > start &&
		    sb_add(p, &p->buf, p->src + start, p->pos - start))
			return -1;
		if (p->pos >= p->len)
			return fail_at(p, line0, col0, "unterminated string");
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c == (unsigned char)quote) {
			if (!multiline) {
				p->pos++;
				return 0;
			}
			size_t q = 0;
			while (peek_at(p, q) == quote)
				q++;
			if (q >= 3) {
				if (q > 5)
					return fail(p, "a multi-line string "
						    "cannot contain three "
						    "quotes in a row");
				q -= 3;
				/* Up to two quotes belong to the content. */
				for (size_t i = 0; i < q; i++)
					if (sb_addc(p, &p->buf, quote))
						return -1;
				p->pos += q + 3;
				return 0;
			}
			if (sb_add(p, &p->buf, p->src + p->pos, q))
				return -1;
			p->pos += q;
		} else if (c == '\\') {
			if (scan_escape(p, multiline))
				return -1;
		} else if (multiline && eat_newline(p)) {
			/* CRLF is stored as LF. */
			if (sb_addc(p, &p->buf, '\n'))
				return -1;
		} else if (c == '\n') {
			return fail_at(p, line0, col0, "string is not closed "
				       "before the end of the line");
		} else if (basic) {
			return fail(p, "control character U+%04X must be "
				    "escaped in a string", (unsigned)c);
		} else {
			return fail(p, "control character U+%04X is not "
				    "allowed in a literal string", (unsigned)c);
		}
	}
}

/* Scan a quoted string (key or value) at the cursor into p->buf. */
static int scan_quoted(struct parser *p, bool allow_multiline)
{
	int line = p->line, col = cur_col(p);
	char q = p->src[p->pos];
	if (peek_at(p, 1) == q && peek_at(p, 2) == q) {
		if (!allow_multiline)
			return fail(p, "a key cannot be a multi-line string");
		p->pos += 3;
		eat_newline(p);	/* a newline right after the quotes is trimmed */
		return scan_string(p, q, true, line, col);
	}
	p->pos++;
	return scan_string(p, q, false, line, col);
}

/* ---------------------------------------------------------------- keys */

/* Parse a (dotted) key into p->parts; leaves the cursor after it. */
static int parse_key(struct parser *p)
{
	char d[32];
	p->nparts = 0;
	p->keys.len = 0;
	for (;;) {
		skip_ws(p);
		int line = p->line, col = cur_col(p);
		size_t off = p->keys.len;
		int c = peek(p);
		if (c == '"' || c == '\'') {
			if (scan_quoted(p, false) ||
			    sb_add(p, &p->keys, p->buf.s, p->buf.len))
				return -1;
		} else if (is_bare(c)) {
			size_t start = p->pos;
			while (is_bare(peek(p)))
				p->pos++;
			if (sb_add(p, &p->keys, p->src + start, p->pos - start))
				return -1;
		} else {
			return fail(p, "expected a key, found %s", describe(p, d));
		}
		if (p->nparts == p->partcap) {
			size_t cap = p->partcap ? p->partcap * 2 : 8;
			struct keypart *np = realloc(p->parts, cap * sizeof(*np));
			if (!np)
				return oom(p);
			p->parts = np;
			p->partcap = cap;
		}
		size_t n = p->keys.len - off;
		p->parts[p->nparts++] = (struct keypart){
			.off = off, .len = n,
			.hash = hash_key(p->keys.s ? p->keys.s + off : "", n),
			.line = line, .col = col,
		};
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		p->pos++;
	}
}

static const char *part_key(const struct parser *p, size_t i)
{
	return p->keys.s ? p->keys.s + p->parts[i].off : "";
}

/* Write parts [0, upto] as a readable dotted key for messages. */
static const char *key_name(const struct parser *p, size_t upto,
			    char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i <= upto && i < p->nparts; i++) {
		const char *k = part_key(p, i);
		size_t n = p->parts[i].len;
		bool bare = n > 0;
		for (size_t j = 0; j < n; j++)
			bare = bare && is_bare((unsigned char)k[j]);
		char tmp[96];
		size_t t = 0;
		if (!bare)
			tmp[t++] = '"';
		for (size_t j = 0; j < n && t < sizeof(tmp) - 6; j++) {
			unsigned char c = (unsigned char)k[j];
			if (c == '"' || c == '\\')
				tmp[t++] = '\\';
			tmp[t++] = is_control(c) ? '?' : (char)c;
		}
		if (!bare)
			tmp[t++] = '"';
		tmp[t] = '\0';
		int w = snprintf(out + o, size - o, "%s%s", i ? "." : "", tmp);
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
	}
	return out;
}

/* Add a new empty table under key part i of p->parts. */
static toml_value *add_table(struct parser *p, toml_value *parent, size_t i,
			     unsigned flags, int line, int col)
{
	const struct keypart *kp = &p->parts[i];
	toml_value *t = new_container(p, TOML_TABLE, parent->depth + 1,
				      line, col);
	if (!t)
		return NULL;
	t->flags = flags;
	char *key = arena_strndup(p, part_key(p, i), kp->len);
	if (!key || table_add(p, parent, key, kp->len, kp->hash, kp->line,
			      kp->col, t))
		return NULL;
	return t;
}

static const char *article_type(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return "a string";
	case TOML_INTEGER: return "an integer";
	case TOML_FLOAT: return "a float";
	case TOML_BOOL: return "a boolean";
	case TOML_DATETIME: return "an offset datetime";
	case TOML_DATETIME_LOCAL: return "a local datetime";
	case TOML_DATE_LOCAL: return "a local date";
	case TOML_TIME_LOCAL: return "a local time";
	case TOML_ARRAY: return "an array";
	case TOML_TABLE: return "a table";
	}
	return "a value";
}

/* Step from t into key part i of a dotted key (key.part = value). */
static toml_value *dotted_step(struct parser *p, toml_value *t, size_t i)
{
	const struct keypart *kp = &p->parts[i];
	char name[160];
	struct entry *e = table_find(t, part_key(p, i), kp->len, kp->hash);
	if (!e)
		return add_table(p, t, i, TF_DOTTED, kp->line, kp->col);
	toml_value *v = e->val;
	if (v->type != TOML_TABLE) {
		fail_at(p, kp->line, kp->col, "key '%s' is already %s and "
			"cannot hold dotted keys",
			key_name(p, i, name, sizeof(name)),
			article_type(v->type));
		return NULL;
	}
	if (v->flags & TF_FROZEN) {
		fail_at(p, kp->line, kp->col, "inline table '%s' cannot be "
			"extended", key_name(p, i, name, sizeof(name)));
		return NULL;
	}
	if (v->flags & TF_HEADER) {
		fail_at(p, kp->line, kp->col, "table '%s' was defined by a "
			"[table] header and cannot be extended with dotted keys",
			key_name(p, i, name, sizeof(name)));
		return NULL;
	}
	v->flags = TF_DOTTED;
	return v;
}

/* ---------------------------------------------------------------- values */

static toml_value *parse_value(struct parser *p, int depth);

static toml_value *parse_string_value(struct parser *p, int line, int col)
{
	if (scan_quoted(p, true))
		return NULL;
	toml_value *v = new_value(p, TOML_STRING, line, col);
	if (!v)
		return NULL;
	v->u.str.s = arena_strndup(p, p->buf.s ? p->buf.s : "", p->buf.len);
	v->u.str.len = p->buf.len;
	return v->u.str.s ? v : NULL;
}

static toml_value *parse_bool(struct parser *p, int line, int col)
{
	bool t = peek(p) == 't';
	const char *word = t ? "true" : "false";
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->src + p->pos, word, n) != 0 ||
	    is_bare(peek_at(p, n))) {
		fail(p, "invalid value: expected true, false, a number, a "
		     "string, a date, an array or an inline table");
		return NULL;
	}
	p->pos += n;
	toml_value *v = new_value(p, TOML_BOOL, line, col);
	if (v)
		v->u.b = t;
	return v;
}

/*
 * Digits of one base with single underscores between them; the cursor is
 * on the first digit.  *ndig counts digits.
 */
static int scan_digits(struct parser *p, int base, size_t *ndig)
{
	*ndig = 0;
	for (;;) {
		int c = peek(p);
		int dv = base == 16 ? hex_value(c) : is_digit(c) ? c - '0' : -1;
		if (dv >= 0 && dv < base) {
			(*ndig)++;
			p->pos++;
		} else if (c == '_') {
			int n = peek_at(p, 1);
			int nv = base == 16 ? hex_value(n)
					    : is_digit(n) ? n - '0' : -1;
			if (*ndig == 0 || nv < 0 || nv >= base)
				return fail(p, "an underscore in a number must "
					    "be between two digits");
			p->pos++;
		} else {
			return 0;
		}
	}
}

static toml_value *make_int(struct parser *p, int64_t i, int line, int col)
{
	toml_value *v = new_value(p, TOML_INTEGER, line, col);
	if (v)
		v->u.i = i;
	return v;
}

static toml_value *make_float(struct parser *p, double f, int line, int col)
{
	toml_value *v = new_value(p, TOML_FLOAT, line, col);
	if (v)
		v->u.f = f;
	return v;
}

/* 0x, 0o and 0b integers; the cursor is on the '0'. */
static toml_value *parse_radix(struct parser *p, int line, int col)
{
	int pc = peek_at(p, 1);
	int base = pc == 'x' ? 16 : pc == 'o' ? 8 : 2;
	size_t ndig;
	p->pos += 2;
	size_t start = p->pos;
	int c = peek(p);
	int dv = base == 16 ? hex_value(c) : is_digit(c) ? c - '0' : -1;
	if (dv < 0 || dv >= base) {
		fail(p, "expected a base-%d digit after '0%c'", base, pc);
		return NULL;
	}
	if (scan_digits(p, base, &ndig))
		return NULL;
	uint64_t acc = 0;
	for (size_t i = start; i < p->pos; i++) {
		if (p->src[i] == '_')
			continue;
		uint64_t d = (uint64_t)hex_value((unsigned char)p->src[i]);
		if (acc > ((uint64_t)INT64_MAX - d) / (uint64_t)base) {
			fail_at(p, line, col, "integer does not fit in 64 bits");
			return NULL;
		}
		acc = acc * (uint64_t)base + d;
	}
	return make_int(p, (int64_t)acc, line, col);
}

/* strtod() in the C locale whatever the process locale is. */
static toml_value *convert_float(struct parser *p, size_t start, size_t end,
				 int line, int col)
{
	p->buf.len = 0;
	for (size_t i = start; i < end; i++) {
		char c = p->src[i];
		int rc = 0;
		if (c == '.')
			rc = sb_add(p, &p->buf, p->point, strlen(p->point));
		else if (c != '_')
			rc = sb_addc(p, &p->buf, c);
		if (rc)
			return NULL;
	}
	if (sb_addc(p, &p->buf, '\0'))
		return NULL;
	char *endp;
	double f = strtod(p->buf.s, &endp);
	if (*endp != '\0') {
		fail_at(p, line, col, "invalid float");
		return NULL;
	}
	if (isinf(f)) {
		fail_at(p, line, col, "float is too large for 64 bits");
		return NULL;
	}
	return make_float(p, f, line, col);
}

static toml_value *parse_number(struct parser *p, int line, int col)
{
	size_t start = p->pos;
	bool neg = false;
	int c = peek(p);
	if (c == '+' || c == '-') {
		neg = c == '-';
		p->pos++;
		c = peek(p);
	}
	if (c == 'i' || c == 'n') {
		const char *w = c == 'i' ? "inf" : "nan";
		if (p->len - p->pos < 3 || memcmp(p->src + p->pos, w, 3) != 0 ||
		    is_bare(peek_at(p, 3))) {
			fail(p, "invalid value: expected true, false, a number, "
			     "a string, a date, an array or an inline table");
			return NULL;
		}
		p->pos += 3;
		double f = c == 'i' ? INFINITY : NAN;
		return make_float(p, neg ? -f : f, line, col);
	}
	if (p->pos == start && c == '0' &&
	    (peek_at(p, 1) == 'x' || peek_at(p, 1) == 'o' ||
	     peek_at(p, 1) == 'b'))
		return parse_radix(p, line, col);
	if (!is_digit(c)) {
		char d[32];
		fail(p, "expected a digit, found %s", describe(p, d));
		return NULL;
	}
	size_t int_start = p->pos, ndig;
	if (scan_digits(p, 10, &ndig))
		return NULL;
	if (p->src[int_start] == '0' && ndig > 1) {
		fail_at(p, line, col, "leading zeros are not allowed in a "
			"number");
		return NULL;
	}
	bool is_float = false;
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p))) {
			fail(p, "a digit must follow the decimal point");
			return NULL;
		}
		if (scan_digits(p, 10, &ndig))
			return NULL;
		is_float = true;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!is_digit(peek(p))) {
			fail(p, "the exponent of a float needs digits");
			return NULL;
		}
		if (scan_digits(p, 10, &ndig))
			return NULL;
		is_float = true;
	}
	if (is_float)
		return convert_float(p, start, p->pos, line, col);

	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t acc = 0;
	for (size_t i = int_start; i < p->pos; i++) {
		if (p->src[i] == '_')
			continue;
		uint64_t d = (uint64_t)(p->src[i] - '0');
		if (acc > (limit - d) / 10) {
			fail_at(p, line, col, "integer does not fit in 64 bits");
			return NULL;
		}
		acc = acc * 10 + d;
	}
	if (!neg)
		return make_int(p, (int64_t)acc, line, col);
	return make_int(p, acc > (uint64_t)INT64_MAX ? INT64_MIN
						     : -(int64_t)acc, line, col);
}

/* Exactly n decimal digits; -1 when they are not there. */
static int fixed_digits(struct parser *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		int c = peek(p);
		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
		p->pos++;
	}
	return v;
}

static bool expect_char(struct parser *p, char c)
{
	if (peek(p) != c)
		return false;
	p->pos++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : dim[month - 1];
}

static int scan_date(struct parser *p, struct toml_datetime *dt, int line,
		     int col)
{
	dt->year = fixed_digits(p, 4);
	if (dt->year < 0 || !expect_char(p, '-') ||
	    (dt->month = fixed_digits(p, 2)) < 0 || !expect_char(p, '-') ||
	    (dt->day = fixed_digits(p, 2)) < 0)
		return fail_at(p, line, col, "invalid date: expected "
			       "YYYY-MM-DD");
	if (dt->month < 1 || dt->month > 12)
		return fail_at(p, line, col, "invalid date: month %02d does "
			       "not exist", dt->month);
	if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
		return fail_at(p, line, col, "invalid date: %04d-%02d has no "
			       "day %02d", dt->year, dt->month, dt->day);
	return 0;
}

static int scan_time(struct parser *p, struct toml_datetime *dt, int line,
		     int col)
{
	if ((dt->hour = fixed_digits(p, 2)) < 0 || !expect_char(p, ':') ||
	    (dt->minute = fixed_digits(p, 2)) < 0 || !expect_char(p, ':') ||
	    (dt->second = fixed_digits(p, 2)) < 0)
		return fail_at(p, line, col, "invalid time: expected HH:MM:SS");
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p)))
			return fail(p, "invalid time: a digit must follow the "
				    "decimal point");
		for (; is_digit(peek(p)); p->pos++) {
			/* Keep nanoseconds; further digits are truncated. */
			if (dt->frac_digits < 9)
				dt->nanosecond = dt->nanosecond * 10 +
						 (p->src[p->pos] - '0');
			if (dt->frac_digits < INT_MAX)
				dt->frac_digits++;
		}
		for (int i = dt->frac_digits; i < 9; i++)
			dt->nanosecond *= 10;
	}
	/* Second 60 is allowed: RFC 3339 leap seconds. */
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return fail_at(p, line, col, "invalid time: %02d:%02d:%02d is "
			       "out of range", dt->hour, dt->minute,
			       dt->second);
	return 0;
}

static int scan_offset(struct parser *p, struct toml_datetime *dt)
{
	int line = p->line, col = cur_col(p);
	int c = peek(p);
	if (c == 'Z' || c == 'z') {
		p->pos++;
		dt->offset_z = true;
		return 1;
	}
	if (c != '+' && c != '-')
		return 0;
	p->pos++;
	int h = fixed_digits(p, 2), m = -1;
	if (h >= 0 && expect_char(p, ':'))
		m = fixed_digits(p, 2);
	if (h < 0 || m < 0)
		return fail_at(p, line, col, "invalid time offset: expected "
			       "%cHH:MM", c);
	if (h > 23 || m > 59)
		return fail_at(p, line, col, "invalid time offset %c%02d:%02d",
			       c, h, m);
	dt->offset_minutes = (c == '-' ? -1 : 1) * (h * 60 + m);
	return 1;
}

static toml_value *parse_datetime(struct parser *p, bool has_date, int line,
				  int col)
{
	struct toml_datetime dt = { 0 };
	enum toml_type type = TOML_TIME_LOCAL;
	if (has_date) {
		if (scan_date(p, &dt, line, col))
			return NULL;
		type = TOML_DATE_LOCAL;
		int c = peek(p);
		/* A space separates date and time only when a time follows. */
		if (c == 'T' || c == 't' ||
		    (c == ' ' && is_digit(peek_at(p, 1)) &&
		     is_digit(peek_at(p, 2)) && peek_at(p, 3) == ':')) {
			p->pos++;
			type = TOML_DATETIME_LOCAL;
		}
	}
	if (type != TOML_DATE_LOCAL) {
		if (scan_time(p, &dt, line, col))
			return NULL;
	}
	if (type == TOML_DATETIME_LOCAL) {
		int rc = scan_offset(p, &dt);
		if (rc < 0)
			return NULL;
		if (rc)
			type = TOML_DATETIME;
	}
	toml_value *v = new_value(p, type, line, col);
	if (v)
		v->u.dt = dt;
	return v;
}

static toml_value *parse_array(struct parser *p, int depth, int line, int col)
{
	toml_value *a = new_container(p, TOML_ARRAY, depth, line, col);
	if (!a)
		return NULL;
	p->pos++;
	for (;;) {
		if (skip_ws_nl(p))
			return NULL;
		if (p->pos >= p->len) {
			fail_at(p, line, col, "unterminated array: ']' is "
				"missing");
			return NULL;
		}
		if (peek(p) == ']')
			break;
		toml_value *v = parse_value(p, depth + 1);
		if (!v || array_push(p, a, v) || skip_ws_nl(p))
			return NULL;
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']')
			break;
		char d[32];
		if (p->pos >= p->len)
			fail_at(p, line, col, "unterminated array: ']' is "
				"missing");
		else
			fail(p, "expected ',' or ']' in an array, found %s",
			     describe(p, d));
		return NULL;
	}
	p->pos++;
	return a;
}

static int parse_keyval(struct parser *p, toml_value *tab);

static toml_value *parse_inline_table(struct parser *p, int depth, int line,
				      int col)
{
	char d[32];
	toml_value *t = new_container(p, TOML_TABLE, depth, line, col);
	if (!t)
		return NULL;
	p->pos++;
	skip_ws(p);
	if (peek(p) != '}') {
		for (;;) {
			if (parse_keyval(p, t))
				return NULL;
			skip_ws(p);
			if (peek(p) == '}')
				break;
			if (peek(p) != ',') {
				if (p->pos >= p->len || peek(p) == '\n' ||
				    peek(p) == '\r')
					fail(p, "an inline table must be closed "
					     "with '}' on the same line");
				else
					fail(p, "expected ',' or '}' in an "
					     "inline table, found %s",
					     describe(p, d));
				return NULL;
			}
			p->pos++;
			skip_ws(p);
			if (peek(p) == '}') {
				fail(p, "an inline table cannot have a "
				     "trailing comma");
				return NULL;
			}
		}
	}
	p->pos++;
	t->flags = TF_FROZEN;
	return t;
}

static toml_value *parse_value(struct parser *p, int depth)
{
	int line = p->line, col = cur_col(p);
	int c = peek(p);
	char d[32];
	switch (c) {
	case '"':
	case '\'':
		return parse_string_value(p, line, col);
	case 't':
	case 'f':
		return parse_bool(p, line, col);
	case '[':
		return parse_array(p, depth, line, col);
	case '{':
		return parse_inline_table(p, depth, line, col);
	case 'i':
	case 'n':
	case '+':
	case '-':
		return parse_number(p, line, col);
	default:
		break;
	}
	if (is_digit(c)) {
		if (is_digit(peek_at(p, 1)) && is_digit(peek_at(p, 2)) &&
		    is_digit(peek_at(p, 3)) && peek_at(p, 4) == '-')
			return parse_datetime(p, true, line, col);
		if (is_digit(peek_at(p, 1)) && peek_at(p, 2) == ':')
			return parse_datetime(p, false, line, col);
		return parse_number(p, line, col);
	}
	if (is_bare(c))
		fail(p, "invalid value: expected true, false, a number, a "
		     "string, a date, an array or an inline table (strings "
		     "need quotes)");
	else
		fail(p, "expected a value, found %s", describe(p, d));
	return NULL;
}

/* key = value, added to tab (following dotted keys below it). */
static int parse_keyval(struct parser *p, toml_value *tab)
{
	char d[32], name[160];
	if (parse_key(p))
		return -1;
	if (peek(p) != '=')
		return fail(p, "expected '=' after the key, found %s",
			    describe(p, d));
	p->pos++;
	skip_ws(p);
	toml_value *t = tab;
	size_t last = p->nparts - 1;
	for (size_t i = 0; i < last; i++)
		if (!(t = dotted_step(p, t, i)))
			return -1;
	/* parse_value() may parse nested keys: copy this one out first. */
	struct keypart kp = p->parts[last];
	if (table_find(t, part_key(p, last), kp.len, kp.hash))
		return fail_at(p, kp.line, kp.col, "duplicate key '%s'",
			       key_name(p, last, name, sizeof(name)));
	char *key = arena_strndup(p, part_key(p, last), kp.len);
	if (!key)
		return -1;
	toml_value *v = parse_value(p, t->depth + 1);
	if (!v)
		return -1;
	return table_add(p, t, key, kp.len, kp.hash, kp.line, kp.col, v);
}

/* ---------------------------------------------------------------- tables */

/* Step from t into part i of a [header] path. */
static toml_value *header_step(struct parser *p, toml_value *t, size_t i)
{
	const struct keypart *kp = &p->parts[i];
	char name[160];
	struct entry *e = table_find(t, part_key(p, i), kp->len, kp->hash);
	if (!e)
		return add_table(p, t, i, TF_IMPLICIT, kp->line, kp->col);
	toml_value *v = e->val;
	if (v->type == TOML_ARRAY && (v->flags & TF_AOT))
		return v->u.arr.items[v->u.arr.len - 1];
	if (v->type == TOML_TABLE && !(v->flags & TF_FROZEN))
		return v;
	if (v->type == TOML_TABLE)
		fail_at(p, kp->line, kp->col, "inline table '%s' cannot be "
			"extended", key_name(p, i, name, sizeof(name)));
	else
		fail_at(p, kp->line, kp->col, "key '%s' is already %s, not a "
			"table", key_name(p, i, name, sizeof(name)),
			article_type(v->type));
	return NULL;
}

static int define_table(struct parser *p, toml_value *t, int line, int col)
{
	size_t last = p->nparts - 1;
	const struct keypart *kp = &p->parts[last];
	char name[160];
	struct entry *e = table_find(t, part_key(p, last), kp->len, kp->hash);
	if (!e) {
		p->cur = add_table(p, t, last, TF_HEADER, line, col);
		return p->cur ? 0 : -1;
	}
	toml_value *v = e->val;
	key_name(p, last, name, sizeof(name));
	if (v->type != TOML_TABLE)
		return fail_at(p, kp->line, kp->col, "key '%s' is already %s, "
			       "not a table", name, article_type(v->type));
	if (!(v->flags & TF_IMPLICIT))
		return fail_at(p, kp->line, kp->col, "table '%s' is already "
			       "defined", name);
	/* Defined at last: point at this header from now on. */
	v->flags = TF_HEADER;
	v->line = line;
	v->col = col;
	e->line = kp->line;
	e->col = kp->col;
	p->cur = v;
	return 0;
}

static int append_table(struct parser *p, toml_value *t, int line, int col)
{
	size_t last = p->nparts - 1;
	const struct keypart *kp = &p->parts[last];
	char name[160];
	struct entry *e = table_find(t, part_key(p, last), kp->len, kp->hash);
	toml_value *a;
	if (!e) {
		a = new_container(p, TOML_ARRAY, t->depth + 1, line, col);
		char *key = a ? arena_strndup(p, part_key(p, last), kp->len)
			      : NULL;
		if (!key || table_add(p, t, key, kp->len, kp->hash, kp->line,
				      kp->col, a))
			return -1;
		a->flags = TF_AOT;
	} else {
		a = e->val;
		key_name(p, last, name, sizeof(name));
		if (a->type == TOML_ARRAY && !(a->flags & TF_AOT))
			return fail_at(p, kp->line, kp->col, "cannot append "
				       "to array '%s': it was defined with "
				       "'= [...]'", name);
		if (a->type != TOML_ARRAY)
			return fail_at(p, kp->line, kp->col, "key '%s' is "
				       "already %s, not an array of tables",
				       name, article_type(a->type));
	}
	toml_value *elem = new_container(p, TOML_TABLE, a->depth + 1, line,
					 col);
	if (!elem || array_push(p, a, elem))
		return -1;
	elem->flags = TF_HEADER;
	p->cur = elem;
	return 0;
}

/* [a.b.c] or [[a.b.c]]; the cursor is on the first '['. */
static int parse_header(struct parser *p)
{
	int line = p->line, col = cur_col(p);
	char d[32];
	bool aot = peek_at(p, 1) == '[';
	p->pos += aot ? 2 : 1;
	if (parse_key(p))
		return -1;
	if (!expect_char(p, ']') || (aot && !expect_char(p, ']')))
		return fail(p, "expected '%s' to close the table header, "
			    "found %s", aot ? "]]" : "]", describe(p, d));
	toml_value *t = p->root;
	for (size_t i = 0; i + 1 < p->nparts; i++)
		if (!(t = header_step(p, t, i)))
			return -1;
	return aot ? append_table(p, t, line, col)
		   : define_table(p, t, line, col);
}

static int parse_document(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len)
			return 0;
		int c = peek(p);
		if (c == '[') {
			if (parse_header(p))
				return -1;
		} else if (c != '#' && c != '\n' && c != '\r') {
			if (parse_keyval(p, p->cur))
				return -1;
		}
		if (end_of_line(p))
			return -1;
	}
}

/* ---------------------------------------------------------------- API */

toml_value *toml_parse(const char *src, size_t len, struct toml_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	struct toml_doc *doc = calloc(1, sizeof(*doc));
	if (!doc) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	doc->arena.next_cap = FIRST_CHUNK;
	toml_value *root = &doc->root;
	root->type = TOML_TABLE;
	root->line = root->col = 1;
	root->flags = TF_HEADER;

	struct parser p = {
		.src = src ? src : "", .len = src ? len : 0, .line = 1,
		.arena = &doc->arena, .err = err, .root = root, .cur = root,
	};
	const char *dp = localeconv()->decimal_point;
	snprintf(p.point, sizeof(p.point), "%s", dp && *dp ? dp : ".");
	/* A UTF-8 byte order mark is allowed at the very start only. */
	if (p.len >= 3 && memcmp(p.src, "\xEF\xBB\xBF", 3) == 0)
		p.pos = p.line_start = 3;

	int rc = check_utf8(&p);
	if (!rc)
		rc = parse_document(&p);
	free(p.buf.s);
	free(p.keys.s);
	free(p.parts);
	if (rc) {
		arena_release(&doc->arena);
		free(doc);
		return NULL;
	}
	return root;
}

void toml_free(toml_value *root)
{
	if (!root)
		return;
	struct toml_doc *doc = (struct toml_doc *)root;
	arena_release(&doc->arena);
	free(doc);
}

enum toml_type toml_type(const toml_value *v)
{
	return v->type;
}

const char *toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "boolean";
	case TOML_DATETIME: return "offset datetime";
	case TOML_DATETIME_LOCAL: return "local datetime";
	case TOML_DATE_LOCAL: return "local date";
	case TOML_TIME_LOCAL: return "local time";
	case TOML_ARRAY: return "array";
	case TOML_TABLE: return "table";
	}
	return "unknown";
}

int toml_line(const toml_value *v)
{
	return v ? v->line : 0;
}

int toml_col(const toml_value *v)
{
	return v ? v->col : 0;
}

static const struct entry *entry_at(const toml_value *t, size_t i)
{
	if (!t || t->type != TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	return &t->u.tab.ents[i];
}

size_t toml_table_len(const toml_value *t)
{
	return t && t->type == TOML_TABLE ? t->u.tab.len : 0;
}

const char *toml_table_key(const toml_value *t, size_t i, size_t *keylen)
{
	const struct entry *e = entry_at(t, i);
	if (keylen)
		*keylen = e ? e->keylen : 0;
	return e ? e->key : NULL;
}

const toml_value *toml_table_value(const toml_value *t, size_t i)
{
	const struct entry *e = entry_at(t, i);
	return e ? e->val : NULL;
}

int toml_table_key_line(const toml_value *t, size_t i)
{
	const struct entry *e = entry_at(t, i);
	return e ? e->line : 0;
}

int toml_table_key_col(const toml_value *t, size_t i)
{
	const struct entry *e = entry_at(t, i);
	return e ? e->col : 0;
}

const toml_value *toml_table_getn(const toml_value *t, const char *key,
				  size_t keylen)
{
	if (!t || t->type != TOML_TABLE || !key)
		return NULL;
	struct entry *e = table_find(t, key, keylen, hash_key(key, keylen));
	return e ? e->val : NULL;
}

const toml_value *toml_table_get(const toml_value *t, const char *key)
{
	return key ? toml_table_getn(t, key, strlen(key)) : NULL;
}

size_t toml_array_len(const toml_value *a)
{
	return a && a->type == TOML_ARRAY ? a->u.arr.len : 0;
}

const toml_value *toml_array_at(const toml_value *a, size_t i)
{
	if (!a || a->type != TOML_ARRAY || i >= a->u.arr.len)
		return NULL;
	return a->u.arr.items[i];
}

const char *toml_as_string(const toml_value *v, size_t *len)
{
	bool ok = v && v->type == TOML_STRING;
	if (len)
		*len = ok ? v->u.str.len : 0;
	return ok ? v->u.str.s : NULL;
}

int64_t toml_as_int(const toml_value *v)
{
	return v && v->type == TOML_INTEGER ? v->u.i : 0;
}

double toml_as_float(const toml_value *v)
{
	return v && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

bool toml_as_bool(const toml_value *v)
{
	return v && v->type == TOML_BOOL ? v->u.b : false;
}

const struct toml_datetime *toml_as_datetime(const toml_value *v)
{
	if (!v || v->type < TOML_DATETIME || v->type > TOML_TIME_LOCAL)
		return NULL;
	return &v->u.dt;
}

/* The shared part of the typed look-ups. */
static int lookup(const toml_value *t, const char *key, enum toml_type want,
		  const toml_value **v, const toml_value **found)
{
	*v = toml_table_get(t, key);
	if (found)
		*found = *v;
	if (!*v)
		return TOML_MISSING;
	return (*v)->type == want ? TOML_OK : TOML_WRONG_TYPE;
}

int toml_get_string(const toml_value *t, const char *key, const char **out,
		    const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_STRING, &v, found);
	if (rc == TOML_OK && out)
		*out = v->u.str.s;
	return rc;
}

int toml_get_int(const toml_value *t, const char *key, int64_t *out,
		 const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_INTEGER, &v, found);
	if (rc == TOML_OK && out)
		*out = v->u.i;
	return rc;
}

int toml_get_float(const toml_value *t, const char *key, double *out,
		   const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_FLOAT, &v, found);
	if (rc == TOML_OK && out)
		*out = v->u.f;
	return rc;
}

int toml_get_bool(const toml_value *t, const char *key, bool *out,
		  const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_BOOL, &v, found);
	if (rc == TOML_OK && out)
		*out = v->u.b;
	return rc;
}

int toml_get_table(const toml_value *t, const char *key,
		   const toml_value **out, const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_TABLE, &v, found);
	if (rc == TOML_OK && out)
		*out = v;
	return rc;
}

int toml_get_array(const toml_value *t, const char *key,
		   const toml_value **out, const toml_value **found)
{
	const toml_value *v;
	int rc = lookup(t, key, TOML_ARRAY, &v, found);
	if (rc == TOML_OK && out)
		*out = v;
	return rc;
}
