/* Creating a container: merge the image config with Docker's ContainerCreate
 * body, allocate an ID and a unique name in one transaction, lay out the
 * container directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "container/proto.h"
#include "image/image.h"

void ctr_random_id(char out[CTR_ID_LEN + 1])
{
	unsigned char b[CTR_ID_LEN / 2];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[CTR_ID_LEN] = 0;
	/* Docker never hands out an all-digit short ID (it reads as a number) */
	bool digits = true;
	for (int i = 0; i < 12; i++)
		digits = digits && out[i] >= '0' && out[i] <= '9';
	if (digits)
		out[0] = 'a';
}

/* Our own word lists for generated names. */
static const char *const adjectives[] = {
    "agile",  "amber",   "ancient", "bold",   "brave",   "bright", "calm",   "clever", "cosmic",
    "crisp",  "curious", "daring",  "eager",  "early",   "fair",   "fierce", "gentle", "golden",
    "happy",  "hidden",  "humble",  "jolly",  "keen",    "kind",   "lively", "lucid",  "mellow",
    "merry",  "modest",  "nimble",  "noble",  "patient", "placid", "proud",  "quiet",  "rapid",
    "serene", "sharp",   "shiny",   "silent", "smooth",  "snowy",  "steady", "stoic",  "sunny",
    "swift",  "tender",  "tidy",    "upbeat", "vivid",   "warm",   "wise",   "witty",  "zealous",
};
static const char *const surnames[] = {
    "agnesi",     "archimedes", "babbage",  "banach",    "bell",         "bohr",     "boole",
    "cantor",     "curie",      "darwin",   "dijkstra",  "euclid",       "euler",    "faraday",
    "fermat",     "feynman",    "gauss",    "germain",   "goedel",       "hamilton", "hilbert",
    "hopper",     "hypatia",    "kepler",   "knuth",     "kovalevskaya", "lamarr",   "laplace",
    "leibniz",    "lovelace",   "maxwell",  "meitner",   "mendel",       "noether",  "newton",
    "pascal",     "planck",     "poincare", "ramanujan", "riemann",      "ritchie",  "shannon",
    "somerville", "tesla",      "thompson", "turing",    "volta",        "wiles",    "wu",
};

char *ctr_random_name(void)
{
	unsigned int r[2];
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		r[0] = (unsigned)time(NULL);
		r[1] = (unsigned)getpid();
	}
	return xasprintf("%s_%s", adjectives[r[0] % ARRAY_SIZE(adjectives)],
	                 surnames[r[1] % ARRAY_SIZE(surnames)]);
}

