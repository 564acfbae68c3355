/*
 * event_json: a registry event as the JSON object of `cvisor events` (see
 * event_json.h).
 */
#include "event_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 3339 UTC with milliseconds, as the log lines use. */
static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000u);
	unsigned ms = (unsigned)(ns % 1000000000u / 1000000u);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ms);
}

/* Names come from configs: keep invalid UTF-8 from failing the event. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
	j = json_string(copy);
	free(copy);
	return j;
}

static bool stopping(enum vm_state s)
{
	return s == VM_STOPPING || s == VM_STOPPED;
}

json_t *reg_event_json(const struct reg_event *e)
{
	char when[40];
	fmt_time(e->time_ns, when, sizeof(when));
	json_t *vm = json_pack("{s:I, s:o}", "id", (json_int_t)e->id,
			       "name", text(e->name));
	if (!vm)
		return NULL;
	json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:o}",
			      "v", REG_EVENT_JSON_VERSION,
			      "seq", (json_int_t)e->seq, "time", when,
			      "event", reg_event_kind_name(e->kind), "vm", vm);
	if (!o)
		return NULL;
	int rc = 0;
	switch (e->kind) {
	case REG_EVENT_CREATED:
		rc |= json_object_set_new(o, "to",
					  json_string(vm_state_name(e->new_state)));
		break;
	case REG_EVENT_STATE:
		rc |= json_object_set_new(o, "from",
					  json_string(vm_state_name(e->old_state)));
		rc |= json_object_set_new(o, "to",
					  json_string(vm_state_name(e->new_state)));
		break;
	case REG_EVENT_REBOOTED:
		rc |= json_object_set_new(o, "state",
					  json_string(vm_state_name(e->new_state)));
		rc |= json_object_set_new(o, "reason",
					  json_string(vm_stop_reason_name(VM_STOP_REBOOT)));
		break;
	case REG_EVENT_DELETED:
		rc |= json_object_set_new(o, "from",
					  json_string(vm_state_name(e->old_state)));
		break;
	}
	if (e->kind == REG_EVENT_STATE && stopping(e->new_state)) {
		rc |= json_object_set_new(o, "reason",
					  json_string(vm_stop_reason_name(e->reason)));
		if (e->exit_code >= 0)
			rc |= json_object_set_new(o, "exit_code",
						  json_integer(e->exit_code));
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int reg_event_json_line(const struct reg_event *e, char *buf, size_t len)
{
	json_t *o = reg_event_json(e);
	if (!o)
		return -ENOMEM;
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s);
	int rc;
	if (n + 2 > len) {
		rc = -ENOSPC;
	} else {
		memcpy(buf, s, n);
		buf[n] = '\n';
		buf[n + 1] = '\0';
		rc = (int)n + 1;
	}
	free(s);
	return rc;
}
