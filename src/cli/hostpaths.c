#include "hostpaths.h"

#include <errno.h>
#include <ftw.h>
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

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) ? -errno : 0;
}

int remove_tree(const char *path)
{
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc == -1)
		return errno == ENOENT ? 0 : -errno;
	return rc;
}
