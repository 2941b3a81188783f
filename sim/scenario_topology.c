// scenario_topology: the nodes and links. The declare pass reads the cloud, the
// regions and topology.nodes; scenario_build_nodes then names every node
// (REGION-01 ...) and scenario_generate_links adds the regions' shapes and hub links;
// the link pass reads topology.links and cloud_links; scenario_finish_links sorts,
// deduplicates and checks that every node can reach every other.
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_internal.h"

// The simulator keeps state per link and a partition lists its cuts by index. A mesh
// of 362 nodes already has 65,341 links; that is far past any chain we rehearse.
#define SCENARIO_LINKS_MAX 65536

// In the order of TOPO_* (scenario_internal.h).
static const char *const topology_keys[TOPO_KEY_COUNT] = {
    "cloud", "regions", "cloud_links", "region_links", "nodes", "links", "latency"};

enum { REGION_NAME, REGION_BRANCHES, REGION_LINKS, REGION_KEY_COUNT };
static const char *const region_keys[REGION_KEY_COUNT] = {"name", "branches", "links"};

typedef enum { SHAPE_RING, SHAPE_LINE, SHAPE_MESH, SHAPE_NONE, SHAPE_COUNT } shape_t;
static const char *const shape_names[SHAPE_COUNT] = {"ring", "line", "mesh", "none"};

// A region as the file declares it; scenario_build_nodes turns it into nodes.
struct region_plan {
    char name[SCENARIO_NAME_MAX + 1];
    uint32_t branch_count;
    shape_t shape; // links among its branches
    int line;
    uint32_t first_node; // index of its first branch, set by scenario_build_nodes
};

// A name from topology.nodes, and where it is.
struct declared_node {
    char name[SCENARIO_NAME_MAX + 1];
    int line;
};

static int
read_region_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)seen_lines;
    region_plan_t *plan = arg;
    size_t shape = 0;
    int rc = 0;
    switch (key_index) {
    case REGION_NAME:
        rc = scenario_read_name(ld, "region name", plan->name);
        if (rc == 0 && (strcmp(plan->name, "cloud") == 0 || strcmp(plan->name, "default") == 0))
            rc = scenario_fail_value(ld, "region name",
                                     "is reserved (the cloud's region, and the region "
                                     "of topology.nodes)",
                                     "any other name, such as north");
        return rc;
    case REGION_BRANCHES:
        return scenario_read_count_u32(ld, "branches", 1, SCENARIO_NODES_MAX, &plan->branch_count);
    default:
        assert(key_index == REGION_LINKS);
        rc = scenario_read_choice(ld, "links", shape_names, SHAPE_COUNT, &shape);
        plan->shape = (shape_t)shape;
        return rc;
    }
}

static const map_spec_t region_spec = {"a region", region_keys, REGION_KEY_COUNT, read_region_key};

// The current event opens a region's map: reads it into a new plan.
static int
parse_region(loader_t *ld)
{
    int line = event_line(ld);
    if (ld->plan_count == SCENARIO_NODES_MAX)
        return rules_reader_fail(&ld->reader, line,
                                 "more than %d regions; valid choices: at most %d, each with at "
                                 "least one branch",
                                 SCENARIO_NODES_MAX, SCENARIO_NODES_MAX);
    region_plan_t *plans =
        scenario_grow_array(ld->plans, &ld->plan_cap, ld->plan_count, sizeof *plans);
    if (plans == NULL)
        return scenario_out_of_memory(ld);
    ld->plans = plans;
    region_plan_t *plan = &plans[ld->plan_count++];
    memset(plan, 0, sizeof *plan);
    plan->line = line;
    int seen_lines[REGION_KEY_COUNT] = {0};
    int rc = scenario_read_map_body(ld, &region_spec, seen_lines, plan);
    if (rc == 0 && (seen_lines[REGION_NAME] == 0 || seen_lines[REGION_BRANCHES] == 0))
        return rules_reader_fail(&ld->reader, line,
                                 "a region needs name and branches; valid choices: {name: north, "
                                 "branches: 25, links: ring}");
    for (size_t index = 0; rc == 0 && index + 1 < ld->plan_count; index++) {
        if (strcmp(plans[index].name, plan->name) == 0)
            return rules_reader_fail(&ld->reader, line,
                                     "region '%s' is declared twice (first at line %d); valid "
                                     "choices: one entry per region",
                                     plan->name, plans[index].line);
    }
    return rc;
}

static int
parse_regions(loader_t *ld)
{
    const char *item = "a list of regions such as {name: north, branches: 25, links: ring}";
    int rc = scenario_expect_list(ld, "regions", item);
    bool more = true;
    // One turn per region; parse_region stops at SCENARIO_NODES_MAX.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (event_type(ld) != YAML_MAPPING_START_EVENT)
            return scenario_fail_found(ld, "a region", item);
        rc = parse_region(ld);
    }
    return rc;
}

