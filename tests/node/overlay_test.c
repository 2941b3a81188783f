#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "overlay.h"
#include "sm_error.h"

Test(overlay, latest_put_wins_and_cfs_are_separate)
{
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1,
                             (const uint8_t *)"one", 3), 0);
    cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1,
                             (const uint8_t *)"two", 3), 0);
    cr_assert_eq(overlay_put(overlay, STORE_CF_IDEM, (const uint8_t *)"k", 1,
                             (const uint8_t *)"idem", 4), 0);
    const uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1, &value, &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(value, "two", 3), 0);
    cr_assert_eq(overlay_get(overlay, STORE_CF_IDEM, (const uint8_t *)"k", 1, &value, &len), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(overlay_get(overlay, STORE_CF_LOG, (const uint8_t *)"k", 1, &value, &len),
                 -SM_ENOTFOUND);
    cr_assert_eq(overlay_count(overlay), 2);
    overlay_destroy(&overlay);
    cr_assert_null(overlay);
}

Test(overlay, grows_and_keeps_every_entry)
{
    overlay_t *overlay = overlay_new();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)len,
                                 (const uint8_t *)&i, sizeof i), 0);
    }
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(key, sizeof key, "key-%d", i);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)len,
                                 &value, &value_len), 0);
        int stored;
        memcpy(&stored, value, sizeof stored);
        cr_assert_eq(stored, i);
    }
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(overlay_to_batch(overlay, &batch), 0);
    cr_assert_eq(batch.count, 5000);
    store_batch_free(&batch);
    overlay_clear(overlay);
    cr_assert_eq(overlay_count(overlay), 0);
    overlay_destroy(&overlay);
}
