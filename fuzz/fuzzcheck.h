/*
 * fuzzcheck: what the fuzz targets share — CHECK(c), which aborts (a
 * finding libFuzzer reports with the input) when a promise is broken.
 */
#ifndef CV_FUZZCHECK_H
#define CV_FUZZCHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "check failed: %s (%s:%d)\n", #c, \
				__FILE__, __LINE__);                    \
			abort();                                        \
		}                                                       \
	} while (0)

#endif
