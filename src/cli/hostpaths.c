#include "hostpaths.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void default_state_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (geteuid() == 0)
		snprintf(buf, len, "/var/lib/cvisor");
	else if (xdg && xdg[0] == '/')
		snprintf(buf, len, "%s/cvisor", xdg);
	else if (home && home[0])
		snprintf(buf, len, "%s/.local/state/cvisor", home);
	else
		snprintf(buf, len, "/tmp/cvisor-%u", (unsigned)geteuid());
}


void default_socket_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0)
		snprintf(buf, len, "/run/cvisor/cvisor.sock");
	else if (xdg && xdg[0] == '/')
		snprintf(buf, len, "%s/cvisor/cvisor.sock", xdg);
	else
		snprintf(buf, len, "/tmp/cvisor-%u/cvisor.sock",
			 (unsigned)geteuid());
}

void client_socket_path(char *buf, size_t len)
{
	const char *env = getenv("CVISOR_SOCKET");
	if (env && env[0])
		snprintf(buf, len, "%s", env);
	else
		default_socket_path(buf, len);
}
