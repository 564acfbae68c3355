/*
 * format: output helpers shared by the commands — streams, error lines,
 * sizes, safe text, state icons and colours, number parsing, JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shell_int.h"

uint64_t sh_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sh_out(struct sh_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
}

void sh_err(struct sh_ctx *c, const char *fmt, ...)
{
	fflush(c->out);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fflush(c->err);
}

int sh_usage_error(struct sh_ctx *c, const char *fmt, ...)
{
	fflush(c->out);
	fprintf(c->err, "vm %s: ", c->verb ? c->verb->name : "?");
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	if (c->verb)
		fprintf(c->err, "\nUsage: %s\n", c->verb->usage);
	else
		fputc('\n', c->err);
	fflush(c->err);
	return SH_USAGE;
}

int sh_one_vm(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "which VM? (expected an id or a name)");
	if (a->npos > 1)
		return sh_usage_error(c, "expected one VM, got %zu", a->npos);
	return 0;
}

int sh_lookup(struct sh_ctx *c, const char *key, struct reg_vm **out)
{
	struct cv_err e = {0};
	int rc = registry_lookup(c->reg, key, out, &e);
	if (!rc)
		return SH_OK;
	bool digits = *key && strspn(key, "0123456789") == strlen(key);
	if (rc == -ENOENT && digits) {
		sh_err(c, "✗ VM[%s] not found\n", key);
	} else if (rc == -ENOENT) {
		fflush(c->out);
		fputs("✗ VM '", c->err);
		sh_put_text(c->err, key);
		fputs("' not found\n", c->err);
		fflush(c->err);
	} else {
		fflush(c->out);
		fputs("✗ ", c->err);
		sh_put_text(c->err, e.msg);
		fputc('\n', c->err);
		fflush(c->err);
	}
	return SH_FAILED;
}

int sh_each_vm(struct sh_ctx *c, const struct sh_args *a, sh_vm_fn one)
{
	int status = SH_OK;
	json_t *res = json_array();
	for (size_t i = 0; i < a->npos; i++) {
		struct reg_vm *v;
		if (sh_lookup(c, a->pos[i], &v)) {
			status = SH_FAILED;
			continue;
		}
		if (one(c, v, a, res))
			status = SH_FAILED;
		reg_vm_put(v);
	}
	sh_set_result(c, json_pack("{s:o}", "vms", res));
	return status;
}

void sh_refused(struct sh_ctx *c, const char *verb, uint32_t id,
		const char *why)
{
	sh_err(c, "✗ Failed to %s VM[%u]: %s\n", verb, id, why);
}

void sh_fmt_mem(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KB", "MB", "GB" };
	unsigned u = 0;
	while (u < 3 && bytes >= (1ull << (10 * (u + 1))))
		u++;
	uint64_t v = bytes >> (10 * u);
	snprintf(buf, len, "%llu%s", (unsigned long long)v, unit[u]);
}

/* Columns s takes when printed by sh_put_text (UTF-8: one per code point). */
static int text_width(const char *s)
{
	int w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			w += 4;
		else if ((*p & 0xc0) != 0x80)
			w++;
	}
	return w;
}

void sh_put_text(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

void sh_put_cell(FILE *f, const char *s, int width)
{
	sh_put_text(f, s);
	for (int w = text_width(s); w < width; w++)
		fputc(' ', f);
}

const char *sh_plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

const char *sh_state_icon(enum vm_state s)
{
	switch (s) {
	case VM_RUNNING:
		return "●";
	case VM_SUSPENDED:
		return "⏸";
	case VM_STOPPED:
		return "■";
	case VM_STOPPING:
	case VM_LOADING:
		return "◐";
	case VM_LOADED:
		return "○";
	}
	return "?";
}

const char *sh_state_color(const struct sh_ctx *c, enum vm_state s)
{
	if (!c->color)
		return "";
	switch (s) {
	case VM_RUNNING:
		return "\033[32m";
	case VM_SUSPENDED:
	case VM_STOPPING:
	case VM_LOADING:
		return "\033[33m";
	case VM_STOPPED:
		return "\033[31m";
	case VM_LOADED:
		return "\033[36m";
	}
	return "";
}

const char *sh_color_reset(const struct sh_ctx *c)
{
	return c->color ? "\033[0m" : "";
}

int sh_parse_seconds(const char *s, uint64_t *ns)
{
	if (!*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || *end || !isfinite(d) || d < 0 || d > 86400.0)
		return -EINVAL;
	*ns = (uint64_t)(d * 1e9);
	return 0;
}

int sh_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return -EINVAL;
	unsigned long long v = strtoull(s, NULL, 10);
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int sh_parse_state(const char *s, enum vm_state *out)
{
	for (int i = VM_LOADING; i <= VM_STOPPED; i++) {
		if (!strcasecmp(s, vm_state_name((enum vm_state)i))) {
			*out = (enum vm_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

int sh_parse_format(struct sh_ctx *c, const char *s, bool *json)
{
	if (!s || !strcmp(s, "table")) {
		*json = false;
		return 0;
	}
	if (!strcmp(s, "json")) {
		*json = true;
		return 0;
	}
	sh_usage_error(c, "--format: expected table or json, got '%s'", s);
	return -EINVAL;
}

void sh_set_result(struct sh_ctx *c, json_t *v)
{
	if (c->result)
		json_decref(c->result);
	c->result = v;
}

void sh_emit_json(struct sh_ctx *c, json_t *v)
{
	/* ASCII-only: names with any bytes still give valid JSON */
	json_dumpf(v, c->out, JSON_INDENT(2) | JSON_ENSURE_ASCII |
				      JSON_PRESERVE_ORDER);
	fputc('\n', c->out);
	sh_set_result(c, v);
}

json_t *sh_json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	/* not UTF-8 (a config can hold any bytes): keep ASCII, mark the rest */
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (!copy)
		return json_string("");
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_string(copy);
	free(copy);
	return j ? j : json_string("");
}
