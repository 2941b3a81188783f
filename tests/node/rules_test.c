#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

#define RETAIL_PATH SM_SOURCE_DIR "/docs/examples/retail-rules.yaml"
#define KINDS_TEXT "counter, last-writer-wins, first-writer-wins, add-wins-set, keep-both, owner"
#define NAME_CHOICES "1 to 63 bytes of A-Z a-z 0-9 _ . -"

// The smallest file that loads: one entity with one field.
#define MINIMAL_ENTITIES                                                                           \
    "entities:\n"                                                                                  \
    "  stock:\n"                                                                                   \
    "    fields:\n"                                                                                \
    "      on_hand:\n"                                                                             \
    "        merge: counter\n"

static rules_t *
parse_text(const char *text, char *err)
{
    return rules_parse(text, strlen(text), "bad.yaml", err, RULES_ERROR_MAX);
}

static rules_t *
parse_ok(const char *text)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = parse_text(text, err);
    cr_assert_not_null(rules, "refused: %s", err);
    cr_assert_str_empty(err);
    return rules;
}

// text must be refused with one line that starts with where ("bad.yaml:7: ") and
// names the valid choices.
static void
assert_refused(const char *text, const char *where, const char *choices)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = parse_text(text, err);
    cr_assert_null(rules, "accepted:\n%s", text);
    cr_assert_eq(strncmp(err, where, strlen(where)), 0, "error '%s' does not start with '%s'", err,
                 where);
    cr_assert_not_null(strstr(err, choices), "error '%s' lacks '%s'", err, choices);
    cr_assert_null(strchr(err, '\n'), "error '%s' is more than one line", err);
}

static char *
read_whole_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file, "%s: %s", path, strerror(errno));
    char *text = malloc(1 << 20);
    cr_assert_not_null(text);
    *len = fread(text, 1, 1 << 20, file);
    fclose(file);
    return text;
}

static const rules_field_t *
field_of(const rules_t *rules, const char *type, const char *name)
{
    const rules_entity_t *entity = rules_entity(rules, type);
    cr_assert_not_null(entity, "no entity %s", type);
    const rules_field_t *field = rules_field(entity, name);
    cr_assert_not_null(field, "no field %s.%s", type, name);
    return field;
}

Test(rules, loads_retail_example_top_level_and_limits)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(RETAIL_PATH, err, sizeof err);
    cr_assert_not_null(rules, "%s", err);
    cr_assert_str_eq(rules_mesh(rules), "retail-demo");
    cr_assert_str_eq(rules_authority(rules), "cloud");
    const rules_limits_t *limits = rules_limits(rules);
    cr_assert_eq(limits->max_offline_s, 72 * 3600);
    cr_assert_eq(limits->max_offline_s, 259200);
    cr_assert_eq(limits->max_queue_depth, 100000);
    cr_assert_eq(limits->warn_at_percent, 80);
    cr_assert_eq(limits->at_limit, RULES_AT_LIMIT_REFUSE_NEW_WORK);
    rules_destroy(&rules);
    cr_assert_null(rules);
}

Test(rules, loads_retail_entities_in_file_order_with_their_kinds)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(RETAIL_PATH, err, sizeof err);
    cr_assert_not_null(rules, "%s", err);
    const char *types[] = {"stock", "price", "customer", "voucher", "order"};
    const size_t field_counts[] = {1, 1, 3, 1, 1};
    cr_assert_eq(rules_entity_count(rules), 5);
    for (size_t index = 0; index < 5; index++) {
        const rules_entity_t *entity = rules_entity_at(rules, index);
        cr_assert_str_eq(entity->name, types[index]);
        cr_assert_eq(entity->field_count, field_counts[index], "%s", types[index]);
        cr_assert_eq(rules_entity(rules, types[index]), entity);
    }
    cr_assert_eq(field_of(rules, "stock", "on_hand")->merge, CRDT_KIND_COUNTER);
    cr_assert_eq(field_of(rules, "price", "amount")->merge, CRDT_KIND_OWNER);
    cr_assert_eq(field_of(rules, "customer", "email")->merge, CRDT_KIND_LWW);
    cr_assert_eq(field_of(rules, "customer", "tags")->merge, CRDT_KIND_AWSET);
    cr_assert_eq(field_of(rules, "customer", "phone")->merge, CRDT_KIND_KEEPBOTH);
    cr_assert_eq(field_of(rules, "voucher", "redeemed_by")->merge, CRDT_KIND_FWW);
    cr_assert_eq(field_of(rules, "order", "status")->merge, CRDT_KIND_OWNER);
    const rules_entity_t *customer = rules_entity(rules, "customer");
    cr_assert_str_eq(customer->fields[0].name, "email");
    cr_assert_str_eq(customer->fields[1].name, "tags");
    cr_assert_str_eq(customer->fields[2].name, "phone");
    rules_destroy(&rules);
}

