/* fsutil: the few directory operations cvisor needs on the host. */
#ifndef CV_FSUTIL_H
#define CV_FSUTIL_H

#include "err.h"

/* mkdir -p with mode 0700 for every missing component; 0 or -errno. */
int cv_mkdir_p(const char *path, struct cv_err *err);

/* rm -rf without following symlinks; a missing path is not an error. */
int cv_remove_tree(const char *path);

#endif
