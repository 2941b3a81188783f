// scenario_internal: the scenario loader's state and the functions its files share
// (scenario.c, scenario_yaml.c, scenario_names.c, scenario_topology.c,
// scenario_partition.c, scenario_faults.c, scenario_workload.c). A function that
// takes a loader_t and returns int returns 0, or a negative SM_E* code (-SM_EINVAL
// for the file, -SM_ENOMEM) with the reader's err holding "FILE:LINE: what is wrong;
// valid choices: ...". Not for use outside the loader: scenario.h is the API.
#ifndef SIM_SCENARIO_INTERNAL_H
#define SIM_SCENARIO_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules_reader.h"
#include "scenario.h"
#include "scenario_words.h"

// A list of valid names in a message, cut short with "...".
#define NAME_LIST_BYTES_MAX 200

// The top-level keys, in the order of top_keys (scenario.c).
enum {
    TOP_NAME,
    TOP_DESCRIPTION,
    TOP_RULES,
    TOP_DURATION,
    TOP_HEAL,
    TOP_ANTI_ENTROPY,
    TOP_PEER_TIMEOUT,
    TOP_SAMPLE,
    TOP_WRITE_LATENCY,
    TOP_SIGNATURES,
    TOP_SEED,
    TOP_TOPOLOGY,
    TOP_WORKLOAD,
    TOP_FAULTS,
    TOP_RANDOM,
    TOP_KEY_COUNT
};

// The topology's keys, in the order of topology_keys (scenario_topology.c).
enum {
    TOPO_CLOUD,
    TOPO_REGIONS,
    TOPO_CLOUD_LINKS,
    TOPO_REGION_LINKS,
    TOPO_NODES,
    TOPO_LINKS,
    TOPO_LATENCY,
    TOPO_KEY_COUNT
};

// A region and an extra node as the file declares them (scenario_topology.c).
typedef struct region_plan region_plan_t;
typedef struct declared_node declared_node_t;

// The file is read three times. Names are resolved in later passes so that keys may
// come in any order: links need every node, and faults need every link.
typedef enum { PASS_DECLARE, PASS_LINK, PASS_FAULT } pass_t;

// What the loader knows between and across the passes.
typedef struct {
    rules_reader_t reader;
    scenario_t *out;
    pass_t pass;
    int root_line;
    int top_lines[TOP_KEY_COUNT]; // where each key is (pass 1), 0: absent
    int topology_line;            // where the topology key is
    int topology_lines[TOPO_KEY_COUNT];
    char cloud_name[SCENARIO_NAME_MAX + 1]; // "" when there is no cloud
    region_plan_t *plans;                   // file order
    size_t plan_count, plan_cap;
    declared_node_t *extras; // topology.nodes, file order
    size_t extra_count, extra_cap;
    bool hub_links; // region_links: hub
    bool cloud_links_given;
    uint32_t latency_ms_min, latency_ms_max;
    size_t link_cap, fault_cap;
    uint8_t *members; // node_count entries: scratch for reading a set of names
    uint32_t *sides;  // node_count entries: scratch for a partition's groups
} loader_t;

typedef int (*read_key_fn)(loader_t *ld, size_t key_index, int *seen_lines, void *arg);

typedef struct {
    const char *scope; // names the map in messages: "workload", "a fault"
    const char *const *keys;
    size_t key_count;
    read_key_fn read_key; // reads the value of keys[key_index]
} map_spec_t;

// The reader's current event (its type, line and scalar value), and reading the next
// one: one line each, used by every file, so inline.
static inline yaml_event_type_t
event_type(const loader_t *ld)
{
    return ld->reader.event.type;
}

static inline int
event_line(const loader_t *ld)
{
    return rules_reader_line(&ld->reader);
}

static inline const char *
event_value(const loader_t *ld, size_t *len)
{
    assert(event_type(ld) == YAML_SCALAR_EVENT);
    *len = ld->reader.event.data.scalar.length;
    return (const char *)ld->reader.event.data.scalar.value;
}

static inline int
next_event(loader_t *ld)
{
    return rules_reader_next(&ld->reader);
}

// scenario_yaml.c
// Returns the grown array (count + 1 entries fit), or NULL with array untouched.
void *scenario_grow_array(void *array, size_t *cap, size_t count, size_t item_size);
int scenario_out_of_memory(loader_t *ld);
// "WHAT: found X; valid choices: CHOICES" for a value in the wrong shape.
int scenario_fail_found(loader_t *ld, const char *what, const char *choices);
// "WHAT: 'VALUE' PROBLEM; valid choices: CHOICES"; the current event is the scalar.
int scenario_fail_value(loader_t *ld, const char *what, const char *problem, const char *choices);
// Consumes the next value whole: one event, or a map or list and everything in it.
int scenario_skip_value(loader_t *ld);
// Reads the keys of a map whose start is the current event, up to its end;
// seen_lines[key_index] receives each key's line.
int scenario_read_map_body(loader_t *ld, const map_spec_t *spec, int *seen_lines, void *arg);
// As scenario_read_map_body after reading the map's start; *map_line (when not NULL) receives
// the line where it starts.
int scenario_read_map(loader_t *ld, const map_spec_t *spec, int *seen_lines, void *arg,
                      int *map_line);
