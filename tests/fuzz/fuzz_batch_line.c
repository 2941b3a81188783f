// libFuzzer target: json_flat, the reader of `storemesh submit --batch` lines (a file
// anyone may hand the CLI). The scratch is exactly the documented len + 1 bytes, so
// AddressSanitizer catches a decode that grows; every field it returns must lie in
// the scratch, end with a NUL at its length and hold none before it (json_flat
// refuses \u0000); a refusal must say why.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_flat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {"command_id", "source", "type", "key", "field", "op", "value"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    char *scratch = malloc(size + 1);
    if (!line || !scratch)
        abort();
    if (size)
        memcpy(line, data, size);
    json_flat_t out;
    char problem[JSON_FLAT_PROBLEM_MAX];
    problem[0] = '\0';
    int rc = json_flat_parse(line, size, keys, 7, 1u << 6, scratch, &out, problem);
    if (rc != 0 && (rc != -1 || problem[0] == '\0' || !memchr(problem, '\0', sizeof problem))) {
        fprintf(stderr, "fuzz_batch_line: refused without a problem (rc %d)\n", rc);
        abort();
    }
    for (int k = 0; rc == 0 && k < 7; k++) {
        if (!out.text[k])
            continue;
        if (out.text[k] < scratch || out.text[k] + out.len[k] >= scratch + size + 1 ||
            out.text[k][out.len[k]] != '\0' || memchr(out.text[k], '\0', out.len[k])) {
            fprintf(stderr, "fuzz_batch_line: field %s is not a string inside the scratch\n",
                    keys[k]);
            abort();
        }
    }
    free(scratch);
    free(line);
    return 0;
}
