#include "counter.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

// Smallest encoded entry: a tag (origin and high-water seq) and a sum.
#define COUNTER_ENTRY_BYTES_MIN (CODEC_TAG_BYTES_MIN + 8)
// Where the first entry starts: after the header and the count.
#define COUNTER_ENTRIES_POS (CODEC_HEADER_BYTES + 4)
// The u32 length before an origin name.
#define COUNTER_NAME_PREFIX_BYTES 4
// The end of an entry: the tag's seq, then the sum.
#define COUNTER_SEQ_SUM_BYTES (8 + 8)

typedef struct {
    crdt_tag_t high_water; // the origin, and the largest seq folded into sum
    int64_t sum;           // of every delta the origin added up to high_water.seq
} counter_entry_t;

typedef struct {
    counter_entry_t *entries; // sorted by origin, one per origin
    size_t count;
} counter_state_t;

static void
counter_state_free(counter_state_t *state)
{
    free(state->entries);
    state->entries = NULL;
    state->count = 0;
}

static int
origin_compare(const crdt_tag_t *a, const crdt_tag_t *b)
{
    return strncmp(a->origin, b->origin, sizeof a->origin);
}

// Reads state into *out (one spare entry, so an empty state allocates too). The
// caller frees *out, also on failure.
static int
counter_decode(const uint8_t *state, size_t state_len, counter_state_t *out)
{
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    size_t count = 0;
    out->entries = NULL;
    out->count = 0;
    if (state_len > 0) {
        int rc = codec_get_header(&reader, CRDT_KIND_COUNTER);
        if (rc == 0)
            rc = codec_get_count(&reader, COUNTER_ENTRY_BYTES_MIN, &count);
        if (rc != 0)
            return rc;
        if (count == 0)
            return -SM_ECORRUPT; // an encoded counter always has an entry
    }
    out->entries = calloc(count + 1, sizeof *out->entries);
    if (out->entries == NULL)
        return -SM_ENOMEM;
    for (size_t index = 0; index < count; index++) {
        counter_entry_t *entry = &out->entries[index];
        int rc = codec_get_tag(&reader, &entry->high_water);
        if (rc == 0)
            rc = codec_get_i64(&reader, &entry->sum);
        if (rc != 0)
            return rc;
        if (index > 0 && origin_compare(&entry[-1].high_water, &entry->high_water) >= 0)
            return -SM_ECORRUPT;
        out->count = index + 1;
    }
    return codec_reader_at_end(&reader) ? 0 : -SM_ECORRUPT;
}

// a + b, or -SM_ERANGE when it leaves int64.
static int
sum_add(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return -SM_ERANGE;
    *sum = a + b;
    return 0;
}

// Where an op's origin sits in an encoded state: its entry, or where its entry goes.
typedef struct {
    size_t count;     // entries in the state
    size_t entry_pos; // offset of the origin's entry, or of the first entry after it
    size_t entry_end; // when found: offset just past the entry (its sum)
    bool is_found;    // the origin has an entry at entry_pos
    uint64_t seq;     // when found: its high-water seq
    int64_t sum;      // when found: its sum
} counter_slot_t;

// An origin name where it lies in a state (or an op): its bytes, without padding.
typedef struct {
    const uint8_t *bytes; // borrowed
    size_t len;           // 0 only for "no name yet"
} counter_name_t;

// Eight bytes as a big-endian number, in one load where the compiler tells the
// byte order (a loop of shifts, a few dozen instructions, otherwise). Every entry
// of a counter is read on every add: its seq and sum, and its name by words.
static inline uint64_t
load_be64(const uint8_t *bytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
    return __builtin_bswap64(value);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
    return value;
#else
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = value << 8 | bytes[i];
    return value;
#endif
}

// The sign origin_compare gives for the same two names: bytewise, and a name sorts
// before the longer names it begins. Names hold no NUL, so strncmp over the padded
// buffers stops where this does. Comparing in place skips copying each name out,
// and strncmp was most of a walk over a few hundred entries. Eight bytes at a time,
// as big-endian numbers (which order as their bytes do), then byte by byte: node
// names are a dozen bytes or so, and the calls to memcmp cost more than the
// compares (an add walks every entry of a counter that has one per branch).
static inline int
name_compare(counter_name_t a, counter_name_t b)
{
    size_t common = a.len < b.len ? a.len : b.len;
    size_t i = 0;
    for (; i + 8 <= common; i += 8) {
        uint64_t x = load_be64(a.bytes + i);
        uint64_t y = load_be64(b.bytes + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    for (; i < common; i++)
        if (a.bytes[i] != b.bytes[i])
            return a.bytes[i] < b.bytes[i] ? -1 : 1;
    return (a.len > b.len) - (a.len < b.len);
}

// Whether the len bytes at bytes hold a NUL: memchr's answer without its call,
// eight bytes at a time (a word has a zero byte exactly when the classic
// (v - 0x01..01) & ~v & 0x80..80 is not zero).
static inline bool
has_nul(const uint8_t *bytes, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, bytes + i, sizeof word);
        if ((word - ones) & ~word & highs)
            return true;
    }
    for (; i < len; i++)
        if (bytes[i] == 0)
            return true;
    return false;
}

