"""--format templates that name a field the object does not have: Docker
reports the template error (Go's text/template message, wrapped in
"template parsing error") and fails; berth prints it as one line and
exits 125. Known fields and functions keep working."""
import json

import pytest


@pytest.fixture
def b(busybox):
    busybox.run("run", "-d", "--network", "none", "--name", "fmt1", "-l", "a=b", "busybox",
                "sleep", "100")
    busybox.run("volume", "create", "fmtvol")
    yield busybox
    busybox.run("rm", "-f", "fmt1", check=False)
    busybox.run("volume", "rm", "fmtvol", check=False)


def fails(b, *args):
    p = b.run(*args, check=False)
    assert p.returncode == 125, (args, p)
    assert p.stdout == b"", (args, p.stdout)
    err = p.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("Error: "), err
    return err[len("Error: "):].rstrip("\n")


def test_unknown_field_in_list_commands(b):
    assert fails(b, "ps", "--format", "{{.UnknownField}}") == (
        'template parsing error: template: :1:2: executing "" at <.UnknownField>: '
        "can't evaluate field UnknownField in type *formatter.ContainerContext")
    # the position is counted in the template without "table " and with \t
    # as one character, as Docker parses it
    assert fails(b, "ps", "-a", "--format", r"table {{.ID}}\t{{.Nope}}") == (
        'template parsing error: template: :1:10: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.ContainerContext")
    assert fails(b, "ps", "--format", "{{json .Nope}}").endswith(
        "at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext")
    assert fails(b, "images", "--format", "{{.Foo}}").endswith(
        "can't evaluate field Foo in type *formatter.ImageContext")
    assert fails(b, "volume", "ls", "--format", "{{.Foo}}").endswith(
        "can't evaluate field Foo in type *formatter.volumeContext")
    # a field of a field that is a string
    assert fails(b, "ps", "--format", "{{.Names.X}}").endswith(
        "at <.Names.X>: can't evaluate field X in type string")


def test_unknown_field_in_inspect(b):
    assert fails(b, "inspect", "-f", "{{.UnknownField}}", "fmt1") == (
        'template parsing error: template: :1:2: executing "" at <.UnknownField>: '
        'map has no entry for key "UnknownField"')
    assert fails(b, "inspect", "-f", "x {{.State.Nope}}", "fmt1") == (
        'template parsing error: template: :1:4: executing "" at <.State.Nope>: '
        'map has no entry for key "Nope"')
    assert fails(b, "inspect", "-f", "{{.Id}}\n{{.Name.X}}", "fmt1").startswith(
        "template parsing error: template: :2:2: ")
    assert fails(b, "image", "inspect", "-f", "{{.Nope}}", "busybox").endswith(
        'map has no entry for key "Nope"')


def test_bad_templates_fail_before_output(b):
    assert fails(b, "ps", "--format", "{{nofunc .ID}}") == (
        'template parsing error: template: :1: function "nofunc" not defined')
    assert "unclosed action" in fails(b, "ps", "--format", "{{.ID")


def test_known_fields_and_functions_still_work(b):
    cid = b.out("inspect", "-f", "{{.Id}}", "fmt1").strip()
    assert len(cid) == 64
    assert b.out("ps", "--format", "{{.Names}} {{.State}}") == "fmt1 running\n"
    assert b.out("ps", "--format", "{{json .Names}}") == '"fmt1"\n'
    assert b.out("inspect", "-f", "{{.State.Status}} {{index .Config.Labels \"a\"}}",
                 "fmt1") == "running b\n"
    assert json.loads(b.out("inspect", "-f", "{{json .Config.Labels}}", "fmt1")) == \
        {"a": "b"}
    assert b.out("ps", "--format", "{{upper .Names}}|{{len .Names}}") == "FMT1|4\n"
    out = b.out("ps", "--format", r"table {{.Names}}\t{{.Status}}").splitlines()
    assert out[0].split() == ["NAMES", "STATUS"] and out[1].startswith("fmt1 ")
    assert b.out("volume", "ls", "--format", "{{.Name}}") == "fmtvol\n"
