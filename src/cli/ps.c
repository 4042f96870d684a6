/* berth ps / container ls. */
#include <fnmatch.h>
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "container/container.h"

/* Docker's stringutils.Ellipsis: at most n runes, the last one "…". */
static char *ellipsis(const char *s, size_t n)
{
	size_t runes = 0;
	const char *p = s;
	for (; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			runes++;
	if (runes <= n)
		return xstrdup(s);
	size_t keep = 0, count = 0;
	for (p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (count == n - 1)
				break;
			count++;
		}
		keep++;
	}
	return xasprintf("%.*s…", (int)keep, s);
}

struct ps_filter {
	char **status, **name, **label, **ancestor, **id, **exited;
};

static void ps_filter_free(struct ps_filter *f)
{
	strv_free(f->status);
	strv_free(f->name);
	strv_free(f->label);
	strv_free(f->ancestor);
	strv_free(f->id);
	strv_free(f->exited);
}

static bool any_match(char **v, bool (*pred)(const char *want, void *ctx), void *ctx)
{
	if (v == NULL)
		return true;
	for (size_t i = 0; v[i]; i++)
		if (pred(v[i], ctx))
			return true;
	return false;
}

static bool m_status(const char *w, void *c)
{
	return !strcmp(w, container_status(c));
}

static bool m_name(const char *w, void *c)
{
	ctr_record *r = c;
	regex_t re;
	if (regcomp(&re, w, REG_EXTENDED | REG_NOSUB) != 0)
		return strstr(r->name, w) != NULL;
	bool m = regexec(&re, r->name, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

static bool m_id(const char *w, void *c)
{
	return str_has_prefix(((ctr_record *)c)->id, w);
}

static bool m_exited(const char *w, void *c)
{
	ctr_record *r = c;
	return !strcmp(container_status(r), "exited") && r->st.exit_code == atoi(w);
}

struct label_ctx {
	json_t *labels;
};

static bool m_label(const char *w, void *c)
{
	json_t *labels = ((struct label_ctx *)c)->labels;
	const char *eq = strchr(w, '=');
	if (eq == NULL)
		return json_object_get(labels, w) != NULL;
	_cleanup_free_ char *k = xstrndup(w, (size_t)(eq - w));
	return str_eq(json_get_str(labels, k), eq + 1);
}

struct anc_ctx {
	berth_store *s;
	ctr_record *r;
};

static bool m_ancestor(const char *w, void *c)
{
	struct anc_ctx *a = c;
	if (!strcmp(a->r->image, w))
		return true;
	if (!strchr(w, ':') && !strchr(w, '@')) {
		_cleanup_free_ char *t = xasprintf("%s:latest", w);
		if (!strcmp(a->r->image, t))
			return true;
	}
	_cleanup_image_info_ image_info *img = NULL;
	if (image_resolve(a->s, w, &img, NULL) < 0)
		return false;
	return !strcmp(img->id, a->r->image_id);
}

static json_t *load_labels(berth_store *s, const char *id)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "SELECT labels FROM containers WHERE id = ?1", NULL);
	if (st == NULL)
		return json_object();
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return json_object();
	json_t *j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	return j ? j : json_object();
}

static char *labels_string(json_t *labels)
{
	strbuf sb;
	sb_init(&sb);
	const char *k;
	json_t *v;
	bool first = true;
	json_object_foreach (labels, k, v) {
		sb_printf(&sb, "%s%s=%s", first ? "" : ",", k, json_string_value(v) ?: "");
		first = false;
	}
	return sb.buf ? sb_steal(&sb) : xstrdup("");
}

