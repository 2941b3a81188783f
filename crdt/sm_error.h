// sm_error: the error codes every storemesh module returns. Verbs return 0 or a
// negative SM_E* code; sm_strerror gives the text. libc only, so crdt/ can use it.
#ifndef SM_ERROR_H
#define SM_ERROR_H

enum {
    SM_OK = 0,
    SM_EINVAL = 1,   // input does not satisfy the contract (bad op, bad value)
    SM_ENOMEM = 2,   // allocation failed
    SM_ECORRUPT = 3, // stored or received bytes do not decode
    SM_EFULL = 4,    // a documented bound was reached
    SM_ERANGE = 5,   // a number outside its documented range
    SM_ENOTFOUND = 6,
    SM_EIO = 7,          // the storage layer failed (disk full, EIO)
    SM_EREFUSED = 8,     // refused by a truth rule or a limit
    SM_EBUSY = 9,        // a resource is held by someone else (data dir lock)
    SM_EDUP = 10,        // already present (idempotent repeat)
    SM_ENOTRUNNING = 11, // no node is running on the data directory
    SM_ETIMEDOUT = 12,   // no answer in time
    SM_ECODE_MAX = 13,
};

// Static text for a code (positive or negative); never NULL.
const char *sm_strerror(int rc);

#endif
