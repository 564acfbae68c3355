/*
 * The `metrics` command over real VMs (on $CVISOR_TEST_ACCEL): a small
 * checker of the Prometheus text format 0.0.4 (every line a HELP, a TYPE
 * or a well-formed sample; every family has HELP and TYPE before its
 * samples and appears once; label values escaped; values numbers), the
 * figures against `vm stats` for VMs that stopped (frozen counters), the
 * structured result against the text, and a golden text for a fixed set
 * of VMs.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "shtest.h"

#define T_OUT 20000	/* ms */

#define RUN(t, want, ...) do {						\
		int st_ = sht_run((t), __VA_ARGS__);			\
		if (st_ != (want))					\
			fail_msg("status %d (want %d)\nout: %s\nerr: %s", \
				 st_, (want), (t)->out, (t)->err);	\
	} while (0)

/* ---- the checker -------------------------------------------------------- */

#define MAX_FAMS 64
#define MAX_SAMPLES 4096

struct sample {
	char name[96];
	char labels[512];	/* raw text between the braces, unescaped */
	char *label_kv[16][2];
	int nlabels;
	double value;
};

struct family {
	char name[96];
	char type[16];
	bool help;
};

struct parsed {
	struct family fams[MAX_FAMS];
	int nfams;
	struct sample *samples;
	int nsamples;
	char why[256];		/* the first problem found */
};

/* The checker reports instead of failing, so it can be tested itself. */
#define BAD(p, ...) do {						\
		snprintf((p)->why, sizeof((p)->why), __VA_ARGS__);	\
		return false;						\
	} while (0)

