/*
 * event_json: one registry event (registry.h, struct reg_event) as the JSON
 * object `cvisor events` prints, one per line:
 *
 *   {"v":1,"seq":12,"time":"2026-11-25T16:00:00.123Z","event":"state",
 *    "vm":{"id":3,"name":"x"},"from":"Running","to":"Stopped",
 *    "reason":"poweroff","exit_code":0}
 *
 * "event" is "created", "state", "rebooted" or "deleted"; "from"/"to" are
 * the SPEC §1 state names (created: "to" only; deleted: "from" only, the
 * last state; rebooted: "state" and "reason":"reboot"); "reason" (and
 * "exit_code" when the guest wrote one) appear when "to" is Stopping or
 * Stopped (reasons: see vm_stop_reason_name).  Keys in this order.  Pure
 * functions, thread-safe.
 */
#ifndef CV_EVENT_JSON_H
#define CV_EVENT_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "registry.h"

#define REG_EVENT_JSON_VERSION 1

/* A new object (caller json_decref()s it), NULL when out of memory. */
json_t *reg_event_json(const struct reg_event *e);

/*
 * The same as one compact line with a trailing newline, into buf
 * (NUL-ended).  Returns its length, or -ENOSPC / -ENOMEM.
 */
int reg_event_json_line(const struct reg_event *e, char *buf, size_t len);

#endif
