/* event_json: a registry event as JSON (see event_json.h).  STUB for now. */
#include "event_json.h"

#include <errno.h>

json_t *reg_event_json(const struct reg_event *e)
{
	(void)e;
	return NULL;
}

int reg_event_json_line(const struct reg_event *e, char *buf, size_t len)
{
	(void)e; (void)buf; (void)len;
	return -ENOSYS;
}
