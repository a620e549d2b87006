/*
 * Canonical printer: the compiled policy written back as a manifest, with
 * keys in a fixed order, entries sorted and duplicates gone, false flags and
 * empty lists left out. Loading the output prints the same text again.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>

#include <jansson.h>

#include "hostpat.h"
#include "policy_int.h"

static int
add_ports(json_t *caps, const char *key, const struct policy_ports *l)
{
	json_t *a;
	size_t i;

	if (l->n == 0)
		return 0;
	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < l->n; i++)
		if (json_array_append_new(a, json_integer(l->v[i])) == -1)
			goto fail;
	return json_object_set_new(caps, key, a);
fail:
	json_decref(a);
	return -1;
}

static int
add_prefixes(json_t *a, const struct policy_prefixes *l)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < l->n; i++) {
		hostpat_prefix_str(&l->v[i], buf, sizeof(buf));
		if (json_array_append_new(a, json_string(buf)) == -1)
			return -1;
	}
	return 0;
}

static json_t *
build(const struct policy *p)
{
	json_t *root, *caps, *conn;
	size_t i;
	int f, r = 0;

	root = json_object();
	caps = json_object();
	conn = json_array();
	if (root == NULL || caps == NULL || conn == NULL)
		goto fail;
	r |= json_object_set_new(root, "SchemaVersion",
	    json_integer(p->schema_version));
	r |= json_object_set_new(root, "Name", json_string(p->name));
	r |= json_object_set_new(root, "ComponentId",
	    json_string(p->component_id));
	r |= json_object_set_new(root, "EntryPoint",
	    json_string(p->entry_point));
	if (p->app_type != NULL)
		r |= json_object_set_new(root, "ApplicationType",
		    json_string(p->app_type));
	for (i = 0; i < p->nnames; i++)
		r |= json_array_append_new(conn, json_string(p->names[i]));
	r |= add_prefixes(conn, &p->pfx4);
	r |= add_prefixes(conn, &p->pfx6);
	if (json_array_size(conn) > 0)
		r |= json_object_set(caps, "AllowedConnections", conn);
	r |= add_ports(caps, "AllowedTcpServerPorts", &p->tcp);
	r |= add_ports(caps, "AllowedUdpServerPorts", &p->udp);
	if (p->device_auth != NULL)
		r |= json_object_set_new(caps, "DeviceAuthentication",
		    json_string(p->device_auth));
	for (f = 0; f < POLICY_F_COUNT; f++)
		if (p->flags[f])
			r |= json_object_set_new(caps, policy_flag_key[f],
			    json_true());
	r |= json_object_set(root, "Capabilities", caps);
	if (r != 0)
		goto fail;
	json_decref(conn);
	json_decref(caps);
	return root;
fail:
	json_decref(conn);
	json_decref(caps);
	json_decref(root);
	return NULL;
}

char *
policy_print(const struct policy *p)
{
	json_t *root;
	char *s;

	if ((root = build(p)) == NULL)
		return NULL;
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}
