#include "view.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Longest decimal uint64_t.
#define VIEW_SEQ_DIGITS_MAX 20

void
view_init(crdt_view_t *view)
{
    assert(view != NULL);
    memset(view, 0, sizeof *view);
}

void
crdt_view_free(crdt_view_t *view)
{
    assert(view != NULL);
    for (size_t index = 0; index < view->value_count; index++)
        free(view->values[index]);
    for (size_t index = 0; index < view->conflict_count && view->conflicts != NULL; index++)
        free(view->conflicts[index]);
    free(view->values);
    free(view->conflicts);
    view_init(view);
}

// Appends text to *array of *count strings. The array's capacity is implicit: it
// doubles whenever count reaches a power of two, so appends stay amortised O(1).
static int
strings_append(char ***array, size_t *count, char *text)
{
    size_t used = *count;
    if (used == 0 || (used & (used - 1)) == 0) {
        size_t capacity = used == 0 ? 1 : used * 2;
        if (capacity > SIZE_MAX / sizeof **array)
            return -SM_ENOMEM;
        char **grown = realloc(*array, capacity * sizeof *grown);
        if (grown == NULL)
            return -SM_ENOMEM;
        *array = grown;
    }
    (*array)[used] = text;
    *count = used + 1;
    return 0;
}

int
view_add_value(crdt_view_t *view, const uint8_t *value, size_t value_len)
{
    assert(view != NULL);
    assert(value != NULL || value_len == 0);
    char *text = malloc(value_len + 1);
    if (text == NULL)
        return -SM_ENOMEM;
    if (value_len > 0)
        memcpy(text, value, value_len);
    text[value_len] = '\0';
    int rc = strings_append(&view->values, &view->value_count, text);
    if (rc != 0)
        free(text);
    return rc;
}

int
view_add_conflict(crdt_view_t *view, const crdt_tag_t *tag, const uint8_t *value, size_t value_len)
{
    assert(view != NULL);
    assert(tag != NULL);
    assert(value != NULL || value_len == 0);
    size_t prefix_max = CRDT_NAME_MAX + 1 + VIEW_SEQ_DIGITS_MAX + 1;
    char *text = malloc(prefix_max + value_len + 1);
    if (text == NULL)
        return -SM_ENOMEM;
    int prefix_len = snprintf(text, prefix_max + 1, "%s:%" PRIu64 "=", tag->origin, tag->seq);
    assert(prefix_len > 0);
    assert((size_t)prefix_len <= prefix_max);
    if (value_len > 0)
        memcpy(text + prefix_len, value, value_len);
    text[(size_t)prefix_len + value_len] = '\0';
    int rc = strings_append(&view->conflicts, &view->conflict_count, text);
    if (rc != 0)
        free(text);
    return rc;
}