int cmd_ps(cli_ctx *ctx, int argc, char **argv)
{
	enum { O_NOTRUNC = 256, O_HELP };
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},          {"quiet", no_argument, NULL, 'q'},
	    {"last", required_argument, NULL, 'n'},   {"latest", no_argument, NULL, 'l'},
	    {"size", no_argument, NULL, 's'},         {"no-trunc", no_argument, NULL, O_NOTRUNC},
	    {"filter", required_argument, NULL, 'f'}, {"format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, O_HELP},      {NULL, 0, NULL, 0},
	};
	bool all = false, quiet = false, size = false, notrunc = false;
	long last = -1;
	const char *format = NULL;
	struct ps_filter flt = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+aqn:lsf:", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'q': quiet = true; break;
		case 'n': last = atol(optarg); break;
		case 'l': last = 1; break;
		case 's': size = true; break;
		case O_NOTRUNC: notrunc = true; break;
		case 'F': format = optarg; break;
		case 'f': {
			const char *eq = strchr(optarg, '=');
			if (eq == NULL) {
				ps_filter_free(&flt);
				return cli_failf(EXIT_BERTH_FAILED,
				                 "bad format of filter (expected name=value)");
			}
			_cleanup_free_ char *k = xstrndup(optarg, (size_t)(eq - optarg));
			char ***dst = !strcmp(k, "status")     ? &flt.status
			              : !strcmp(k, "name")     ? &flt.name
			              : !strcmp(k, "label")    ? &flt.label
			              : !strcmp(k, "ancestor") ? &flt.ancestor
			              : !strcmp(k, "id")       ? &flt.id
			              : !strcmp(k, "exited")   ? &flt.exited
			                                       : NULL;
			if (dst == NULL) {
				ps_filter_free(&flt);
				return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", k);
			}
			if (dst == &flt.status) {
				static const char *ok[] = {"created",  "restarting", "running",
				                           "removing", "paused",     "exited",
				                           "dead"};
				bool valid = false;
				for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
					valid |= !strcmp(ok[i], eq + 1);
				if (!valid) {
					ps_filter_free(&flt);
					return cli_failf(EXIT_BERTH_FAILED,
					                 "invalid filter 'status=%s'", eq + 1);
				}
			}
			*dst = strv_append(*dst, eq + 1);
			break;
		}
		case O_HELP:
			printf(
			    "Usage:  berth ps [OPTIONS]\n\nList containers\n\nOptions:\n"
			    "  -a, --all             Show all containers (default shows just "
			    "running)\n"
			    "  -f, --filter filter   Filter output based on conditions provided\n"
			    "      --format string   Format output using a custom template\n"
			    "  -n, --last int        Show n last created containers (includes all "
			    "states)\n"
			    "  -l, --latest          Show the latest created container\n"
			    "      --no-trunc        Don't truncate output\n"
			    "  -q, --quiet           Only display container IDs\n"
			    "  -s, --size            Display total file sizes\n");
			return 0;
		default: ps_filter_free(&flt); return cli_usage_error("ps", "unknown flag");
		}
	}
	if (last >= 0 || flt.status || flt.exited)
		all = true;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL) {
		ps_filter_free(&flt);
		return rc;
	}
	_cleanup_error_ berth_error *err = NULL;
	ctr_record **v = NULL;
	size_t n = 0;
	if (container_list(s, false, &v, &n, &err) < 0) {
		ps_filter_free(&flt);
		return cli_fail(err);
	}
	const char *def =
	    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{"
	    ".Ports}}\t{{.Names}}";
	_cleanup_free_ char *defsize = xasprintf("%s\t{{.Size}}", def);
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = NULL;
	if (!quiet) {
		f = cli_format_new(format, size ? defsize : def, &errmsg);
		if (f == NULL) {
			ctr_records_free(v, n);
			ps_filter_free(&flt);
			return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
		}
		cli_format_set_type(f, "*formatter.ContainerContext");
	}
	/* fields no template reads are left out of the rows */
	bool use_created = f && cli_format_uses(f, "CreatedAt");
	bool use_since = f && cli_format_uses(f, "RunningFor");
	bool use_status = f && cli_format_uses(f, "Status");
	bool use_command = f && cli_format_uses(f, "Command");
	_cleanup_strv_ char **port_ids = quiet ? NULL : container_network_ids_with_ports(s);
	long shown = 0;
	for (size_t i = 0; i < n && !errmsg; i++) {
		ctr_record *r = v[i];
		const char *st = container_status(r);
		if (!all && strcmp(st, "running") && strcmp(st, "paused") &&
		    strcmp(st, "restarting"))
			continue;
		if (!any_match(flt.status, m_status, r) || !any_match(flt.name, m_name, r) ||
		    !any_match(flt.id, m_id, r) || !any_match(flt.exited, m_exited, r))
			continue;
		struct anc_ctx ac = {s, r};
		if (!any_match(flt.ancestor, m_ancestor, &ac))
			continue;
		_cleanup_json_ json_t *labels = NULL;
		if (flt.label || (f && cli_format_uses(f, "Labels"))) {
			labels = load_labels(s, r->id);
			struct label_ctx lc = {labels};
			bool ok = true;
			for (size_t k = 0; flt.label && flt.label[k]; k++)
				ok = ok && m_label(flt.label[k], &lc);
			if (!ok)
				continue;
		}
		if (last >= 0 && shown >= last)
			break;
		shown++;
		char shortid[13];
		memcpy(shortid, r->id, 12);
		shortid[12] = 0;
		if (quiet) {
			printf("%s\n", notrunc ? r->id : shortid);
			continue;
		}
		json_t *row = json_object();
		_cleanup_json_ json_t *rg = row;
		json_object_set_new(row, "ID", json_string(notrunc ? r->id : shortid));
		const char *image = r->image;
		_cleanup_free_ char *imgshort = NULL;
		if (str_has_prefix(image, "sha256:") && !notrunc)
			imgshort = xstrndup(image + 7, 12);
		json_object_set_new(row, "Image", json_string(imgshort ? imgshort : image));
		if (use_command) {
			_cleanup_free_ char *e = notrunc ? NULL : ellipsis(r->command, 20);
			_cleanup_free_ char *cmd = xasprintf("\"%s\"", e ? e : r->command);
			json_object_set_new(row, "Command", json_string(cmd));
		}
		if (use_created) {
			_cleanup_free_ char *created = cli_time_str(r->created_ns / 1000000000);
			json_object_set_new(row, "CreatedAt", json_string(created));
		}
		if (use_since) {
			_cleanup_free_ char *since = cli_since(r->created_ns / 1000000000);
			json_object_set_new(row, "RunningFor", json_string(since));
		}
		if (use_status) {
			_cleanup_free_ char *status = container_status_text(s, r);
			json_object_set_new(row, "Status", json_string(status));
		}
		json_object_set_new(row, "State", json_string(st));
		bool has_ports = (!strcmp(st, "running") || !strcmp(st, "paused")) &&
		                 strv_contains(port_ids, r->id);
		_cleanup_free_ char *ports =
		    has_ports ? container_network_ports_text(s, r->id) : xstrdup("");
		json_object_set_new(row, "Ports", json_string(ports));
		json_object_set_new(row, "Names", json_string(r->name));
		json_object_set_new(row, "Networks", json_string(""));
		json_object_set_new(row, "Mounts", json_string(""));
		if (labels) {
			_cleanup_free_ char *ls = labels_string(labels);
			json_object_set_new(row, "Labels", json_string(ls));
		} else {
			json_object_set_new(row, "Labels", json_string(""));
		}
		if (size) {
			_cleanup_ctr_record_ ctr_record *full = NULL;
			int64_t rw = 0;
			if (container_lookup(s, r->id, true, &full, NULL) == 0) {
				_cleanup_json_ json_t *ij = container_inspect_json(s, full, true);
				rw = json_get_int(ij, "SizeRw", 0);
			}
			_cleanup_image_info_ image_info *img = NULL;
			int64_t virt = rw;
			if (image_resolve(s, r->image_id, &img, NULL) == 0)
				virt += img->size;
			_cleanup_free_ char *a = cli_size3(rw);
			_cleanup_free_ char *b = cli_size3(virt);
			_cleanup_free_ char *sz = xasprintf("%s (virtual %s)", a, b);
			json_object_set_new(row, "Size", json_string(sz));
		} else {
			/* Docker's Size without --size: nothing measured */
			json_object_set_new(row, "Size", json_string("0B"));
		}
		cli_format_row(f, stdout, row, &errmsg);
	}
	ctr_records_free(v, n);
	ps_filter_free(&flt);
	if (errmsg)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	static const cli_column cols[] = {
	    {"ID", "CONTAINER ID"},    {"Image", "IMAGE"},          {"Command", "COMMAND"},
	    {"RunningFor", "CREATED"}, {"CreatedAt", "CREATED AT"}, {"Status", "STATUS"},
	    {"State", "STATE"},        {"Ports", "PORTS"},          {"Names", "NAMES"},
	    {"Size", "SIZE"},          {"Labels", "LABELS"},        {"Mounts", "MOUNTS"},
	    {"Networks", "NETWORKS"},
	};
	if (f)
		cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}
