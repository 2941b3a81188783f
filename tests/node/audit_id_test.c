#include <criterion/criterion.h>
#include <string.h>

#include "audit_id.h"
#include "sm_error.h"

Test(audit_id, round_trips_origin_and_sequence)
{
    const char *origins[] = {"branch-north", "a", "cloud", "x.y_z-9"};
    for (size_t i = 0; i < 4; i++) {
        for (uint64_t seq = 1; seq < 5000; seq += 7) {
            char text[AUDIT_ID_MAX];
            audit_id_format(text, origins[i], seq);
            char origin[CRDT_NAME_MAX + 1];
            uint64_t parsed = 0;
            cr_assert_eq(audit_id_parse(text, origin, &parsed), 0, "%s", text);
            cr_assert_str_eq(origin, origins[i]);
            cr_assert_eq(parsed, seq);
        }
    }
}

Test(audit_id, catches_a_misread_digit_or_letter)
{
    int caught = 0;
    int tried = 0;
    for (uint64_t seq = 10; seq < 2000; seq++) {
        char text[AUDIT_ID_MAX];
        audit_id_format(text, "branch-a", seq);
        char *digit = strchr(text + strlen("branch-a-"), '-') - 1; // last digit
        *digit = (char)((*digit - '0' + 1) % 10 + '0');
        char origin[CRDT_NAME_MAX + 1];
        uint64_t parsed = 0;
        tried++;
        caught += audit_id_parse(text, origin, &parsed) == -SM_EINVAL;
    }
    // A 21-letter check catches all but about 1 in 21 single-digit misreads.
    cr_assert_gt(caught, tried * 9 / 10, "caught %d of %d", caught, tried);
}

Test(audit_id, refuses_text_that_is_not_an_audit_id)
{
    const char *bad[] = {"", "branch", "branch-1", "-1-A", "branch--A", "branch-x-A",
                         "branch-0-A", "branch-99999999999999999999999-A"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char origin[CRDT_NAME_MAX + 1];
        uint64_t seq = 0;
        cr_assert_eq(audit_id_parse(bad[i], origin, &seq), -SM_EINVAL, "'%s'", bad[i]);
    }
}

Test(audit_id, check_letter_is_case_insensitive)
{
    char text[AUDIT_ID_MAX];
    audit_id_format(text, "branch-a", 42);
    size_t len = strlen(text);
    text[len - 1] = (char)(text[len - 1] - 'A' + 'a');
    char origin[CRDT_NAME_MAX + 1];
    uint64_t seq = 0;
    cr_assert_eq(audit_id_parse(text, origin, &seq), 0);
    cr_assert_eq(seq, 42);
}

// Audit IDs already handed out must keep their check letters: these were printed
// by the build before audit_id_format_origin existed.
Test(audit_id, check_letters_are_stable_and_the_per_origin_form_agrees)
{
    static const char *const golden[] = {
        "branch-north-1-B", "branch-north-9-J", "branch-north-10-B", "branch-north-1042-G",
        "branch-north-99999-X", "branch-north-18446744073709551615-P", "cloud-1-G", "cloud-9-Y",
        "cloud-10-R", "cloud-1042-X", "cloud-99999-C", "cloud-18446744073709551615-H", "a-1-U",
        "a-9-X", "a-10-J", "a-1042-U", "a-99999-Y", "a-18446744073709551615-W", "x.y_z-9-1-L",
        "x.y_z-9-9-X", "x.y_z-9-10-K", "x.y_z-9-1042-K", "x.y_z-9-99999-N",
        "x.y_z-9-18446744073709551615-F"};
    const char *origins[] = {"branch-north", "cloud", "a", "x.y_z-9"};
    const uint64_t seqs[] = {1, 9, 10, 1042, 99999, UINT64_MAX};
    size_t k = 0;
    for (size_t i = 0; i < 4; i++) {
        audit_id_origin_t origin;
        audit_id_origin_init(&origin, origins[i]);
        for (size_t j = 0; j < 6; j++, k++) {
            char text[AUDIT_ID_MAX], fast[AUDIT_ID_MAX];
            audit_id_format(text, origins[i], seqs[j]);
            audit_id_format_origin(fast, &origin, seqs[j]);
            cr_assert_str_eq(text, golden[k]);
            cr_assert_str_eq(fast, golden[k]);
        }
    }
}
