#include "fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int make_one(const char *dir, struct cv_err *err)
{
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cv_err_set(err, errno, "cannot create %s: %s", dir,
				  strerror(errno));
	return 0;
}

int cv_mkdir_p(const char *path, struct cv_err *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return cv_err_set(err, ENAMETOOLONG, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = make_one(buf, err);
		if (rc)
			return rc;
		*p = '/';
	}
	return make_one(buf, err);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) ? -errno : 0;
}

int cv_remove_tree(const char *path)
{
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc == -1)
		return errno == ENOENT ? 0 : -errno;
	return rc;
}
