#!/usr/bin/python3
"""Generates Halyard's typed Istio model from Istio's CRD schema.

Writes (all committed; the build never reads the CRD):
  src/config/model/istio_types.h   one plain struct per schema object, one top-level struct per kind
  src/config/yaml/istio_decode.h   decodeVirtualService(const Object&) and friends
  src/config/yaml/istio_decode.cc  the decoders, filling every field and every struct's `line`
  docs/config-reference.md         every field path per kind, its type and its status

Struct names follow Istio's proto messages through the NAMES table below. `--check` regenerates in
memory and fails when a committed file differs (run by CTest).
"""

import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The CRD file is in the external corpus, found as the tests find it: HALYARD_SHARED_DIR, or
# `shared` next to the repository.
SHARED = os.environ.get("HALYARD_SHARED_DIR") or os.path.join(os.path.dirname(ROOT), "shared")
DEFAULT_CRD = os.path.join(SHARED, "conformance", "istio", "manifests", "charts", "base", "files",
                           "crd-all.gen.yaml")
# --check without the corpus: CTest's SKIP_RETURN_CODE, so a clone of the repository alone passes.
EXIT_SKIPPED = 77
STATUS_FILE = os.path.join(ROOT, "tools", "field_status.yaml")
DEFAULT_STATUS = "parsed and validated; not yet enforced by the proxy"

# (group, kind) in the order the header lists them.
KINDS = [
    ("networking.istio.io", "Gateway"),
    ("networking.istio.io", "VirtualService"),
    ("networking.istio.io", "DestinationRule"),
    ("networking.istio.io", "ServiceEntry"),
    ("networking.istio.io", "WorkloadEntry"),
    ("networking.istio.io", "WorkloadGroup"),
    ("networking.istio.io", "Sidecar"),
    ("security.istio.io", "PeerAuthentication"),
    ("security.istio.io", "AuthorizationPolicy"),
    ("security.istio.io", "RequestAuthentication"),
]

# Kinds on docs/config-reference.md only: their translators read the object's document tree, so
# the C++ model has no struct for them (the type column names none).
REFERENCE_KINDS = [
    ("telemetry.istio.io", "Telemetry"),
]