Test(rules, loads_retail_owners)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(RETAIL_PATH, err, sizeof err);
    cr_assert_not_null(rules, "%s", err);
    const rules_entity_t *price = rules_entity(rules, "price");
    cr_assert_eq(price->owner_kind, RULES_OWNER_NODE);
    cr_assert_str_eq(price->owner, "cloud");
    const rules_field_t *amount = field_of(rules, "price", "amount");
    cr_assert_eq(amount->owner_kind, RULES_OWNER_NODE);
    cr_assert_str_eq(amount->owner, "cloud");
    cr_assert_eq(amount->line, 24);

    const rules_entity_t *order = rules_entity(rules, "order");
    cr_assert_eq(order->owner_kind, RULES_OWNER_ORIGIN);
    cr_assert_null(order->owner);
    const rules_field_t *status = field_of(rules, "order", "status");
    cr_assert_eq(status->owner_kind, RULES_OWNER_ORIGIN);
    cr_assert_null(status->owner);

    const rules_field_t *email = field_of(rules, "customer", "email");
    cr_assert_eq(email->owner_kind, RULES_OWNER_NONE);
    cr_assert_null(email->owner);
    cr_assert_eq(rules_entity(rules, "stock")->owner_kind, RULES_OWNER_NONE);
    rules_destroy(&rules);
}

Test(rules, loads_retail_explains_verbatim)
{
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(RETAIL_PATH, err, sizeof err);
    cr_assert_not_null(rules, "%s", err);
    cr_assert_str_eq(rules_entity(rules, "price")->explain, "Prices are set by head office.");
    cr_assert_str_eq(field_of(rules, "voucher", "redeemed_by")->explain,
                     "The first redemption stands; a later one elsewhere becomes a conflict to "
                     "refund.");
    cr_assert_eq(field_of(rules, "stock", "on_hand")->line, 16);
    rules_destroy(&rules);
}

Test(rules, hash_is_blake2b_256_of_the_file_bytes)
{
    size_t len = 0;
    char *text = read_whole_file(RETAIL_PATH, &len);
    uint8_t expected[RULES_HASH_BYTES];
    cr_assert_eq(
        crypto_generichash(expected, sizeof expected, (const unsigned char *)text, len, NULL, 0),
        0);
    char err[RULES_ERROR_MAX];
    rules_t *loaded = rules_load(RETAIL_PATH, err, sizeof err);
    cr_assert_not_null(loaded, "%s", err);
    cr_assert_arr_eq(rules_hash(loaded), expected, RULES_HASH_BYTES);
    rules_t *parsed = rules_parse(text, len, "retail", err, sizeof err);
    cr_assert_not_null(parsed, "%s", err);
    cr_assert_arr_eq(rules_hash(parsed), expected, RULES_HASH_BYTES);
    rules_destroy(&loaded);
    rules_destroy(&parsed);
    free(text);
}

Test(rules, hash_changes_with_a_comment)
{
    rules_t *plain = parse_ok(MINIMAL_ENTITIES);
    rules_t *commented = parse_ok(MINIMAL_ENTITIES "# reviewed\n");
    cr_assert_neq(memcmp(rules_hash(plain), rules_hash(commented), RULES_HASH_BYTES), 0);
    rules_destroy(&plain);
    rules_destroy(&commented);
}

