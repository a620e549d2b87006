/*
 * Diagnostics of one manifest: an append-only list of messages, each with
 * its JSON path and value, printed in the order they were found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

struct policy_diag {
	char			*file;
	struct policy_msg	*msgs;
	size_t			 n;
	size_t			 cap;
	size_t			 errors;
};

struct policy_diag *
policy_diag_new(const char *file)
{
	struct policy_diag *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->file = strdup(file ? file : "-")) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
policy_diag_free(struct policy_diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		free((char *)d->msgs[i].path);
		free((char *)d->msgs[i].value);
		free((char *)d->msgs[i].reason);
	}
	free(d->msgs);
	free(d->file);
	free(d);
}

static struct policy_msg *
diag_push(struct policy_diag *d, enum policy_sev sev, const char *path,
    const char *value, const char *reason)
{
	struct policy_msg *m;

	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;

		if ((m = reallocarray(d->msgs, ncap, sizeof(*m))) == NULL)
			return NULL;
		d->msgs = m;
		d->cap = ncap;
	}
	m = &d->msgs[d->n];
	memset(m, 0, sizeof(*m));
	m->sev = sev;
	m->path = strdup(path);
	m->value = value ? strdup(value) : NULL;
	m->reason = strdup(reason);
	if (m->path == NULL || m->reason == NULL ||
	    (value != NULL && m->value == NULL)) {
		free((char *)m->path);
		free((char *)m->value);
		free((char *)m->reason);
		return NULL;
	}
	d->n++;
	if (sev == POLICY_ERROR)
		d->errors++;
	return m;
}

int
policy_diag_add(struct policy_diag *d, enum policy_sev sev, const char *path,
    const char *value, const char *reason)
{
	if (d == NULL)
		return 0;
	return diag_push(d, sev, path, value, reason) ? 0 : -1;
}

int
policy_diag_add_at(struct policy_diag *d, int line, int column,
    const char *reason)
{
	struct policy_msg *m;

	if (d == NULL)
		return 0;
	if ((m = diag_push(d, POLICY_ERROR, "", NULL, reason)) == NULL)
		return -1;
	m->line = line;
	m->column = column;
	return 0;
}

size_t
policy_diag_count(const struct policy_diag *d)
{
	return d->n;
}

size_t
policy_diag_errors(const struct policy_diag *d)
{
	return d->errors;
}

size_t
policy_diag_warnings(const struct policy_diag *d)
{
	return d->n - d->errors;
}

const struct policy_msg *
policy_diag_get(const struct policy_diag *d, size_t i)
{
	return i < d->n ? &d->msgs[i] : NULL;
}

const char *
policy_diag_file(const struct policy_diag *d)
{
	return d->file;
}

/* Control characters escaped: a hostile key cannot forge output lines. */
static void
put_safe(FILE *fp, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
}

void
policy_diag_print(const struct policy_diag *d, FILE *fp)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct policy_msg *m = &d->msgs[i];

		put_safe(fp, d->file);
		fputc(':', fp);
		if (m->line > 0)
			fprintf(fp, "%d:%d:", m->line, m->column);
		if (m->sev == POLICY_WARNING)
			fprintf(fp, " warning:");
		if (m->path[0] != '\0') {
			fputc(' ', fp);
			put_safe(fp, m->path);
			fputc(':', fp);
		}
		if (m->value != NULL) {
			fputc(' ', fp);
			put_safe(fp, m->value);
			fputc(':', fp);
		}
		fputc(' ', fp);
		put_safe(fp, m->reason);
		fputc('\n', fp);
	}
}