# Struct names. A key is either "Kind:json.path" (path from the object root, list items and map
# values share their field's path) or "Parent.jsonField" (the struct that holds the field). The
# first form wins. Objects not listed are named Parent + PascalCase(field).
NAMES = {
    # Spec roots.
    "Gateway:spec": "GatewaySpec",
    "VirtualService:spec": "VirtualServiceSpec",
    "DestinationRule:spec": "DestinationRuleSpec",
    "ServiceEntry:spec": "ServiceEntrySpec",
    "WorkloadEntry:spec": "WorkloadEntrySpec",
    "WorkloadGroup:spec": "WorkloadGroupSpec",
    "Sidecar:spec": "SidecarSpec",
    "PeerAuthentication:spec": "PeerAuthenticationSpec",
    "AuthorizationPolicy:spec": "AuthorizationPolicySpec",
    "RequestAuthentication:spec": "RequestAuthenticationSpec",
    # VirtualService.
    "VirtualServiceSpec.http": "HTTPRoute",
    "VirtualServiceSpec.tcp": "TCPRoute",
    "VirtualServiceSpec.tls": "TLSRoute",
    "HTTPRoute.match": "HTTPMatchRequest",
    "HTTPRoute.route": "HTTPRouteDestination",
    "HTTPRoute.headers": "Headers",
    "HTTPRoute.rewrite": "HTTPRewrite",
    "HTTPRoute.redirect": "HTTPRedirect",
    "HTTPRoute.directResponse": "HTTPDirectResponse",
    "HTTPRoute.retries": "HTTPRetry",
    "HTTPRoute.fault": "HTTPFaultInjection",
    "HTTPRoute.mirror": "Destination",
    "HTTPRoute.mirrorPercentage": "Percent",
    "HTTPRoute.mirrors": "HTTPMirrorPolicy",
    "HTTPRoute.corsPolicy": "CorsPolicy",
    "HTTPRoute.delegate": "Delegate",
    "HTTPMatchRequest.uri": "StringMatch",
    "HTTPMatchRequest.scheme": "StringMatch",
    "HTTPMatchRequest.method": "StringMatch",
    "HTTPMatchRequest.authority": "StringMatch",
    "HTTPMatchRequest.headers": "StringMatch",
    "HTTPMatchRequest.queryParams": "StringMatch",
    "HTTPMatchRequest.withoutHeaders": "StringMatch",
    "HTTPRouteDestination.destination": "Destination",
    "HTTPRouteDestination.headers": "Headers",
    "RouteDestination.destination": "Destination",
    "Destination.port": "PortSelector",
    "Headers.request": "HeaderOperations",
    "Headers.response": "HeaderOperations",
    "HTTPRewrite.uriRegexRewrite": "RegexRewrite",
    "HTTPDirectResponse.body": "HTTPBody",
    "HTTPFaultInjection.delay": "Delay",
    "HTTPFaultInjection.abort": "Abort",
    "Delay.percentage": "Percent",
    "Abort.percentage": "Percent",
    "HTTPMirrorPolicy.destination": "Destination",
    "HTTPMirrorPolicy.percentage": "Percent",
    "CorsPolicy.allowOrigins": "StringMatch",
    "TCPRoute.match": "L4MatchAttributes",
    "TCPRoute.route": "RouteDestination",
    "TLSRoute.match": "TLSMatchAttributes",
    "TLSRoute.route": "RouteDestination",
    # Gateway.
    "GatewaySpec.servers": "Server",
    "Server.port": "ServerPort",
    "Server.tls": "ServerTLSSettings",
    "ServerTLSSettings.tlsCertificates": "TLSCertificate",
    # DestinationRule.
    "DestinationRuleSpec.trafficPolicy": "TrafficPolicy",
    "DestinationRuleSpec.subsets": "Subset",
    "DestinationRuleSpec.workloadSelector": "WorkloadSelector",
    "Subset.trafficPolicy": "TrafficPolicy",
    "TrafficPolicy.loadBalancer": "LoadBalancerSettings",
    "TrafficPolicy.connectionPool": "ConnectionPoolSettings",
    "TrafficPolicy.outlierDetection": "OutlierDetection",
    "TrafficPolicy.tls": "ClientTLSSettings",
    "TrafficPolicy.portLevelSettings": "PortTrafficPolicy",
    "TrafficPolicy.tunnel": "TunnelSettings",
    "TrafficPolicy.proxyProtocol": "ProxyProtocol",
    "TrafficPolicy.retryBudget": "RetryBudget",
    "PortTrafficPolicy.port": "PortSelector",
    "PortTrafficPolicy.loadBalancer": "LoadBalancerSettings",
    "PortTrafficPolicy.connectionPool": "ConnectionPoolSettings",
    "PortTrafficPolicy.outlierDetection": "OutlierDetection",
    "PortTrafficPolicy.tls": "ClientTLSSettings",
    "LoadBalancerSettings.consistentHash": "ConsistentHashLB",
    "LoadBalancerSettings.localityLbSetting": "LocalityLoadBalancerSetting",
    "LoadBalancerSettings.zoneAwareLbSetting": "ZoneAwareLoadBalancerSetting",
    "LoadBalancerSettings.warmup": "WarmupConfiguration",
    "LoadBalancerSettings.backendUtilization": "BackendUtilizationLB",
    "ConsistentHashLB.httpCookie": "HTTPCookie",
    "ConsistentHashLB.ringHash": "RingHash",
    "ConsistentHashLB.maglev": "MagLev",
    "HTTPCookie.attributes": "HTTPCookieAttribute",
    "LocalityLoadBalancerSetting.distribute": "LocalityDistribute",
    "LocalityLoadBalancerSetting.failover": "LocalityFailover",
    "ZoneAwareLoadBalancerSetting.failover": "LocalityFailover",
    "ConnectionPoolSettings.tcp": "TCPSettings",
    "ConnectionPoolSettings.http": "HTTPSettings",
    "TCPSettings.tcpKeepalive": "TcpKeepalive",
    "HTTPSettings.http2KeepAlive": "HTTP2KeepAlive",
    # ServiceEntry, WorkloadEntry, WorkloadGroup.
    "ServiceEntrySpec.ports": "ServicePort",
    "ServiceEntrySpec.endpoints": "WorkloadEntrySpec",
    "ServiceEntrySpec.workloadSelector": "NetworkingWorkloadSelector",
    "WorkloadGroupSpec.metadata": "WorkloadGroupObjectMeta",
    "WorkloadGroupSpec.template": "WorkloadEntrySpec",
    "WorkloadGroupSpec.probe": "ReadinessProbe",
    "ReadinessProbe.httpGet": "HTTPHealthCheckConfig",
    "ReadinessProbe.tcpSocket": "TCPHealthCheckConfig",
    "ReadinessProbe.exec": "ExecHealthCheckConfig",
    "ReadinessProbe.grpc": "GrpcHealthCheckConfig",
    "HTTPHealthCheckConfig.httpHeaders": "HTTPHeader",
    # Sidecar.
    "SidecarSpec.workloadSelector": "NetworkingWorkloadSelector",
    "SidecarSpec.ingress": "IstioIngressListener",
    "SidecarSpec.egress": "IstioEgressListener",
    "SidecarSpec.inboundConnectionPool": "ConnectionPoolSettings",
    "SidecarSpec.outboundTrafficPolicy": "OutboundTrafficPolicy",
    "IstioIngressListener.port": "SidecarPort",
    "IstioIngressListener.connectionPool": "ConnectionPoolSettings",
    "IstioIngressListener.tls": "ServerTLSSettings",
    "IstioEgressListener.port": "SidecarPort",
    "OutboundTrafficPolicy.egressProxy": "Destination",
    # Security.
    "PeerAuthenticationSpec.selector": "WorkloadSelector",
    "PeerAuthenticationSpec.mtls": "MutualTLS",
    "PeerAuthenticationSpec.portLevelMtls": "MutualTLS",
    "AuthorizationPolicySpec.selector": "WorkloadSelector",
    "AuthorizationPolicySpec.targetRef": "PolicyTargetReference",
    "AuthorizationPolicySpec.targetRefs": "PolicyTargetReference",
    "AuthorizationPolicySpec.rules": "Rule",
    "AuthorizationPolicySpec.provider": "ExtensionProvider",
    "Rule.from": "RuleFrom",
    "Rule.to": "RuleTo",
    "Rule.when": "Condition",
    "RuleFrom.source": "Source",
    "RuleTo.operation": "Operation",
    "RequestAuthenticationSpec.selector": "WorkloadSelector",
    "RequestAuthenticationSpec.targetRef": "PolicyTargetReference",
    "RequestAuthenticationSpec.targetRefs": "PolicyTargetReference",
    "RequestAuthenticationSpec.jwtRules": "JWTRule",
    "JWTRule.fromHeaders": "JWTHeader",
    "JWTRule.outputClaimToHeaders": "ClaimToHeader",
}

