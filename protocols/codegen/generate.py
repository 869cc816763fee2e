#!/usr/bin/env python3
"""Generates C++ message types, JSON conversions and validators from one OCPP schema bundle.

A bundle is a JSON array of the OCA message schemas of one OCPP version (see
protocols/schemas/NOTICE). For the version it writes, under --include-dir:

  chargegrid/protocols/<ns>/types.hpp        shared types (the schemas' named definitions)
  chargegrid/protocols/<ns>/<action>.hpp     <Action>Request / <Action>Response (snake_case name)
  chargegrid/protocols/<ns>/messages.hpp     every action header
  chargegrid/protocols/<ns>/actions.hpp      action count
  chargegrid/protocols/<ns>/typed_requests.hpp  the requests read straight from a frame

and under --source-dir the definitions of the conversions and validators, split
into several translation units, plus the action registry and the readers of the
typed requests (a simdjson DOM value straight into its struct).

With --list it prints the files it would write (relative to the two
directories, prefixed "include/" or "src/") and writes nothing.

Standard library only.
"""

import argparse
import json
import os
import re
import sys

VERSIONS = {
    "v16": {"id": re.compile(r"^urn:(?P<action>.+)\.(?P<dir>req|conf)$"),
            "dirs": {"req": "Request", "conf": "Response"}},
    "v201": {"id": re.compile(r"^urn:(?P<action>.+)\.(?P<dir>req|conf)$"),
             "dirs": {"req": "Request", "conf": "Response"}},
    "v21": {"id": re.compile(r"^urn:(?P<action>.+?)(?P<dir>Request|Response)?$"),
            "dirs": {"Request": "Request", "Response": "Response", None: "Request"}},
}

# The requests stations send most: read straight from a frame into their structs
# (typed_call.hpp), without a JSON DOM. Any other action takes the DOM and the validators.
TYPED_REQUESTS = {
    "v16": ["Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction",
            "StatusNotification", "StopTransaction"],
    "v201": ["Authorize", "BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
             "TransactionEvent"],
    "v21": ["Authorize", "BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
            "TransactionEvent"],
}

# Keys that document a schema but do not constrain a value.
DOCUMENTATION_KEYS = {"description", "comment", "$comment", "javaType", "default", "$id", "$schema"}
# Keys the generator turns into code; anything else is an error, so a schema
# feature can never be silently ignored.
HANDLED_KEYS = DOCUMENTATION_KEYS | {
    "type", "properties", "required", "additionalProperties", "definitions", "$ref", "enum",
    "maxLength", "format", "items", "additionalItems", "minItems", "maxItems", "minimum",
    "maximum", "multipleOf"}

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
    "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"}

# Member that keeps object members the schema does not name (open objects only).
ADDITIONAL_MEMBER = "additional_properties"


class SchemaError(Exception):
    pass


def snake_case(name):
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return s.lower()


def capitalize(name):
    return name[:1].upper() + name[1:]


def strip_documentation(node):
    if isinstance(node, dict):
        return {k: strip_documentation(v) for k, v in node.items() if k not in DOCUMENTATION_KEYS}
    if isinstance(node, list):
        return [strip_documentation(v) for v in node]
    return node


def cpp_string(text):
    return json.dumps(text, ensure_ascii=True)


def member_name(name):
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise SchemaError(f"property name {name!r} is not a C++ identifier")
    return name + "_" if name in CPP_KEYWORDS else name


def enumerator_name(value):
    name = re.sub(r"[^A-Za-z0-9]", "_", value)
    if not name or name[0].isdigit():
        name = "v" + name
    if name in CPP_KEYWORDS:
        name += "_"
    return name


# ---------------------------------------------------------------------------
# Model


class Field:
    def __init__(self, json_name, kind, required):
        self.json_name = json_name
        self.cpp_name = member_name(json_name)
        self.kind = kind  # a Kind
        self.required = required


class Kind:
    """What a value is: primitive (string/integer/number/boolean/any), a named type, or an array."""

    def __init__(self, tag, **attrs):
        self.tag = tag
        self.__dict__.update(attrs)

    def cpp_type(self):
        if self.tag == "string":
            return "std::string"
        if self.tag == "integer":
            return "std::int64_t"
        if self.tag == "number":
            return "double"
        if self.tag == "boolean":
            return "bool"
        if self.tag == "any":
            return "AnyJson"
        if self.tag == "named":
            return self.type.name
        if self.tag == "array":
            return f"std::vector<{self.element.cpp_type()}>"
        raise AssertionError(self.tag)

    def named_dependencies(self):
        if self.tag == "named":
            return [self.type]
        if self.tag == "array":
            return self.element.named_dependencies()
        return []


