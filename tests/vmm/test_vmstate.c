/* The SPEC §1 refusal table, cell by cell. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "vmstate.h"

#define OK NULL
static const struct {
	enum vm_cmd cmd;
	const char *want[6];	/* Loading Loaded Running Suspended Stopping Stopped */
} rows[] = {
	{ VM_CMD_START, { "VM is still loading", OK, "VM is already running",
			  "VM is suspended, use 'vm resume' instead",
			  "VM is stopping, wait for it to fully stop", OK } },
	{ VM_CMD_STOP, { OK, OK, OK, OK, "VM is already stopping",
			 "VM is already stopped" } },
	{ VM_CMD_SUSPEND, { "VM is loading, cannot suspend",
			    "VM is not started yet, cannot suspend", OK,
			    "VM is already suspended",
			    "VM is stopping, cannot suspend",
			    "VM is stopped, cannot suspend" } },
	{ VM_CMD_RESUME, { "VM is loading, cannot resume",
			   "VM is not started yet, use 'vm start' instead",
			   "VM is already running", OK,
			   "VM is stopping, cannot resume",
			   "VM is stopped, use 'vm start' instead" } },
	{ VM_CMD_DELETE, { "VM is still loading", OK, "VM is currently running",
			   "VM is currently running", "VM is currently running",
			   OK } },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		for (int s = VM_LOADING; s <= VM_STOPPED; s++) {
			const char *got = vm_refusal(rows[r].cmd, s, false);
			const char *want = rows[r].want[s];
			if (!want)
				assert_null(got);
			else
				assert_string_equal(got, want);
		}
}

static void test_force(void **state)
{
	(void)state;
	/* --force: stop/restart of a Stopping VM, delete from any state */
	assert_null(vm_refusal(VM_CMD_STOP, VM_STOPPING, true));
	assert_null(vm_refusal(VM_CMD_RESTART, VM_STOPPING, true));
	for (int s = VM_LOADING; s <= VM_STOPPED; s++)
		assert_null(vm_refusal(VM_CMD_DELETE, s, true));
	/* but force never makes a nonsense command allowed */
	assert_string_equal(vm_refusal(VM_CMD_STOP, VM_STOPPED, true),
			    "VM is already stopped");
	assert_string_equal(vm_refusal(VM_CMD_START, VM_RUNNING, true),
			    "VM is already running");
	assert_string_equal(vm_refusal(VM_CMD_RESTART, VM_LOADING, true),
			    "VM is still loading");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
