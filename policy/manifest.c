/*
 * app_manifest.json -> struct policy. Every field is checked and every
 * problem reported with its JSON path and value; only a manifest with no
 * error yields a policy. Capabilities that are not about networking (Gpio,
 * Uart, ...) are accepted and ignored.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hostpat.h"
#include "policy_int.h"

#define MANIFEST_MAX_SIZE	(1024 * 1024)
#define MANIFEST_VALUE_MAX	96	/* longest value quoted in a message */
#define MANIFEST_MAX_ENTRIES	16384	/* AllowedConnections, ports */

struct loader {
	struct policy_diag	*diag;
	struct policy		*pol;
	int			 failed;	/* an error was reported */
	int			 oom;
};

static const char *const top_keys[] = {
	"SchemaVersion", "Name", "ComponentId", "EntryPoint", "CmdArgs",
	"ApplicationType", "Capabilities", "MallocVersion",
	"TargetApplicationRuntimeVersion", "TargetBetaApis",
};

/* The value as JSON text, cut to MANIFEST_VALUE_MAX. Caller frees. */
static char *
value_text(const json_t *v)
{
	char *s;
	size_t len;

	if (v == NULL)
		return NULL;
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len > MANIFEST_VALUE_MAX) {
		/* Keep the quote visible for strings. */
		strcpy(s + MANIFEST_VALUE_MAX - 4, s[0] == '"' ? "...\"" :
		    "...");
	}
	return s;
}