static bool metric_name_ok(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

static bool label_name_ok(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static struct family *find_family(struct parsed *p, const char *name)
{
	for (int i = 0; i < p->nfams; i++)
		if (!strcmp(p->fams[i].name, name))
			return &p->fams[i];
	return NULL;
}

/*
 * The family a sample belongs to: its own name, or for a summary or
 * histogram the name without _sum/_count/_bucket (cvisor has none, but
 * the checker follows the format).
 */
static struct family *family_of(struct parsed *p, const char *name)
{
	return find_family(p, name);
}

/* Parse {k="v",...} at *s; fills the sample's labels (unescaped). */
static bool parse_labels(struct parsed *ps, const char **s,
			 struct sample *smp, int lineno)
{
	const char *p = *s + 1;
	while (*p != '}') {
		const char *k = p;
		while (*p && *p != '=')
			p++;
		if (!label_name_ok(k, (size_t)(p - k)))
			BAD(ps, "line %d: bad label name", lineno);
		if (p[0] != '=' || p[1] != '"')
			BAD(ps, "line %d: label value not quoted", lineno);
		size_t klen = (size_t)(p - k);
		p += 2;
		char val[512];
		size_t n = 0;
		while (*p != '"') {
			if (!*p)
				BAD(ps, "line %d: unterminated label value",
					 lineno);
			if (*p == '\n')
				BAD(ps, "line %d: raw newline in a value",
					 lineno);
			if (*p == '\\') {
				p++;
				if (*p == 'n')
					val[n++] = '\n';
				else if (*p == '\\' || *p == '"')
					val[n++] = *p;
				else
					BAD(ps, "line %d: bad escape \\%c",
						 lineno, *p);
			} else {
				val[n++] = *p;
			}
			p++;
			if (n >= sizeof(val) - 1)
				BAD(ps, "line %d: label value too long", lineno);
		}
		val[n] = '\0';
		p++;
		char *key = strndup(k, klen);
		for (int i = 0; i < smp->nlabels; i++)
			if (!strcmp(smp->label_kv[i][0], key)) {
				free(key);
				BAD(ps, "line %d: label twice", lineno);
			}
		if (smp->nlabels >= 16) {
			free(key);
			BAD(ps, "line %d: too many labels", lineno);
		}
		smp->label_kv[smp->nlabels][0] = key;
		smp->label_kv[smp->nlabels][1] = strdup(val);
		smp->nlabels++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			BAD(ps, "line %d: expected , or } after a label", lineno);
	}
	*s = p + 1;
	return true;
}

static bool check_lines(char *copy, struct parsed *p);

static bool check_exposition(const char *text, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->samples = calloc(MAX_SAMPLES, sizeof(*p->samples));
	assert_non_null(p->samples);
	size_t len = strlen(text);
	if (!len || text[len - 1] != '\n')
		BAD(p, "the text does not end with a newline");
	char *copy = strdup(text);
	bool ok = check_lines(copy, p);
	free(copy);
	return ok;
}

static bool check_lines(char *copy, struct parsed *p)
{
	int lineno = 0;
	struct family *current = NULL;
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
			const char *name = l + 7;
			const char *sp = strchr(name, ' ');
			if (!sp || !metric_name_ok(name, (size_t)(sp - name)))
				BAD(p, "line %d: bad metric name: %s", lineno,
					 l);
			char nm[96];
			snprintf(nm, sizeof(nm), "%.*s", (int)(sp - name), name);
			struct family *f = find_family(p, nm);
			if (!f) {
				if (p->nfams >= MAX_FAMS)
					BAD(p, "too many families");
				f = &p->fams[p->nfams++];
				snprintf(f->name, sizeof(f->name), "%s", nm);
			} else if (f != current) {
				BAD(p, "line %d: family %s appears twice",
					 lineno, nm);
			}
			current = f;
			if (l[2] == 'H') {
				if (f->help)
					BAD(p, "line %d: second HELP", lineno);
				f->help = true;
				/* HELP escapes: only \\ and \n */
				for (const char *h = sp + 1; *h; h++) {
					if (*h != '\\')
						continue;
					if (h[1] != '\\' && h[1] != 'n')
						BAD(p, "line %d: bad HELP "
							 "escape", lineno);
					h++;
				}
			} else {
				if (f->type[0])
					BAD(p, "line %d: second TYPE", lineno);
				const char *t = sp + 1;
				if (strcmp(t, "counter") && strcmp(t, "gauge") &&
				    strcmp(t, "histogram") &&
				    strcmp(t, "summary") && strcmp(t, "untyped"))
					BAD(p, "line %d: bad type %s", lineno,
						 t);
				snprintf(f->type, sizeof(f->type), "%s", t);
			}
			continue;
		}
		if (l[0] == '#')
			continue;	/* a comment */
		if (p->nsamples >= MAX_SAMPLES)
			BAD(p, "too many samples");
		struct sample *smp = &p->samples[p->nsamples++];
		const char *s = l;
		while (*s && *s != '{' && *s != ' ')
			s++;
		if (!metric_name_ok(l, (size_t)(s - l)))
			BAD(p, "line %d: bad sample name: %s", lineno, l);
		snprintf(smp->name, sizeof(smp->name), "%.*s", (int)(s - l), l);
		if (*s == '{' && !parse_labels(p, &s, smp, lineno))
			return false;
		if (*s != ' ')
			BAD(p, "line %d: no space before the value", lineno);
		s++;
		char *end;
		errno = 0;
		smp->value = strtod(s, &end);
		if (end == s || errno)
			BAD(p, "line %d: bad value '%s'", lineno, s);
		if (*end == ' ') {	/* optional timestamp */
			char *e2;
			strtoll(end + 1, &e2, 10);
			end = e2;
		}
		if (*end)
			BAD(p, "line %d: junk after the value: %s", lineno,
				 end);
		struct family *f = family_of(p, smp->name);
		if (!f || f != current || !f->help || !f->type[0])
			BAD(p, "line %d: %s has no HELP and TYPE before it",
				 lineno, smp->name);
		if (!strcmp(f->type, "counter") &&
		    (smp->value < 0 || !strstr(smp->name, "_total")))
			BAD(p, "line %d: bad counter %s", lineno, smp->name);
	}
	for (int i = 0; i < p->nfams; i++)
		if (!p->fams[i].help || !p->fams[i].type[0])
			BAD(p, "family %s lacks HELP or TYPE", p->fams[i].name);
	return true;
}

static void parsed_free(struct parsed *p)
{
	for (int i = 0; i < p->nsamples; i++)
		for (int j = 0; j < p->samples[i].nlabels; j++) {
			free(p->samples[i].label_kv[j][0]);
			free(p->samples[i].label_kv[j][1]);
		}
	free(p->samples);
}

static void parse_exposition(const char *text, struct parsed *p)
{
	if (!check_exposition(text, p))
		fail_msg("bad exposition text: %s\n%s", p->why, text);
}

static const char *label(const struct sample *s, const char *k)
{
	for (int i = 0; i < s->nlabels; i++)
		if (!strcmp(s->label_kv[i][0], k))
			return s->label_kv[i][1];
	return NULL;
}

