// scenario_words: words joined into a bounded buffer for messages and labels (the
// valid names in an error, the nodes a partition cuts off), cut short with "...".
#include "scenario_words.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void
scenario_words_init(scenario_words_t *words, char *text, size_t size)
{
    assert(size >= 8);
    words->text = text;
    words->size = size;
    words->used = 0;
    words->cut = false;
    text[0] = '\0';
}

void
scenario_words_add(scenario_words_t *words, const char *separator, const char *word)
{
    if (words->cut)
        return;
    const char *sep = words->used == 0 ? "" : separator;
    size_t need = strlen(sep) + strlen(word);
    if (words->used + need < words->size) {
        snprintf(words->text + words->used, words->size - words->used, "%s%s", sep, word);
        words->used += need;
        return;
    }
    words->cut = true;
    size_t at = words->used + 4 <= words->size ? words->used : words->size - 4;
    memcpy(words->text + at, "...", 4);
    words->used = at + 3;
}
