"""The C unit tests and a few system tests again, on the AddressSanitizer +
UndefinedBehaviorSanitizer build (build-asan, made by tests/run).

Each unit test runs in its own child (tests/unit/runner.c), which runs
LeakSanitizer before it exits, so a leak fails the test that made it. The
system tests run the ASan berth binaries through BERTH_BUILD; a leak at exit
makes a berth command fail, which the test sees."""
import os
import subprocess
import sys

import pytest

from conftest import REPO

ASAN_BUILD = os.environ.get("BERTH_ASAN_BUILD", os.path.join(REPO, "build-asan"))
ASAN_UNIT = os.path.join(ASAN_BUILD, "tests", "unit", "berth-unit")

# halt_on_error: the first report ends the process (UBSan would go on).
# detect_leaks: LeakSanitizer works here (it needs ptrace-like access, which
# root has); the unit runner calls it itself, since _exit skips it.
ENV = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:"
                        "detect_stack_use_after_return=1:strict_string_checks=1",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
           LSAN_OPTIONS="max_leaks=20")

# Short system tests whose commands do much of the library's work (image
# import/load/save/inspect, run, registry push/pull); the whole system suite
# under ASan takes minutes, these take well under one. Named one by one: a
# test that runs berth under strace or gdb cannot have LeakSanitizer.
SYSTEM = {
    "images": ["test_images.py::" + t for t in (
        "test_import_busybox_like_readme", "test_import_changes_and_message",
        "test_tag_rmi_rules", "test_inspect_missing_and_format", "test_history_output",
        "test_image_prune", "test_system_df_and_info", "test_images_flags_and_filters")],
    "load_save": ["test_load_save.py::" + t for t in (
        "test_load_layers_docker_save", "test_load_oci_archive",
        "test_load_busybox_stdin_and_quiet", "test_load_compressed",
        "test_save_load_roundtrip_and_skopeo", "test_save_errors",
        "test_load_bad_input_leaves_store_unchanged", "test_load_truncated_layer_region")],
    "run": ["test_run_basic.py::test_run_echo_and_exit_codes",
            "test_run_basic.py::test_detached_ps_logs_inspect_stop_rm"],
    # --network none (a use-after-free once) and anonymous volumes (a leak)
    "run_net_vol": ["test_run_basic.py::test_default_bridge_network_and_published_port",
                    "test_container_policies.py::"
                    "test_anonymous_volumes_copy_image_content_and_go_with_rm"],
    "registry": ["test_registry_client.py::test_push_pull_berth_server_anonymous"],
}


def _names():
    if not os.access(ASAN_UNIT, os.X_OK):
        return ["<missing " + ASAN_UNIT + ">"]
    p = subprocess.run([ASAN_UNIT, "--list"], capture_output=True, text=True, env=ENV,
                       check=True)
    return [n for n in p.stdout.split() if n]


@pytest.mark.parametrize("name", _names())
def test_unit_asan(name):
    if not os.access(ASAN_UNIT, os.X_OK):
        pytest.fail("no ASan build at %s: run tests/run, which builds it" % ASAN_BUILD)
    p = subprocess.run([ASAN_UNIT, name], capture_output=True, text=True, timeout=300,
                       env=ENV)
    assert p.returncode == 0, p.stdout + p.stderr[-20000:]


@pytest.mark.parametrize("group", sorted(SYSTEM))
def test_system_asan(group, tmp_path):
    if not os.access(os.path.join(ASAN_BUILD, "berth"), os.X_OK):
        pytest.fail("no ASan build at %s: run tests/run, which builds it" % ASAN_BUILD)
    env = dict(ENV, BERTH_BUILD=ASAN_BUILD)
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                        "-p", "no:xdist", "-q", "-x", "--tb=long",
                        # its own tmp tree: the default one's top directory
                        # is shared with every other pytest run here
                        "--basetemp", str(tmp_path / "pytest")]
                       + [os.path.join(REPO, "tests", "system", t) for t in SYSTEM[group]],
                       capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert p.returncode == 0, p.stdout[-20000:] + p.stderr[-5000:]
