#include "builtin.h"

#include <string.h>

static const struct builtin_image images[] = {
	{ .name = NULL },
};

const struct builtin_image *builtin_list(void)
{
	return images;
}

const struct builtin_image *builtin_find(const char *name)
{
	for (const struct builtin_image *b = images; b->name; b++)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}