// The entry at the reader, read in place: what codec_get_tag then codec_get_i64
// accept and refuse (a name of 1 to CRDT_NAME_MAX bytes without NUL, a seq above
// 0, every byte there; -SM_ECORRUPT otherwise), without copying the name out. A
// hot counter holds an entry per branch and every add walks them all: the codec
// calls were 3% of chain-200.
static int
counter_read_entry(codec_reader_t *reader, counter_name_t *name, uint64_t *seq, int64_t *sum)
{
    const uint8_t *at = reader->data + reader->pos;
    size_t remaining = reader->len - reader->pos;
    if (remaining < COUNTER_NAME_PREFIX_BYTES)
        return -SM_ECORRUPT;
    size_t name_len = (size_t)at[0] << 24 | (size_t)at[1] << 16 | (size_t)at[2] << 8 | at[3];
    remaining -= COUNTER_NAME_PREFIX_BYTES;
    if (name_len == 0 || name_len > CRDT_NAME_MAX || name_len > remaining ||
        remaining - name_len < COUNTER_SEQ_SUM_BYTES)
        return -SM_ECORRUPT;
    const uint8_t *name_at = at + COUNTER_NAME_PREFIX_BYTES;
    if (has_nul(name_at, name_len))
        return -SM_ECORRUPT;
    *seq = load_be64(name_at + name_len);
    if (*seq == 0)
        return -SM_ECORRUPT;
    uint64_t wide = load_be64(name_at + name_len + 8);
    // As codec_get_i64: converting above INT64_MAX is implementation-defined; this is not.
    *sum = wide <= INT64_MAX ? (int64_t)wide : -(int64_t)(UINT64_MAX - wide) - 1;
    *name = (counter_name_t){name_at, name_len};
    reader->pos += COUNTER_NAME_PREFIX_BYTES + name_len + COUNTER_SEQ_SUM_BYTES;
    return 0;
}

// Reads the entry at the reader and checks it comes after *name, the previous
// entry's (len 0 for none), which it then replaces. Until the origin is placed,
// notes whether this entry is the origin's or the first after it.
static int
counter_scan_entry(codec_reader_t *reader, counter_name_t *name, counter_name_t origin,
                   counter_slot_t *slot, bool *is_placed)
{
    size_t entry_pos = reader->pos;
    counter_name_t prev = *name;
    uint64_t seq = 0;
    int64_t sum = 0;
    int rc = counter_read_entry(reader, name, &seq, &sum);
    if (rc != 0)
        return rc;
    if (prev.len > 0 && name_compare(prev, *name) >= 0)
        return -SM_ECORRUPT;
    if (*is_placed)
        return 0;
    int order = name_compare(*name, origin);
    if (order < 0)
        return 0;
    *is_placed = true;
    slot->entry_pos = entry_pos;
    if (order == 0) {
        slot->is_found = true;
        slot->entry_end = reader->pos;
        slot->seq = seq;
        slot->sum = sum;
    }
    return 0;
}

// Checks state as counter_decode does, without copying entries out, and finds
// origin's slot (reader: just past the count). The whole state is read even when
// the origin comes early, so a corrupt tail is -SM_ECORRUPT here too.
static int
counter_scan(codec_reader_t *reader, counter_name_t origin_name, counter_slot_t *slot)
{
    counter_name_t name = {NULL, 0};
    bool is_placed = false;
    for (size_t index = 0; index < slot->count; index++) {
        int rc = counter_scan_entry(reader, &name, origin_name, slot, &is_placed);
        if (rc != 0)
            return rc;
    }
    if (!is_placed)
        slot->entry_pos = reader->pos; // the origin sorts after every entry
    return codec_reader_at_end(reader) ? 0 : -SM_ECORRUPT;
}

