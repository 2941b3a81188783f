// scenario_names: the node and region names a scenario uses, resolved to indexes
// once the nodes exist: one node, a pair of linked ends, or a set of nodes and
// regions marked in ld->members. An unknown name is refused with the names there are.
#include <string.h>

#include "scenario_internal.h"

#define NAMES_CHOICES "a node or region name, or a list of them such as [cloud, north]"

uint32_t
scenario_find_node(const scenario_t *scenario, const char *name)
{
    for (size_t index = 0; index < scenario->node_count; index++) {
        if (strcmp(scenario->nodes[index].name, name) == 0)
            return (uint32_t)index;
    }
    return UINT32_MAX;
}

uint32_t
scenario_find_region(const scenario_t *scenario, const char *name)
{
    for (size_t index = 0; index < scenario->region_count; index++) {
        if (strcmp(scenario->regions[index], name) == 0)
            return (uint32_t)index;
    }
    return UINT32_MAX;
}

// The current event is a scalar naming no node (nor region, when regions_too).
static int
fail_unknown_name(loader_t *ld, const char *what, bool regions_too)
{
    const scenario_t *out = ld->out;
    char list[NAME_LIST_BYTES_MAX];
    scenario_words_t words;
    scenario_words_init(&words, list, sizeof list);
    for (size_t index = 0; regions_too && index < out->region_count; index++)
        scenario_words_add(&words, ", ", out->regions[index]);
    for (size_t index = 0; index < out->node_count; index++)
        scenario_words_add(&words, ", ", out->nodes[index].name);
    return scenario_fail_value(ld, what, regions_too ? "names no node or region" : "names no node",
                               list);
}

// The current event is a scalar naming a node or a region: marks its nodes in
// ld->members and adds the name to label.
static int
mark_name(loader_t *ld, const char *what, scenario_words_t *label, const char *separator)
{
    const scenario_t *out = ld->out;
    size_t len = 0;
    const char *name = event_value(ld, &len);
    uint32_t node = scenario_find_node(out, name);
    uint32_t region = node == UINT32_MAX ? scenario_find_region(out, name) : UINT32_MAX;
    if (node == UINT32_MAX && region == UINT32_MAX)
        return fail_unknown_name(ld, what, true);
    for (size_t index = 0; index < out->node_count; index++) {
        if (index == node || out->nodes[index].region == region)
            ld->members[index] = 1;
    }
    scenario_words_add(label, separator, name);
    return 0;
}

// The current event is a name or opens a list of names of nodes or regions. Clears
// ld->members, then marks the nodes named; the first name joins label after
// first_separator, the others after ",".
int
scenario_mark_names(loader_t *ld, const char *what, scenario_words_t *label,
                    const char *first_separator)
{
    memset(ld->members, 0, ld->out->node_count);
    if (event_type(ld) == YAML_SCALAR_EVENT)
        return mark_name(ld, what, label, first_separator);
    if (event_type(ld) != YAML_SEQUENCE_START_EVENT)
        return scenario_fail_found(ld, what, NAMES_CHOICES);
    int line = event_line(ld);
    size_t name_count = 0;
    bool more = true;
    int rc = 0;
    // One turn per name of the list.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (event_type(ld) != YAML_SCALAR_EVENT)
            return scenario_fail_found(ld, what, NAMES_CHOICES);
        rc = mark_name(ld, what, label, name_count++ == 0 ? first_separator : ",");
    }
    if (rc == 0 && name_count == 0)
        return rules_reader_fail(&ld->reader, line, "%s: the list is empty; valid choices: %s",
                                 what, NAMES_CHOICES);
    return rc;
}

int
scenario_read_node(loader_t *ld, const char *what, uint32_t *node)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0)
        *node = scenario_find_node(ld->out, value);
    if (rc == 0 && *node == UINT32_MAX)
        rc = fail_unknown_name(ld, what, false);
    return rc;
}

// The current event opens a list that must hold two different node names.
int
scenario_read_node_pair(loader_t *ld, const char *what, uint32_t *ends)
{
    int line = event_line(ld);
    size_t end_count = 0;
    bool more = true;
    int rc = 0;
    // Two names, then the list's end.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (end_count == 2 || event_type(ld) != YAML_SCALAR_EVENT)
            return scenario_fail_found(ld, what, "a pair of node names such as [a, b]");
        size_t len = 0;
        ends[end_count] = scenario_find_node(ld->out, event_value(ld, &len));
        if (ends[end_count++] == UINT32_MAX)
            return fail_unknown_name(ld, what, false);
    }
    if (rc == 0 && (end_count != 2 || ends[0] == ends[1]))
        return rules_reader_fail(&ld->reader, line,
                                 "%s: not a pair of two different nodes; valid choices: a pair "
                                 "of node names such as [a, b]",
                                 what);
    return rc;
}