static void
report(struct loader *ld, enum policy_sev sev, const char *path,
    const json_t *v, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
report(struct loader *ld, enum policy_sev sev, const char *path,
    const json_t *v, const char *fmt, ...)
{
	char reason[512], *val;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	val = value_text(v);
	if (policy_diag_add(ld->diag, sev, path, val, reason) == -1)
		ld->oom = 1;
	free(val);
	if (sev == POLICY_ERROR)
		ld->failed = 1;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static bool
is_guid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static char *
lower_dup(const char *s)
{
	char *d = strdup(s), *p;

	if (d != NULL)
		for (p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return d;
}

static void
set_str(struct loader *ld, char **dst, const char *s)
{
	if ((*dst = strdup(s)) == NULL)
		ld->oom = 1;
}

/* A required or optional string field. Returns it, or NULL. */
static const char *
get_string(struct loader *ld, const json_t *obj, const char *key,
    bool required, bool nonempty)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			report(ld, POLICY_ERROR, key, NULL,
			    "required field is missing");
		return NULL;
	}
	if (!json_is_string(v)) {
		report(ld, POLICY_ERROR, key, v, "must be a string, not %s",
		    json_kind(v));
		return NULL;
	}
	if (nonempty && json_string_length(v) == 0) {
		report(ld, POLICY_ERROR, key, v, "must not be empty");
		return NULL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		report(ld, POLICY_ERROR, key, NULL, "contains a NUL character");
		return NULL;
	}
	return json_string_value(v);
}

static void
load_top(struct loader *ld, const json_t *root)
{
	struct policy *p = ld->pol;
	const json_t *v;
	const char *key, *s;
	size_t i;
	bool fragment;

	json_object_foreach((json_t *)root, key, v) {
		bool known = false;

		for (i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
			if (strcmp(key, top_keys[i]) == 0)
				known = true;
		if (!known)
			report(ld, POLICY_WARNING, key, NULL,
			    "unknown top-level key (ignored)");
	}

	/* A Capabilities-only file is a fragment to merge, not an app. */
	fragment = json_object_size(root) == 1 &&
	    json_object_get(root, "Capabilities") != NULL;
	if (fragment) {
		report(ld, POLICY_ERROR, "", NULL,
		    "a Capabilities fragment, not an app manifest: "
		    "SchemaVersion, Name, ComponentId and EntryPoint are "
		    "missing");
		return;
	}

	v = json_object_get(root, "SchemaVersion");
	if (v == NULL)
		report(ld, POLICY_ERROR, "SchemaVersion", NULL,
		    "required field is missing");
	else if (!json_is_integer(v))
		report(ld, POLICY_ERROR, "SchemaVersion", v,
		    "must be an integer, not %s", json_kind(v));
	else if (json_integer_value(v) != 1)
		report(ld, POLICY_ERROR, "SchemaVersion", v,
		    "unsupported schema version: netd reads version 1");
	else
		p->schema_version = 1;

	if ((s = get_string(ld, root, "Name", true, true)) != NULL)
		set_str(ld, &p->name, s);

	if ((s = get_string(ld, root, "ComponentId", true, true)) != NULL) {
		if (!is_guid(s))
			report(ld, POLICY_ERROR, "ComponentId",
			    json_object_get(root, "ComponentId"),
			    "not a GUID (expected 8-4-4-4-12 hex digits)");
		else if ((p->component_id = lower_dup(s)) == NULL)
			ld->oom = 1;
	}

	if ((s = get_string(ld, root, "EntryPoint", true, true)) != NULL)
		set_str(ld, &p->entry_point, s);

	if ((s = get_string(ld, root, "ApplicationType", false, true)) != NULL)
		set_str(ld, &p->app_type, s);

	v = json_object_get(root, "CmdArgs");
	if (v != NULL && !json_is_array(v))
		report(ld, POLICY_ERROR, "CmdArgs", v,
		    "must be an array of strings, not %s", json_kind(v));
	else if (v != NULL) {
		const json_t *a;
		char path[64];

		json_array_foreach(v, i, a)
			if (!json_is_string(a)) {
				snprintf(path, sizeof(path), "CmdArgs[%zu]", i);
				report(ld, POLICY_ERROR, path, a,
				    "must be a string, not %s", json_kind(a));
			}
	}
}

static void
load_connections(struct loader *ld, const json_t *arr)
{
	const char *base = "Capabilities.AllowedConnections";
	char path[80], why[HOSTPAT_WHY_MAX];
	struct policy_prefix *pfx = NULL;	/* each entry's, if a prefix */
	struct hostpat hp;
	const json_t *v;
	size_t i;

	if (!json_is_array(arr)) {
		report(ld, POLICY_ERROR, base, arr,
		    "must be an array of strings, not %s", json_kind(arr));
		return;
	}
	if (json_array_size(arr) > MANIFEST_MAX_ENTRIES) {
		report(ld, POLICY_ERROR, base, NULL,
		    "%zu entries, more than the limit of %d",
		    json_array_size(arr), MANIFEST_MAX_ENTRIES);
		return;
	}
	if (json_array_size(arr) > 0 &&
	    (pfx = calloc(json_array_size(arr), sizeof(*pfx))) == NULL) {
		ld->oom = 1;
		return;
	}
	json_array_foreach(arr, i, v) {
		int r;

		snprintf(path, sizeof(path), "%s[%zu]", base, i);
		if (!json_is_string(v)) {
			report(ld, POLICY_ERROR, path, v,
			    "must be a string, not %s", json_kind(v));
			continue;
		}
		if (hostpat_parse(json_string_value(v), json_string_length(v),
		    &hp, why) != HOSTPAT_OK) {
			report(ld, POLICY_ERROR, path, v, "%s", why);
			continue;
		}
		if (hp.warn[0] != '\0')
			report(ld, POLICY_WARNING, path, v, "%s", hp.warn);
		if (hp.kind == HOSTPAT_PREFIX)
			pfx[i] = hp.prefix;
		if ((r = policy_add_pattern(ld->pol, &hp)) == -1)
			ld->oom = 1;
		else if (r == 0)
			report(ld, POLICY_WARNING, path, v,
			    "duplicate entry (ignored)");
	}
	/* Prefixes inside wider ones: said here, dropped by policy_finish. */
	json_array_foreach(arr, i, v) {
		struct policy_prefix by;
		char bys[INET6_ADDRSTRLEN + 8];

		if (pfx[i].family == 0 ||
		    !policy_prefix_covered(ld->pol, &pfx[i], &by))
			continue;
		snprintf(path, sizeof(path), "%s[%zu]", base, i);
		hostpat_prefix_str(&by, bys, sizeof(bys));
		report(ld, POLICY_WARNING, path, v, "inside %s, also listed "
		    "(ignored)", bys);
	}
	free(pfx);
}

static void
load_ports(struct loader *ld, const json_t *arr, const char *key, int proto)
{
	char base[64], path[128];
	const json_t *v;
	size_t i;

	snprintf(base, sizeof(base), "Capabilities.%s", key);
	if (!json_is_array(arr)) {
		report(ld, POLICY_ERROR, base, arr,
		    "must be an array of port numbers, not %s",
		    json_kind(arr));
		return;
	}
	if (json_array_size(arr) > MANIFEST_MAX_ENTRIES) {
		report(ld, POLICY_ERROR, base, NULL,
		    "%zu entries, more than the limit of %d",
		    json_array_size(arr), MANIFEST_MAX_ENTRIES);
		return;
	}
	json_array_foreach(arr, i, v) {
		json_int_t port;
		int r;

		snprintf(path, sizeof(path), "%s[%zu]", base, i);
		if (!json_is_integer(v)) {
			report(ld, POLICY_ERROR, path, v,
			    "a port must be an integer, not %s", json_kind(v));
			continue;
		}
		port = json_integer_value(v);
		if (port < 1 || port > 65535) {
			report(ld, POLICY_ERROR, path, v,
			    "port is out of range 1-65535");
			continue;
		}
		if (port < 1024)
			report(ld, POLICY_WARNING, path, v,
			    "Azure Sphere accepts server ports 1024-65535 "
			    "only; netd allows this privileged port");
		if ((r = policy_add_port(ld->pol, proto, (uint16_t)port)) == -1)
			ld->oom = 1;
		else if (r == 0)
			report(ld, POLICY_WARNING, path, v,
			    "duplicate port (ignored)");
	}
}

static void
load_capabilities(struct loader *ld, const json_t *caps)
{
	const char *base = "Capabilities.DeviceAuthentication";
	const json_t *v;
	char path[80];
	int f;

	if (!json_is_object(caps)) {
		report(ld, POLICY_ERROR, "Capabilities", caps,
		    "must be an object, not %s", json_kind(caps));
		return;
	}
	if ((v = json_object_get(caps, "AllowedConnections")) != NULL)
		load_connections(ld, v);
	if ((v = json_object_get(caps, "AllowedTcpServerPorts")) != NULL)
		load_ports(ld, v, "AllowedTcpServerPorts", IPPROTO_TCP);
	if ((v = json_object_get(caps, "AllowedUdpServerPorts")) != NULL)
		load_ports(ld, v, "AllowedUdpServerPorts", IPPROTO_UDP);

	if ((v = json_object_get(caps, "DeviceAuthentication")) != NULL) {
		if (!json_is_string(v))
			report(ld, POLICY_ERROR, base, v,
			    "must be a GUID string, not %s", json_kind(v));
		else if (!is_guid(json_string_value(v)))
			report(ld, POLICY_ERROR, base, v,
			    "not a GUID (expected the tenant ID, 8-4-4-4-12 "
			    "hex digits)");
		else {
			if (strcmp(json_string_value(v),
			    "00000000-0000-0000-0000-000000000000") == 0)
				report(ld, POLICY_WARNING, base, v,
				    "all-zero GUID is the sample placeholder: "
				    "replace it with your tenant ID");
			if ((ld->pol->device_auth =
			    lower_dup(json_string_value(v))) == NULL)
				ld->oom = 1;
		}
	}

	for (f = 0; f < POLICY_F_COUNT; f++) {
		if ((v = json_object_get(caps, policy_flag_key[f])) == NULL)
			continue;
		snprintf(path, sizeof(path), "Capabilities.%s",
		    policy_flag_key[f]);
		if (!json_is_boolean(v))
			report(ld, POLICY_ERROR, path, v,
			    "must be true or false, not %s", json_kind(v));
		else
			ld->pol->flags[f] = json_is_true(v);
	}
}

/*
 * jansson stops just after the ']' or '}' that follows a stray ','. Find
 * that comma and its line and column, to point at it rather than at the
 * bracket. Returns the closing bracket, or 0.
 */
static char
trailing_comma(const char *buf, size_t len, int position, int *line,
    int *column)
{
	size_t i, j;
	char close;

	if (position < 1 || (size_t)position > len)
		return 0;
	i = (size_t)position - 1;
	if (buf[i] != ']' && buf[i] != '}')
		return 0;
	close = buf[i];
	while (i > 0 && isspace((unsigned char)buf[i - 1]))
		i--;
	if (i == 0 || buf[i - 1] != ',')
		return 0;
	*line = 1;
	*column = 1;
	for (j = 0; j < i - 1; j++) {
		if (buf[j] == '\n') {
			(*line)++;
			*column = 1;
		} else
			(*column)++;
	}
	return close;
}

struct policy *
policy_load_buf(const char *buf, size_t len, struct policy_diag *diag)
{
	struct loader ld = { .diag = diag };
	json_error_t err;
	json_t *root, *caps;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		char reason[JSON_ERROR_TEXT_LENGTH + 96], close;
		int line = err.line, column = err.column;

		close = trailing_comma(buf, len, err.position, &line, &column);
		if (close != 0)
			snprintf(reason, sizeof(reason), "invalid JSON: "
			    "trailing comma before '%c' (not allowed in JSON)",
			    close);
		else if (strstr(err.text, "JSON_ALLOW_NUL") != NULL)
			snprintf(reason, sizeof(reason), "invalid JSON: a "
			    "string contains \\u0000 (NUL)");
		else
			snprintf(reason, sizeof(reason), "invalid JSON: %s",
			    err.text);
		policy_diag_add_at(diag, line, column, reason);
		return NULL;
	}
	if (!json_is_object(root)) {
		report(&ld, POLICY_ERROR, "", NULL,
		    "a manifest must be a JSON object, not %s",
		    json_kind(root));
		json_decref(root);
		return NULL;
	}
	if ((ld.pol = policy_new()) == NULL) {
		json_decref(root);
		return NULL;
	}
	load_top(&ld, root);
	if ((caps = json_object_get(root, "Capabilities")) != NULL)
		load_capabilities(&ld, caps);
	json_decref(root);
	if (ld.oom) {
		policy_diag_add(diag, POLICY_ERROR, "", NULL, "out of memory");
		ld.failed = 1;
	}
	if (ld.failed) {
		policy_free(ld.pol);
		return NULL;
	}
	policy_finish(ld.pol);
	return ld.pol;
}

struct policy *
policy_load_file(const char *path, struct policy_diag *diag)
{
	struct policy *p = NULL;
	struct stat st;
	char *buf = NULL, reason[256];
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto io_error;
	if (fstat(fd, &st) == -1)
		goto io_error;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto io_error;
	}
	if (st.st_size > MANIFEST_MAX_SIZE) {
		snprintf(reason, sizeof(reason),
		    "file is %lld octets, larger than the limit of %d",
		    (long long)st.st_size, MANIFEST_MAX_SIZE);
		policy_diag_add(diag, POLICY_ERROR, "", NULL, reason);
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto io_error;
	/* Read to EOF, never past the limit: the file may change under us. */
	while ((n = read(fd, buf + off, (size_t)st.st_size + 1 - off)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto io_error;
		}
		off += (size_t)n;
		if (off > (size_t)st.st_size) {
			errno = EFBIG;
			goto io_error;
		}
	}
	p = policy_load_buf(buf, off, diag);
	goto done;

io_error:
	snprintf(reason, sizeof(reason), "cannot read: %s", strerror(errno));
	policy_diag_add(diag, POLICY_ERROR, "", NULL, reason);
done:
	free(buf);
	if (fd != -1)
		close(fd);
	return p;
}