static int
add_extra_node(loader_t *ld, const char *name, size_t len, int line)
{
    if (ld->extra_count == SCENARIO_NODES_MAX)
        return scenario_fail_value(ld, "nodes", "is one node too many", "at most 1024 nodes");
    declared_node_t *extras =
        scenario_grow_array(ld->extras, &ld->extra_cap, ld->extra_count, sizeof *extras);
    if (extras == NULL)
        return scenario_out_of_memory(ld);
    ld->extras = extras;
    memcpy(extras[ld->extra_count].name, name, len + 1);
    extras[ld->extra_count++].line = line;
    return 0;
}

static int
parse_extra_nodes(loader_t *ld)
{
    const char *item = "a list of node names such as [a, b, c]";
    int rc = scenario_expect_list(ld, "nodes", item);
    bool more = true;
    // One turn per name; add_extra_node stops at SCENARIO_NODES_MAX.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (event_type(ld) != YAML_SCALAR_EVENT)
            return scenario_fail_found(ld, "nodes", item);
        size_t len = 0;
        const char *name = event_value(ld, &len);
        rc = rules_reader_check_name(&ld->reader, event_line(ld), "node", name, len, "");
        if (rc == 0)
            rc = add_extra_node(ld, name, len, event_line(ld));
    }
    return rc;
}

static int
add_link(loader_t *ld, uint32_t a, uint32_t b, int line)
{
    assert(a != b);
    scenario_t *out = ld->out;
    if (out->link_count == SCENARIO_LINKS_MAX)
        return rules_reader_fail(&ld->reader, line,
                                 "more than %d links; valid choices: fewer nodes, or links: ring "
                                 "or line instead of mesh",
                                 SCENARIO_LINKS_MAX);
    scenario_link_t *links =
        scenario_grow_array(out->links, &ld->link_cap, out->link_count, sizeof *links);
    if (links == NULL)
        return scenario_out_of_memory(ld);
    out->links = links;
    links[out->link_count++] = (scenario_link_t){.a = a < b ? a : b,
                                                 .b = a < b ? b : a,
                                                 .latency_ms_min = ld->latency_ms_min,
                                                 .latency_ms_max = ld->latency_ms_max};
    return 0;
}

static int
parse_links(loader_t *ld)
{
    const char *item = "a list of pairs of node names such as [[a, b], [b, c]]";
    int rc = scenario_expect_list(ld, "links", item);
    bool more = true;
    // One turn per pair; add_link stops at SCENARIO_LINKS_MAX.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (event_type(ld) != YAML_SEQUENCE_START_EVENT)
            return scenario_fail_found(ld, "links", item);
        int line = event_line(ld);
        uint32_t ends[2] = {0, 0};
        rc = scenario_read_node_pair(ld, "a link", ends);
        if (rc == 0)
            rc = add_link(ld, ends[0], ends[1], line);
    }
    return rc;
}

// Links every node in ld->members (every node but the cloud when members is NULL) to
// the cloud.
static int
link_to_cloud(loader_t *ld, const uint8_t *members, int line)
{
    int rc = 0;
    for (size_t index = 0; rc == 0 && index < ld->out->node_count; index++) {
        if (index != ld->out->cloud && (members == NULL || members[index] != 0))
            rc = add_link(ld, (uint32_t)index, ld->out->cloud, line);
    }
    return rc;
}

static int
parse_cloud_links(loader_t *ld)
{
    const char *choices = "all, none, or a list of node or region names such as [north, a]";
    ld->cloud_links_given = true;
    int rc = next_event(ld);
    if (rc != 0)
        return rc;
    size_t len = 0;
    bool is_word = event_type(ld) == YAML_SCALAR_EVENT;
    const char *value = is_word ? event_value(ld, &len) : "";
    if (is_word && strcmp(value, "none") == 0)
        return 0;
    if (ld->out->cloud == UINT32_MAX)
        return rules_reader_fail(&ld->reader, event_line(ld),
                                 "cloud_links: the topology has no cloud; valid choices: "
                                 "cloud_links: none, or add cloud: NAME to topology");
    if (is_word && strcmp(value, "all") == 0)
        return link_to_cloud(ld, NULL, event_line(ld));
    if (event_type(ld) != YAML_SEQUENCE_START_EVENT)
        return scenario_fail_found(ld, "cloud_links", choices);
    int line = event_line(ld);
    char label[NAME_LIST_BYTES_MAX];
    scenario_words_t words;
    scenario_words_init(&words, label, sizeof label);
    rc = scenario_mark_names(ld, "cloud_links", &words, ",");
    if (rc == 0)
        rc = link_to_cloud(ld, ld->members, line);
    return rc;
}

