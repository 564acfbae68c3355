/*
 * toml_json: the tagged-JSON form of a TOML document, as toml-test's
 * decoder interface defines it.
 */
#include "toml_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tag(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "bool";
	case TOML_DATETIME: return "datetime";
	case TOML_DATETIME_LOCAL: return "datetime-local";
	case TOML_DATE_LOCAL: return "date-local";
	case TOML_TIME_LOCAL: return "time-local";
	default: return NULL;
	}
}

/* The shortest %g form that reads back as the same double. */
static void format_float(double f, char *out, size_t size)
{
	if (isnan(f)) {
		snprintf(out, size, "nan");
		return;
	}
	if (isinf(f)) {
		snprintf(out, size, f < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, f);
		if (strtod(out, NULL) == f)
			return;
	}
}

static void format_datetime(enum toml_type t, const struct toml_datetime *dt,
			    char *out, size_t size)
{
	size_t n = 0;
	if (t != TOML_TIME_LOCAL)
		n += (size_t)snprintf(out, size, "%04d-%02d-%02d", dt->year,
				      dt->month, dt->day);
	if (t == TOML_DATETIME || t == TOML_DATETIME_LOCAL)
		n += (size_t)snprintf(out + n, size - n, "T");
	if (t != TOML_DATE_LOCAL) {
		n += (size_t)snprintf(out + n, size - n, "%02d:%02d:%02d",
				      dt->hour, dt->minute, dt->second);
		int digits = dt->frac_digits > 9 ? 9 : dt->frac_digits;
		if (digits > 0) {
			int ns = dt->nanosecond;
			for (int i = digits; i < 9; i++)
				ns /= 10;
			n += (size_t)snprintf(out + n, size - n, ".%0*d",
					      digits, ns);
		}
	}
	if (t == TOML_DATETIME) {
		int off = dt->offset_minutes;
		if (dt->offset_z)
			snprintf(out + n, size - n, "Z");
		else
			snprintf(out + n, size - n, "%c%02d:%02d",
				 off < 0 ? '-' : '+', abs(off) / 60,
				 abs(off) % 60);
	}
}

static json_t *scalar(const toml_value *v)
{
	char buf[64];
	const char *s = buf;
	size_t len;
	enum toml_type t = toml_type(v);
	switch (t) {
	case TOML_STRING:
		s = toml_as_string(v, &len);
		break;
	case TOML_INTEGER:
		snprintf(buf, sizeof(buf), "%" PRId64, toml_as_int(v));
		break;
	case TOML_FLOAT:
		format_float(toml_as_float(v), buf, sizeof(buf));
		break;
	case TOML_BOOL:
		snprintf(buf, sizeof(buf), "%s",
			 toml_as_bool(v) ? "true" : "false");
		break;
	default:
		format_datetime(t, toml_as_datetime(v), buf, sizeof(buf));
		break;
	}
	if (t != TOML_STRING)
		len = strlen(buf);
	return json_pack("{s:s,s:s%}", "type", tag(t), "value", s, len);
}

json_t *toml_tagged_json(const toml_value *v)
{
	json_t *j;
	switch (toml_type(v)) {
	case TOML_TABLE:
		j = json_object();
		for (size_t i = 0; j && i < toml_table_len(v); i++) {
			size_t klen;
			const char *k = toml_table_key(v, i, &klen);
			json_t *c = toml_tagged_json(toml_table_value(v, i));
			if (!c || json_object_setn_new(j, k, klen, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case TOML_ARRAY:
		j = json_array();
		for (size_t i = 0; j && i < toml_array_len(v); i++) {
			json_t *c = toml_tagged_json(toml_array_at(v, i));
			if (!c || json_array_append_new(j, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		return scalar(v);
	}
}
