"""`halyard analyze` as a user runs it: output lines, formats and exit codes."""
import json
import textwrap

from conftest import ROOT, require_shared


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_seed_scenario_has_no_messages(halyard):
    # samples/pirata holds the seed's two files unchanged plus the Services they route to.
    res = halyard("analyze", ROOT / "samples" / "pirata")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == ""
    assert "no validation issues found" in res.stderr


def test_seed_alone_reports_the_missing_services(halyard):
    res = halyard("analyze", require_shared() / "seed")
    assert res.returncode == 79
    hosts = [l for l in res.stdout.splitlines() if "Referenced host not found" in l]
    assert len(hosts) == 5, res.stdout
    assert any('"items-api-svc"' in l and "deploy-item-gateway.yaml" in l for l in hosts)


def test_a_resource_defined_twice_is_analyzed_once(halyard):
    res = halyard("analyze", require_shared() / "seed", ROOT / "samples" / "pirata")
    assert res.returncode == 0, res.stdout + res.stderr
    dups = [l for l in res.stdout.splitlines() if "HAL0002" in l]
    assert len(dups) == 4 and all(l.startswith("Warning [HAL0002]") for l in dups)
    assert "IST0145" not in res.stdout


def test_missing_gateway_is_reported_with_file_and_line(halyard, tmp_path):
    write(tmp_path, "routes.yaml", """\
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata:
          name: api-virtual
        spec:
          hosts: [pirata.example.com]
          gateways:
          - api-gatewy
          http:
          - route:
            - destination: {host: items-api-svc}
        """)
    res = halyard("analyze", tmp_path / "routes.yaml")
    assert res.returncode == 79, res.stdout + res.stderr
    line = next(l for l in res.stdout.splitlines() if "IST0101" in l and "gateway" in l)
    assert line.startswith("Error [IST0101] (VirtualService default/api-virtual ")
    assert "routes.yaml:8)" in line
    assert '"api-gatewy"' in line


def test_schema_errors_and_analysis_in_one_run(halyard, tmp_path):
    write(tmp_path, "a.yaml", """\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: typo, namespace: shop}
        spec:
          hosts: [shop.example.com]
          http:
          - rewite: {uri: /}
            route:
            - destination: {host: cart}
              weight: abc
        """)
    write(tmp_path, "b.yaml", """\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: other, namespace: shop}
        spec:
          hosts: [other.example.com]
          gateways: [nowhere]
          http:
          - route:
            - destination: {host: cart}
        """)
    res = halyard("analyze", tmp_path)
    assert res.returncode == 79
    out = res.stdout
    assert "IST0106" in out and "rewite" in out and 'did you mean "rewrite"' in out
    assert "spec.http[0].route[0].weight" in out
    assert "a.yaml:7" in out  # the rewite line
    assert "IST0101" in out and "b.yaml" in out  # analysis still ran on the other file


def test_broken_yaml_does_not_hide_other_documents(halyard, tmp_path):
    write(tmp_path, "mixed.yaml", """\
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: g}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        kind: [broken
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: v}
        spec:
          hosts: ["a.example.com"]
          gateways: [missing-gw]
          http:
          - route:
            - destination: {host: a}
        """)
    res = halyard("analyze", tmp_path)
    assert res.returncode == 79
    assert "[HAL0001]" in res.stdout and ("mixed.yaml:10" in res.stdout or
                                          "mixed.yaml:11" in res.stdout)  # the syntax error
    assert '"missing-gw"' in res.stdout   # the document after it was analyzed


def test_json_and_yaml_output(halyard, tmp_path):
    write(tmp_path, "vs.yaml", """\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: v, namespace: x}
        spec:
          hosts: [a.example.com]
          gateways: [missing]
          http:
          - route:
            - destination: {host: a}
        """)
    res = halyard("analyze", "-o", "json", tmp_path)
    assert res.returncode == 79
    msgs = json.loads(res.stdout)
    gw = [m for m in msgs if m["code"] == "IST0101" and "missing" in m["message"]]
    assert gw and gw[0]["origin"] == "VirtualService x/v" and gw[0]["level"] == "Error"
    assert gw[0]["line"] == 6 and gw[0]["file"].endswith("vs.yaml")
    res = halyard("analyze", "-o", "yaml", tmp_path)
    assert res.returncode == 79
    assert "- code: \"IST0101\"" in res.stdout or "code: \"IST0101\"" in res.stdout


def test_warnings_fail_only_with_threshold(halyard, tmp_path):
    # A ServiceEntry TCP port without addresses: IST0134, a warning.
    write(tmp_path, "se.yaml", """\
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: db, namespace: default}
        spec:
          hosts: [db.example.com]
          ports: [{number: 5432, name: tcp, protocol: TCP}]
          resolution: DNS
        """)
    res = halyard("analyze", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Warning [IST0134]" in res.stdout
    res = halyard("analyze", "--failure-threshold", "Warning", tmp_path)
    assert res.returncode == 79


def test_usage_and_io_errors_exit_1(halyard, tmp_path):
    res = halyard("analyze", tmp_path / "nope.yaml")
    assert res.returncode == 1
    assert "nope.yaml" in res.stderr
    res = halyard("analyze", "--output", "xml", tmp_path)
    assert res.returncode == 1
    res = halyard("analyze", "--bogus-flag", tmp_path)
    assert res.returncode == 1