static int
read_topology_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)seen_lines;
    (void)arg;
    bool link_pass = key_index == TOPO_CLOUD_LINKS || key_index == TOPO_LINKS;
    if (link_pass != (ld->pass == PASS_LINK))
        return scenario_skip_value(ld);
    size_t choice = 0;
    static const char *const region_link_choices[] = {"hub", "none"};
    int rc = 0;
    switch (key_index) {
    case TOPO_CLOUD:
        return scenario_read_name(ld, "cloud", ld->cloud_name);
    case TOPO_REGIONS:
        return parse_regions(ld);
    case TOPO_CLOUD_LINKS:
        return parse_cloud_links(ld);
    case TOPO_REGION_LINKS:
        rc = scenario_read_choice(ld, "region_links", region_link_choices, 2, &choice);
        ld->hub_links = choice == 0;
        return rc;
    case TOPO_NODES:
        return parse_extra_nodes(ld);
    case TOPO_LINKS:
        return parse_links(ld);
    default:
        assert(key_index == TOPO_LATENCY);
        return scenario_read_range_u32(ld, "latency", &ld->latency_ms_min, &ld->latency_ms_max);
    }
}

static const map_spec_t topology_spec = {"topology", topology_keys, TOPO_KEY_COUNT,
                                         read_topology_key};

int
scenario_parse_topology(loader_t *ld)
{
    if (ld->pass == PASS_FAULT)
        return scenario_skip_value(ld);
    int scratch_lines[TOPO_KEY_COUNT] = {0};
    bool declare = ld->pass == PASS_DECLARE;
    return scenario_read_map(ld, &topology_spec, declare ? ld->topology_lines : scratch_lines, NULL,
                             NULL);
}

static void
add_region_name(scenario_t *out, const char *name)
{
    memcpy(out->regions[out->region_count++], name, strlen(name) + 1);
}

static int
add_node(loader_t *ld, const char *name, uint32_t region, int line)
{
    scenario_t *out = ld->out;
    int rc = rules_reader_check_name(&ld->reader, line, "node", name, strlen(name), "");
    if (rc != 0)
        return rc;
    uint32_t same = scenario_find_node(out, name);
    if (same != UINT32_MAX)
        return rules_reader_fail(&ld->reader, line,
                                 "node '%s' is declared twice; valid choices: names that differ "
                                 "(regions name their branches REGION-01, REGION-02 ...)",
                                 name);
    uint32_t same_region = scenario_find_region(out, name);
    if (same_region != UINT32_MAX && !(region == same_region && out->node_count == out->cloud))
        return rules_reader_fail(&ld->reader, line,
                                 "node '%s' has the name of a region; valid choices: a name no "
                                 "region has",
                                 name);
    scenario_node_t *node = &out->nodes[out->node_count];
    memcpy(node->name, name, strlen(name) + 1);
    node->region = region;
    node->is_cloud = out->node_count == out->cloud;
    out->node_count++;
    return 0;
}