/* The value of name{id=ID, extra k=v...}; fails when absent or ambiguous. */
static double value_of(const struct parsed *p, const char *name,
		       const char *id, const char *k, const char *v)
{
	int found = 0;
	double val = 0;
	for (int i = 0; i < p->nsamples; i++) {
		const struct sample *s = &p->samples[i];
		if (strcmp(s->name, name))
			continue;
		if (id && (!label(s, "id") || strcmp(label(s, "id"), id)))
			continue;
		if (k && (!label(s, k) || strcmp(label(s, k), v)))
			continue;
		val += s->value;	/* summed over the other labels */
		found++;
	}
	if (!found)
		fail_msg("no sample %s{id=%s,%s=%s}", name, id ? id : "-",
			 k ? k : "-", v ? v : "-");
	return val;
}

/* ---- tests -------------------------------------------------------------- */

static int run_metrics(struct shtest *t, json_t **result)
{
	free(t->out);
	free(t->err);
	size_t ol, el;
	FILE *out = open_memstream(&t->out, &ol);
	FILE *err = open_memstream(&t->err, &el);
	char *argv[] = { (char *)"metrics" };
	t->status = shell_run_argv(t->sh, 1, argv, out, err, result);
	fclose(out);
	fclose(err);
	return t->status;
}

static json_t *stats_of(struct shtest *t, unsigned id)
{
	RUN(t, 0, "vm stats %u --format json", id);
	json_t *j = json_loads(t->out, 0, NULL);
	assert_non_null(j);
	return j;
}

/* Find key anywhere in j (the first match, depth first). */
static json_t *dig(json_t *j, const char *key)
{
	if (json_is_object(j)) {
		json_t *v = json_object_get(j, key);
		if (v)
			return v;
		const char *k;
		json_t *x;
		json_object_foreach(j, k, x) {
			json_t *r = dig(x, key);
			if (r)
				return r;
		}
	} else if (json_is_array(j)) {
		size_t i;
		json_t *x;
		json_array_foreach(j, i, x) {
			json_t *r = dig(x, key);
			if (r)
				return r;
		}
	}
	return NULL;
}

