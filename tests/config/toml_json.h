/*
 * toml_json: converts a parsed TOML document to toml-test's tagged JSON
 * (scalars as {"type": ..., "value": "..."}, tables as objects, arrays as
 * arrays).  Shared by the decoder program and the unit tests.
 */
#ifndef CV_TOML_JSON_H
#define CV_TOML_JSON_H

#include <jansson.h>

#include "toml.h"

/* A new reference, or NULL when out of memory. */
json_t *toml_tagged_json(const toml_value *v);

#endif