// A region's branches: REGION-01 .. REGION-NN, with more digits past 99.
static int
add_branches(loader_t *ld, region_plan_t *plan, uint32_t region)
{
    int digit_count = plan->branch_count > 999 ? 4 : plan->branch_count > 99 ? 3 : 2;
    plan->first_node = (uint32_t)ld->out->node_count;
    int rc = 0;
    for (uint32_t index = 1; rc == 0 && index <= plan->branch_count; index++) {
        char name[SCENARIO_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s-%0*u", plan->name, digit_count, index);
        rc = add_node(ld, name, region, plan->line);
    }
    return rc;
}

// Nodes in their order (the cloud, the regions' branches, topology.nodes) and regions
// in theirs (cloud, the file's regions, default).
int
scenario_build_nodes(loader_t *ld)
{
    scenario_t *out = ld->out;
    bool has_cloud = ld->cloud_name[0] != '\0';
    size_t node_count = (has_cloud ? 1 : 0) + ld->extra_count;
    for (size_t index = 0; index < ld->plan_count; index++)
        node_count += ld->plans[index].branch_count;
    if (node_count == 0 || node_count > SCENARIO_NODES_MAX)
        return rules_reader_fail(&ld->reader, ld->topology_line,
                                 "topology has %zu nodes; valid choices: 1 to %d nodes from "
                                 "cloud, regions and nodes",
                                 node_count, SCENARIO_NODES_MAX);
    size_t region_count = ld->plan_count + (has_cloud ? 1 : 0) + (ld->extra_count > 0 ? 1 : 0);
    out->regions = calloc(region_count, sizeof *out->regions);
    out->nodes = calloc(node_count, sizeof *out->nodes);
    ld->members = calloc(node_count, sizeof *ld->members);
    ld->sides = calloc(node_count, sizeof *ld->sides);
    if (out->regions == NULL || out->nodes == NULL || ld->members == NULL || ld->sides == NULL)
        return scenario_out_of_memory(ld);
    if (has_cloud)
        add_region_name(out, "cloud");
    for (size_t index = 0; index < ld->plan_count; index++)
        add_region_name(out, ld->plans[index].name);
    if (ld->extra_count > 0)
        add_region_name(out, "default");
    out->cloud = has_cloud ? 0 : UINT32_MAX;
    int rc = has_cloud ? add_node(ld, ld->cloud_name, 0, ld->topology_lines[TOPO_CLOUD]) : 0;
    for (size_t index = 0; rc == 0 && index < ld->plan_count; index++)
        rc = add_branches(ld, &ld->plans[index], (uint32_t)index + (has_cloud ? 1 : 0));
    for (size_t index = 0; rc == 0 && index < ld->extra_count; index++)
        rc = add_node(ld, ld->extras[index].name, (uint32_t)region_count - 1,
                      ld->extras[index].line);
    return rc;
}

// The links among a region's branches.
static int
add_shape_links(loader_t *ld, const region_plan_t *plan)
{
    uint32_t first = plan->first_node;
    uint32_t count = plan->branch_count;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        for (uint32_t j = i + 1; rc == 0 && j < count; j++) {
            bool ring_close = plan->shape == SHAPE_RING && i == 0 && j == count - 1 && count > 2;
            bool next = j == i + 1 && plan->shape != SHAPE_NONE;
            if (next || ring_close || plan->shape == SHAPE_MESH)
                rc = add_link(ld, first + i, first + j, plan->line);
        }
    }
    return rc;
}

int
scenario_generate_links(loader_t *ld)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ld->plan_count; i++)
        rc = add_shape_links(ld, &ld->plans[i]);
    for (size_t i = 0; rc == 0 && ld->hub_links && i < ld->plan_count; i++) {
        for (size_t j = i + 1; rc == 0 && j < ld->plan_count; j++)
            rc = add_link(ld, ld->plans[i].first_node, ld->plans[j].first_node, ld->plans[j].line);
    }
    return rc;
}

static int
compare_links(const void *left, const void *right)
{
    const scenario_link_t *l = left;
    const scenario_link_t *r = right;
    if (l->a != r->a)
        return l->a < r->a ? -1 : 1;
    return l->b < r->b ? -1 : l->b > r->b;
}

static uint32_t
find_root(uint32_t *parents, uint32_t node)
{
    // Path halving; each turn moves one step closer to the root.
    while (parents[node] != node) {
        parents[node] = parents[parents[node]];
        node = parents[node];
    }
    return node;
}

// Every node must reach every other over links, or the run could never converge.
static int
check_connected(loader_t *ld)
{
    scenario_t *out = ld->out;
    uint32_t *parents = ld->sides; // scratch, node_count entries
    for (size_t index = 0; index < out->node_count; index++)
        parents[index] = (uint32_t)index;
    for (size_t index = 0; index < out->link_count; index++)
        parents[find_root(parents, out->links[index].a)] = find_root(parents, out->links[index].b);
    uint32_t root = find_root(parents, 0);
    for (size_t index = 1; index < out->node_count; index++) {
        if (find_root(parents, (uint32_t)index) != root)
            return rules_reader_fail(&ld->reader, ld->topology_line,
                                     "node '%s' has no path of links to '%s'; valid choices: "
                                     "topology.links, cloud_links or a region's links",
                                     out->nodes[index].name, out->nodes[0].name);
    }
    return 0;
}

// Default cloud links, then links sorted by (a, b) without duplicates.
int
scenario_finish_links(loader_t *ld)
{
    scenario_t *out = ld->out;
    int rc = 0;
    if (out->cloud != UINT32_MAX && !ld->cloud_links_given)
        rc = link_to_cloud(ld, NULL, ld->topology_line);
    if (rc != 0)
        return rc;
    if (out->link_count > 1)
        qsort(out->links, out->link_count, sizeof *out->links, compare_links);
    size_t kept = 0;
    for (size_t index = 0; index < out->link_count; index++) {
        if (kept == 0 || compare_links(&out->links[kept - 1], &out->links[index]) != 0)
            out->links[kept++] = out->links[index];
    }
    out->link_count = kept;
    return check_connected(ld);
}
