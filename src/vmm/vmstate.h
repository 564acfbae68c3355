/*
 * vmstate: the SPEC §1 state machine as data — which command is allowed in
 * which state, and the exact refusal sentence otherwise.  The one place the
 * rules live; the VM layer and every front end ask it.
 */
#ifndef CV_VMSTATE_H
#define CV_VMSTATE_H

#include <stdbool.h>

#include "vm.h"

enum vm_cmd {
	VM_CMD_START,
	VM_CMD_STOP,
	VM_CMD_SUSPEND,
	VM_CMD_RESUME,
	VM_CMD_RESTART,
	VM_CMD_DELETE,
};

/*
 * NULL when cmd is allowed in state s (with force as given), else the
 * refusal text that follows "✗ Failed to <verb> VM[<id>]: ".
 */
const char *vm_refusal(enum vm_cmd cmd, enum vm_state s, bool force);

const char *vm_cmd_verb(enum vm_cmd cmd);

#endif