class EnumType:
    def __init__(self, name, values, owner):
        self.name = name
        self.values = values
        self.owner = owner  # action name, or None for shared types
        names = [enumerator_name(v) for v in values]
        if len(set(names)) != len(names):
            raise SchemaError(f"{name}: enum values collide after making them identifiers")
        self.enumerators = names

    def dependencies(self):
        return []


class StructType:
    def __init__(self, name, owner):
        self.name = name
        self.owner = owner
        self.fields = []
        self.open = False  # additional properties allowed
        self.action = None  # set for top-level messages

    def dependencies(self):
        deps = []
        for f in self.fields:
            deps.extend(f.kind.named_dependencies())
        return deps


class VersionModel:
    def __init__(self, namespace, bundle):
        self.namespace = namespace
        self.types = {}  # name -> EnumType | StructType
        self.shared_names = []  # names of types from definitions, in first-seen order
        self.shared_structures = {}  # definition name -> stripped schema, for identity checks
        self.actions = {}  # action -> {"Request": StructType, "Response": StructType}
        self.action_types = {}  # action -> [type names owned by the action]
        self._build(bundle)

    # -- building

    def _add_type(self, t):
        if t.name in self.types:
            raise SchemaError(f"type name {t.name} generated twice")
        self.types[t.name] = t
        if t.owner is None:
            self.shared_names.append(t.name)
        else:
            self.action_types.setdefault(t.owner, []).append(t.name)

    def _build(self, bundle):
        spec = VERSIONS[self.namespace]
        for schema in bundle:
            for key in schema:
                if key not in HANDLED_KEYS:
                    raise SchemaError(f"{schema.get('$id')}: unsupported keyword {key}")
            match = spec["id"].match(schema["$id"])
            if not match:
                raise SchemaError(f"unexpected schema id {schema['$id']}")
            action = match.group("action")
            direction = spec["dirs"][match.group("dir")]
            if direction in self.actions.get(action, {}):
                raise SchemaError(f"{schema['$id']}: {action} {direction} defined twice")
            local_names = self._register_definitions(schema, action)
            top = self._struct_from(schema, action + direction, action, local_names,
                                    schema["$id"])
            top.action = action
            self.actions.setdefault(action, {})[direction] = top
        self._check_acyclic()

    def _register_definitions(self, schema, action):
        """Maps the schema's definition names to emitted type names, creating new types."""
        local = {}
        pending = {}
        for def_name, node in sorted(schema.get("definitions", {}).items()):
            stripped = strip_documentation(node)
            emitted = def_name
            known = self.shared_structures.get(def_name)
            if known is not None and known != stripped:
                # Same name, different constraints: keep both, the second under a qualified name.
                emitted = f"{def_name}For{action}"
                sys.stderr.write(f"note: {self.namespace} {def_name} differs in {action}; "
                                 f"emitted as {emitted}\n")
            elif known is None:
                self.shared_structures[def_name] = stripped
            local[def_name] = emitted
            if emitted not in self.types:
                pending[emitted] = (node, f"definitions/{def_name}")
        self._pending = (pending, local)
        for emitted in list(pending):
            self._resolve_definition(emitted)
        return local

    def _resolve_definition(self, emitted):
        if emitted in self.types:
            return self.types[emitted]
        pending, local = self._pending
        node, where = pending[emitted]
        return self._named_type_from(node, emitted, None, local, where)

    def _named_type_from(self, node, name, owner, local_names, where):
        if "enum" in node:
            return self._enum_from(node, name, owner, where)
        if node.get("type") == "object":
            return self._struct_from(node, name, owner, local_names, where)
        raise SchemaError(f"{where}: definition is neither an object nor an enum")

    def _enum_from(self, node, name, owner, where):
        if node.get("type", "string") != "string":
            raise SchemaError(f"{where}: only string enums are supported")
        values = node["enum"]
        if not values or len(set(values)) != len(values):
            raise SchemaError(f"{where}: empty or repeated enum values")
        t = EnumType(name, list(values), owner)
        self._add_type(t)
        return t

    def _struct_from(self, node, name, owner, local_names, where):
        for key in node:
            if key not in HANDLED_KEYS:
                raise SchemaError(f"{where}: unsupported keyword {key}")
        if node.get("type") != "object":
            raise SchemaError(f"{where}: expected an object schema")
        t = StructType(name, owner)
        additional = node.get("additionalProperties", True)
        if additional not in (True, False):
            raise SchemaError(f"{where}: additionalProperties must be a boolean")
        t.open = additional is True
        required = node.get("required", [])
        properties = node.get("properties", {})
        for r in required:
            if r not in properties:
                raise SchemaError(f"{where}: required property {r} is not declared")
        self._add_type(t)
        for prop, sub in properties.items():
            kind = self._kind_from(sub, name + capitalize(prop), owner, local_names,
                                   f"{where}/{prop}")
            t.fields.append(Field(prop, kind, prop in required))
        if len({f.cpp_name for f in t.fields} | {ADDITIONAL_MEMBER}) != len(t.fields) + 1:
            raise SchemaError(f"{where}: member names collide")
        return t

    def _kind_from(self, node, inline_name, owner, local_names, where):
        for key in node:
            if key not in HANDLED_KEYS:
                raise SchemaError(f"{where}: unsupported keyword {key}")
        if "$ref" in node:
            ref = node["$ref"]
            prefix = "#/definitions/"
            if not ref.startswith(prefix) or ref[len(prefix):] not in local_names:
                raise SchemaError(f"{where}: unresolvable $ref {ref}")
            extra = set(node) - DOCUMENTATION_KEYS - {"$ref"}
            if extra:
                raise SchemaError(f"{where}: keywords next to $ref: {sorted(extra)}")
            return Kind("named", type=self._resolve_definition(local_names[ref[len(prefix):]]))
        if "enum" in node:
            return Kind("named", type=self._enum_from(node, inline_name, owner, where))
        schema_type = node.get("type")
        if schema_type is None:
            return Kind("any")
        if schema_type == "object":
            return Kind("named", type=self._struct_from(node, inline_name, owner, local_names,
                                                        where))
        if schema_type == "array":
            items = node.get("items")
            if not isinstance(items, dict):
                raise SchemaError(f"{where}: array items must be one schema")
            element = self._kind_from(items, inline_name, owner, local_names, where + "/items")
            return Kind("array", element=element, min_items=node.get("minItems", 0),
                        max_items=node.get("maxItems"))
        if schema_type == "string":
            fmt = node.get("format")
            if fmt not in (None, "date-time", "uri"):
                raise SchemaError(f"{where}: unsupported string format {fmt}")
            return Kind("string", max_length=node.get("maxLength", 0), format=fmt)
        if schema_type in ("integer", "number"):
            return Kind(schema_type, minimum=node.get("minimum"), maximum=node.get("maximum"),
                        multiple_of=node.get("multipleOf"))
        if schema_type == "boolean":
            return Kind("boolean")
        raise SchemaError(f"{where}: unsupported type {schema_type!r}")

    def _check_acyclic(self):
        state = {}

        def visit(t, trail):
            if state.get(t.name) == "done":
                return
            if state.get(t.name) == "active":
                raise SchemaError("recursive types are not supported: " + " -> ".join(trail))
            state[t.name] = "active"
            for d in t.dependencies():
                visit(d, trail + [d.name])
            state[t.name] = "done"

        for t in self.types.values():
            visit(t, [t.name])

    # -- queries

    def ordered(self, names):
        """The named types in an order where every type follows the ones it holds by value."""
        wanted = set(names)
        out, seen = [], set()

        def visit(t):
            if t.name in seen:
                return
            seen.add(t.name)
            for d in t.dependencies():
                if d.name in wanted:
                    visit(d)
            out.append(t)

        for n in names:
            visit(self.types[n])
        return out

    def sorted_actions(self):
        return sorted(self.actions)


