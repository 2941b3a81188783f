// scenario_partition: the links a fault takes down. isolate, split and one_way turn
// groups of node and region names into the set of links they cut (both ways or one
// way); flap names one link by its two ends.
#include <stdlib.h>
#include <string.h>

#include "scenario_internal.h"

enum { ONE_WAY_FROM, ONE_WAY_TO, ONE_WAY_KEY_COUNT };
static const char *const one_way_keys[ONE_WAY_KEY_COUNT] = {"from", "to"};

// Whether the link between nodes on sides side_a and side_b is cut, and which way.
// Both ways: sides are groups (0: in none) and a link between two groups is cut. One
// way: side 1 sends, side 2 receives.
static bool
link_is_cut(bool one_way, uint32_t side_a, uint32_t side_b, scenario_cut_dir_t *dir)
{
    if (!one_way) {
        *dir = SCENARIO_CUT_BOTH;
        return side_a != 0 && side_b != 0 && side_a != side_b;
    }
    *dir = side_a == 1 ? SCENARIO_CUT_A_TO_B : SCENARIO_CUT_B_TO_A;
    return side_a + side_b == 3;
}

// Turns ld->sides into fault->cuts.
static int
build_cuts(loader_t *ld, scenario_fault_t *fault, bool one_way, int line)
{
    const scenario_t *out = ld->out;
    scenario_cut_dir_t dir = SCENARIO_CUT_BOTH;
    size_t cut_count = 0;
    for (size_t index = 0; index < out->link_count; index++) {
        const scenario_link_t *link = &out->links[index];
        cut_count += link_is_cut(one_way, ld->sides[link->a], ld->sides[link->b], &dir);
    }
    if (cut_count == 0)
        return rules_reader_fail(&ld->reader, line,
                                 "'%s' cuts no link; valid choices: nodes or regions with links to "
                                 "the other side",
                                 fault->label);
    fault->cuts = malloc(cut_count * sizeof *fault->cuts);
    if (fault->cuts == NULL)
        return scenario_out_of_memory(ld);
    for (size_t index = 0; index < out->link_count; index++) {
        const scenario_link_t *link = &out->links[index];
        if (link_is_cut(one_way, ld->sides[link->a], ld->sides[link->b], &dir))
            fault->cuts[fault->cut_count++] = (scenario_cut_t){.link = (uint32_t)index, .dir = dir};
    }
    return 0;
}

// Moves ld->members into ld->sides as side; a node already on another side is refused.
static int
take_side(loader_t *ld, uint32_t side, int line, const char *what)
{
    for (size_t index = 0; index < ld->out->node_count; index++) {
        if (ld->members[index] == 0)
            continue;
        if (ld->sides[index] != 0 && ld->sides[index] != side)
            return rules_reader_fail(&ld->reader, line,
                                     "%s: node '%s' is on two sides; valid choices: each node on "
                                     "one side at most",
                                     what, ld->out->nodes[index].name);
        ld->sides[index] = side;
    }
    return 0;
}

int
scenario_parse_isolate(loader_t *ld, scenario_fault_t *fault, int line)
{
    char names[sizeof fault->label - sizeof " isolated"];
    scenario_words_t words;
    scenario_words_init(&words, names, sizeof names);
    int rc = next_event(ld);
    if (rc == 0)
        rc = scenario_mark_names(ld, "isolate", &words, ",");
    if (rc != 0)
        return rc;
    scenario_set_label(fault, "%s isolated", names);
    for (size_t index = 0; index < ld->out->node_count; index++)
        ld->sides[index] = ld->members[index] != 0 ? 1 : 2;
    return build_cuts(ld, fault, false, line);
}

