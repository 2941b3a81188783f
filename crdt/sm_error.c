#include "sm_error.h"

const char *
sm_strerror(int rc)
{
    static const char *const texts[SM_ECODE_MAX] = {
        [SM_OK] = "success",
        [SM_EINVAL] = "invalid input",
        [SM_ENOMEM] = "out of memory",
        [SM_ECORRUPT] = "data does not decode (corrupt or from an incompatible version)",
        [SM_EFULL] = "a documented limit was reached",
        [SM_ERANGE] = "number out of range",
        [SM_ENOTFOUND] = "not found",
        [SM_EIO] = "storage error",
        [SM_EREFUSED] = "refused by a rule or a limit",
        [SM_EBUSY] = "resource busy",
        [SM_EDUP] = "already present",
        [SM_ENOTRUNNING] = "no node is running on this data directory",
        [SM_ETIMEDOUT] = "timed out",
    };
    int code = rc < 0 ? -rc : rc;
    if (code >= SM_ECODE_MAX)
        return "unknown error";
    return texts[code];
}
