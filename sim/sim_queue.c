#include "sim_queue.h"

#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

static bool
earlier(const sim_event_t *a, const sim_event_t *b)
{
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms;
    return a->order < b->order;
}

void
sim_queue_init(sim_queue_t *self)
{
    memset(self, 0, sizeof *self);
}

void
sim_queue_free(sim_queue_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        free(self->heap[i].bytes);
    free(self->heap);
    memset(self, 0, sizeof *self);
}

int
sim_queue_push(sim_queue_t *self, sim_event_t *event)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 1024;
        sim_event_t *grown = realloc(self->heap, cap * sizeof *grown);
        if (!grown) {
            free(event->bytes);
            event->bytes = NULL;
            return -SM_ENOMEM;
        }
        self->heap = grown;
        self->cap = cap;
    }
    event->order = self->next_order++;
    size_t index = self->count++;
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!earlier(event, &self->heap[parent]))
            break;
        self->heap[index] = self->heap[parent];
        index = parent;
    }
    self->heap[index] = *event;
    event->bytes = NULL;
    return 0;
}

bool
sim_queue_pop(sim_queue_t *self, sim_event_t *out)
{
    if (self->count == 0)
        return false;
    *out = self->heap[0];
    sim_event_t last = self->heap[--self->count];
    size_t index = 0;
    for (;;) {
        size_t child = 2 * index + 1;
        if (child >= self->count)
            break;
        if (child + 1 < self->count && earlier(&self->heap[child + 1], &self->heap[child]))
            child++;
        if (!earlier(&self->heap[child], &last))
            break;
        self->heap[index] = self->heap[child];
        index = child;
    }
    if (self->count > 0)
        self->heap[index] = last;
    return true;
}

bool
sim_queue_peek_time(const sim_queue_t *self, uint64_t *time_ms)
{
    if (self->count == 0)
        return false;
    *time_ms = self->heap[0].time_ms;
    return true;
}