Test(rules, defaults_when_limits_mesh_and_authority_are_absent)
{
    rules_t *rules = parse_ok(MINIMAL_ENTITIES);
    const rules_limits_t *limits = rules_limits(rules);
    cr_assert_eq(limits->max_offline_s, 0);
    cr_assert_eq(limits->max_queue_depth, 0);
    cr_assert_eq(limits->warn_at_percent, 80);
    cr_assert_eq(limits->at_limit, RULES_AT_LIMIT_REFUSE_NEW_WORK);
    cr_assert_str_eq(rules_mesh(rules), "");
    cr_assert_null(rules_authority(rules));
    const rules_field_t *on_hand = field_of(rules, "stock", "on_hand");
    cr_assert_null(on_hand->explain);
    cr_assert_null(rules_entity(rules, "stock")->explain);
    rules_destroy(&rules);
}

Test(rules, empty_limits_map_keeps_defaults)
{
    rules_t *rules = parse_ok("limits: {}\n" MINIMAL_ENTITIES);
    cr_assert_eq(rules_limits(rules)->warn_at_percent, 80);
    cr_assert_eq(rules_limits(rules)->max_offline_s, 0);
    rules_destroy(&rules);
}

Test(rules, parses_every_duration_unit_and_limit_choice)
{
    const struct {
        const char *text;
        uint64_t seconds;
    } cases[] = {{"45s", 45}, {"30m", 1800}, {"72h", 259200}, {"7d", 604800}, {"1s", 1}};
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char text[512];
        snprintf(text, sizeof text,
                 "limits:\n  max_offline: %s\n  warn_at: 100%%\n  at_limit: warn-only\n"
                 "  max_queue_depth: 1\n" MINIMAL_ENTITIES,
                 cases[index].text);
        rules_t *rules = parse_ok(text);
        const rules_limits_t *limits = rules_limits(rules);
        cr_assert_eq(limits->max_offline_s, cases[index].seconds, "%s", cases[index].text);
        cr_assert_eq(limits->warn_at_percent, 100);
        cr_assert_eq(limits->at_limit, RULES_AT_LIMIT_WARN_ONLY);
        cr_assert_eq(limits->max_queue_depth, 1);
        rules_destroy(&rules);
    }
    rules_t *rules = parse_ok("limits: {warn_at: 1%}\n" MINIMAL_ENTITIES);
    cr_assert_eq(rules_limits(rules)->warn_at_percent, 1);
    rules_destroy(&rules);
}

Test(rules, lookup_of_unknown_type_or_field_is_null)
{
    rules_t *rules = parse_ok(MINIMAL_ENTITIES);
    cr_assert_null(rules_entity(rules, "price"));
    cr_assert_null(rules_entity(rules, ""));
    cr_assert_null(rules_field(rules_entity(rules, "stock"), "amount"));
    rules_destroy(&rules);
}

Test(rules, destroy_accepts_null)
{
    rules_t *rules = NULL;
    rules_destroy(&rules);
    cr_assert_null(rules);
}

Test(rules, entity_owner_is_ignored_by_fields_not_owner_merged)
{
    rules_t *rules = parse_ok("entities:\n"
                              "  price:\n"
                              "    owner: cloud\n"
                              "    fields:\n"
                              "      amount: {merge: owner}\n"
                              "      views: {merge: counter}\n");
    cr_assert_eq(field_of(rules, "price", "views")->owner_kind, RULES_OWNER_NONE);
    cr_assert_null(field_of(rules, "price", "views")->owner);
    cr_assert_eq(field_of(rules, "price", "amount")->owner_kind, RULES_OWNER_NODE);
    rules_destroy(&rules);
}

