// rules_limits: the `limits:` section of a rules file: how long a branch may be
// out of touch with the authority (max_offline), how many operations it may hold
// unacknowledged (max_queue_depth), when to warn (warn_at) and what to do at a
// limit (at_limit). Internal to node/rules.c; the node enforces the limits.
#ifndef NODE_RULES_LIMITS_H
#define NODE_RULES_LIMITS_H

#include "rules.h"
#include "rules_reader.h"

// Reads the map under `limits:` into limits, which holds the defaults; a key the
// file gives overrides its default. Refuses unknown or repeated keys and a value
// that does not parse, naming the form expected. 0, or a negative SM_E* code with
// the reader's error written.
int rules_limits_parse(rules_reader_t *reader, rules_limits_t *limits);

#endif