CPP_KEYWORDS = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
    "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
    "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
    "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto",
    "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
    "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static",
    "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local",
    "throw", "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using",
    "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    "line",  # every struct already has `int line`
}

COMMENT_WIDTH = 100


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Types


class Type:
    """A field's type. kind: string, int, double, bool, enum, intstr, raw, struct, list, map."""

    def __init__(self, kind, elem=None, struct=None, enum=None):
        self.kind = kind
        self.elem = elem
        self.struct = struct
        self.enum = enum or []

    def value_cpp(self):
        """The C++ type of a value (list element, map value): no std::optional."""
        k = self.kind
        if k in ("string", "enum", "intstr"):
            return "std::string"
        if k == "int":
            return "int64_t"
        if k == "double":
            return "double"
        if k == "bool":
            return "bool"
        if k == "raw":
            return "config::Node"
        if k == "struct":
            return self.struct
        if k == "list":
            return "std::vector<%s>" % self.elem.value_cpp()
        if k == "map":
            return "std::map<std::string, %s>" % self.elem.value_cpp()
        raise GenError("unknown type kind " + k)

    def field_cpp(self):
        """The C++ type of a struct member: scalars and sub-objects are optional (presence)."""
        if self.kind in ("list", "map", "raw"):
            return self.value_cpp()
        if self.kind == "struct":
            return "Boxed<%s>" % self.value_cpp()
        return "std::optional<%s>" % self.value_cpp()

    def doc(self):
        """The type as the reference page shows it."""
        k = self.kind
        if k == "string":
            return "string"
        if k == "int":
            return "integer"
        if k == "double":
            return "number"
        if k == "bool":
            return "boolean"
        if k == "intstr":
            return "integer or string"
        if k == "enum":
            return "enum: " + ", ".join(self.enum)
        if k == "raw":
            return "any (raw)"
        if k == "struct":
            return "object (`%s`)" % self.struct
        if k == "list":
            return "list of " + self.elem.doc()
        if k == "map":
            return "map of string to " + self.elem.doc()
        raise GenError("unknown type kind " + k)

    def signature(self):
        if self.kind == "enum":
            return "enum(%s)" % ",".join(self.enum)
        return self.value_cpp()