Test(rules, field_owner_overrides_entity_owner)
{
    rules_t *rules = parse_ok("entities:\n"
                              "  price:\n"
                              "    owner: cloud\n"
                              "    fields:\n"
                              "      amount: {merge: owner, owner: origin}\n"
                              "      label: {merge: owner, owner: depot-7}\n");
    const rules_field_t *amount = field_of(rules, "price", "amount");
    cr_assert_eq(amount->owner_kind, RULES_OWNER_ORIGIN);
    cr_assert_null(amount->owner);
    const rules_field_t *label = field_of(rules, "price", "label");
    cr_assert_eq(label->owner_kind, RULES_OWNER_NODE);
    cr_assert_str_eq(label->owner, "depot-7");
    rules_destroy(&rules);
}

Test(rules, entity_owner_may_follow_its_fields)
{
    rules_t *rules = parse_ok("entities:\n"
                              "  order:\n"
                              "    fields:\n"
                              "      status: {merge: owner}\n"
                              "    owner: origin\n");
    cr_assert_eq(field_of(rules, "order", "status")->owner_kind, RULES_OWNER_ORIGIN);
    rules_destroy(&rules);
}

Test(rules, accepts_name_of_63_bytes_and_every_name_character)
{
    char text[512];
    char name[64];
    memset(name, 'n', 63);
    name[63] = '\0';
    snprintf(text, sizeof text,
             "authority: Az09_.-\nentities:\n  %s:\n    fields:\n      %s: {merge: counter}\n",
             name, name);
    rules_t *rules = parse_ok(text);
    cr_assert_str_eq(rules_authority(rules), "Az09_.-");
    cr_assert_not_null(rules_field(rules_entity(rules, name), name));
    rules_destroy(&rules);
}

Test(rules, accepts_1024_entities)
{
    size_t size = 1024 * 64 + 64;
    char *text = malloc(size);
    cr_assert_not_null(text);
    size_t used = (size_t)snprintf(text, size, "entities:\n");
    for (int index = 0; index < 1024; index++)
        used += (size_t)snprintf(text + used, size - used,
                                 "  e%d: {fields: {f: {merge: counter}}}\n", index);
    rules_t *rules = parse_ok(text);
    cr_assert_eq(rules_entity_count(rules), 1024);
    cr_assert_not_null(rules_entity(rules, "e1023"));
    rules_destroy(&rules);
    free(text);
}

// --- refusals: each names the file, the line and the valid choices ---

Test(rules, refuses_yaml_syntax_error)
{
    assert_refused("mesh: retail\n"
                   "  authority: cloud\n" MINIMAL_ENTITIES,
                   "bad.yaml:2: YAML syntax error: ", "valid choices: fix the indentation");
    assert_refused("entities:\n"
                   "\tstock:\n",
                   "bad.yaml:2: YAML syntax error: ", "spaces, not tabs");
    assert_refused("entities:\n"
                   "  stock: {fields: {on_hand: {merge: counter}}\n"
                   "mesh: a\n",
                   "bad.yaml:", "YAML syntax error");
}

Test(rules, refuses_text_that_is_not_utf8)
{
    assert_refused("mesh: a\n"
                   "authority: \xff\xfe\n" MINIMAL_ENTITIES,
                   "bad.yaml:2: YAML syntax error", "valid choices: save the file as UTF-8");
}

Test(rules, refuses_unknown_top_level_key)
{
    assert_refused("mesh: a\n"
                   "authority: cloud\n"
                   "authorty: cloud\n" MINIMAL_ENTITIES,
                   "bad.yaml:3: unknown key 'authorty' in the top level",
                   "valid choices: mesh, authority, limits, entities");
}

Test(rules, refuses_unknown_limits_key)
{
    assert_refused("limits:\n"
                   "  max_offline: 72h\n"
                   "  max_queue: 100\n" MINIMAL_ENTITIES,
                   "bad.yaml:3: unknown key 'max_queue' in limits",
                   "valid choices: max_offline, max_queue_depth, warn_at, at_limit");
}

Test(rules, refuses_unknown_entity_key)
{
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    explain: x\n"
                   "    owners: cloud\n"
                   "    fields: {on_hand: {merge: counter}}\n",
                   "bad.yaml:4: unknown key 'owners' in entity 'stock'",
                   "valid choices: explain, owner, fields");
}