/* "KEY=VALUE" list merge: later entries replace earlier ones by key. */
static void env_merge(json_t *env, json_t *add)
{
	size_t i;
	json_t *v;
	json_array_foreach (add, i, v) {
		const char *kv = json_string_value(v);
		if (kv == NULL)
			continue;
		const char *eq = strchr(kv, '=');
		size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
		bool replaced = false;
		size_t j;
		json_t *e;
		json_array_foreach (env, j, e) {
			const char *ekv = json_string_value(e);
			if (ekv && !strncmp(ekv, kv, kl) && (ekv[kl] == '=' || ekv[kl] == 0)) {
				json_array_set(env, j, v);
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append(env, v);
	}
}

static void obj_union(json_t *dst, const char *key, json_t *a, json_t *b)
{
	_cleanup_json_ json_t *u = json_object();
	if (json_is_object(a))
		json_object_update(u, a);
	if (json_is_object(b))
		json_object_update(u, b);
	if (json_object_size(u) > 0)
		json_object_set(dst, key, u);
	else /* Docker: an empty union is null, but Labels is always an object */
		json_object_set_new(dst, key, strcmp(key, "Labels") ? json_null() : json_object());
}

static bool arr_nonempty(json_t *a)
{
	return json_is_array(a) && json_array_size(a) > 0;
}

static char *shell_quote(const char *s)
{
	bool plain = *s != 0;
	for (const char *p = s; *p && plain; p++)
		plain = strchr(" \t\n'\"\\$`!*?;&|<>(){}[]#~", *p) == NULL;
	if (plain)
		return xstrdup(s);
	strbuf sb;
	sb_init(&sb);
	sb_appendc(&sb, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			sb_append(&sb, "'\\''");
		else
			sb_appendc(&sb, *p);
	}
	sb_appendc(&sb, '\'');
	return sb_steal(&sb);
}

char *ctr_command_string(json_t *argv)
{
	strbuf sb;
	sb_init(&sb);
	size_t i;
	json_t *v;
	json_array_foreach (argv, i, v) {
		const char *a = json_string_value(v);
		if (a == NULL)
			continue;
		if (i)
			sb_appendc(&sb, ' ');
		_cleanup_free_ char *q = shell_quote(a);
		sb_append(&sb, q);
	}
	if (sb.buf == NULL)
		return xstrdup("");
	return sb_steal(&sb);
}

static json_t *default_hostconfig(void)
{
	json_t *h = json_object();
	json_object_set_new(h, "Binds", json_null());
	json_object_set_new(h, "ContainerIDFile", json_string(""));
	json_object_set_new(h, "LogConfig", json_pack("{s:s,s:{}}", "Type", "json-file", "Config"));
	json_object_set_new(h, "NetworkMode", json_string("bridge"));
	json_object_set_new(h, "PortBindings", json_object());
	json_object_set_new(h, "RestartPolicy",
	                    json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
	json_object_set_new(h, "AutoRemove", json_false());
	json_object_set_new(h, "VolumeDriver", json_string(""));
	json_object_set_new(h, "VolumesFrom", json_null());
	json_object_set_new(h, "CapAdd", json_null());
	json_object_set_new(h, "CapDrop", json_null());
	json_object_set_new(h, "CgroupnsMode", json_string("host"));
	json_object_set_new(h, "Dns", json_array());
	json_object_set_new(h, "DnsOptions", json_array());
	json_object_set_new(h, "DnsSearch", json_array());
	json_object_set_new(h, "ExtraHosts", json_null());
	json_object_set_new(h, "GroupAdd", json_null());
	json_object_set_new(h, "IpcMode", json_string("private"));
	json_object_set_new(h, "Links", json_null());
	json_object_set_new(h, "OomScoreAdj", json_integer(0));
	json_object_set_new(h, "PidMode", json_string(""));
	json_object_set_new(h, "Privileged", json_false());
	json_object_set_new(h, "PublishAllPorts", json_false());
	json_object_set_new(h, "ReadonlyRootfs", json_false());
	json_object_set_new(h, "SecurityOpt", json_null());
	json_object_set_new(h, "UTSMode", json_string(""));
	json_object_set_new(h, "UsernsMode", json_string(""));
	json_object_set_new(h, "ShmSize", json_integer(64 * 1024 * 1024));
	json_object_set_new(h, "Runtime", json_string("berth"));
	json_object_set_new(h, "Isolation", json_string(""));
	json_object_set_new(h, "CpuShares", json_integer(0));
	json_object_set_new(h, "Memory", json_integer(0));
	json_object_set_new(h, "NanoCpus", json_integer(0));
	json_object_set_new(h, "CgroupParent", json_string(""));
	json_object_set_new(h, "CpuPeriod", json_integer(0));
	json_object_set_new(h, "CpuQuota", json_integer(0));
	json_object_set_new(h, "CpusetCpus", json_string(""));
	json_object_set_new(h, "CpusetMems", json_string(""));
	json_object_set_new(h, "Devices", json_array());
	json_object_set_new(h, "MemoryReservation", json_integer(0));
	json_object_set_new(h, "MemorySwap", json_integer(0));
	json_object_set_new(h, "PidsLimit", json_null());
	json_object_set_new(h, "Ulimits", json_null());
	json_object_set_new(h, "Mounts", json_null());
	json_object_set_new(h, "Init", json_null());
	json_object_set_new(h, "Tmpfs", json_null());
	return h;
}

/* Merge the image config and the request into inspect's Config/HostConfig. */
static int build_config(json_t *body, const image_info *img, const char *id, json_t **config_out,
                        json_t **host_out, berth_error **err)
{
	json_t *ic = json_object_get(img->config_json, "config");
	if (!json_is_object(ic))
		ic = json_object_get(img->config_json, "Config");
	json_t *c = json_object();
	_cleanup_json_ json_t *cguard = c;
	const char *hostname = json_get_str(body, "Hostname");
	char shortid[13];
	memcpy(shortid, id, 12);
	shortid[12] = 0;
	json_object_set_new(c, "Hostname", json_string(hostname && *hostname ? hostname : shortid));
	const char *dn = json_get_str(body, "Domainname");
	json_object_set_new(c, "Domainname", json_string(dn ? dn : ""));
	const char *user = json_get_str(body, "User");
	if (user == NULL || !*user)
		user = json_get_str(ic, "User");
	json_object_set_new(c, "User", json_string(user ? user : ""));
	json_object_set_new(c, "AttachStdin", json_boolean(json_get_bool(body, "AttachStdin", 0)));
	json_object_set_new(c, "AttachStdout",
	                    json_boolean(json_get_bool(body, "AttachStdout", 0)));
	json_object_set_new(c, "AttachStderr",
	                    json_boolean(json_get_bool(body, "AttachStderr", 0)));
	obj_union(c, "ExposedPorts", json_object_get(ic, "ExposedPorts"),
	          json_object_get(body, "ExposedPorts"));
	if (json_is_null(json_object_get(c, "ExposedPorts")))
		json_object_del(c, "ExposedPorts");
	json_object_set_new(c, "Tty", json_boolean(json_get_bool(body, "Tty", 0)));
	json_object_set_new(c, "OpenStdin", json_boolean(json_get_bool(body, "OpenStdin", 0)));
	json_object_set_new(c, "StdinOnce", json_boolean(json_get_bool(body, "StdinOnce", 0)));
	json_t *env = json_array();
	json_object_set_new(c, "Env", env);
	if (json_is_array(json_object_get(ic, "Env")))
		env_merge(env, json_object_get(ic, "Env"));
	if (json_is_array(json_object_get(body, "Env")))
		env_merge(env, json_object_get(body, "Env"));
	bool has_path = false;
	size_t i;
	json_t *v;
	json_array_foreach (env, i, v) {
		if (str_has_prefix(json_string_value(v), "PATH="))
			has_path = true;
	}
	if (!has_path)
		json_array_insert_new(
		    env, 0,
		    json_string(
		        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));

	json_t *bep = json_object_get(body, "Entrypoint");
	json_t *bcmd = json_object_get(body, "Cmd");
	json_t *entry, *cmd;
	if (json_is_array(bep)) {
		/* --entrypoint "" clears it; an explicit entrypoint drops the image's Cmd */
		bool clear = json_array_size(bep) == 1 &&
		             !strcmp(json_string_value(json_array_get(bep, 0)) ?: "", "");
		entry = clear || json_array_size(bep) == 0 ? json_null() : json_incref(bep);
		cmd = arr_nonempty(bcmd) ? json_incref(bcmd) : json_null();
	} else if (json_is_string(bep)) {
		entry = json_pack("[s]", json_string_value(bep));
		cmd = arr_nonempty(bcmd) ? json_incref(bcmd) : json_null();
	} else {
		json_t *iep = json_object_get(ic, "Entrypoint");
		entry = arr_nonempty(iep) ? json_incref(iep) : json_null();
		json_t *icmd = json_object_get(ic, "Cmd");
		cmd = arr_nonempty(bcmd) ? json_incref(bcmd)
		                         : (arr_nonempty(icmd) ? json_incref(icmd) : json_null());
	}
	json_object_set_new(c, "Cmd", cmd);
	json_t *hc_body = json_object_get(body, "Healthcheck");
	json_t *hc = json_is_object(hc_body) ? hc_body : json_object_get(ic, "Healthcheck");
	if (json_is_object(hc) && json_is_object(hc_body) &&
	    json_is_object(json_object_get(ic, "Healthcheck"))) {
		/* flags override field by field */
		json_t *m = json_deep_copy(json_object_get(ic, "Healthcheck"));
		json_object_update(m, hc_body);
		json_object_set_new(c, "Healthcheck", m);
	} else if (json_is_object(hc)) {
		json_object_set(c, "Healthcheck", hc);
	}
	json_object_set_new(c, "Image", json_string(json_get_str(body, "Image")));
	obj_union(c, "Volumes", json_object_get(ic, "Volumes"), json_object_get(body, "Volumes"));
	const char *wd = json_get_str(body, "WorkingDir");
	if (wd == NULL || !*wd)
		wd = json_get_str(ic, "WorkingDir");
	json_object_set_new(c, "WorkingDir", json_string(wd ? wd : ""));
	json_object_set_new(c, "Entrypoint", entry);
	json_object_set_new(c, "OnBuild", json_null());
	obj_union(c, "Labels", json_object_get(ic, "Labels"), json_object_get(body, "Labels"));
	const char *ss = json_get_str(body, "StopSignal");
	if (ss == NULL || !*ss)
		ss = json_get_str(ic, "StopSignal");
	if (ss && *ss)
		json_object_set_new(c, "StopSignal", json_string(ss));
	if (json_is_integer(json_object_get(body, "StopTimeout")))
		json_object_set(c, "StopTimeout", json_object_get(body, "StopTimeout"));

	json_t *h = default_hostconfig();
	json_t *bh = json_object_get(body, "HostConfig");
	if (json_is_object(bh)) {
		const char *k;
		json_t *hv;
		json_object_foreach (bh, k, hv) {
			json_object_set(h, k, hv);
		}
	}
	const char *nm = json_get_str(h, "NetworkMode");
	if (nm == NULL || !*nm || !strcmp(nm, "default"))
		json_object_set_new(h, "NetworkMode", json_string("bridge"));
	json_t *rp = json_object_get(h, "RestartPolicy");
	const char *rpn = json_get_str(rp, "Name");
	if (rpn == NULL || !*rpn)
		json_object_set_new(h, "RestartPolicy",
		                    json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
	else if (strcmp(rpn, "no") && strcmp(rpn, "always") && strcmp(rpn, "on-failure") &&
	         strcmp(rpn, "unless-stopped"))
		return berth_err(err, BERTH_E_INVALID, "invalid restart policy '%s'", rpn);
	if (json_get_bool(h, "AutoRemove", 0) && rpn && strcmp(rpn, "no"))
		return berth_err(err, BERTH_E_INVALID, "Conflicting options: --restart and --rm");
	*config_out = steal_ptr(cguard);
	*host_out = h;
	return 0;
}

/* The init layer, shared by every container of the store: the mount
 * points of the /etc files berth bind-mounts (hostname, hosts,
 * resolv.conf), as empty files, the topmost lower layer of each container's
 * overlay (Docker's "-init" layer, once instead of per container). Without
 * it the runtime creates them in each container's upper directory at
 * start (a copy-up of /etc and three files), and removes them again with
 * the container. root/init, beside layers/ (which holds image layers
 * only). NULL when it cannot be made (the runtime then creates them). */
static char *init_layer(berth_store *s)
{
	char *dir = xasprintf("%s/init", store_root(s));
	static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
	_cleanup_free_ char *last = xasprintf("%s/etc/%s", dir, files[ARRAY_SIZE(files) - 1]);
	struct stat st;
	if (stat(last, &st) == 0)
		return dir;
	/* concurrent creates do the same; the last file comes last */
	_cleanup_free_ char *etc = xasprintf("%s/etc", dir);
	/* the merged /etc shows this directory's owner and mode: exactly
	 * 0755 whatever the umask */
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(etc, 0755) < 0 && errno != EEXIST) || chmod(dir, 0755) < 0 ||
	    chmod(etc, 0755) < 0) {
		free(dir);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", etc, files[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || fchmod(fd, 0644) < 0) {
			if (fd >= 0)
				close(fd);
			free(dir);
			return NULL;
		}
		close(fd);
	}
	return dir;
}

/* The record as the containers table keeps it (its config column). */
static json_t *record_json(berth_store *s, const char *image, const image_info *img, json_t *argv,
                           json_t *config, json_t *host, json_t *netcfg, json_t *idmap,
                           json_t *mounts)
{
	json_t *rec = json_object();
	json_object_set_new(rec, "Path", json_incref(json_array_get(argv, 0)));
	json_t *args = json_array();
	for (size_t i = 1; i < json_array_size(argv); i++)
		json_array_append(args, json_array_get(argv, i));
	json_object_set_new(rec, "Args", args);
	json_object_set(rec, "Config", config);
	json_object_set(rec, "HostConfig", host);
	json_object_set(rec, "Mounts", mounts);
	if (json_is_object(netcfg))
		json_object_set(rec, "NetworkingConfig", netcfg);
	json_object_set_new(rec, "Platform", json_string("linux"));
	json_object_set_new(rec, "Driver", json_string("overlay2"));
	json_object_set_new(rec, "ImageRef", json_string(image));
	_cleanup_free_ char *lower = image_lowerdir(img);
	/* not with user namespaces: their layers are idmapped mounts */
	_cleanup_free_ char *init = idmap ? NULL : init_layer(s);
	if (init) {
		char *with = lower && *lower ? xasprintf("%s:%s", init, lower) : xstrdup(init);
		free(lower);
		lower = with;
	}
	json_object_set_new(rec, "LowerDir", json_string(lower ? lower : ""));
	if (idmap)
		json_object_set(rec, "IdMappings", idmap);
	return rec;
}

/* The record, its name and its volumes in one transaction. pre: the
 * record made ahead (for a start begun early: no mounts to resolve), or
 * NULL. */
static int insert_record(berth_store *s, const char *id, const char *name, const char *image,
                         const image_info *img, json_t *argv, json_t *config, json_t *host,
                         json_t *netcfg, json_t *idmap, const char *state, json_t *pre,
                         berth_error **err)
{
	_cleanup_free_ char *gen = NULL;
	_cleanup_json_ json_t *mounts = NULL;
	_cleanup_tx_ berth_store *tx = NULL;
	if (store_tx_begin(s, err) < 0)
		return -1;
	tx = s;
	if (pre)
		mounts = json_incref(json_object_get(pre, "Mounts"));
	else if (ctr_resolve_mounts(s, id, config, host, &mounts, err) < 0)
		return -1;
	_cleanup_json_ json_t *rec =
	    pre ? json_incref(pre)
	        : record_json(s, image, img, argv, config, host, netcfg, idmap, mounts);
	_cleanup_free_ char *rec_text = json_dump_compact(rec);
	_cleanup_free_ char *cmdline = ctr_command_string(argv);
	_cleanup_free_ char *labels = json_dump_compact(json_object_get(config, "Labels"));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t created = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT INTO containers (id, name, image, image_id, command, created, labels, config,"
	    " state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	    err);
	if (st == NULL)
		return -1;
	for (int attempt = 0;; attempt++) {
		if (name == NULL || gen) {
			free(gen);
			gen = ctr_random_name();
			if (attempt > 5) {
				char *g2 = xasprintf("%s%d", gen, attempt);
				free(gen);
				gen = g2;
			}
		}
		const char *use = gen ? gen : name;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, use, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, image, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, img->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, cmdline, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, created);
		sqlite3_bind_text(st, 7, labels ? labels : "{}", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, rec_text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, state, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_CONSTRAINT && gen == NULL)
			return ctr_name_conflict(s, name, err);
		if (rc != SQLITE_CONSTRAINT || attempt > 20)
			return store_sql_err(s, err, "recording container");
	}
	if (ctr_record_volumes(s, id, mounts, err) < 0)
		return -1;
	if (store_tx_commit(s, err) < 0)
		return -1;
	tx = NULL;
	return 0;
}

/* A removed container's directory that its monitor kept (emptied) for a
 * new one (berth-monitor's recycle): renamed into place, it spares the
 * inodes of the directories and files a start makes, the costliest part of
 * a run on ext4 without a journal. Its log waits under CTR_SPARE_LOG. */
static bool claim_spare(berth_store *s, const char *id, const char *dir)
{
	_cleanup_free_ char *spares = xasprintf("%s/containers/%s", store_root(s), CTR_SPARES_DIR);
	_cleanup_closedir_ DIR *d = opendir(spares);
	if (d == NULL)
		return false;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", spares, e->d_name);
		if (rename(p, dir) < 0)
			continue; /* another run took it */
		_cleanup_free_ char *from = xasprintf("%s/%s", dir, CTR_SPARE_LOG);
		_cleanup_free_ char *to = xasprintf("%s/%s-json.log", dir, id);
		/* (the rename makes the directory's mtime now: container_prune
		 * takes an old directory without a record for an orphan) */
		if (rename(from, to) < 0)
			utimensat(AT_FDCWD, dir, NULL, 0);
		return true;
	}
	return false;
}