// counter_scan's slot for a state known to be a counter's encoding (an apply wrote
// it, or counter_check passed it): reads entries only as far as origin's place,
// the rest is not checked again. Every length is still checked against the bytes,
// so a state that is not such an encoding gives -SM_ECORRUPT or a wrong slot,
// never a read outside it. Checking every entry of every state on every add was a
// sixth of a 200-branch simulation's instructions: a stock counter holds an entry
// per branch that moved it, and one add read and checked all of them.
static int
counter_find(codec_reader_t *reader, counter_name_t origin_name, counter_slot_t *slot)
{
    const uint8_t *state = reader->data;
    size_t state_len = reader->len;
    for (size_t index = 0; index < slot->count; index++) {
        const uint8_t *at = state + reader->pos;
        size_t remaining = state_len - reader->pos;
        if (remaining < COUNTER_NAME_PREFIX_BYTES + COUNTER_SEQ_SUM_BYTES)
            return -SM_ECORRUPT;
        size_t name_len = (size_t)at[0] << 24 | (size_t)at[1] << 16 | (size_t)at[2] << 8 | at[3];
        if (name_len > remaining - COUNTER_NAME_PREFIX_BYTES - COUNTER_SEQ_SUM_BYTES)
            return -SM_ECORRUPT;
        int order = name_compare((counter_name_t){at + COUNTER_NAME_PREFIX_BYTES, name_len},
                                 origin_name);
        if (order < 0) {
            reader->pos += COUNTER_NAME_PREFIX_BYTES + name_len + COUNTER_SEQ_SUM_BYTES;
            continue;
        }
        slot->entry_pos = reader->pos;
        if (order == 0) {
            counter_name_t name;
            int rc = counter_read_entry(reader, &name, &slot->seq, &slot->sum);
            if (rc != 0)
                return rc;
            slot->is_found = true;
            slot->entry_end = reader->pos;
        }
        return 0;
    }
    slot->entry_pos = reader->pos; // the origin sorts after every entry
    return codec_reader_at_end(reader) ? 0 : -SM_ECORRUPT;
}

// Where origin's entry is or goes in state (len 0: no entries): by counter_find
// when the state is known, else by counter_scan.
static int
counter_locate(const uint8_t *state, size_t state_len, const crdt_tag_t *origin, bool known,
               counter_slot_t *slot)
{
    *slot = (counter_slot_t){0};
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_COUNTER);
    if (rc == 0)
        rc = codec_get_count(&reader, COUNTER_ENTRY_BYTES_MIN, &slot->count);
    if (rc != 0)
        return rc;
    if (slot->count == 0)
        return -SM_ECORRUPT; // an encoded counter always has an entry
    // strnlen, as strncmp would stop there too (the op was checked, so at its NUL).
    counter_name_t origin_name = {(const uint8_t *)origin->origin,
                                  strnlen(origin->origin, sizeof origin->origin)};
    return known ? counter_find(&reader, origin_name, slot)
                 : counter_scan(&reader, origin_name, slot);
}

int
counter_check(const uint8_t *state, size_t state_len)
{
    static const crdt_tag_t none = {{0}, 0}; // sorts before every name: placed at once
    counter_slot_t slot;
    return counter_locate(state, state_len, &none, false, &slot);
}

// Bytes already in the format (a range of a state that decoded), copied as they are.
static void
writer_copy(codec_writer_t *writer, const uint8_t *data, size_t len)
{
    if (writer->rc == 0)
        writer->rc = crdt_buf_append(writer->buf, data, len);
}

// state with a new entry for op's origin at slot->entry_pos, and the count one up.
static int
counter_write_insert(const uint8_t *state, size_t state_len, const counter_slot_t *slot,
                     const crdt_op_t *op, crdt_buf_t *out)
{
    codec_writer_t writer;
    codec_writer_init(&writer, out);
    codec_put_header(&writer, CRDT_KIND_COUNTER);
    codec_put_count(&writer, slot->count + 1);
    assert(slot->count == 0 || slot->entry_pos >= COUNTER_ENTRIES_POS);
    assert(slot->entry_pos <= state_len);
    // With no entries, state may be NULL and holds nothing to copy.
    if (slot->count > 0)
        writer_copy(&writer, state + COUNTER_ENTRIES_POS, slot->entry_pos - COUNTER_ENTRIES_POS);
    codec_put_tag(&writer, &op->stamp.tag);
    codec_put_i64(&writer, op->delta);
    if (slot->count > 0)
        writer_copy(&writer, state + slot->entry_pos, state_len - slot->entry_pos);
    return writer.rc;
}