static void test_metrics_real_vms(void **state)
{
	(void)state;
	struct shtest t;
	sht_setup(&t, NULL);
	const char *odd = sht_write(&t, "odd.toml",
		"[base]\nname = 'we\"ird\\name'\ncpu_num = 1\n"
		"[kernel]\nentry_point = 0x8000\nimage_location = \"memory\"\n"
		"kernel_path = \"ticker\"\nkernel_load_addr = 0x8000\n"
		"boot_protocol = \"raw\"\ncpu_mode = \"real\"\n"
		"memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n");
	RUN(&t, 0, "vm create %s %s %s %s", sht_cfg("exitcode"),
	    sht_cfg("ticker"), sht_cfg("reboot"), odd);
	RUN(&t, 0, "vm start 0 1 2");
	RUN(&t, 0, "vm wait 0 --state Stopped --timeout 30");
	/* let the ticker print and the reboot guest reboot a few times */
	struct capture c1, c2;
	cap_attach(&c1, t.reg, 1);
	cap_attach(&c2, t.reg, 2);
	assert_true(capture_wait(&c1, 0, "tick 2", T_OUT));
	size_t m = capture_len(&c2);
	assert_true(capture_wait(&c2, 0, "reboot: booting", T_OUT));
	m = capture_len(&c2);
	assert_true(capture_wait(&c2, m, "reboot: booting", T_OUT));
	cap_detach(&c1);
	cap_detach(&c2);
	RUN(&t, 0, "vm stop 2 --force");

	json_t *result = NULL;
	assert_int_equal(run_metrics(&t, &result), 0);
	assert_string_equal(t.err, "");
	struct parsed p;
	parse_exposition(t.out, &p);

	assert_int_equal(value_of(&p, "cvisor_vms", NULL, NULL, NULL), 4);
	assert_int_equal(value_of(&p, "cvisor_vms_by_state", NULL, "state",
				  "Stopped"), 2);
	assert_int_equal(value_of(&p, "cvisor_vms_by_state", NULL, "state",
				  "Running"), 1);
	assert_int_equal(value_of(&p, "cvisor_vms_by_state", NULL, "state",
				  "Loaded"), 1);
	assert_int_equal(value_of(&p, "cvisor_vm_state", "0", "state",
				  "Stopped"), 1);
	assert_int_equal(value_of(&p, "cvisor_vm_state", "0", NULL, NULL), 1);
	assert_int_equal(value_of(&p, "cvisor_vm_state", "1", "state",
				  "Running"), 1);
	assert_int_equal(value_of(&p, "cvisor_vm_state", "3", "state",
				  "Loaded"), 1);
	assert_true(value_of(&p, "cvisor_vm_uptime_seconds", "1", NULL,
			     NULL) > 0);
	assert_true(value_of(&p, "cvisor_vm_console_bytes_total", "1", NULL,
			     NULL) > 0);
	assert_int_equal(value_of(&p, "cvisor_vm_uptime_seconds", "3", NULL,
				  NULL), 0);

	/* the escaped name came back intact */
	bool odd_seen = false;
	for (int i = 0; i < p.nsamples; i++) {
		const char *id = label(&p.samples[i], "id");
		if (id && !strcmp(id, "3")) {
			assert_string_equal(label(&p.samples[i], "name"),
					    "we\"ird\\name");
			odd_seen = true;
		}
	}
	assert_true(odd_seen);
	assert_non_null(strstr(t.out, "name=\"we\\\"ird\\\\name\""));

	/* stopped VMs: counters are frozen, they equal vm stats */
	const char *ids[] = { "0", "2" };
	for (int i = 0; i < 2; i++) {
		json_t *st = stats_of(&t, (unsigned)atoi(ids[i]));
		json_t *ex = dig(st, "exits");
		assert_non_null(ex);
		const char *reasons[] = { "io", "mmio", "hlt", "shutdown",
					  "kick", "other" };
		for (int r = 0; r < 6; r++)
			assert_int_equal(
				value_of(&p, "cvisor_vm_exits_total", ids[i],
					 "reason", reasons[r]),
				json_integer_value(json_object_get(ex,
								   reasons[r])));
		assert_int_equal(value_of(&p, "cvisor_vm_vcpu_runs_total",
					  ids[i], NULL, NULL),
				 json_integer_value(json_object_get(ex, "runs")));
		assert_int_equal(value_of(&p, "cvisor_vm_console_bytes_total",
					  ids[i], NULL, NULL),
				 json_integer_value(dig(st, "console_bytes")));
		assert_int_equal(value_of(&p, "cvisor_vm_reboots_total", ids[i],
					  NULL, NULL),
				 json_integer_value(dig(st, "reboots")));
		double cpu = value_of(&p, "cvisor_vm_cpu_seconds_total", ids[i],
				      NULL, NULL);
		double cpu_stats = (double)json_integer_value(
			dig(st, "cpu_time_ns")) / 1e9;
		/*
		 * Host CPU time of parked threads can still move a little
		 * (a thread finishing its way into the park): the stats read
		 * later is not smaller and not far off.
		 */
		if (cpu > cpu_stats + 1e-6 || cpu_stats - cpu > 0.5)
			fail_msg("VM %s: cpu %.9f s in metrics, %.9f s in stats",
				 ids[i], cpu, cpu_stats);
		json_decref(st);
	}
	assert_true(value_of(&p, "cvisor_vm_console_bytes_total", "0", NULL,
			     NULL) > 0);
	assert_true(value_of(&p, "cvisor_vm_reboots_total", "2", NULL,
			     NULL) >= 2);

	/* the structured result holds the same samples */
	json_t *fams = json_object_get(result, "families");
	assert_int_equal(json_array_size(fams), (size_t)p.nfams);
	size_t total = 0, i;
	json_t *f;
	json_array_foreach(fams, i, f) {
		struct family *pf = find_family(&p, json_string_value(
			json_object_get(f, "name")));
		assert_non_null(pf);
		assert_string_equal(pf->type, json_string_value(
			json_object_get(f, "type")));
		total += json_array_size(json_object_get(f, "samples"));
	}
	assert_int_equal(total, (size_t)p.nsamples);
	json_decref(result);
	parsed_free(&p);

	/* usage */
	RUN(&t, 2, "metrics now");
	assert_non_null(strstr(t.err, "unexpected argument 'now'"));
	RUN(&t, 0, "metrics --help");
	assert_non_null(strstr(t.out, "Prometheus"));
	RUN(&t, 0, "help");
	assert_non_null(strstr(t.out, "metrics"));
	sht_teardown(&t);
}

