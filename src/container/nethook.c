/* The network hooks of the container lifecycle, served by src/network:
 * attach at start (leases, veths, published ports, hosts/resolv.conf),
 * detach after the container stopped, NetworkSettings for inspect. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"
#include "network/network.h"

/* berth's config file: the front end exports --config as BERTH_CONFIG. */
static int net_open(berth_store *s, berth_config **cfg, net_ctx *nc, berth_error **err)
{
	if (berth_config_load(getenv("BERTH_CONFIG"), cfg, err) < 0)
		return -1;
	memset(nc, 0, sizeof(*nc));
	nc->store = s;
	nc->cfg = *cfg;
	nc->argv0 = "/proc/self/exe";
	return 0;
}

int container_network_attach(berth_store *s, const char *id, json_t *config, pid_t pid,
                             berth_error **err)
{
	net_ctr_config c;
	if (net_ctr_config_from_docker(config, &c, err) < 0)
		return -1;
	const char *mode = c.mode ? c.mode : "bridge";
	if (!strcmp(mode, "host") || !strcmp(mode, "none")) {
		bool host = !strcmp(mode, "host");
		net_ctr_config_clear(&c); /* frees mode */
		if (host)
			return 0; /* container/start.c wrote hosts and resolv.conf */
		/* none: its own namespace with loopback up, as Docker does */
		_cleanup_free_ char *p = xasprintf("/proc/%d/ns/net", (int)pid);
		_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "opening %s", p);
		return network_loopback_up(fd, err);
	}
	berth_config *cfg = NULL;
	net_ctx nc;
	int r = net_open(s, &cfg, &nc, err);
	_cleanup_free_ char *dir = container_dir(s, id);
	_cleanup_free_ char *joined_dir = NULL;
	ctr_record *rec = NULL;
	if (r == 0)
		r = container_lookup(s, id, false, &rec, err);
	if (r == 0 && str_has_prefix(mode, "container:")) {
		ctr_record *other = NULL;
		r = container_lookup(s, mode + strlen("container:"), false, &other, err);
		if (r == 0)
			joined_dir = container_dir(s, other->id);
		ctr_record_free(other);
	}
	_cleanup_close_ int nsfd = -1;
	if (r == 0) {
		_cleanup_free_ char *p = xasprintf("/proc/%d/ns/net", (int)pid);
		nsfd = open(p, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			r = berth_err_sys(err, errno, "opening %s", p);
	}
	if (r == 0) {
		json_t *cf = json_object_get(config, "Config");
		const char *hn = json_get_str(cf, "Hostname");
		net_ctr nctr = {.id = id,
		                .name = rec->name,
		                .hostname = hn && *hn ? hn : NULL,
		                .domainname = json_get_str(cf, "Domainname"),
		                .cfg = &c};
		net_start st = {
		    .netns_fd = nsfd, .owner = pid, .etc_dir = dir, .joined_etc_dir = joined_dir};
		r = network_ctr_start(&nc, &nctr, &st, NULL, err);
	}
	ctr_record_free(rec);
	net_ctr_config_clear(&c);
	berth_config_free(cfg);
	return r;
}

/* Run a network module step for a container that had a network attached
 * (nothing was for --network none|host). */
static int with_attached_net(berth_store *s, const char *id, json_t *config,
                             int (*step)(net_ctx *, const char *, berth_error **),
                             berth_error **err)
{
	const char *mode = json_get_str(json_object_get(config, "HostConfig"), "NetworkMode");
	if (config && mode && (!strcmp(mode, "none") || !strcmp(mode, "host")))
		return 0;
	berth_config *cfg = NULL;
	net_ctx nc;
	int r = net_open(s, &cfg, &nc, err);
	if (r == 0)
		r = step(&nc, id, err);
	berth_config_free(cfg);
	return r;
}

int container_network_detach(berth_store *s, const char *id, json_t *config, berth_error **err)
{
	return with_attached_net(s, id, config, network_ctr_stop, err);
}

int container_network_forget(berth_store *s, const char *id, json_t *config, berth_error **err)
{
	return with_attached_net(s, id, config, network_ctr_forget, err);
}

json_t *container_network_settings(berth_store *s, const char *id)
{
	berth_config *cfg = NULL;
	net_ctx nc;
	json_t *j = NULL;
	if (net_open(s, &cfg, &nc, NULL) == 0)
		j = network_ctr_settings(&nc, id, NULL);
	berth_config_free(cfg);
	return j;
}

char *container_network_ports_text(berth_store *s, const char *id)
{
	/* only the store is needed: no config file to load for every row of ps */
	if (!store_table_exists(s, "network_ports"))
		return xstrdup("");
	net_ctx nc;
	memset(&nc, 0, sizeof(nc));
	nc.store = s;
	char *t = network_ctr_ports_text(&nc, id);
	return t ? t : xstrdup("");
}

char **container_network_ids_with_ports(berth_store *s)
{
	/* one query for ps, instead of one per row */
	char **ids = NULL;
	if (!store_table_exists(s, "network_ports"))
		return NULL;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "SELECT DISTINCT container_id FROM network_ports ORDER BY container_id", NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (id)
			ids = strv_append(ids, id);
	}
	return ids;
}
