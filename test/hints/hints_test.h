/* hints_test.h — shared by the hints room's sim tests (hints_ckpt.c, hints_place.c). */
#ifndef HMT_TEST_HINTS_TEST_H
#define HMT_TEST_HINTS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

/* Parses the JSON file at path (a hints file, an HMT_STATS report); NULL if unreadable or
 * invalid. Free with cJSON_Delete. */
static inline cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)len + 1);
    size_t got = fread(b, 1, (size_t)len, f);
    fclose(f);
    b[got] = 0;
    cJSON *j = cJSON_Parse(b);
    free(b);
    return j;
}

#endif