/* Whether the record's mounts need the database to resolve (volumes,
 * volumes-from): then a start cannot begin before the transaction. */
static bool mounts_need_db(json_t *config, json_t *host)
{
	return json_array_size(json_object_get(host, "Binds")) > 0 ||
	       json_array_size(json_object_get(host, "Mounts")) > 0 ||
	       json_array_size(json_object_get(host, "VolumesFrom")) > 0 ||
	       json_object_size(json_object_get(config, "Volumes")) > 0;
}

/* The container's command: the config's Entrypoint then Cmd (a new array;
 * empty when there is none). */
static json_t *command_argv(json_t *config)
{
	json_t *argv = json_array();
	if (json_is_array(json_object_get(config, "Entrypoint")))
		json_array_extend(argv, json_object_get(config, "Entrypoint"));
	if (json_is_array(json_object_get(config, "Cmd")))
		json_array_extend(argv, json_object_get(config, "Cmd"));
	return argv;
}

/* The container's directory: a spare renamed into place (not for a user
 * namespace's, whose files it owns), or upper/, work/ and merged/ made. */
static int make_container_dir(berth_store *s, const char *id, bool spare, berth_error **err)
{
	_cleanup_free_ char *dir = container_dir(s, id);
	if (spare && claim_spare(s, id, dir))
		return 0;
	_cleanup_free_ char *upper = xasprintf("%s/upper", dir);
	_cleanup_free_ char *work = xasprintf("%s/work", dir);
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	if (mkdir_p(upper, 0755, err) < 0 || mkdir(work, 0700) < 0 || mkdir(merged, 0755) < 0) {
		if (err && !*err)
			berth_err_sys(err, errno, "creating %s", dir);
		rm_rf(dir, NULL);
		return -1;
	}
	return 0;
}

