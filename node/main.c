// storemesh: the one binary: node daemon (`run`) and operator CLI.
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_mesh.h"
#include "cli.h"
#include "daemon.h"
#include "sm_error.h"

static const char usage[] =
    "usage:\n"
    "  storemesh init   --data DIR --name NAME --rules FILE [--listen ENDPOINT]\n"
    "  storemesh id     --data DIR [--curve]\n"
    "  storemesh run    --data DIR\n"
    "  storemesh submit --data DIR [--command-id ID] [--source NAME] TYPE KEY FIELD OP [VALUE]\n"
    "  storemesh submit --data DIR --batch FILE\n"
    "  storemesh get    --data DIR TYPE KEY [--json]\n"
    "  storemesh status --data DIR [--json]\n"
    "  storemesh audit  --data DIR AUDIT_ID [--json]\n"
    "  storemesh digest --data DIR\n"
    "  storemesh peer add    --data DIR NAME ENDPOINT PUBLIC_KEY  (or NAME PUBLIC_KEY ENDPOINT)\n"
    "  storemesh peer remove --data DIR NAME\n"
    "  storemesh peers  --data DIR [--json]\n"
    "  storemesh bench local [--ops N] [--dir DIR] [--rules FILE] [--keep]\n"
    "  storemesh bench mesh  [--ops N] [--dir DIR] [--keep]\n"
    "exit codes: 0 ok, 1 environment (data directory, disk), 2 bad usage or input,\n"
    "            3 node not running, 4 refused by a rule or a limit (docs/CLI.md)\n";

int
cli_fail(int code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("storemesh: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return code;
}

int
cli_client_error(int rc, const char *data_dir, const char *context)
{
    if (rc == -SM_ENOTRUNNING)
        return cli_fail(CLI_EXIT_NOT_RUNNING,
                        "%s: the node on '%s' is not running (it stopped or was killed); start it "
                        "with `storemesh run --data %s` and retry with the same command ID",
                        context, data_dir, data_dir);
    if (rc == -SM_ETIMEDOUT)
        return cli_fail(CLI_EXIT_ENVIRONMENT,
                        "%s: the node on '%s' did not answer in time; the command may or may not "
                        "have been recorded: retry with the same command ID",
                        context, data_dir);
    return cli_fail(CLI_EXIT_ENVIRONMENT, "%s: %s", context, sm_strerror(rc));
}

typedef struct {
    const char *flag;
    size_t offset;
} value_flag_t;

static const value_flag_t value_flags[] = {
    {"--data", offsetof(cli_args_t, data)},
    {"--name", offsetof(cli_args_t, name)},
    {"--rules", offsetof(cli_args_t, rules)},
    {"--listen", offsetof(cli_args_t, listen)},
    {"--command-id", offsetof(cli_args_t, command_id)},
    {"--source", offsetof(cli_args_t, source)},
    {"--batch", offsetof(cli_args_t, batch)},
    {"--ops", offsetof(cli_args_t, ops)},
    {"--dir", offsetof(cli_args_t, dir)},
};

// Options may come anywhere; a lone "-2" is a value (a negative delta), not a flag.
static int
parse_args(int argc, char **argv, cli_args_t *args)
{
    memset(args, 0, sizeof *args);
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && strncmp(word, "--", 2) == 0) {
            if (strcmp(word, "--json") == 0) {
                args->json = true;
                continue;
            }
            if (strcmp(word, "--curve") == 0) {
                args->curve = true;
                continue;
            }
            size_t k = 0;
            for (; k < sizeof value_flags / sizeof value_flags[0]; k++)
                if (strcmp(word, value_flags[k].flag) == 0)
                    break;
            if (k == sizeof value_flags / sizeof value_flags[0])
                return cli_fail(CLI_EXIT_USAGE, "unknown option '%s'\n%s", word, usage);
            if (i + 1 >= argc)
                return cli_fail(CLI_EXIT_USAGE, "option %s needs a value", word);
            *(const char **)((char *)args + value_flags[k].offset) = argv[++i];
            continue;
        }
        if (args->positional_count >= CLI_POSITIONAL_MAX)
            return cli_fail(CLI_EXIT_USAGE, "too many arguments\n%s", usage);
        args->positional[args->positional_count++] = word;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *command = argv[1];
    if (strcmp(command, "bench") == 0 && argc > 2 && strcmp(argv[2], "mesh") == 0)
        return bench_mesh_main(argc - 2, argv + 2, argv[0]);
    if (strcmp(command, "bench") == 0)
        return bench_local_main(argc - 2, argv + 2, argv[0]);
    cli_args_t args;
    int rc = parse_args(argc - 2, argv + 2, &args);
    if (rc)
        return rc;
    static const struct {
        const char *name;
        int (*run)(const cli_args_t *);
    } commands[] = {
        {"init", cli_init},     {"id", cli_id},         {"submit", cli_submit},
        {"get", cli_get},       {"status", cli_status}, {"audit", cli_audit},
        {"digest", cli_digest}, {"peer", cli_peer},     {"peers", cli_peers},
    };
    if (strcmp(command, "run") == 0) {
        if (!args.data)
            return cli_fail(CLI_EXIT_USAGE, "run needs --data DIR\n%s", usage);
        if (args.positional_count)
            return cli_fail(CLI_EXIT_USAGE, "run takes no arguments besides --data\n%s", usage);
        return daemon_run(args.data);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(command, commands[i].name) != 0)
            continue;
        if (!args.data)
            return cli_fail(CLI_EXIT_USAGE, "%s needs --data DIR\n%s", command, usage);
        return commands[i].run(&args);
    }
    return cli_fail(CLI_EXIT_USAGE, "unknown command '%s'\n%s", command, usage);
}
