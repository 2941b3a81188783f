// scenario_words: words joined into a bounded buffer, for the scenario loader's
// messages and fault labels. A list that does not fit ends in "..." and later words
// are dropped. Not for: text that must arrive whole.
#ifndef SIM_SCENARIO_WORDS_H
#define SIM_SCENARIO_WORDS_H

#include <stdbool.h>
#include <stddef.h>

// Words joined into a bounded buffer, cut short with "..." when they do not fit.
typedef struct {
    char *text;
    size_t size; // bytes, including the NUL
    size_t used;
    bool cut; // "..." written: later words are dropped
} scenario_words_t;

// Starts an empty list in text (size bytes, at least 8); text stays the caller's.
void scenario_words_init(scenario_words_t *words, char *text, size_t size);
// Appends word, after separator unless it is the first; nothing once cut short.
void scenario_words_add(scenario_words_t *words, const char *separator, const char *word);

#endif