Test(rules, refuses_unknown_field_key)
{
    assert_refused(MINIMAL_ENTITIES "        merg: counter\n",
                   "bad.yaml:6: unknown key 'merg' in field 'stock.on_hand'",
                   "valid choices: merge, explain, owner");
}

Test(rules, refuses_unknown_merge_kind)
{
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      on_hand:\n"
                   "        merge: sum\n",
                   "bad.yaml:5: field 'stock.on_hand' has unknown merge kind 'sum'",
                   "valid choices: " KINDS_TEXT);
    assert_refused("entities: {stock: {fields: {on_hand: {merge: Counter}}}}\n",
                   "bad.yaml:1: field 'stock.on_hand' has unknown merge kind 'Counter'",
                   KINDS_TEXT);
}

Test(rules, refuses_field_without_merge)
{
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      on_hand:\n"
                   "        explain: how many\n",
                   "bad.yaml:4: field 'stock.on_hand' has no merge", "valid choices: " KINDS_TEXT);
}

Test(rules, refuses_owner_merge_without_owner)
{
    assert_refused("entities:\n"
                   "  price:\n"
                   "    explain: set by head office\n"
                   "    fields:\n"
                   "      amount:\n"
                   "        merge: owner\n",
                   "bad.yaml:5: field 'price.amount' has merge: owner but neither it nor entity "
                   "'price' names an owner",
                   "valid choices: owner: origin, or owner: NODE");
}

Test(rules, refuses_field_owner_on_a_field_not_owner_merged)
{
    assert_refused(MINIMAL_ENTITIES "        owner: cloud\n",
                   "bad.yaml:6: field 'stock.on_hand' has owner: but merge: counter",
                   "valid choices: remove owner:, or use merge: owner");
}

Test(rules, refuses_bad_max_offline)
{
    const char *values[] = {
        "72x", "72", "h", "0h", "-1h", "1.5h", "72 h", "", "99999999999999999999d", "7D"};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        char text[256];
        snprintf(text, sizeof text, "mesh: a\nlimits:\n  max_offline: '%s'\n" MINIMAL_ENTITIES,
                 values[index]);
        assert_refused(text,
                       "bad.yaml:3: max_offline: expected a duration such as 72h, 30m, 45s or 7d",
                       "valid choices: a whole number above 0 followed by s, m, h or d");
    }
}

Test(rules, refuses_bad_max_queue_depth)
{
    const char *values[] = {"0", "-5", "lots", "1e5", "1.5", "100 000", "99999999999999999999"};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        char text[256];
        snprintf(text, sizeof text, "limits:\n  max_queue_depth: %s\n" MINIMAL_ENTITIES,
                 values[index]);
        assert_refused(text, "bad.yaml:2: max_queue_depth: expected a whole number",
                       "valid choices: digits only, 1 or more");
    }
}

Test(rules, refuses_bad_warn_at)
{
    const char *values[] = {"0%", "101%", "80", "%", "eighty%", "80 %", "0.5%"};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        char text[256];
        snprintf(text, sizeof text, "limits:\n  warn_at: '%s'\n" MINIMAL_ENTITIES, values[index]);
        assert_refused(text, "bad.yaml:2: warn_at: expected a percentage such as 80%",
                       "valid choices: 1% to 100%");
    }
}

Test(rules, refuses_bad_at_limit)
{
    assert_refused("limits:\n"
                   "  warn_at: 80%\n"
                   "  at_limit: drop-oldest\n" MINIMAL_ENTITIES,
                   "bad.yaml:3: at_limit: unknown action 'drop-oldest'",
                   "valid choices: refuse-new-work, warn-only");
}