# ---------------------------------------------------------------------------
# Emitting


def chunk_count(model):
    return max(2, min(10, len(model.types) // 30))


def chunks(items, count):
    size = (len(items) + count - 1) // count
    return [items[i * size:(i + 1) * size] for i in range(count)]


def header_prologue(comment):
    return ["#pragma once", f"// {comment}", "// Generated from the OCA JSON schemas by "
            "protocols/codegen/generate.py; do not edit.", ""]


def declare_type(t, lines):
    if isinstance(t, EnumType):
        lines.append(f"enum class {t.name} {{")
        for e in t.enumerators:
            lines.append(f"  {e},")
        lines.append("};")
        lines.append(f"std::string_view to_string({t.name} value);")
        lines.append(f"std::optional<{t.name}> parse_{t.name}(std::string_view text);")
    else:
        lines.append(f"struct {t.name} {{")
        if t.action is not None:
            lines.append(f"  static constexpr std::string_view kAction = {cpp_string(t.action)};")
        for f in t.fields:
            ctype = f.kind.cpp_type()
            if f.required:
                init = "{}" if f.kind.tag in ("integer", "number", "boolean", "named") else ""
                lines.append(f"  {ctype} {f.cpp_name}{init};")
            else:
                lines.append(f"  std::optional<{ctype}> {f.cpp_name};")
        if t.open:
            lines.append("  // Members the schema does not name (vendor extensions), by name.")
            lines.append(f"  std::map<std::string, AnyJson> {ADDITIONAL_MEMBER};")
        lines.append("")
        lines.append(f"  bool operator==(const {t.name}&) const = default;")
        lines.append("};")
    lines.append(f"void to_json(nlohmann::json& j, const {t.name}& value);")
    lines.append(f"void from_json(const nlohmann::json& j, {t.name}& value);")
    lines.append("")


STD_INCLUDES = ["<cstdint>", "<map>", "<optional>", "<string>", "<string_view>", "<vector>"]


def emit_types_header(model):
    ns = model.namespace
    lines = header_prologue(f"OCPP {ns}: types shared by several messages.")
    lines += [f"#include {i}" for i in STD_INCLUDES]
    lines += ["", "#include <nlohmann/json_fwd.hpp>", "",
              '#include "chargegrid/protocols/any_json.hpp"', "",
              f"namespace chargegrid::protocols::{ns} {{", ""]
    for t in model.ordered(model.shared_names):
        declare_type(t, lines)
    lines += [f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def emit_action_header(model, action):
    ns = model.namespace
    lines = header_prologue(f"OCPP {ns} {action}: request and response messages.")
    lines += [f'#include "chargegrid/protocols/{ns}/types.hpp"', "",
              f"namespace chargegrid::protocols::{ns} {{", ""]
    owned = model.action_types.get(action, [])
    for t in model.ordered(owned):
        declare_type(t, lines)
    lines += [f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def emit_messages_header(model):
    ns = model.namespace
    lines = header_prologue(f"OCPP {ns}: every message type.")
    for a in model.sorted_actions():
        lines.append(f'#include "chargegrid/protocols/{ns}/{snake_case(a)}.hpp"')
    lines.append("")
    return "\n".join(lines)


def emit_actions_header(model):
    ns = model.namespace
    lines = header_prologue(f"OCPP {ns}: facts about the action set.")
    lines += ["#include <cstddef>", "", f"namespace chargegrid::protocols::{ns} {{", "",
              "// Number of actions the schema bundle defines.",
              f"inline constexpr std::size_t kActionCount = {len(model.actions)};", "",
              f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def define_conversions(t, lines):
    if isinstance(t, EnumType):
        lines.append(f"std::string_view to_string({t.name} value) {{")
        lines.append("  switch (value) {")
        for e, v in zip(t.enumerators, t.values):
            lines.append(f"    case {t.name}::{e}:")
            lines.append(f"      return {cpp_string(v)};")
        lines.append("  }")
        lines.append("  return {};")
        lines.append("}")
        lines.append(f"std::optional<{t.name}> parse_{t.name}(std::string_view text) {{")
        for e, v in zip(t.enumerators, t.values):
            lines.append(f"  if (text == {cpp_string(v)}) return {t.name}::{e};")
        lines.append("  return std::nullopt;")
        lines.append("}")
        lines.append(f"void to_json(nlohmann::json& j, const {t.name}& value) {{")
        lines.append("  j = to_string(value);")
        lines.append("}")
        lines.append(f"void from_json(const nlohmann::json& j, {t.name}& value) {{")
        lines.append("  const auto& text = j.get_ref<const std::string&>();")
        lines.append(f"  const auto parsed = parse_{t.name}(text);")
        lines.append(f"  if (!parsed) detail::throw_unknown_enum_value({cpp_string(t.name)}, text);")
        lines.append("  value = *parsed;")
        lines.append("}")
        lines.append("")
        return
    # Messages without members (Heartbeat.req and the like) never read `value`.
    unused = "[[maybe_unused]] " if not t.fields and not t.open else ""
    lines.append(f"void to_json(nlohmann::json& j, {unused}const {t.name}& value) {{")
    lines.append("  j = nlohmann::json::object();")
    for f in t.fields:
        key = cpp_string(f.json_name)
        if f.required:
            lines.append(f"  j[{key}] = value.{f.cpp_name};")
        else:
            lines.append(f"  if (value.{f.cpp_name}) j[{key}] = *value.{f.cpp_name};")
    if t.open:
        lines.append(f"  for (const auto& [name, extra] : value.{ADDITIONAL_MEMBER}) {{")
        lines.append("    j.emplace(name, extra.value());")
        lines.append("  }")
    lines.append("}")
    lines.append(f"void from_json({unused}const nlohmann::json& j, {t.name}& value) {{")
    lines.append(f"  value = {t.name}{{}};")
    for f in t.fields:
        key = cpp_string(f.json_name)
        if f.required:
            lines.append(f"  j.at({key}).get_to(value.{f.cpp_name});")
        else:
            lines.append(f"  if (const auto it = j.find({key}); it != j.end()) {{")
            lines.append(f"    value.{f.cpp_name} = it->get<{f.kind.cpp_type()}>();")
            lines.append("  }")
    if t.open:
        known = " && ".join(f"name != {cpp_string(f.json_name)}" for f in t.fields) or "true"
        lines.append("  if (!j.is_object()) return;")
        lines.append("  for (const auto& [name, member] : j.items()) {")
        lines.append(f"    if ({known}) value.{ADDITIONAL_MEMBER}.emplace(name, AnyJson(member));")
        lines.append("  }")
    lines.append("}")
    lines.append("")


def limits_literal(kind):
    def opt(v):
        return "std::nullopt" if v is None else repr(float(v))
    return f"detail::NumberLimits{{{opt(kind.minimum)}, {opt(kind.maximum)}, {opt(kind.multiple_of)}}}"


def primitive_call(kind, verb, args):
    """The support call that checks (verb "check") or reads (verb "read") a string, number or
    boolean: detail::<verb>_<kind>(<args>, <the kind's constraints>); None for other kinds."""
    if kind.tag == "string":
        fmt = {None: "None", "date-time": "DateTime", "uri": "Uri"}[kind.format]
        return f"detail::{verb}_string({args}, {kind.max_length}, detail::StringFormat::{fmt})"
    if kind.tag in ("integer", "number"):
        return f"detail::{verb}_{kind.tag}({args}, {limits_literal(kind)})"
    if kind.tag == "boolean":
        return f"detail::{verb}_boolean({args})"
    return None


def value_check(kind, expr, indent, depth=0):
    """Lines that validate `expr` (a const nlohmann::json&) and return false on the first error."""
    pad = " " * indent
    if kind.tag == "named":
        return [f"{pad}if (!validate_{kind.type.name}({expr}, cursor)) return false;"]
    call = primitive_call(kind, "check", f"{expr}, cursor")
    if call:
        return [f"{pad}if (!{call}) return false;"]
    if kind.tag == "any":
        return []
    if kind.tag == "array":
        max_items = "std::nullopt" if kind.max_items is None else f"std::size_t{{{kind.max_items}}}"
        index = f"i{depth}"
        lines = [f"{pad}if (!detail::check_array({expr}, cursor, {kind.min_items}, {max_items})) "
                 "return false;",
                 f"{pad}for (std::size_t {index} = 0; {index} < ({expr}).size(); ++{index}) {{",
                 f"{pad}  const detail::PathSegment segment{depth}(cursor, {index});"]
        lines += value_check(kind.element, f"({expr})[{index}]", indent + 2, depth + 1)
        lines.append(f"{pad}}}")
        return lines
    raise AssertionError(kind.tag)


def define_validator(t, lines):
    lines.append(f"bool validate_{t.name}(const nlohmann::json& value, "
                 "detail::ValidationCursor& cursor) {")
    if isinstance(t, EnumType):
        lines.append(f"  if (value.is_string() && parse_{t.name}("
                     "value.get_ref<const std::string&>())) {")
        lines.append("    return true;")
        lines.append("  }")
        lines.append("  return detail::fail_enum(cursor, value);")
        lines.append("}")
        lines.append("")
        return
    lines.append("  if (!detail::check_object(value, cursor)) return false;")
    for f in t.fields:
        key = cpp_string(f.json_name)
        checks = value_check(f.kind, "*it", 4)
        lines.append(f"  if (const auto it = value.find({key}); it != value.end()) {{")
        if checks:
            lines.append(f"    const detail::PathSegment segment(cursor, {key});")
            lines += checks
        if f.required:
            lines.append("  } else {")
            lines.append(f"    return detail::fail_missing(cursor, {key});")
        lines.append("  }")
    if not t.open:
        if t.fields:
            names = ", ".join(cpp_string(f.json_name) for f in t.fields)
            lines.append(f"  static constexpr std::string_view kKnown[] = {{{names}}};")
            lines.append("  for (const auto& [name, member] : value.items()) {")
            lines.append("    if (std::find(std::begin(kKnown), std::end(kKnown), name) == "
                         "std::end(kKnown)) {")
            lines.append("      return detail::fail_unexpected(cursor, name);")
            lines.append("    }")
            lines.append("  }")
        else:
            lines.append("  if (!value.empty()) {")
            lines.append("    return detail::fail_unexpected(cursor, value.items().begin().key());")
            lines.append("  }")
    lines.append("  return true;")
    lines.append("}")
    lines.append("")


def source_prologue(model, includes):
    ns = model.namespace
    lines = ["// Generated from the OCA JSON schemas by protocols/codegen/generate.py; "
             "do not edit.", ""]
    lines += [f'#include "chargegrid/protocols/{ns}/{h}"' for h in includes]
    return lines


def header_of(model, t):
    return "types.hpp" if t.owner is None else f"{snake_case(t.owner)}.hpp"


def emit_conversion_source(model, types):
    ns = model.namespace
    headers = sorted({header_of(model, t) for t in types})
    lines = source_prologue(model, headers)
    lines += ["", "#include <nlohmann/json.hpp>", "", '#include "validation_support.hpp"', "",
              f"namespace chargegrid::protocols::{ns} {{", ""]
    for t in types:
        define_conversions(t, lines)
    lines += [f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def emit_validators_header(model):
    ns = model.namespace
    lines = ["#pragma once", f"// OCPP {ns}: one validator per generated type. Private.",
             "// Generated from the OCA JSON schemas by protocols/codegen/generate.py; "
             "do not edit.", "", "#include <span>", "", '#include "validation_support.hpp"', "",
             f"namespace chargegrid::protocols::{ns}::detail {{", "",
             "using chargegrid::protocols::detail::ValidationCursor;", ""]
    for name in sorted(model.types):
        lines.append(f"bool validate_{name}(const nlohmann::json& value, "
                     "ValidationCursor& cursor);")
    lines += ["", "// Every action, sorted by name.",
              "std::span<const chargegrid::protocols::detail::ActionEntry> action_table();", "",
              f"}}  // namespace chargegrid::protocols::{ns}::detail", ""]
    return "\n".join(lines)


def emit_validator_source(model, types):
    ns = model.namespace
    enum_headers = sorted({header_of(model, t) for t in types if isinstance(t, EnumType)})
    lines = ["// Generated from the OCA JSON schemas by protocols/codegen/generate.py; "
             "do not edit.", ""]
    lines += ["#include <algorithm>", "#include <iterator>", "#include <string_view>", ""]
    lines += [f'#include "chargegrid/protocols/{ns}/{h}"' for h in enum_headers]
    lines += [f'#include "{ns}/validators.hpp"', "",
              f"namespace chargegrid::protocols::{ns}::detail {{", "",
              "namespace detail = chargegrid::protocols::detail;", ""]
    for t in types:
        define_validator(t, lines)
    lines += [f"}}  // namespace chargegrid::protocols::{ns}::detail", ""]
    return "\n".join(lines)


def emit_registry_source(model):
    ns = model.namespace
    lines = ["// Generated from the OCA JSON schemas by protocols/codegen/generate.py; "
             "do not edit.", "", "#include <array>", "", f'#include "{ns}/validators.hpp"', "",
             f"namespace chargegrid::protocols::{ns}::detail {{", "",
             "std::span<const chargegrid::protocols::detail::ActionEntry> action_table() {",
             "  static constexpr std::array<chargegrid::protocols::detail::ActionEntry, "
             f"{len(model.actions)}> kTable{{{{"]
    for a in model.sorted_actions():
        messages = model.actions[a]
        req = f"&validate_{messages['Request'].name}" if "Request" in messages else "nullptr"
        res = f"&validate_{messages['Response'].name}" if "Response" in messages else "nullptr"
        lines.append(f"      {{{cpp_string(a)}, {req}, {res}}},")
    lines += ["  }};", "  return kTable;", "}", "",
              f"}}  // namespace chargegrid::protocols::{ns}::detail", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Readers: a simdjson DOM value straight into a struct, for the typed requests. A reader
# accepts exactly what the validator accepts and converts it as from_json does; it answers
# false on anything else (including input it leaves to the DOM path: members of open objects
# the schema does not name, untyped values, a member given twice), and the caller then takes
# the DOM path, whose validator names the error.


def reader_value(kind, src, dst, indent, depth=0):
    """Lines that read simdjson element `src` into lvalue `dst`, returning false on failure."""
    pad = " " * indent
    if kind.tag == "named":
        return [f"{pad}if (!read_{kind.type.name}({src}, {dst})) return false;"]
    call = primitive_call(kind, "read", f"{src}, {dst}")
    if call:
        return [f"{pad}if (!{call}) return false;"]
    if kind.tag == "any":
        return [f"{pad}return false;  // untyped: the DOM path keeps it as it is"]
    if kind.tag == "array":
        max_items = "std::nullopt" if kind.max_items is None else f"std::size_t{{{kind.max_items}}}"
        array, item = f"array{depth}", f"item{depth}"
        lines = [f"{pad}simdjson::dom::array {array};",
                 f"{pad}if ({src}.get_array().get({array})) return false;",
                 f"{pad}if (!detail::items_within({array}.size(), {kind.min_items}, {max_items})) "
                 "return false;",
                 f"{pad}{dst}.reserve({array}.size());",
                 f"{pad}for (simdjson::dom::element {item} : {array}) {{",
                 f"{pad}  auto& element{depth} = {dst}.emplace_back();"]
        lines += reader_value(kind.element, item, f"element{depth}", indent + 2, depth + 1)
        lines.append(f"{pad}}}")
        return lines
    raise AssertionError(kind.tag)


def reader_closure(model, actions):
    """The types the requests of `actions` are made of, each once, dependencies first."""
    names = [model.actions[a]["Request"].name for a in actions]
    seen, order = set(), []

    def visit(t):
        if t.name in seen:
            return
        seen.add(t.name)
        if isinstance(t, StructType):
            for dep in t.dependencies():
                visit(dep)
        order.append(t)

    for n in names:
        visit(model.types[n])
    return order


def define_reader(t, lines):
    signature = f"bool read_{t.name}(simdjson::dom::element value, {t.name}& out)"
    if isinstance(t, EnumType):
        lines.append(f"{signature} {{")
        lines.append("  std::string_view text;")
        lines.append("  if (value.get_string().get(text)) return false;")
        lines.append(f"  const auto parsed = parse_{t.name}(text);")
        lines.append("  if (!parsed) return false;")
        lines.append("  out = *parsed;")
        lines.append("  return true;")
        lines.append("}")
        lines.append("")
        return
    if len(t.fields) > 64:
        raise SchemaError(f"{t.name}: more than 64 members, too many for a reader's bit set")
    unused = "[[maybe_unused]] " if not t.fields else ""
    lines.append(f"bool read_{t.name}(simdjson::dom::element value, {unused}{t.name}& out) {{")
    lines.append("  simdjson::dom::object object;")
    lines.append("  if (value.get_object().get(object)) return false;")
    if not t.fields:
        lines.append("  return object.size() == 0;")
        lines.append("}")
        lines.append("")
        return
    lines.append("  std::uint64_t seen = 0;")
    lines.append("  for (const simdjson::dom::key_value_pair member : object) {")
    for i, f in enumerate(t.fields):
        key = cpp_string(f.json_name)
        keyword = "if" if i == 0 else "} else if"
        lines.append(f"    {keyword} (member.key == {key}) {{")
        lines.append(f"      if (seen & (std::uint64_t{{1}} << {i})) return false;")
        lines.append(f"      seen |= std::uint64_t{{1}} << {i};")
        target = f"out.{f.cpp_name}" if f.required else f"out.{f.cpp_name}.emplace()"
        if f.required:
            lines += reader_value(f.kind, "member.value", target, 6)
        else:
            lines.append(f"      auto& field = {target};")
            lines += reader_value(f.kind, "member.value", "field", 6)
    lines.append("    } else {")
    lines.append("      return false;")
    lines.append("    }")
    lines.append("  }")
    required = sum(1 << i for i, f in enumerate(t.fields) if f.required)
    if required:
        lines.append(f"  return (seen & std::uint64_t{{{required}u}}) == std::uint64_t{{{required}u}};")
    else:
        lines.append("  return true;")
    lines.append("}")
    lines.append("")


def emit_typed_requests_header(model):
    ns = model.namespace
    actions = TYPED_REQUESTS[ns]
    lines = header_prologue(f"OCPP {ns}: the requests read straight from a frame "
                            "(chargegrid/protocols/typed_call.hpp).")
    lines += ["#include <tuple>", ""]
    lines += [f'#include "chargegrid/protocols/{ns}/{snake_case(a)}.hpp"' for a in actions]
    names = ", ".join(model.actions[a]["Request"].name for a in actions)
    lines += ["", f"namespace chargegrid::protocols::{ns} {{", "",
              f"using TypedRequests = std::tuple<{names}>;", "",
              f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def emit_reader_source(model):
    ns = model.namespace
    actions = TYPED_REQUESTS[ns]
    for a in actions:
        if a not in model.actions or "Request" not in model.actions[a]:
            raise SchemaError(f"typed request {a} is not an action of {ns}")
    lines = ["// Generated from the OCA JSON schemas by protocols/codegen/generate.py; "
             "do not edit.", "", "#include <cstdint>", "#include <string_view>", "",
             '#include "chargegrid/protocols/typed_call.hpp"', '#include "reader_support.hpp"', "",
             f"namespace chargegrid::protocols::{ns} {{", "namespace {", "",
             "namespace detail = chargegrid::protocols::detail;", ""]
    for t in reader_closure(model, actions):
        define_reader(t, lines)
    lines += ["}  // namespace", "",
              "bool read_typed_request(std::string_view action, simdjson::dom::element payload,",
              "                        TypedRequest& out) {"]
    for a in actions:
        req = model.actions[a]["Request"].name
        lines += [f"  if (action == {cpp_string(a)}) {{",
                  f"    auto& request = out.emplace<{req}>();",
                  f"    return read_{req}(payload, request);",
                  "  }"]
    lines += ["  return false;", "}", "", f"}}  // namespace chargegrid::protocols::{ns}", ""]
    return "\n".join(lines)


def render(model):
    """All generated files: {relative path: text}."""
    ns = model.namespace
    files = {}
    inc = f"include/chargegrid/protocols/{ns}/"
    files[inc + "types.hpp"] = emit_types_header(model)
    for a in model.sorted_actions():
        if "Request" not in model.actions[a]:
            raise SchemaError(f"{a}: response without request")
        files[inc + f"{snake_case(a)}.hpp"] = emit_action_header(model, a)
    files[inc + "messages.hpp"] = emit_messages_header(model)
    files[inc + "actions.hpp"] = emit_actions_header(model)
    reserved = {"types", "messages", "actions", "typed_requests"}
    if len({snake_case(a) for a in model.actions} | reserved) != len(model.actions) + len(reserved):
        raise SchemaError("action header names collide")

    src = f"src/{ns}/"
    files[src + "validators.hpp"] = emit_validators_header(model)
    all_types = [model.types[n] for n in sorted(model.types)]
    count = chunk_count(model)
    for i, group in enumerate(chunks(all_types, count)):
        files[src + f"conversions_{i}.cpp"] = emit_conversion_source(model, group)
        files[src + f"validators_{i}.cpp"] = emit_validator_source(model, group)
    files[src + "registry.cpp"] = emit_registry_source(model)
    files[inc + "typed_requests.hpp"] = emit_typed_requests_header(model)
    files[src + "readers.cpp"] = emit_reader_source(model)
    return files


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", required=True, help="schema bundle (JSON array)")
    parser.add_argument("--namespace", required=True, choices=sorted(VERSIONS))
    parser.add_argument("--out", required=True, help="output root (gets include/ and src/)")
    parser.add_argument("--list", action="store_true", help="print output paths, write nothing")
    args = parser.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        bundle = json.load(f)
    try:
        model = VersionModel(args.namespace, bundle)
        files = render(model)
    except SchemaError as e:
        sys.exit(f"{args.schema}: {e}")
    if args.list:
        for rel in sorted(files):
            print(rel)
        return
    for rel, text in files.items():
        write_if_changed(os.path.join(args.out, rel), text)


if __name__ == "__main__":
    main()