/* Golden: the exact text for an empty registry and a Loaded VM. */
static const char golden[] =
	"# HELP cvisor_build_info cvisor version (always 1).\n"
	"# TYPE cvisor_build_info gauge\n"
	"cvisor_build_info{version=\"VERSION\"} 1\n"
	"# HELP cvisor_vms Number of VMs this hypervisor manages.\n"
	"# TYPE cvisor_vms gauge\n"
	"cvisor_vms 1\n"
	"# HELP cvisor_vms_by_state Number of VMs in each state.\n"
	"# TYPE cvisor_vms_by_state gauge\n"
	"cvisor_vms_by_state{state=\"Loading\"} 0\n"
	"cvisor_vms_by_state{state=\"Loaded\"} 1\n"
	"cvisor_vms_by_state{state=\"Running\"} 0\n"
	"cvisor_vms_by_state{state=\"Suspended\"} 0\n"
	"cvisor_vms_by_state{state=\"Stopping\"} 0\n"
	"cvisor_vms_by_state{state=\"Stopped\"} 0\n"
	"# HELP cvisor_vm_state 1 for the state the VM is in, 0 for the others.\n"
	"# TYPE cvisor_vm_state gauge\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Loading\"} 0\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Loaded\"} 1\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Running\"} 0\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Suspended\"} 0\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Stopping\"} 0\n"
	"cvisor_vm_state{id=\"0\",name=\"a\\\"b\\\\c\",state=\"Stopped\"} 0\n"
	"# HELP cvisor_vm_vcpus Number of vCPUs.\n"
	"# TYPE cvisor_vm_vcpus gauge\n"
	"cvisor_vm_vcpus{id=\"0\",name=\"a\\\"b\\\\c\"} 1\n"
	"# HELP cvisor_vm_memory_bytes Guest RAM in bytes.\n"
	"# TYPE cvisor_vm_memory_bytes gauge\n"
	"cvisor_vm_memory_bytes{id=\"0\",name=\"a\\\"b\\\\c\"} 16777216\n"
	"# HELP cvisor_vm_exits_total vCPU exits to the VMM by reason.\n"
	"# TYPE cvisor_vm_exits_total counter\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"io\"} 0\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"mmio\"} 0\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"hlt\"} 0\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"shutdown\"} 0\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"kick\"} 0\n"
	"cvisor_vm_exits_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\",reason=\"other\"} 0\n"
	"# HELP cvisor_vm_vcpu_runs_total Guest entries of each vCPU.\n"
	"# TYPE cvisor_vm_vcpu_runs_total counter\n"
	"cvisor_vm_vcpu_runs_total{id=\"0\",name=\"a\\\"b\\\\c\",vcpu=\"0\"} 0\n"
	"# HELP cvisor_vm_console_bytes_total Bytes the guest wrote to its console.\n"
	"# TYPE cvisor_vm_console_bytes_total counter\n"
	"cvisor_vm_console_bytes_total{id=\"0\",name=\"a\\\"b\\\\c\"} 0\n"
	"# HELP cvisor_vm_cpu_seconds_total Host CPU time of the VM's vCPU threads in seconds.\n"
	"# TYPE cvisor_vm_cpu_seconds_total counter\n"
	"cvisor_vm_cpu_seconds_total{id=\"0\",name=\"a\\\"b\\\\c\"} CPU\n"
	"# HELP cvisor_vm_uptime_seconds Seconds since the VM last started (0 if it never did).\n"
	"# TYPE cvisor_vm_uptime_seconds gauge\n"
	"cvisor_vm_uptime_seconds{id=\"0\",name=\"a\\\"b\\\\c\"} 0.000000000\n"
	"# HELP cvisor_vm_reboots_total Guest reboots handled in place (on_reboot = restart).\n"
	"# TYPE cvisor_vm_reboots_total counter\n"
	"cvisor_vm_reboots_total{id=\"0\",name=\"a\\\"b\\\\c\"} 0\n";

