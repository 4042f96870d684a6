/* Unit tests of the runtime's pure logic: signal names, ids, config
 * parsing and checking, the default spec. */
#include <signal.h>
#include <string.h>
#include <sys/mount.h>

#include "base/json.h"
#include "runtime/internal.h"
#include "runtime/runtime.h"
#include "test.h"

static rt_spec *parse(const char *text, berth_error **err)
{
	json_t *j = json_loads(text, 0, NULL);
	if (j == NULL)
		return NULL;
	rt_spec *s = NULL;
	int r = rt_spec_parse(j, "/bundle", false, NULL, &s, err);
	json_decref(j);
	return r == 0 ? s : NULL;
}

#define BASE "\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"rootfs\"}"
#define PROC "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"]}"

TEST(runtime_signals)
{
	CHECK_INT_EQ(rt_parse_signal("KILL"), SIGKILL);
	CHECK_INT_EQ(rt_parse_signal("SIGTERM"), SIGTERM);
	CHECK_INT_EQ(rt_parse_signal("sigusr1"), SIGUSR1);
	CHECK_INT_EQ(rt_parse_signal("9"), 9);
	CHECK_INT_EQ(rt_parse_signal("RTMIN+2"), SIGRTMIN + 2);
	CHECK_INT_EQ(rt_parse_signal("SIGRTMAX-1"), SIGRTMAX - 1);
	CHECK_INT_EQ(rt_parse_signal("bogus"), -1);
	CHECK_INT_EQ(rt_parse_signal("0"), -1);
	CHECK_INT_EQ(rt_parse_signal("65"), -1);
	CHECK_INT_EQ(rt_parse_signal(""), -1);
}

TEST(runtime_ids)
{
	CHECK(rt_valid_id("abc"));
	CHECK(rt_valid_id("a.b-c_d+e"));
	CHECK(!rt_valid_id(""));
	CHECK(!rt_valid_id(".."));
	CHECK(!rt_valid_id("a/b"));
	CHECK(!rt_valid_id("a b"));
	CHECK(!rt_valid_id(NULL));
}

TEST(runtime_tables)
{
	CHECK_INT_EQ(rt_cap_from_name("CAP_SYS_ADMIN"), 21);
	CHECK_INT_EQ(rt_cap_from_name("CAP_CHOWN"), 0);
	CHECK_INT_EQ(rt_cap_from_name("CAP_NOPE"), -1);
	CHECK_STR_EQ(rt_cap_name(39), "CAP_BPF");
	CHECK_INT_EQ(rt_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	CHECK_INT_EQ(rt_rlimit_from_name("RLIMIT_BOGUS"), -1);
}

TEST(runtime_spec_minimal)
{
	berth_error *err = NULL;
	rt_spec *s = parse("{" BASE "," PROC ",\"hostname\":\"h\",\"linux\":{\"namespaces\":"
	                   "[{\"type\":\"uts\"},{\"type\":\"pid\"},{\"type\":\"network\","
	                   "\"path\":\"/proc/1/ns/net\"}]}}",
	                   &err);
	CHECK(s != NULL);
	CHECK_STR_EQ(s->rootfs, "/bundle/rootfs");
	CHECK_STR_EQ(s->hostname, "h");
	CHECK(s->ns[RT_NS_UTS].enabled && s->ns[RT_NS_UTS].path == NULL);
	CHECK(s->ns[RT_NS_PID].enabled);
	CHECK_STR_EQ(s->ns[RT_NS_NET].path, "/proc/1/ns/net");
	CHECK(!s->ns[RT_NS_USER].enabled);
	CHECK_STR_EQ(s->proc.args[0], "sh");
	CHECK_STR_EQ(s->proc.cwd, "/");
	rt_spec_free(s);
}

TEST(runtime_spec_mounts)
{
	berth_error *err = NULL;
	rt_spec *s =
	    parse("{" BASE "," PROC ",\"mounts\":["
	          "{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":"
	          "[\"nosuid\",\"ro\",\"mode=755\",\"size=1k\",\"rprivate\"]},"
	          "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"data\",\"options\":"
	          "[\"rbind\",\"rro\",\"nodev\"]},"
	          "{\"destination\":\"rel\",\"type\":\"proc\",\"source\":\"proc\",\"options\":"
	          "[\"ro\",\"rw\"]}]}",
	          &err);
	CHECK(s != NULL);
	CHECK_INT_EQ(s->nmounts, 3);
	rt_mount *t = &s->mounts[0], *b = &s->mounts[1], *p = &s->mounts[2];
	CHECK_INT_EQ(t->flags, MS_NOSUID | MS_RDONLY);
	CHECK_STR_EQ(t->data, "mode=755,size=1k");
	CHECK_INT_EQ(t->propagation, MS_PRIVATE | MS_REC);
	CHECK(!t->bind);
	CHECK(b->bind && b->recursive);
	CHECK_STR_EQ(b->source, "/bundle/data");
	CHECK_INT_EQ(b->attr_set, 1); /* MOUNT_ATTR_RDONLY */
	CHECK_INT_EQ(b->flags, MS_NODEV);
	CHECK_STR_EQ(p->dest, "/rel");
	CHECK_INT_EQ(p->flags, 0);
	rt_spec_free(s);
}

TEST(runtime_spec_process)
{
	berth_error *err = NULL;
	rt_spec *s =
	    parse("{" BASE ",\"process\":{\"cwd\":\"/w\",\"args\":[\"a\",\"b\"],\"env\":[\"X=1\"],"
	          "\"user\":{\"uid\":5,\"gid\":6,\"umask\":18,\"additionalGids\":[7,8]},"
	          "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"ambient\":"
	          "[\"CAP_KILL\"]},\"noNewPrivileges\":true,\"oomScoreAdj\":-5,"
	          "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":20}]},"
	          "\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":10}],"
	          "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":10}],"
	          "\"namespaces\":[{\"type\":\"user\"}]}}",
	          &err);
	CHECK(s != NULL);
	CHECK_INT_EQ(s->proc.uid, 5);
	CHECK_INT_EQ(s->proc.gid, 6);
	CHECK(s->proc.has_umask);
	CHECK_INT_EQ(s->proc.umask, 18);
	CHECK_INT_EQ(s->proc.ngroups, 2);
	CHECK_INT_EQ(s->proc.groups[1], 8);
	CHECK_INT_EQ(s->proc.caps[1], (1ULL << 5) | 1ULL);
	CHECK_INT_EQ(s->proc.caps[4], 1ULL << 5);
	CHECK_INT_EQ(s->proc.caps[0], 0);
	CHECK(s->proc.no_new_privs);
	CHECK(s->proc.has_oom && s->proc.oom_score_adj == -5);
	CHECK_INT_EQ(s->proc.nrlimits, 1);
	CHECK_INT_EQ(s->proc.rlimits[0].soft, 10);
	CHECK_STR_EQ(s->uid_map.text, "0 1000 10\n");
	rt_spec_free(s);
}