int
scenario_parse_split(loader_t *ld, scenario_fault_t *fault, int line)
{
    const char *item = "a list of groups such as [[north], [south, east]]";
    scenario_words_t words;
    scenario_words_init(&words, fault->label, sizeof fault->label);
    memset(ld->sides, 0, ld->out->node_count * sizeof *ld->sides);
    uint32_t group_count = 0;
    bool more = true;
    int rc = scenario_expect_list(ld, "split", item);
    // One turn per group; each group is a name or a list of names.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        int group_line = event_line(ld);
        rc = scenario_mark_names(ld, "split", &words, " | ");
        if (rc == 0)
            rc = take_side(ld, ++group_count, group_line, "split");
    }
    if (rc == 0 && group_count < 2)
        return rules_reader_fail(&ld->reader, line,
                                 "split: %u group; valid choices: two groups or more, such as "
                                 "[[north], [south, east]]",
                                 group_count);
    return rc == 0 ? build_cuts(ld, fault, false, line) : rc;
}

typedef struct {
    scenario_words_t from;
    scenario_words_t to;
} one_way_names_t;

static int
read_one_way_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    one_way_names_t *names = arg;
    const char *what = one_way_keys[key_index];
    int rc = next_event(ld);
    if (rc == 0)
        rc = scenario_mark_names(ld, what, key_index == ONE_WAY_FROM ? &names->from : &names->to,
                                 ",");
    if (rc == 0)
        rc = take_side(ld, key_index == ONE_WAY_FROM ? 1 : 2, seen_lines[key_index], "one_way");
    return rc;
}

static const map_spec_t one_way_spec = {"one_way", one_way_keys, ONE_WAY_KEY_COUNT,
                                        read_one_way_key};

int
scenario_parse_one_way(loader_t *ld, scenario_fault_t *fault, int line)
{
    char from[sizeof fault->label / 2 - 4];
    char to[sizeof fault->label / 2 - 4];
    one_way_names_t names;
    scenario_words_init(&names.from, from, sizeof from);
    scenario_words_init(&names.to, to, sizeof to);
    memset(ld->sides, 0, ld->out->node_count * sizeof *ld->sides);
    int seen_lines[ONE_WAY_KEY_COUNT] = {0};
    int rc = scenario_read_map(ld, &one_way_spec, seen_lines, &names, NULL);
    if (rc == 0 && (seen_lines[ONE_WAY_FROM] == 0 || seen_lines[ONE_WAY_TO] == 0))
        return rules_reader_fail(&ld->reader, line,
                                 "one_way needs from and to; valid choices: {from: [a], to: [b]}");
    if (rc != 0)
        return rc;
    scenario_set_label(fault, "%s -> %s cut", from, to);
    return build_cuts(ld, fault, true, line);
}

// Lists the nodes linked to node, for a message.
static const char *
neighbour_names(const scenario_t *scenario, uint32_t node, char *buf, size_t size)
{
    scenario_words_t words;
    scenario_words_init(&words, buf, size);
    for (size_t index = 0; index < scenario->link_count; index++) {
        const scenario_link_t *link = &scenario->links[index];
        if (link->a == node || link->b == node)
            scenario_words_add(&words, ", ",
                               scenario->nodes[link->a == node ? link->b : link->a].name);
    }
    return buf;
}

int
scenario_parse_flap(loader_t *ld, scenario_fault_t *fault, int line)
{
    const scenario_t *out = ld->out;
    uint32_t ends[2] = {0, 0};
    int rc = scenario_expect_list(ld, "flap", "a pair of linked node names such as [a, b]");
    if (rc == 0)
        rc = scenario_read_node_pair(ld, "flap", ends);
    if (rc != 0)
        return rc;
    uint32_t a = ends[0] < ends[1] ? ends[0] : ends[1];
    uint32_t b = ends[0] < ends[1] ? ends[1] : ends[0];
    scenario_set_label(fault, "flap %s-%s", out->nodes[ends[0]].name, out->nodes[ends[1]].name);
    for (size_t index = 0; index < out->link_count; index++) {
        if (out->links[index].a == a && out->links[index].b == b) {
            fault->link = (uint32_t)index;
            return 0;
        }
    }
    char neighbours[NAME_LIST_BYTES_MAX];
    return rules_reader_fail(
        &ld->reader, line, "flap: %s and %s are not linked; valid choices: a link of %s: %s",
        out->nodes[ends[0]].name, out->nodes[ends[1]].name, out->nodes[ends[0]].name,
        neighbour_names(out, ends[0], neighbours, sizeof neighbours));
}
