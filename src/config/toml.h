/*
 * toml: cvisor's own TOML 1.0 parser (no C TOML library is packaged in
 * Debian).  It owns the whole 1.0 grammar and the document tree (DOM) it
 * builds.  The DOM is immutable after parsing; every value remembers the
 * line and column where it was written so that the config loader can name
 * file:line in its messages.
 *
 * Typed look-ups distinguish a missing key from a key of the wrong type.
 */
#ifndef CV_TOML_H
#define CV_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,		/* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL,	/* local date-time:  1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,	/* local date:       1979-05-27 */
	TOML_TIME_LOCAL,	/* local time:       07:32:00 */
	TOML_ARRAY,
	TOML_TABLE,
};

typedef struct toml_value toml_value;

struct toml_error {
	int line;		/* 1-based; 0 when not tied to a position */
	int col;		/* 1-based, in bytes */
	char msg[256];		/* a plain sentence, e.g. "duplicate key 'a'" */
};

struct toml_datetime {
	int year, month, day;		/* valid when the type has a date */
	int hour, minute, second;	/* valid when the type has a time */
	int nanosecond;			/* fractional seconds, truncated to ns */
	int frac_digits;		/* digits written after '.', 0 if none */
	int offset_minutes;		/* TOML_DATETIME only; Z = 0 */
	bool offset_z;			/* the offset was written as Z/z */
};

/*
 * Parse a whole document.  src need not be NUL-terminated.  Returns the
 * root table, or NULL with *err filled (NULL on allocation failure too:
 * err->msg then says "out of memory").
 */
toml_value *toml_parse(const char *src, size_t len, struct toml_error *err);
void toml_free(toml_value *root);

enum toml_type toml_type(const toml_value *v);
const char *toml_type_name(enum toml_type t); /* "string", "integer", ... */
int toml_line(const toml_value *v);	/* where the value starts, 1-based */
int toml_col(const toml_value *v);

/* Tables: keys in document order. */
size_t toml_table_len(const toml_value *t);
/* Key i (NUL-terminated; a key may contain "\0" escapes, keylen tells). */
const char *toml_table_key(const toml_value *t, size_t i, size_t *keylen);
const toml_value *toml_table_value(const toml_value *t, size_t i);
/* Line/column of the key that defined entry i (for "unknown key" warnings). */
int toml_table_key_line(const toml_value *t, size_t i);
int toml_table_key_col(const toml_value *t, size_t i);
/* NULL when absent; t may be NULL (then NULL). */
const toml_value *toml_table_get(const toml_value *t, const char *key);
/* The same for a key of keylen bytes that may contain NUL bytes. */
const toml_value *toml_table_getn(const toml_value *t, const char *key,
				  size_t keylen);

/* Arrays. */
size_t toml_array_len(const toml_value *a);
const toml_value *toml_array_at(const toml_value *a, size_t i);

/* Scalar accessors; the caller checks the type first. */
const char *toml_as_string(const toml_value *v, size_t *len); /* NUL-terminated */
int64_t toml_as_int(const toml_value *v);
double toml_as_float(const toml_value *v);
bool toml_as_bool(const toml_value *v);
const struct toml_datetime *toml_as_datetime(const toml_value *v);

/*
 * Typed look-ups in a table.  Return TOML_OK and fill *out, TOML_MISSING
 * when the key is absent, TOML_WRONG_TYPE when it holds another type
 * (then *found, if non-NULL, is the value that was found).
 */
enum toml_lookup { TOML_OK = 0, TOML_MISSING = -1, TOML_WRONG_TYPE = -2 };
int toml_get_string(const toml_value *t, const char *key, const char **out,
		    const toml_value **found);
int toml_get_int(const toml_value *t, const char *key, int64_t *out,
		 const toml_value **found);
int toml_get_float(const toml_value *t, const char *key, double *out,
		   const toml_value **found);
int toml_get_bool(const toml_value *t, const char *key, bool *out,
		  const toml_value **found);
int toml_get_table(const toml_value *t, const char *key,
		   const toml_value **out, const toml_value **found);
int toml_get_array(const toml_value *t, const char *key,
		   const toml_value **out, const toml_value **found);

#endif