TEST(runtime_spec_refusals)
{
	static const char *const bad[] = {
	    "{\"root\":{\"path\":\"r\"}}",
	    "{\"ociVersion\":\"1.0.0\"}",
	    "{" BASE ",\"process\":{\"cwd\":\"rel\",\"args\":[\"sh\"]}}",
	    "{" BASE ",\"process\":{\"cwd\":\"/\",\"args\":[]}}",
	    "{" BASE "," PROC ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
	    "{" BASE "," PROC
	    ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
	    "{" BASE "," PROC ",\"hostname\":\"x\"}",
	    "{" BASE ",\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"capabilities\":"
	    "{\"bounding\":[\"CAP_NOPE\"]}}}",
	    "{" BASE ",\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"rlimits\":"
	    "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":30,\"hard\":20}]}}",
	    "{" BASE "," PROC ",\"linux\":{\"sysctl\":{\"kernel.panic\":\"1\"}}}",
	    "{" BASE "," PROC ",\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}}",
	    "{" BASE "," PROC ",\"hooks\":{\"prestart\":[{\"path\":\"rel\"}]}}",
	    "{" BASE "," PROC ",\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]}}",
	    "{" BASE "," PROC ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,"
	    "\"size\":1}]}}",
	    "{" BASE "," PROC ",\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\"}]}",
	    "{" BASE "," PROC ",\"mounts\":[{\"destination\":\"/x\",\"source\":\"y\","
	    "\"options\":[\"bind\",\"idmap\"]}]}",
	    "{" BASE "," PROC ",\"linux\":{\"resources\":{\"hugepageLimits\":[{\"pageSize\":"
	    "\"64kB\",\"limit\":1}]}}}",
	    "{" BASE "," PROC ",\"linux\":{\"timeOffsets\":{\"boottime\":{\"secs\":1}}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		berth_error *err = NULL;
		rt_spec *s = parse(bad[i], &err);
		if (s != NULL) {
			rt_spec_free(s);
			test_failed(__FILE__, __LINE__, "accepted: %s", bad[i]);
			return;
		}
		CHECK(err != NULL && err->msg != NULL);
		berth_error_free(err);
	}
}

TEST(runtime_default_spec)
{
	json_t *spec = rt_default_spec(false);
	json_t *p = json_object_get(spec, "process");
	CHECK(json_get_bool(p, "noNewPrivileges", false));
	json_t *caps = json_object_get(p, "capabilities");
	CHECK_INT_EQ(json_array_size(json_object_get(caps, "bounding")), 14);
	json_t *l = json_object_get(spec, "linux");
	CHECK(json_array_size(json_object_get(l, "maskedPaths")) >= 10);
	CHECK(json_object_get(l, "seccomp") != NULL);
	berth_error *err = NULL;
	CHECK(rt_validate_config(spec, "/b", &err) == 0);
	rt_spec *s = NULL;
	CHECK(rt_spec_parse(spec, "/b", false, NULL, &s, &err) == 0);
	CHECK_INT_EQ(s->proc.caps[1], 0xa80425fbULL);
	CHECK(s->proc.seccomp != NULL);
	rt_spec_free(s);
	json_decref(spec);
	json_t *rl = rt_default_spec(true);
	json_t *rlx = json_object_get(rl, "linux");
	CHECK(json_array_size(json_object_get(rlx, "uidMappings")) == 1);
	CHECK(rt_validate_config(rl, "/b", &err) == 0);
	json_decref(rl);
	json_t *f = rt_features();
	CHECK(json_array_size(json_object_get(json_object_get(f, "linux"), "namespaces")) >= 7);
	json_decref(f);
}
