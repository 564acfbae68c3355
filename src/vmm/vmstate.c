#include "vmstate.h"

#include <stddef.h>

static const char *const allowed = NULL;

/* rows: command; columns: enum vm_state order (Loading .. Stopped) */
static const char *const table[][6] = {
	[VM_CMD_START] = {
		[VM_LOADING] = "VM is still loading",
		[VM_LOADED] = allowed,
		[VM_RUNNING] = "VM is already running",
		[VM_SUSPENDED] = "VM is suspended, use 'vm resume' instead",
		[VM_STOPPING] = "VM is stopping, wait for it to fully stop",
		[VM_STOPPED] = allowed,
	},
	[VM_CMD_STOP] = {
		[VM_LOADING] = allowed,
		[VM_LOADED] = allowed,
		[VM_RUNNING] = allowed,
		[VM_SUSPENDED] = allowed,
		[VM_STOPPING] = "VM is already stopping",
		[VM_STOPPED] = "VM is already stopped",
	},
	[VM_CMD_SUSPEND] = {
		[VM_LOADING] = "VM is loading, cannot suspend",
		[VM_LOADED] = "VM is not started yet, cannot suspend",
		[VM_RUNNING] = allowed,
		[VM_SUSPENDED] = "VM is already suspended",
		[VM_STOPPING] = "VM is stopping, cannot suspend",
		[VM_STOPPED] = "VM is stopped, cannot suspend",
	},
	[VM_CMD_RESUME] = {
		[VM_LOADING] = "VM is loading, cannot resume",
		[VM_LOADED] = "VM is not started yet, use 'vm start' instead",
		[VM_RUNNING] = "VM is already running",
		[VM_SUSPENDED] = allowed,
		[VM_STOPPING] = "VM is stopping, cannot resume",
		[VM_STOPPED] = "VM is stopped, use 'vm start' instead",
	},
	[VM_CMD_RESTART] = {
		[VM_LOADING] = "VM is still loading",
		[VM_LOADED] = allowed,
		[VM_RUNNING] = allowed,
		[VM_SUSPENDED] = allowed,
		[VM_STOPPING] = "VM is stopping, wait for it to fully stop",
		[VM_STOPPED] = allowed,
	},
	[VM_CMD_DELETE] = {
		[VM_LOADING] = "VM is still loading",
		[VM_LOADED] = allowed,
		[VM_RUNNING] = "VM is currently running",
		[VM_SUSPENDED] = "VM is currently running",
		[VM_STOPPING] = "VM is currently running",
		[VM_STOPPED] = allowed,
	},
};

const char *vm_refusal(enum vm_cmd cmd, enum vm_state s, bool force)
{
	if ((unsigned)cmd >= sizeof(table) / sizeof(table[0]) ||
	    (unsigned)s > VM_STOPPED)
		return "invalid command or state";
	/* --force overrides: stop/restart of a Stopping VM, delete anywhere */
	if (force && (cmd == VM_CMD_DELETE ||
		      ((cmd == VM_CMD_STOP || cmd == VM_CMD_RESTART) &&
		       s == VM_STOPPING)))
		return NULL;
	return table[cmd][s];
}

const char *vm_cmd_verb(enum vm_cmd cmd)
{
	static const char *const verbs[] = {
		[VM_CMD_START] = "start", [VM_CMD_STOP] = "stop",
		[VM_CMD_SUSPEND] = "suspend", [VM_CMD_RESUME] = "resume",
		[VM_CMD_RESTART] = "restart", [VM_CMD_DELETE] = "delete",
	};
	return (unsigned)cmd < sizeof(verbs) / sizeof(verbs[0]) ? verbs[cmd]
								: "?";
}
