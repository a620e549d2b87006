/*
 * netctl: the command-line client. "check" needs no daemon: it loads
 * manifests with the same policy library netd uses.
 *
 * Exit codes: 0 success, 1 a manifest was refused (or a request failed),
 * 2 usage error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy.h"

#ifndef NETD_VERSION
#define NETD_VERSION "0.0.0"
#endif

#define EXIT_REFUSED	1
#define EXIT_USAGE	2

struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
};

static int	cmd_check(int, char **);
static void	usage(FILE *);

static const struct command commands[] = {
	{ "check", cmd_check, "check [--print] [--json] FILE..." },
};

static json_t *
msg_json(const struct policy_msg *m)
{
	json_t *o = json_object(), *v = NULL;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "path", json_string(m->path));
	if (m->value != NULL) {
		/* The value is JSON text; a cut one stays a string. */
		v = json_loads(m->value, JSON_DECODE_ANY, NULL);
		json_object_set_new(o, "value", v ? v :
		    json_string(m->value));
	}
	json_object_set_new(o, "reason", json_string(m->reason));
	if (m->line > 0) {
		json_object_set_new(o, "line", json_integer(m->line));
		json_object_set_new(o, "column", json_integer(m->column));
	}
	return o;
}

static json_t *
file_json(const char *file, const struct policy_diag *d,
    const struct policy *p, bool print)
{
	json_t *o, *errs, *warns;
	size_t i;

	o = json_object();
	errs = json_array();
	warns = json_array();
	if (o == NULL || errs == NULL || warns == NULL) {
		json_decref(o);
		json_decref(errs);
		json_decref(warns);
		return NULL;
	}
	for (i = 0; i < policy_diag_count(d); i++) {
		const struct policy_msg *m = policy_diag_get(d, i);

		json_array_append_new(m->sev == POLICY_ERROR ? errs : warns,
		    msg_json(m));
	}
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "ok", json_boolean(p != NULL));
	json_object_set_new(o, "errors", errs);
	json_object_set_new(o, "warnings", warns);
	if (print && p != NULL) {
		char *s = policy_print(p);

		if (s != NULL)
			json_object_set_new(o, "policy",
			    json_loads(s, 0, NULL));
		free(s);
	}
	return o;
}

static int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "print", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = false, json = false;
	json_t *out = NULL, *files = NULL;
	int ch, i, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+pjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			print = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: netctl check [--print] [--json] "
			    "FILE...\n");
			return 0;
		default:
			fprintf(stderr, "usage: netctl check [--print] "
			    "[--json] FILE...\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "netctl check: no manifest given\n"
		    "usage: netctl check [--print] [--json] FILE...\n");
		return EXIT_USAGE;
	}
	if (json) {
		out = json_object();
		files = json_array();
		if (out == NULL || files == NULL) {
			fprintf(stderr, "netctl: out of memory\n");
			return EXIT_REFUSED;
		}
	}
	for (i = optind; i < argc; i++) {
		const char *file = argv[i];
		struct policy_diag *d;
		struct policy *p;

		if ((d = policy_diag_new(file)) == NULL) {
			fprintf(stderr, "netctl: out of memory\n");
			return EXIT_REFUSED;
		}
		p = policy_load_file(file, d);
		if (p == NULL)
			rc = EXIT_REFUSED;
		if (json) {
			json_array_append_new(files,
			    file_json(file, d, p, print));
		} else {
			policy_diag_print(d, stderr);
			if (print && p != NULL) {
				char *s = policy_print(p);

				if (argc - optind > 1)
					printf("==> %s <==\n", file);
				printf("%s\n", s ? s : "");
				free(s);
			} else if (!print) {
				if (p != NULL)
					printf("%s: ok", file);
				else
					printf("%s: refused: %zu error%s",
					    file, policy_diag_errors(d),
					    policy_diag_errors(d) == 1 ? "" :
					    "s");
				if (policy_diag_warnings(d) > 0)
					printf(", %zu warning%s",
					    policy_diag_warnings(d),
					    policy_diag_warnings(d) == 1 ?
					    "" : "s");
				printf("\n");
			}
		}
		policy_free(p);
		policy_diag_free(d);
	}
	if (json) {
		char *s;

		json_object_set_new(out, "ok", json_boolean(rc == 0));
		json_object_set_new(out, "files", files);
		s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(out);
	}
	fflush(stdout);
	return rc;
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: netctl [--version] COMMAND [ARGS]\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "    netctl %s\n", commands[i].usage);
}

int
main(int argc, char *argv[])
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("netctl %s\n", NETD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "netctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