int container_guess(berth_store *s, json_t *body, const char *id, json_t **pre_out,
                    char image_id[DIGEST_STR_LEN + 1])
{
	*pre_out = NULL;
	const char *image = json_get_str(body, "Image");
	if (image == NULL || !*image)
		return -1;
	const char *nm = json_get_str(json_object_get(body, "HostConfig"), "NetworkMode");
	if (nm && str_has_prefix(nm, "container:"))
		return -1;
	_cleanup_image_info_ image_info *img = image_ref_load(store_root(s), image);
	if (img == NULL)
		return -1;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_json_ json_t *config = NULL, *host = NULL, *idmap = NULL;
	if (build_config(body, img, id, &config, &host, &err) < 0 ||
	    ctr_userns_for_create(host, &idmap, &err) < 0 || idmap != NULL ||
	    mounts_need_db(config, host))
		return -1;
	_cleanup_json_ json_t *argv = command_argv(config);
	if (json_array_size(argv) == 0 || make_container_dir(s, id, true, &err) < 0)
		return -1;
	json_t *netcfg = json_object_get(body, "NetworkingConfig");
	_cleanup_json_ json_t *none = json_array();
	*pre_out = record_json(s, image, img, argv, config, host, netcfg, NULL, none);
	memcpy(image_id, img->id, DIGEST_STR_LEN + 1);
	return 0;
}