// Reads the next event, which must open a list. choices describes the items.
int scenario_expect_list(loader_t *ld, const char *what, const char *choices);
// Reads the next item of an open list: 0 and *more false at the list's end.
int scenario_next_item(loader_t *ld, bool *more);
// The next event, which must be a single value: *value (NUL-terminated) and *len stay
// valid until the next read.
int scenario_read_scalar(loader_t *ld, const char *what, const char **value, size_t *len);
// A duration; positive: above 0.
int scenario_read_duration(loader_t *ld, const char *what, bool positive, uint64_t *ms);
// "-5m", "+10m", "2s": a duration with an optional sign.
int scenario_read_signed_duration(loader_t *ld, const char *what, int64_t *ms);
// [min, max] of two durations, or one duration for both; max at most limit_ms.
int scenario_read_range(loader_t *ld, const char *what, bool positive, uint64_t limit_ms,
                        uint64_t *min_ms, uint64_t *max_ms);
int scenario_read_range_u32(loader_t *ld, const char *what, uint32_t *min_ms, uint32_t *max_ms);
int scenario_read_rate(loader_t *ld, const char *what, double *per_hour);
int scenario_read_probability(loader_t *ld, const char *what, double *probability);
// A whole number from min to max.
int scenario_read_count(loader_t *ld, const char *what, uint64_t min, uint64_t max,
                        uint64_t *count);
int scenario_read_count_u32(loader_t *ld, const char *what, uint64_t min, uint64_t max,
                            uint32_t *count);
// One of choices: its index into *choice_index.
int scenario_read_choice(loader_t *ld, const char *what, const char *const *choices,
                         size_t choice_count, size_t *choice_index);
// Reads a name into name (SCENARIO_NAME_MAX + 1 bytes).
int scenario_read_name(loader_t *ld, const char *what, char *name);

// scenario_names.c: names to indexes, UINT32_MAX for none.
uint32_t scenario_find_node(const scenario_t *scenario, const char *name);
uint32_t scenario_find_region(const scenario_t *scenario, const char *name);
// The current event is a name or opens a list of names of nodes or regions. Clears
// ld->members, then marks the nodes named; the first name joins label after
// first_separator, the others after ",".
int scenario_mark_names(loader_t *ld, const char *what, scenario_words_t *label,
                        const char *first_separator);
// Reads the next event: the name of a node.
int scenario_read_node(loader_t *ld, const char *what, uint32_t *node);
// The current event opens a list that must hold two different node names.
int scenario_read_node_pair(loader_t *ld, const char *what, uint32_t *ends);

// scenario_topology.c
// The topology key: its declarations in the declare pass, its links in the link pass.
int scenario_parse_topology(loader_t *ld);
// Nodes in their order (the cloud, the regions' branches, topology.nodes) and regions
// in theirs (cloud, the file's regions, default); after the declare pass.
int scenario_build_nodes(loader_t *ld);
// The links among each region's branches and, for region_links: hub, between regions.
int scenario_generate_links(loader_t *ld);
// Default cloud links, then links sorted by (a, b) without duplicates; after the link
// pass. Every node must reach every other.
int scenario_finish_links(loader_t *ld);

// scenario_partition.c: the current event is a fault's kind key; each reads its value
// into fault (cuts or link, and label). line: the key's, for messages.
int scenario_parse_isolate(loader_t *ld, scenario_fault_t *fault, int line);
int scenario_parse_split(loader_t *ld, scenario_fault_t *fault, int line);
int scenario_parse_one_way(loader_t *ld, scenario_fault_t *fault, int line);
int scenario_parse_flap(loader_t *ld, scenario_fault_t *fault, int line);

// scenario_faults.c
// Writes fault->label, cut short with "..." when long names do not fit.
__attribute__((format(printf, 2, 3))) void scenario_set_label(scenario_fault_t *fault,
                                                              const char *format, ...);
// The faults key, in the fault pass.
int scenario_parse_faults(loader_t *ld);
// The random key.
int scenario_parse_random(loader_t *ld);
// Orders the faults by at_ms, stable; after the fault pass.
int scenario_sort_faults(loader_t *ld);

// scenario_workload.c
// The workload key; hot_keys is checked against keys.
int scenario_parse_workload(loader_t *ld);

#endif