Test(rules, refuses_list_where_a_map_is_expected)
{
    assert_refused("entities:\n"
                   "  - stock\n"
                   "  - price\n",
                   "bad.yaml:2: entities must be a map of 'key: value' lines, found a list",
                   "valid choices: one 'TYPE:' line per entity type");
    assert_refused("limits: [72h]\n" MINIMAL_ENTITIES,
                   "bad.yaml:1: limits must be a map of 'key: value' lines, found a list",
                   "valid choices: max_offline, max_queue_depth, warn_at, at_limit");
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      on_hand: [counter]\n",
                   "bad.yaml:4: field 'stock.on_hand' must be a map of 'key: value' lines, found "
                   "a list",
                   "valid choices: merge, explain, owner");
    assert_refused("- mesh: a\n", "bad.yaml:1: the file must be a map of 'key: value' lines",
                   "valid choices: mesh, authority, limits, entities");
}

Test(rules, refuses_single_value_where_a_map_is_expected)
{
    assert_refused("entities:\n"
                   "  stock: counter\n",
                   "bad.yaml:2: entity 'stock' must be a map of 'key: value' lines, found the "
                   "value 'counter'",
                   "valid choices: explain, owner, fields");
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n",
                   "bad.yaml:3: fields of entity 'stock' must be a map of 'key: value' lines, "
                   "found nothing",
                   "valid choices: one 'NAME:' line per field");
}

Test(rules, refuses_map_or_list_where_a_value_is_expected)
{
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      on_hand:\n"
                   "        merge: {kind: counter}\n",
                   "bad.yaml:5: merge must be a single value, found a map",
                   "valid choices: one value after the colon");
    assert_refused("mesh: [a, b]\n" MINIMAL_ENTITIES,
                   "bad.yaml:1: mesh must be a single value, found a list",
                   "valid choices: one value after the colon");
    assert_refused("{[a]: b}\n", "bad.yaml:1: a key must be a single word, found a list",
                   "valid choices: 'key: value' lines");
}

Test(rules, refuses_duplicate_entity)
{
    assert_refused(MINIMAL_ENTITIES "  price: {owner: cloud, fields: {amount: {merge: owner}}}\n"
                                    "  stock:\n"
                                    "    fields: {on_hand: {merge: counter}}\n",
                   "bad.yaml:7: entity 'stock' is declared twice (first at line 2)",
                   "valid choices: one declaration per entity type");
}

Test(rules, refuses_duplicate_field)
{
    assert_refused(MINIMAL_ENTITIES "      on_hand:\n"
                                    "        merge: last-writer-wins\n",
                   "bad.yaml:6: field 'stock.on_hand' is declared twice (first at line 4)",
                   "valid choices: one declaration per field");
}

Test(rules, refuses_repeated_key)
{
    assert_refused(MINIMAL_ENTITIES "        merge: owner\n",
                   "bad.yaml:6: key 'merge' appears twice in field 'stock.on_hand' (first at "
                   "line 5)",
                   "valid choices: keep one");
    assert_refused("mesh: a\n"
                   "mesh: b\n" MINIMAL_ENTITIES,
                   "bad.yaml:2: key 'mesh' appears twice in the top level (first at line 1)",
                   "valid choices: keep one");
}

Test(rules, refuses_file_without_entities)
{
    assert_refused("# rules\n"
                   "mesh: a\n"
                   "authority: cloud\n",
                   "bad.yaml:2: no entities declared",
                   "valid choices: entities: with at least one entity type");
    assert_refused("mesh: a\n"
                   "entities: {}\n",
                   "bad.yaml:2: no entities declared", "valid choices: entities:");
}

Test(rules, refuses_entity_without_fields)
{
    assert_refused(MINIMAL_ENTITIES "  price:\n"
                                    "    explain: no fields yet\n",
                   "bad.yaml:6: entity 'price' declares no fields",
                   "valid choices: fields: with at least one field");
    assert_refused("entities:\n"
                   "  price: {fields: {}}\n",
                   "bad.yaml:2: entity 'price' declares no fields", "valid choices: fields:");
}