class Field:
    def __init__(self, json_name, cpp_name, type_, doc):
        self.json_name = json_name
        self.cpp_name = cpp_name
        self.type = type_
        self.doc = doc


class Struct:
    def __init__(self, name, fields, doc, origin):
        self.name = name
        self.fields = fields
        self.doc = doc
        self.origin = origin  # "Kind:path" where it was first seen

    def signature(self):
        return tuple((f.json_name, f.cpp_name, f.type.signature()) for f in self.fields)


# ---------------------------------------------------------------------------------------------
# Naming and comments


def snake_case(json_name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", json_name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def pascal_case(json_name):
    parts = re.split(r"[_\-]", json_name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def member_names(json_names):
    """JSON names -> C++ member names: snake_case, keywords get `_`, the underscored JSON spelling
    of a name that collides with a camelCase one gets `_alias`."""
    by_snake = {}
    for j in json_names:
        by_snake.setdefault(snake_case(j), []).append(j)
    out = {}
    for s, js in by_snake.items():
        if len(js) > 1:
            plain = [j for j in js if "_" not in j]
            aliased = [j for j in js if "_" in j]
            if len(plain) != 1 or not aliased:
                raise GenError("cannot disambiguate JSON names %s" % js)
            out[plain[0]] = s
            for j in aliased:
                out[j] = s + "_alias"
        else:
            out[js[0]] = s
    for j, s in out.items():
        if s in CPP_KEYWORDS:
            out[j] = s + "_"
    return out


# Leading sentences that say nothing about the field itself.
EMPTY_SENTENCES = {"Optional.", "OPTIONAL.", "Required.", "REQUIRED."}
ABBREVIATIONS = ("e.g.", "i.e.", "vs.")


def sentences(text):
    out, start = [], 0
    for m in re.finditer(r"(?<=[a-z0-9)`'\"])\.(?=\s|$)", text):
        piece = text[start:m.end()].strip()
        if piece.endswith(ABBREVIATIONS):
            continue
        out.append(piece)
        start = m.end()
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def first_sentence(description, limit=140):
    """A short summary for a comment: the description's first informative sentence."""
    if not description:
        return ""
    text = " ".join(description.strip().split("\n\n")[0].split())
    candidates = [x for x in sentences(text) if x not in EMPTY_SENTENCES]
    if not candidates:
        return ""
    text = candidates[0]
    # An inline list ("formatted as follows: - `exact` ... - `prefix` ...") is prose, not summary.
    if ": - " in text:
        text = text[:text.index(": - ")] + "."
    # Some CRD descriptions stop right after "e.g.".
    for abbr in ABBREVIATIONS:
        if text.endswith(abbr):
            text = text[:-len(abbr)].rstrip(", ") + "."
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit - 3)
        text = text[:cut if cut > 0 else limit - 3].rstrip(",;:") + "..."
    return text.replace("\\", "/")


def comment_lines(text, indent):
    """`text` as // comment lines wrapped to COMMENT_WIDTH."""
    if not text:
        return []
    prefix = " " * indent + "// "
    lines, cur = [], ""
    for word in text.split():
        if cur and len(prefix) + len(cur) + 1 + len(word) > COMMENT_WIDTH:
            lines.append(prefix + cur)
            cur = word
        else:
            cur = word if not cur else cur + " " + word
    if cur:
        lines.append(prefix + cur)
    return lines


# ---------------------------------------------------------------------------------------------
# Schema walk


class Model:
    def __init__(self):
        self.structs = {}  # name -> Struct
        self.order = []    # names, children before parents

    def struct_name(self, kind, path, parent, field):
        explicit = NAMES.get("%s:%s" % (kind, path))
        if explicit is None and parent is not None:
            explicit = NAMES.get("%s.%s" % (parent, field))
        if explicit is not None:
            return explicit, True
        return (parent or kind) + pascal_case(field), False

    def type_of(self, schema, kind, path, parent, field):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return Type("raw")
        if schema.get("x-kubernetes-int-or-string"):
            return Type("intstr")
        t = schema.get("type")
        if t == "string":
            if "enum" in schema:
                return Type("enum", enum=[str(e) for e in schema["enum"]])
            return Type("string")
        if t == "integer":
            return Type("int")
        if t == "number":
            return Type("double")
        if t == "boolean":
            return Type("bool")
        if t == "array":
            return Type("list", elem=self.type_of(schema.get("items", {}), kind, path, parent,
                                                  field))
        if t == "object" or t is None:
            if schema.get("properties"):
                return Type("struct", struct=self.add_struct(schema, kind, path, parent, field))
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return Type("map", elem=self.type_of(extra, kind, path, parent, field))
            return Type("raw")
        raise GenError("%s:%s: unsupported schema type %r" % (kind, path, t))

    def add_struct(self, schema, kind, path, parent, field):
        name, explicit = self.struct_name(kind, path, parent, field)
        props = schema["properties"]
        members = member_names(list(props))
        fields = []
        for json_name in sorted(props):
            sub = props[json_name]
            ftype = self.type_of(sub, kind, path + "." + json_name, name, json_name)
            doc = first_sentence(sub.get("description"))
            if ftype.kind == "enum":
                doc = (doc + " " if doc else "") + "One of: %s." % ", ".join(ftype.enum)
            fields.append(Field(json_name, members[json_name], ftype, doc))
        new = Struct(name, fields, first_sentence(schema.get("description")), kind + ":" + path)
        base = name
        suffix = 2
        while name in self.structs:
            if self.structs[name].signature() == new.signature():
                return name
            if explicit:
                raise GenError("%s (from %s) differs from the struct of that name first seen at %s;"
                               " give it its own entry in NAMES" % (name, new.origin,
                                                                     self.structs[name].origin))
            name = "%s%d" % (base, suffix)
            suffix += 1
        new.name = name
        self.structs[name] = new
        self.order.append(name)
        return name


def load_kinds(crd_path, wanted=None):
    with open(crd_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    found = {}
    for d in docs:
        spec = d.get("spec", {})
        key = (spec.get("group"), spec.get("names", {}).get("kind"))
        found[key] = spec
    out = []
    for group, kind in KINDS if wanted is None else wanted:
        spec = found.get((group, kind))
        if spec is None:
            raise GenError("%s/%s not in %s" % (group, kind, crd_path))
        versions = [v for v in spec["versions"] if v.get("served")]
        storage = [v for v in versions if v.get("storage")][0]
        schema = storage["schema"]["openAPIV3Schema"]["properties"]["spec"]
        # The model is one struct set for every served version, so they must agree.
        for v in versions:
            other = v["schema"]["openAPIV3Schema"]["properties"]["spec"]
            if strip_docs(other) != strip_docs(schema):
                raise GenError("%s %s differs from %s; the model assumes one schema per kind"
                               % (kind, v["name"], storage["name"]))
        out.append((group, kind, [v["name"] for v in versions], schema))
    return out


def strip_docs(schema):
    if isinstance(schema, dict):
        return {k: strip_docs(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [strip_docs(v) for v in schema]
    return schema


# ---------------------------------------------------------------------------------------------
# Output: istio_types.h

HEADER_NOTE = "// Generated by tools/gen_model.py from Istio's crd-all.gen.yaml. Do not edit.\n"


def gen_types(model, kinds):
    uses_raw = any(f.type.value_cpp().find("config::Node") >= 0
                   for s in model.structs.values() for f in s.fields)
    out = [HEADER_NOTE]
    out.append("""//
// Plain C++ types for every spec field of the Istio kinds Halyard reads. Names follow Istio's proto
// messages (table NAMES in tools/gen_model.py). Scalars and sub-objects are std::optional so an
// unset field is told apart from a zero value, as proto3 presence does; enums hold the enum name
// as written; durations stay text (validation parses them). `line` is the line of the struct's
// node in its file (0 when absent). Decoders: config/yaml/istio_decode.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

""")
    if uses_raw:
        out.append('#include "config/model/node.h"\n')
    out.append('#include "config/model/boxed.h"\n#include "config/model/object_meta.h"\n\nnamespace halyard::config::model {\n')
    for name in model.order:
        s = model.structs[name]
        out.append("\n")
        out.extend(line + "\n" for line in comment_lines(s.doc, 0))
        out.append("struct %s {\n" % name)
        for f in s.fields:
            member = "  %s %s;" % (f.type.field_cpp(), f.cpp_name)
            doc = f.doc
            if f.cpp_name != f.json_name:
                note = "  // " + f.json_name
                if len(member + note) <= COMMENT_WIDTH:
                    member += note
                else:
                    doc = (doc + " " if doc else "") + "JSON: " + f.json_name + "."
            out.extend(line + "\n" for line in comment_lines(doc, 2))
            out.append(member + "\n")
        out.append("  int line = 0;\n};\n")
    out.append("\n// One struct per kind: the object's metadata and its decoded spec.\n")
    for group, kind, versions, _ in kinds:
        out.append("\n// %s/{%s}\n" % (group, ",".join(versions)))
        out.append("struct %s {\n  ObjectMeta meta;\n  %sSpec spec;\n};\n" % (kind, kind))
    out.append("\n}  // namespace halyard::config::model\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Output: istio_decode.h / .cc


def gen_decode_h(kinds):
    out = [HEADER_NOTE]
    out.append("""//
// Typed views of the Istio kinds, decoded from an Object's document tree. Decoding assumes nothing
// about the tree (schema validation runs elsewhere): a field whose node has the wrong type is left
// unset, a wrong-typed list element decodes as a default value so indices still match the YAML.
#pragma once

#include "config/model/istio_types.h"
#include "config/model/object.h"

namespace halyard::config {

""")
    for _, kind, _, _ in kinds:
        out.append("model::%s decode%s(const Object& obj);\n" % (kind, kind))
    out.append("\n}  // namespace halyard::config\n")
    return "".join(out)


def uses_int_or_string(model):
    used = False
    for s in model.structs.values():
        for f in s.fields:
            t = f.type
            while t.kind in ("list", "map"):
                t = t.elem
                if t.kind == "intstr":
                    raise GenError("%s.%s: int-or-string inside a list or map is not supported"
                                   % (s.name, f.json_name))
            used = used or t.kind == "intstr"
    return used


def gen_decode_cc(model, kinds):
    out = [HEADER_NOTE]
    out.append("""#include "config/yaml/istio_decode.h"

#include "config/yaml/kube_decode.h"

namespace halyard::config {
namespace {

// readValue fills `out` from `n` and says whether `n` had the expected type.
""")
    for name in model.order:
        out.append("bool readValue(const Node& n, model::%s& out);\n" % name)
    out.append("""
bool readValue(const Node& n, std::string& out) {
  if (!n.isString()) return false;
  out = n.text;
  return true;
}

bool readValue(const Node& n, int64_t& out) {
  auto v = n.asInt();
  if (!v) return false;
  out = *v;
  return true;
}

bool readValue(const Node& n, double& out) {
  auto v = n.asDouble();
  if (!v) return false;
  out = *v;
  return true;
}

bool readValue(const Node& n, bool& out) {
  auto v = n.asBool();
  if (!v) return false;
  out = *v;
  return true;
}

[[maybe_unused]] bool readValue(const Node& n, Node& out) {
  out = n;
  return true;
}

template <class T>
bool readValue(const Node& n, std::optional<T>& out) {
  T v{};
  if (!readValue(n, v)) return false;
  out = std::move(v);
  return true;
}

template <class T>
bool readValue(const Node& n, model::Boxed<T>& out) {
  T v{};
  if (!readValue(n, v)) return false;
  out = std::move(v);
  return true;
}

// Every element is kept (a wrong-typed one as a default value) so that index i of the vector is
// index i of the YAML list, which diagnostics name in field paths.
template <class T>
bool readValue(const Node& n, std::vector<T>& out) {
  if (!n.isList()) return false;
  out.reserve(n.items.size());
  for (const Node& item : n.items) {
    T v{};
    readValue(item, v);
    out.push_back(std::move(v));
  }
  return true;
}

template <class T>
bool readValue(const Node& n, std::map<std::string, T>& out) {
  if (!n.isMap()) return false;
  for (const MapEntry& e : n.fields) {
    T v{};
    if (readValue(e.value, v)) out.emplace(e.key, std::move(v));
  }
  return true;
}

template <class T>
void readField(const Node& parent, std::string_view key, T& out) {
  if (const Node* n = parent.get(key)) readValue(*n, out);
}
""")
    if uses_int_or_string(model):
        out.append("""
// x-kubernetes-int-or-string: the text of a number or a string, as written.
void readIntOrString(const Node& parent, std::string_view key, std::optional<std::string>& out) {
  const Node* n = parent.get(key);
  if (n && (n->isString() || n->type == NodeType::kInt)) out = n->text;
}
""")
    for name in model.order:
        s = model.structs[name]
        out.append("\nbool readValue(const Node& n, model::%s& out) {\n" % name)
        out.append("  out.line = n.line;\n  if (!n.isMap()) return false;\n")
        for f in s.fields:
            reader = "readIntOrString" if f.type.kind == "intstr" else "readField"
            out.append('  %s(n, "%s", out.%s);\n' % (reader, f.json_name, f.cpp_name))
        out.append("  return true;\n}\n")
    out.append("\n}  // namespace\n")
    for _, kind, _, _ in kinds:
        out.append("""
model::%s decode%s(const Object& obj) {
  model::%s out;
  out.meta = decodeObjectMeta(obj);
  if (const Node* spec = obj.spec()) readValue(*spec, out.spec);
  return out;
}
""" % (kind, kind, kind))
    out.append("\n}  // namespace halyard::config\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Output: docs/config-reference.md


def load_status():
    with open(STATUS_FILE) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise GenError("%s: expected a map of field path prefix to status" % STATUS_FILE)
    return {str(k): str(v) for k, v in data.items()}


def status_of(chain, statuses, used):
    """The status of the last field of `chain`, a list of (path key, struct key) from the spec
    down: the deepest matching key wins, a path key ("Kind.spec.a.b") before a struct key
    ("Struct.field", which applies wherever the struct is used)."""
    for path_key, struct_key in reversed(chain):
        for key in (path_key, struct_key):
            if key in statuses:
                used.add(key)
                return statuses[key]
    return DEFAULT_STATUS


def doc_rows(model, type_, path, chain, rows):
    """Appends (path, type, chain) for every field below type_, depth first."""
    t = type_
    while t.kind in ("list", "map"):
        t = t.elem
    if t.kind == "struct":
        for f in model.structs[t.struct].fields:
            sub = path + "." + f.json_name
            sub_chain = chain + [(sub, t.struct + "." + f.json_name)]
            rows.append((sub, f.type, sub_chain))
            doc_rows(model, f.type, sub, sub_chain, rows)


def gen_reference(model, kinds, statuses, ref_model=None, ref_kinds=()):
    used = set()
    out = ["""<!-- Generated by tools/gen_model.py; statuses come from tools/field_status.yaml. -->
# Configuration reference

Halyard reads Istio's YAML unchanged. This page lists every field of every Istio kind Halyard
models, with its type and what Halyard does with it today. The field list and types come from
Istio's CRD schema (what the Kubernetes API server checks these objects against); the type column
names the C++ struct that holds each object (`src/config/model/istio_types.h`). A field that is
"parsed and validated" is read and checked like Istio does, so a typo or a wrong value is reported
with file and line, but it has no effect on traffic until the proxy enforces it.

Kubernetes objects (Service, Endpoints, Namespace, Pod, Secret, ConfigMap) are read for the
fields in `src/config/model/kubernetes.h` only.
"""]
    sections = [(model, k, True) for k in kinds] + [(ref_model, k, False) for k in ref_kinds]
    for kind_model, (group, kind, versions, _), modelled in sections:
        out.append("\n## %s\n\n" % kind)
        also = ", ".join("`%s`" % v for v in versions[1:]) or "none"
        if modelled:
            out.append("`apiVersion: %s/%s` (also %s). Spec struct: `%sSpec`.\n\n" % (
                group, versions[0], also, kind))
        else:
            out.append("`apiVersion: %s/%s` (also %s). Validated against Istio's schema and read "
                       "from the document by its translator (no C++ struct; the object names in "
                       "the type column are the schema's).\n\n" % (group, versions[0], also))
        out.append("| Field | Type | Status |\n|---|---|---|\n")
        rows = []
        doc_rows(kind_model, Type("struct", struct=kind + "Spec"), "spec", [], rows)
        for path, t, chain in rows:
            keyed = [(kind + "." + p, k) for p, k in chain]
            status = status_of(keyed, statuses, used)
            out.append("| `%s` | %s | %s |\n" % (path, t.doc().replace("|", "\\|"), status))
    unused = sorted(set(statuses) - used)
    if unused:
        raise GenError("%s: no such field: %s" % (STATUS_FILE, ", ".join(unused)))
    return "".join(out)


# ---------------------------------------------------------------------------------------------


def generate(crd_path):
    kinds = load_kinds(crd_path)
    model = Model()
    for _, kind, _, schema in kinds:
        model.add_struct(schema, kind, "spec", None, "spec")
    statuses = load_status()
    # A model of its own: the reference kinds' structs are not generated as C++.
    ref_kinds = load_kinds(crd_path, REFERENCE_KINDS)
    ref_model = Model()
    for _, kind, _, schema in ref_kinds:
        ref_model.add_struct(schema, kind, "spec", None, "spec")
    return {
        "src/config/model/istio_types.h": gen_types(model, kinds),
        "src/config/yaml/istio_decode.h": gen_decode_h(kinds),
        "src/config/yaml/istio_decode.cc": gen_decode_cc(model, kinds),
        "docs/config-reference.md": gen_reference(model, kinds, statuses, ref_model, ref_kinds),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crd", default=DEFAULT_CRD, help="path of crd-all.gen.yaml")
    parser.add_argument("--out", default=ROOT, help="tree to write into (default: this repo)")
    parser.add_argument("--check", action="store_true",
                        help="fail when the committed files differ from what would be generated")
    args = parser.parse_args()
    if args.check and args.crd == DEFAULT_CRD and not os.path.isdir(SHARED):
        print("skipped: external corpus not found at %s: set HALYARD_SHARED_DIR to the directory "
              "holding conformance/, seed/ and docs/ (default: ../shared beside the repository)"
              % SHARED)
        return EXIT_SKIPPED
    try:
        files = generate(args.crd)
    except (GenError, OSError, yaml.YAMLError) as e:
        print("gen_model.py: %s" % e, file=sys.stderr)
        return 2
    stale = []
    for rel, text in files.items():
        path = os.path.join(args.out, rel)
        current = None
        if os.path.exists(path):
            with open(path) as f:
                current = f.read()
        if current == text:
            continue
        if args.check:
            stale.append(rel)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            print("wrote " + rel)
    if stale:
        print("gen_model.py --check: out of date (run tools/gen_model.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