int container_create(berth_store *s, const ctr_env *env, json_t *body, const ctr_create_opts *o,
                     char **id_out, char ***warnings, berth_error **err)
{
	(void)warnings;
	*id_out = NULL;
	if (o && o->pending)
		*o->pending = NULL;
	const char *image = json_get_str(body, "Image");
	if (image == NULL || !*image)
		return berth_err(err, BERTH_E_INVALID, "No image specified");
	if (container_store_init(s, err) < 0)
		return -1;
	_cleanup_image_info_ image_info *img = NULL;
	if (image_resolve(s, image, &img, err) < 0)
		return -1;
	/* run: a start process forked ahead guessed the image from the name
	 * (container_guess) and made the container's directory; the next one
	 * guesses this image */
	struct ctr_early *early = o && o->start_early ? o->start_early->early : NULL;
	const char *guessed = early ? container_early_guessed(early) : NULL;
	if (early && !str_eq(guessed, img->id))
		image_ref_save(s, image, img);

	char id[CTR_ID_LEN + 1];
	if (o && o->id && strlen(o->id) == CTR_ID_LEN)
		memcpy(id, o->id, sizeof(id));
	else
		ctr_random_id(id);
	const char *name = o && o->name && *o->name ? o->name : NULL;
	if (name) {
		if (name[0] == '/')
			name++;
		if (ctr_validate_name(name, err) < 0)
			return -1;
	}

	_cleanup_json_ json_t *config = NULL, *host = NULL;
	if (build_config(body, img, id, &config, &host, err) < 0)
		return -1;
	_cleanup_json_ json_t *idmap = NULL;
	if (ctr_userns_for_create(host, &idmap, err) < 0)
		return -1;
	_cleanup_json_ json_t *argv = command_argv(config);
	if (json_array_size(argv) == 0)
		return berth_err(err, BERTH_E_INVALID, "No command specified");

	/* the container directory first: a crash before the record leaves only
	 * an orphan directory, never a record without its files (a guessing
	 * start process made it already) */
	_cleanup_free_ char *dir = container_dir(s, id);
	if (guessed == NULL && make_container_dir(s, id, idmap == NULL, err) < 0)
		return -1;

	/* run: the start begins now, the record's transaction meanwhile */
	json_t *netcfg = json_object_get(body, "NetworkingConfig");
	_cleanup_json_ json_t *pre = NULL;
	ctr_start_pending *pend = NULL;
	if (o && o->start_early && o->pending && idmap == NULL && !mounts_need_db(config, host)) {
		_cleanup_json_ json_t *none = json_array();
		pre = record_json(s, image, img, argv, config, host, netcfg, NULL, none);
		/* as container_lookup would find it once committed */
		ctr_record r = {.name = (char *)(name ? name : ""),
		                .image = (char *)image,
		                .image_id = img->id,
		                .config = pre};
		memcpy(r.id, id, sizeof(r.id));
		container_load_state(s, &r);
		int br = container_start_begin(s, env, &r, o->start_early, &pend, err);
		o->start_early->prep = NULL; /* taken over, or undone */
		if (br < 0) {
			rm_rf(dir, NULL);
			return -1;
		}
	}
	if (insert_record(s, id, name, image, img, argv, config, host, netcfg, idmap,
	                  o && o->start ? "running" : "created", pre, err) < 0) {
		if (pend) {
			/* the start process undoes its part */
			ctr_record r = {0};
			memcpy(r.id, id, sizeof(r.id));
			if (container_start_finish(s, &r, o->start_early, pend, false, NULL, NULL) <
			    0)
				(void)0;
			_cleanup_free_ char *rundir = container_rundir(s, id);
			rm_rf(rundir, NULL);
		}
		rm_rf(dir, NULL);
		return -1;
	}
	if (o && o->pending)
		*o->pending = pend;
	*id_out = xstrdup(id);
	return 0;
}

struct rt_prep *container_prep(json_t *body, char id[CTR_ID_LEN + 1])
{
	ctr_random_id(id);
	/* a network namespace of its own, unless it shares one (with a user
	 * namespace the runtime makes its own: the namespace must be owned by
	 * it, and this one goes unused) */
	const char *nm = json_get_str(json_object_get(body, "HostConfig"), "NetworkMode");
	bool netns = !str_eq(nm, "host") && !str_has_prefix(nm ? nm : "", "container:");
	_cleanup_free_ char *cg = ctr_cgroups_path(id);
	return rt_prep_begin(cg, id, netns);
}