Test(rules, refuses_empty_file)
{
    assert_refused("", "bad.yaml:1: the file holds no rules",
                   "valid choices: mesh, authority, limits, entities");
    assert_refused("# nothing yet\n", "bad.yaml:1: the file holds no rules",
                   "valid choices: mesh, authority, limits, entities");
    assert_refused("---\n", "bad.yaml:", "found nothing; valid choices: mesh, authority");
}

Test(rules, refuses_bad_entity_and_field_names)
{
    char long_name[65];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    char text[512];
    snprintf(text, sizeof text, "entities:\n  %s:\n    fields: {f: {merge: counter}}\n", long_name);
    assert_refused(text, "bad.yaml:2: entity type 'nnnn",
                   "is too long; valid choices: " NAME_CHOICES);
    assert_refused("entities:\n"
                   "  'sto ck':\n"
                   "    fields: {f: {merge: counter}}\n",
                   "bad.yaml:2: entity type 'sto ck' is not a valid name",
                   "valid choices: " NAME_CHOICES);
    assert_refused("entities:\n"
                   "  '':\n"
                   "    fields: {f: {merge: counter}}\n",
                   "bad.yaml:2: entity type '' is not a valid name: it is empty",
                   "valid choices: " NAME_CHOICES);
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      on/hand: {merge: counter}\n",
                   "bad.yaml:4: field name 'on/hand' is not a valid name",
                   "valid choices: " NAME_CHOICES);
    assert_refused("entities:\n"
                   "  stock:\n"
                   "    fields:\n"
                   "      \"caf\xc3\xa9\": {merge: counter}\n",
                   "bad.yaml:4: field name 'caf\xc3\xa9' is not a valid name",
                   "valid choices: " NAME_CHOICES);
}

Test(rules, refuses_bad_node_names)
{
    assert_refused("authority: 'head office'\n" MINIMAL_ENTITIES,
                   "bad.yaml:1: authority 'head office' is not a valid name",
                   "valid choices: " NAME_CHOICES);
    assert_refused("authority:\n" MINIMAL_ENTITIES,
                   "bad.yaml:1: authority '' is not a valid name: it is empty",
                   "valid choices: " NAME_CHOICES);
    assert_refused("mesh: retail demo\n" MINIMAL_ENTITIES,
                   "bad.yaml:1: mesh 'retail demo' is not a valid name",
                   "valid choices: " NAME_CHOICES);
    assert_refused("entities:\n"
                   "  price:\n"
                   "    owner: head office\n"
                   "    fields: {amount: {merge: owner}}\n",
                   "bad.yaml:3: owner 'head office' is not a valid name",
                   "valid choices: origin, or a node name of " NAME_CHOICES);
}

Test(rules, refuses_too_many_entities)
{
    size_t size = 1025 * 64 + 64;
    char *text = malloc(size);
    cr_assert_not_null(text);
    size_t used = (size_t)snprintf(text, size, "entities:\n");
    for (int index = 0; index < 1025; index++)
        used += (size_t)snprintf(text + used, size - used,
                                 "  e%d: {fields: {f: {merge: counter}}}\n", index);
    assert_refused(text, "bad.yaml:1026: more than 1024 entity types",
                   "valid choices: at most 1024 entity types");
    free(text);
}

Test(rules, refuses_too_many_fields)
{
    size_t size = 1025 * 64 + 64;
    char *text = malloc(size);
    cr_assert_not_null(text);
    size_t used = (size_t)snprintf(text, size, "entities:\n  stock:\n    fields:\n");
    for (int index = 0; index < 1025; index++)
        used += (size_t)snprintf(text + used, size - used, "      f%d: {merge: counter}\n", index);
    assert_refused(text, "bad.yaml:1028: entity 'stock' has more than 1024 fields",
                   "valid choices: at most 1024 fields per entity type");
    free(text);
}

Test(rules, refuses_aliases)
{
    assert_refused("entities:\n"
                   "  stock: &same\n"
                   "    fields: {on_hand: {merge: counter}}\n"
                   "  depot_stock: *same\n",
                   "bad.yaml:4: the alias *same is not supported",
                   "valid choices: write the value out in full");
}

