"""--format / inspect -f control structures on real containers: range,
if/else, with, variables and comparisons, compared with what Docker prints
for the same template and JSON by Go's text/template rules (maps range in
sorted key order, {{.}} of a string prints it bare, a missing optional
field such as .State.Health is false in a condition)."""
import json

import pytest


@pytest.fixture
def b(busybox, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    busybox.run("run", "-d", "--name", "tpl1", "-v", "%s:/data" % src,
                "-l", "zeta=1", "-l", "alpha=2", "-l", "mid=3", "busybox", "sleep", "100")
    busybox.run("create", "--network", "none", "--name", "tpl2", "busybox", "true")
    busybox.src = str(src)
    yield busybox
    busybox.run("rm", "-f", "tpl1", "tpl2", check=False)


def inspect(b, name):
    return json.loads(b.out("inspect", name))[0]


def test_range_networks_ip_address(b):
    nets = inspect(b, "tpl1")["NetworkSettings"]["Networks"]
    want = "".join(nets[k]["IPAddress"] + ";" for k in sorted(nets))
    assert want and want != ";"
    out = b.out("inspect", "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}};{{end}}", "tpl1")
    assert out == want + "\n"
    # the map's keys, sorted, and a variable pair
    out = b.out("inspect", "-f",
                "{{range $name, $n := .NetworkSettings.Networks}}{{$name}}={{$n.IPAddress}} "
                "{{end}}", "tpl1")
    assert out == "".join("%s=%s " % (k, nets[k]["IPAddress"]) for k in sorted(nets)) + "\n"


def test_range_mounts_bind(b):
    out = b.out("inspect", "-f",
                '{{range .Mounts}}{{.Source}} -> {{.Destination}}{{"\\n"}}{{end}}', "tpl1")
    assert out == "%s -> /data\n\n" % b.src
    # no mounts: the else branch
    out = b.out("inspect", "-f", "{{range .Mounts}}{{.Source}}{{else}}none{{end}}", "tpl2")
    assert out == "none\n"


def test_if_state_running_and_with(b):
    tmpl = "{{if .State.Running}}up{{else}}down{{end}}"
    assert b.out("inspect", "-f", tmpl, "tpl1") == "up\n"
    assert b.out("inspect", "-f", tmpl, "tpl2") == "down\n"
    # no healthcheck: Docker's State.Health is a nil pointer, false in with
    assert b.out("inspect", "-f", "{{with .State.Health}}{{.Status}}{{else}}none{{end}}",
                 "tpl1") == "none\n"
    assert b.out("inspect", "-f", "{{with .State}}{{.Status}}{{end}}", "tpl1", "tpl2") == \
        "running\ncreated\n"


def test_range_labels_sorted(b):
    out = b.out("inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                "tpl1")
    assert out == "alpha=2;mid=3;zeta=1;\n"
    out = b.out("inspect", "-f",
                "{{- range $k, $v := .Config.Labels}}\n  {{- if ne $k \"mid\"}}{{$v}}{{end}}"
                "\n{{- end}}", "tpl1")
    assert out == "21\n"


def test_ps_format_if_eq(b):
    tmpl = '{{if eq .State "running"}}R {{else}}- {{end}}{{.Names}}'
    assert sorted(b.out("ps", "-a", "--format", tmpl).splitlines()) == ["- tpl2", "R tpl1"]
    # a table reads the fields used inside the if for its rows; its header
    # is the template run on the headers, as Docker's: "LABELS" is true
    out = b.out("ps", "--format", "table {{.Names}}\t{{if .Labels}}L{{end}}").splitlines()
    assert out[0].split() == ["NAMES", "L"] and out[1].split() == ["tpl1", "L"]
    assert b.out("ps", "-a", "--format",
                 '{{if or (eq .Names "tpl1") (eq .Names "nope")}}{{.Names | upper}}{{end}}') \
        .split() == ["TPL1"]


def test_template_errors(b):
    def fails(*args):
        p = b.run(*args, check=False)
        assert p.returncode == 125 and p.stdout == b"", p
        err = p.stderr.decode()
        assert err.count("\n") == 1 and err.startswith("Error: "), err
        return err[len("Error: "):].rstrip("\n")

    assert fails("inspect", "-f", "{{if .State.Running}}up", "tpl1") == \
        "template parsing error: template: :1: unexpected EOF"
    assert fails("inspect", "-f", "x{{end}}", "tpl1") == \
        "template parsing error: template: :1: unexpected {{end}}"
    assert fails("ps", "--format", "{{range .Names}}{{end}}").startswith(
        'template parsing error: template: :1:8: executing "" at <.Names>: '
        "range can't iterate over tpl1")