// state with the found entry's seq and sum replaced; the origin name stays as it is.
static int
counter_write_update(const uint8_t *state, size_t state_len, const counter_slot_t *slot,
                     uint64_t seq, int64_t sum, crdt_buf_t *out)
{
    assert(slot->entry_end >= slot->entry_pos + COUNTER_ENTRY_BYTES_MIN); // scan read it
    assert(slot->entry_end <= state_len);
    size_t seq_pos = slot->entry_end - COUNTER_SEQ_SUM_BYTES;
    codec_writer_t writer;
    codec_writer_init(&writer, out);
    writer_copy(&writer, state, seq_pos);
    codec_put_u64(&writer, seq);
    codec_put_i64(&writer, sum);
    writer_copy(&writer, state + slot->entry_end, state_len - slot->entry_end);
    return writer.rc;
}

// The eight bytes of value, big-endian, as codec_put_u64 writes them.
static void
store_be64(uint8_t *bytes, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        bytes[i] = (uint8_t)value;
        value >>= 8;
    }
}

// What counter_write_update would change in state: the found entry's seq and sum.
static int
counter_patch(const counter_slot_t *slot, size_t state_len, uint64_t seq, int64_t sum,
              crdt_patch_t *patch)
{
    _Static_assert(COUNTER_SEQ_SUM_BYTES <= CRDT_PATCH_BYTES_MAX, "a patch holds seq and sum");
    assert(slot->entry_end >= slot->entry_pos + COUNTER_ENTRY_BYTES_MIN); // locate read it
    assert(slot->entry_end <= state_len);
    patch->offset = slot->entry_end - COUNTER_SEQ_SUM_BYTES;
    patch->len = COUNTER_SEQ_SUM_BYTES;
    store_be64(patch->bytes, seq);
    store_be64(patch->bytes + 8, (uint64_t)sum);
    return CRDT_PATCHED;
}

// Folds op into the encoded state in one pass over its bytes: a field with a few
// hundred origins (a stock counter in the partition simulator) is applied far more
// often than viewed, and decoding every entry into an array to change one was most
// of the cost. Writes exactly what decode, fold and encode would: a state that
// decodes has one encoding, so the bytes around the changed entry stay valid.
// With patch, an update or a repeat comes back as CRDT_PATCHED and *patch instead.
static int
counter_apply_at(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                 crdt_buf_t *state_out, bool known, crdt_patch_t *patch)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_ADD);
    assert(state_out != NULL);
    counter_slot_t slot;
    int rc = counter_locate(state_in, state_in_len, &op->stamp.tag, known, &slot);
    if (rc != 0)
        return rc;
    if (!slot.is_found)
        return counter_write_insert(state_in, state_in_len, &slot, op, state_out);
    // A repeat: the state decoded, so it is already the encoding of itself.
    if (op->stamp.tag.seq <= slot.seq) {
        if (!patch)
            return crdt_buf_append(state_out, state_in, state_in_len);
        *patch = (crdt_patch_t){.offset = 0, .len = 0};
        return CRDT_PATCHED;
    }
    int64_t sum = 0;
    rc = sum_add(slot.sum, op->delta, &sum);
    if (rc != 0)
        return rc;
    if (patch)
        return counter_patch(&slot, state_in_len, op->stamp.tag.seq, sum, patch);
    return counter_write_update(state_in, state_in_len, &slot, op->stamp.tag.seq, sum, state_out);
}

int
counter_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
              crdt_buf_t *state_out)
{
    return counter_apply_at(state_in, state_in_len, op, state_out, false, NULL);
}

int
counter_apply_known(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                    crdt_buf_t *state_out)
{
    return counter_apply_at(state_in, state_in_len, op, state_out, true, NULL);
}

int
counter_apply_patch(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                    crdt_buf_t *state_out, crdt_patch_t *patch)
{
    assert(patch != NULL);
    return counter_apply_at(state_in, state_in_len, op, state_out, true, patch);
}

int
counter_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    counter_state_t decoded;
    int rc = counter_decode(state, state_len, &decoded);
    int64_t total = 0;
    for (size_t index = 0; rc == 0 && index < decoded.count; index++)
        rc = sum_add(total, decoded.entries[index].sum, &total);
    counter_state_free(&decoded);
    if (rc != 0)
        return rc;
    view->is_number = true;
    view->number = total;
    return 0;
}