Test(rules, refuses_deep_nesting)
{
    char text[256];
    snprintf(text, sizeof text, "mesh: a\nentities: %.40s\n",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    assert_refused(text, "bad.yaml:2: nested more than 16 levels deep",
                   "valid choices: the layout in docs/RULES.md");
}

Test(rules, refuses_second_document)
{
    assert_refused(MINIMAL_ENTITIES "---\n" MINIMAL_ENTITIES,
                   "bad.yaml:6: a second YAML document starts here",
                   "valid choices: one document per rules file");
}

Test(rules, refuses_nul_byte_in_a_value)
{
    assert_refused("mesh: \"a\\0b\"\n" MINIMAL_ENTITIES, "bad.yaml:1: mesh contains a NUL byte",
                   "valid choices: plain text");
}

Test(rules, refuses_text_over_one_mebibyte)
{
    size_t len = (1 << 20) + 1;
    char *text = malloc(len);
    cr_assert_not_null(text);
    memset(text, '#', len);
    char err[RULES_ERROR_MAX];
    cr_assert_null(rules_parse(text, len, "big.yaml", err, sizeof err));
    cr_assert_str_eq(err, "big.yaml: the file is larger than 1048576 bytes, the limit for a rules "
                          "file; check the path");
    free(text);
}

Test(rules, refuses_file_over_one_mebibyte)
{
    char path[] = "/tmp/rules_test_big_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *file = fdopen(fd, "w");
    cr_assert_not_null(file);
    fputs(MINIMAL_ENTITIES, file);
    for (int index = 0; index < (1 << 20) / 8; index++)
        fputs("# pad..\n", file);
    fclose(file);
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(path, err, sizeof err);
    unlink(path);
    cr_assert_null(rules);
    cr_assert_not_null(strstr(err, "the file is larger than 1048576 bytes"), "%s", err);
    cr_assert_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
}

Test(rules, refuses_unreadable_file)
{
    char err[RULES_ERROR_MAX];
    cr_assert_null(rules_load("/nonexistent/rules.yaml", err, sizeof err));
    cr_assert_str_eq(err,
                     "/nonexistent/rules.yaml: cannot read: No such file or directory; check the "
                     "path");
    cr_assert_null(rules_load(SM_SOURCE_DIR "/docs", err, sizeof err));
    cr_assert_str_eq(err, SM_SOURCE_DIR "/docs: cannot read: Is a directory; check the path");
}

Test(rules, load_reports_lines_with_the_path)
{
    char path[] = "/tmp/rules_test_line_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *file = fdopen(fd, "w");
    cr_assert_not_null(file);
    fputs(MINIMAL_ENTITIES "        merge: sum\n", file);
    fclose(file);
    char err[RULES_ERROR_MAX];
    rules_t *rules = rules_load(path, err, sizeof err);
    unlink(path);
    cr_assert_null(rules);
    char expected[64];
    snprintf(expected, sizeof expected, "%s:6: ", path);
    cr_assert_eq(strncmp(err, expected, strlen(expected)), 0, "%s", err);
}

Test(rules, error_is_cut_to_the_buffer_given)
{
    char err[16];
    memset(err, 'x', sizeof err);
    const char *text = "mesh: a\nmesh_name: b\n";
    cr_assert_null(rules_parse(text, strlen(text), "bad.yaml", err, sizeof err));
    cr_assert_str_eq(err, "bad.yaml:2: unk");
}

Test(rules, long_values_are_shortened_in_messages)
{
    char text[1024];
    char value[501];
    memset(value, 'v', 500);
    value[500] = '\0';
    snprintf(text, sizeof text, "mesh: a\n%s: b\n", value);
    char err[RULES_ERROR_MAX];
    cr_assert_null(rules_parse(text, strlen(text), "bad.yaml", err, sizeof err));
    cr_assert_lt(strlen(err), 300, "%s", err);
    cr_assert_not_null(strstr(err, "...'"), "%s", err);
    cr_assert_not_null(strstr(err, "valid choices: mesh, authority, limits, entities"), "%s", err);
}