static void test_metrics_golden(void **state)
{
	(void)state;
	struct shtest t;
	sht_setup(&t, NULL);
	const char *cfg = sht_write(&t, "g.toml",
		"[base]\nname = 'a\"b\\c'\ncpu_num = 1\n"
		"[kernel]\nentry_point = 0x8000\nimage_location = \"memory\"\n"
		"kernel_path = \"ticker\"\nkernel_load_addr = 0x8000\n"
		"boot_protocol = \"raw\"\ncpu_mode = \"real\"\n"
		"memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n");
	RUN(&t, 0, "vm create %s", cfg);
	RUN(&t, 0, "metrics");
	/* the two values that are not fixed: the version and CPU time */
	char *text = strdup(t.out);
	char *v = strstr(text, "version=\"");
	assert_non_null(v);
	char *q = strchr(v + 9, '"');
	char *out = NULL;
	size_t ol;
	FILE *f = open_memstream(&out, &ol);
	fprintf(f, "%.*sVERSION%s", (int)(v + 9 - text), text, q);
	fclose(f);
	free(text);
	char *cpu = strstr(out, "cvisor_vm_cpu_seconds_total{");
	assert_non_null(cpu);
	cpu = strstr(cpu, "} ") + 2;
	char *nl = strchr(cpu, '\n');
	char *masked = NULL;
	f = open_memstream(&masked, &ol);
	fprintf(f, "%.*sCPU%s", (int)(cpu - out), out, nl);
	fclose(f);
	assert_string_equal(masked, golden);
	free(masked);
	free(out);

	/* an empty registry: the process-level families, no VM samples */
	RUN(&t, 0, "vm delete 0");
	RUN(&t, 0, "metrics");
	struct parsed p;
	parse_exposition(t.out, &p);
	assert_int_equal(value_of(&p, "cvisor_vms", NULL, NULL, NULL), 0);
	for (int i = 0; i < p.nsamples; i++)
		assert_null(label(&p.samples[i], "id"));
	assert_non_null(strstr(t.out, "# TYPE cvisor_vm_exits_total counter\n"
				      "# HELP cvisor_vm_vcpu_runs_total"));
	parsed_free(&p);
	sht_teardown(&t);
}

/* The checker itself rejects what it must (it is what the tests trust). */
static void test_checker_negative(void **state)
{
	(void)state;
	static const struct { const char *text, *why; } bad[] = {
		{ "x 1\n", "has no HELP and TYPE" },
		{ "# HELP x h\n# TYPE x gauge\nx{a=\"b} 1\n", "unterminated" },
		{ "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n", "bad escape" },
		{ "# HELP x h\n# TYPE x gauge\nx{1a=\"b\"} 1\n", "bad label name" },
		{ "# HELP x h\n# TYPE x gauge\nx{a=b} 1\n", "not quoted" },
		{ "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n", "twice" },
		{ "# HELP x h\n# TYPE x gauge\nx one\n", "bad value" },
		{ "# HELP x h\n# TYPE x gauge\nx 1 2 3\n", "junk" },
		{ "# HELP x h\n# TYPE x counter\nx 1\n", "bad counter" },
		{ "# HELP x h\n# TYPE x gauge\nx 1\n# HELP y h\n# TYPE y gauge\n"
		  "y 1\n# HELP x h\n", "appears twice" },
		{ "# HELP x h\n# TYPE x gauge\nx 1", "newline" },
		{ "# HELP x h\n# TYPE x gauge\ny 1\n", "has no HELP and TYPE" },
		{ "# HELP x h\n# TYPE x meter\n", "bad type" },
		{ "# HELP x h\n", "lacks HELP or TYPE" },
		{ "# HELP x a \\q\n# TYPE x gauge\n", "bad HELP escape" },
		{ "# HELP 1x h\n", "bad metric name" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed p;
		if (check_exposition(bad[i].text, &p))
			fail_msg("the checker accepted bad text %zu", i);
		if (!strstr(p.why, bad[i].why))
			fail_msg("text %zu: '%s', expected '%s'", i, p.why,
				 bad[i].why);
		parsed_free(&p);
	}
	struct parsed p;
	parse_exposition("# HELP x a \\\\ b\n# TYPE x gauge\n"
			 "x{a=\"q\\\"\\\\\\n\"} 1.5e3 1700000000000\n", &p);
	assert_int_equal(p.nsamples, 1);
	assert_string_equal(label(&p.samples[0], "a"), "q\"\\\n");
	assert_true(p.samples[0].value == 1500);
	parsed_free(&p);
}

int main(void)
{
	sht_require_backend();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_negative),
		cmocka_unit_test(test_metrics_golden),
		cmocka_unit_test(test_metrics_real_vms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
