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
