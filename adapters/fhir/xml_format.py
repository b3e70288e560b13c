"""FHIR XML (``application/fhir+xml``) in: read into the same JSON form a JSON body has.

Everything after this module is the JSON path: the adapter hands the result to
``native.validate_bundle`` / ``native.validate_resource`` exactly as it does a
parsed JSON body, so XML and JSON make the same exchange.

The XML is read by fhir.resources' R4B models (``model_validate_xml``, lxml
underneath), one resource at a time. That reader is forgiving in ways a
gateway must not be: it silently skips text content (``<gender>male</gender>``),
keeps only the last of a repeated element that FHIR allows once, and ignores
unknown attributes. So every resource is written back out from its model and
compared with what was sent, element by element; anything that did not
survive is refused, naming it, rather than passed on without it.

Problems name fields as the JSON path does (``entry[2].resource.identifier[0].value``,
record 2): each element's JSON path is worked out from the R4B model fields.

Hardening: no DTD (a ``DOCTYPE`` is refused), no entity expansion, no network
access, lxml's depth and size limits; comments and processing instructions
are dropped (they are not content).
"""

from __future__ import annotations

import re
from collections import Counter
from copy import deepcopy
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.utils import (
    determine_version_prefix_from_class,
    get_fhir_type_name,
    is_list_type,
    is_primitive_type,
)
from lxml import etree
from pydantic import ValidationError

from adapters.fhir import native
from gateway.errors import FieldProblem, InvalidRecord, MalformedBody, field_path

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_FHIR = "{" + FHIR_NS + "}"
#: An element as ``_shape`` keys it: (its names from the resource down, its plain attributes).
_Key = tuple[tuple[str, ...], tuple[str, ...]]
_DIV = "{" + XHTML_NS + "}div"
_ENTRY = re.compile(r"^entry\[(\d+)\]")
#: Attributes the loss check ignores. An element ``id`` (``<name id="n1">``) is an
#: anchor inside one resource; fhir.resources' reader drops it and no exchange
#: carries it, so refusing valid FHIR over it would help no one. Attributes in
#: other namespaces (``xsi:schemaLocation``) are not FHIR content.
_NOT_CARRIED = frozenset({"id"})


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _elements(parent: etree._Element) -> list[etree._Element]:
    """Child elements (comments and processing instructions are already gone)."""
    return [child for child in parent if isinstance(child.tag, str)]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def load(body: bytes) -> dict[str, Any]:
    """Parse an XML body into the JSON form of its resource or Bundle, or raise a 4xx."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        message = exc.msg or "cannot be parsed"
        if "line" not in message:  # libxml2 usually says where; say it when it does not
            message += f", line {exc.position[0]}, column {exc.position[1]}"
        raise MalformedBody(f"body is not well-formed XML: {message}") from None
    if root.getroottree().docinfo.doctype:
        raise MalformedBody("a DOCTYPE is not allowed in FHIR XML (no DTDs, no entities)")
    namespace = etree.QName(root).namespace
    if namespace not in (FHIR_NS, None):
        raise InvalidRecord(
            "not FHIR XML",
            [
                FieldProblem(
                    "resourceType",
                    f"the root element <{_local(root)}> is in namespace {namespace!r}; "
                    f"FHIR XML uses {FHIR_NS!r}",
                )
            ],
        )
    root = _normalised(root, adopt=namespace is None)
    resource_type = _local(root)
    if resource_type != "Bundle" and resource_type not in native.SUPPORTED:
        raise native.unsupported(resource_type, "resourceType", None)
    document = _Document(root)
    document.check_structure(root)
    if resource_type == "Bundle":
        return document.bundle()
    return document.resource(root)


def _normalised(root: etree._Element, adopt: bool) -> etree._Element:
    """A copy of the document with FHIR as its default namespace, as fhir.resources reads it.

    A namespace prefix for FHIR (``<f:Patient xmlns:f=...>``) is legal XML and
    is read the same. With ``adopt``, elements carrying no namespace at all are
    read as FHIR: some of NHS England's published UK Core examples omit
    ``xmlns``, and with no namespace anywhere there is nothing else the
    document could be. The XHTML narrative is copied as it is; elements in any
    other namespace are copied too, for ``check_structure`` to refuse.
    """

    def is_fhir(element: etree._Element) -> bool:
        namespace = etree.QName(element).namespace
        return namespace == FHIR_NS or (adopt and namespace is None)

    def copy(source: etree._Element, parent: etree._Element | None) -> etree._Element:
        tag = _FHIR + _local(source) if is_fhir(source) else source.tag
        attrib = dict(source.attrib)
        if parent is None:
            target = etree.Element(tag, attrib, nsmap={None: FHIR_NS})
        else:
            target = etree.SubElement(parent, tag, attrib)
        target.text, target.tail = source.text, source.tail
        for child in _elements(source):
            if is_fhir(child):
                copy(child, target)
            else:  # the narrative (or something foreign): kept whole, namespaces and all
                target.append(deepcopy(child))
        return target

    return copy(root, None)


def _json_paths(root: etree._Element) -> dict[etree._Element, str]:
    """Each element's path as the JSON form would name it, from the R4B model fields.

    ``identifier[0].value`` for a list, ``gender`` for a single value (``gender[1]``
    for a second one, which FHIR does not allow), ``_birthDate.extension[0]``
    for a primitive's extension, ``entry[2].resource.status`` through a
    Bundle. An element the model does not know is named but not descended.
    """
    paths: dict[etree._Element, str] = {root: ""}

    def walk(element: etree._Element, model_class: Any, prefix: str) -> None:
        aliases = model_class.get_alias_mapping()
        version = determine_version_prefix_from_class(model_class)
        seen: Counter[str] = Counter()
        for child in _elements(element):
            name = _local(child)
            index = seen[name]
            seen[name] += 1
            field = model_class.model_fields.get(aliases.get(name, ""))
            listed = field is not None and is_list_type(field)
            path = _join(prefix, name) + (f"[{index}]" if listed or index else "")
            paths[child] = path
            if field is None or child.tag == _DIV:
                continue
            if is_primitive_type(field):  # its children are extensions, under _name in JSON
                extension_prefix = _join(prefix, "_" + name) + (f"[{index}]" if listed else "")
                walk(child, get_fhir_model_class("FHIRPrimitiveExtension"), extension_prefix)
                continue
            try:
                type_name = get_fhir_type_name(field, prefix=version)
                if type_name == "Resource":  # contained, Bundle.entry.resource: named inside
                    (inner,) = _elements(child)
                    paths[inner] = path
                    walk(inner, get_fhir_model_class(_local(inner)), path)
                else:
                    walk(child, get_fhir_model_class(type_name), path)
            except (ValueError, KeyError, LookupError):
                continue  # not a type we can follow: fhir.resources will say what is wrong

    walk(root, get_fhir_model_class(_local(root)), "")
    return paths


class _Document:
    """A normalised FHIR XML document, with each element's JSON path for naming problems."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.is_bundle = _local(root) == "Bundle"
        self.paths = _json_paths(root)

    def path(self, element: etree._Element, inner: str = "") -> str:
        base = self.paths.get(element, "")
        if inner:
            return f"{base}.{inner}" if base else inner
        return base or "(record)"

    def record(self, path: str) -> int | None:
        match = _ENTRY.match(path) if self.is_bundle else None
        return int(match.group(1)) if match else None

    def problem(self, what: str, element: etree._Element, message: str) -> InvalidRecord:
        path = self.path(element)
        return InvalidRecord(what, [FieldProblem(path, message, self.record(path))])

    def check_structure(self, element: etree._Element) -> None:
        """FHIR elements only, values in attributes (never text), XHTML only as the narrative."""
        for text in (element.text, *(c.tail for c in element)):
            if text and text.strip():
                raise self.problem(
                    "not valid FHIR XML",
                    element,
                    f"text content {text.strip()[:40]!r} is not allowed: FHIR XML carries "
                    'values in a value attribute (<gender value="male"/>)',
                )
        for child in _elements(element):
            if child.tag == _DIV:
                if element.tag != _FHIR + "text":
                    raise self.problem(
                        "not valid FHIR XML", child, "XHTML belongs only in a narrative (text.div)"
                    )
                continue
            namespace = etree.QName(child).namespace
            if namespace != FHIR_NS:
                raise self.problem(
                    "not valid FHIR XML",
                    child,
                    f"element in namespace {namespace!r}; FHIR XML uses {FHIR_NS!r}",
                )
            self.check_structure(child)

    def bundle(self) -> dict[str, Any]:
        """Each entry's resource read on its own, so a problem names its entry; then the rest."""
        resources: dict[int, dict[str, Any]] = {}
        entries = [c for c in _elements(self.root) if _local(c) == "entry"]
        for index, entry in enumerate(entries):
            holders = [c for c in _elements(entry) if _local(c) == "resource"]
            if not holders:
                continue  # the JSON path reports the missing resource, naming the entry
            if len(holders) > 1:
                raise self.problem("not valid FHIR XML", holders[1], "an entry holds one resource")
            inner = _elements(holders[0])
            if len(inner) != 1:
                raise self.problem(
                    "not valid FHIR XML",
                    holders[0],
                    f"must hold exactly one resource, not {len(inner)}",
                )
            (resource,) = inner
            resource_type = _local(resource)
            if resource_type not in (*native.SUPPORTED, "MessageHeader"):
                field = self.path(holders[0], "resourceType")
                raise native.unsupported(resource_type, field, index)
            resources[index] = self.resource(resource)
            entry.remove(holders[0])
        bundle = self.resource(self.root)
        for index, read in resources.items():
            bundle["entry"][index]["resource"] = read
        return bundle

    def resource(self, element: etree._Element) -> dict[str, Any]:
        """One resource element -> its R4B model -> its JSON form, checked for anything lost."""
        resource_type = _local(element)
        what = f"the FHIR {resource_type} is not valid"
        try:
            model = get_fhir_model_class(resource_type).model_validate_xml(
                etree.tostring(element, with_tail=False), xmlparser=_parser()
            )
        except ValidationError as exc:
            raise self._invalid(what, element, exc) from None
        except KeyError as exc:  # fhir.resources' reader meeting an element R4B does not have
            name = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
            unknown = next((e for e in element.iter(_FHIR + str(name))), None) if name else None
            raise self.problem(
                what,
                unknown if unknown is not None else element,
                f"unknown element <{name}> for FHIR R4 {resource_type}"
                if name
                else f"cannot be read as FHIR R4 XML (missing {exc})",
            ) from None
        except (ValueError, TypeError, AttributeError, LookupError) as exc:
            raise self.problem(what, element, f"cannot be read as FHIR R4 XML: {exc}") from None
        data = model.model_dump(mode="json", exclude_none=True)
        self._check_nothing_lost(element, data, what)
        return data

    def _invalid(self, what: str, element: etree._Element, exc: ValidationError) -> InvalidRecord:
        """fhir.resources builds nested models bottom up, so an error's location is relative
        to the innermost model (``start`` of a Period): find the element it is about."""
        problems = []
        for err in exc.errors(include_url=False):
            names = [part for part in err["loc"] if isinstance(part, str)]
            if exc.title == _local(element) or not names:
                path = self.path(element, field_path(err["loc"]))
            else:
                path = self._locate(element, names[-1], err.get("input")) or self.path(
                    element, f"{exc.title}.{field_path(err['loc'])}"
                )
            problems.append(FieldProblem(path, err["msg"], self.record(path)))
        return InvalidRecord(what, problems)

    def _locate(self, element: etree._Element, name: str, value: Any) -> str | None:
        """The element named ``name`` carrying the refused value; None when that is unclear
        (a missing element has no value to find, and the name alone could be elsewhere)."""
        if not isinstance(value, str):
            return None
        for candidate in element.iter(_FHIR + name):
            if candidate.get("value") == value:
                return self.path(candidate)
        return None

    def _check_nothing_lost(self, element: etree._Element, data: dict[str, Any], what: str) -> None:
        """Every element and attribute sent is in the JSON form passed on; else name it."""
        kept = Counter(_json_shape(data))
        for key, node in _shape(element):
            if kept[key]:
                kept[key] -= 1
                continue
            names, attributes = key
            shown = "".join(f' {a}="..."' for a in attributes)
            raise self.problem(
                what,
                node,
                f"<{names[-1]}{shown}> cannot be read as FHIR R4 here and would be lost: "
                "an element FHIR allows once sent again, a value on an element that takes "
                "none, or an unknown attribute",
            )


def _shape(element: etree._Element) -> list[tuple[_Key, etree._Element]]:
    """Every element as (names from the resource down, its plain attributes), with the element."""
    out: list[tuple[_Key, etree._Element]] = []

    def walk(node: etree._Element, names: tuple[str, ...]) -> None:
        if node.tag == _DIV:  # the narrative is XHTML, kept whole as a string
            out.append(((names, ()), node))
            return
        attributes = tuple(
            sorted(a for a in node.attrib if a not in _NOT_CARRIED and not a.startswith("{"))
        )
        out.append(((names, attributes), node))
        for child in _elements(node):
            walk(child, (*names, _local(child)))

    walk(element, (_local(element),))
    return out


def _json_shape(resource: dict[str, Any]) -> list[_Key]:
    """The elements FHIR XML would have for a resource's JSON form, as ``_shape`` keys.

    The FHIR rules for the two forms: a resource is an element named by its
    ``resourceType``; a primitive is an element with a ``value`` attribute,
    its ``_name`` twin adding ``extension`` children; ``id`` is an attribute
    except on a resource (and ignored, see ``_NOT_CARRIED``); an extension's ``url`` is an
    attribute; a list is repeated elements; a nested resource (``contained``,
    ``entry.resource``) sits inside an element named by the property.
    """
    out: list[_Key] = []

    def resource_element(data: dict[str, Any], names: tuple[str, ...]) -> None:
        names = (*names, data["resourceType"])
        out.append((names, ()))
        properties(data, names, is_resource=True, is_extension=False)

    def properties(
        data: dict[str, Any], names: tuple[str, ...], is_resource: bool, is_extension: bool
    ) -> None:
        for key, value in data.items():
            if key in ("resourceType", "fhir_comments") or key.startswith("_"):
                continue
            if not is_resource and key == "id":
                continue  # an attribute of the element itself
            if is_extension and key == "url":
                continue
            items = value if isinstance(value, list) else [value]
            twins = data.get("_" + key)
            twins = twins if isinstance(twins, list) else [twins] * len(items)
            for item, twin in zip(items, twins, strict=False):
                element(key, item, twin, names)
        for key, twin in data.items():  # a primitive with extensions and no value
            if key.startswith("_") and key[1:] not in data and key != "_fhir_comments":
                for item in twin if isinstance(twin, list) else [twin]:
                    if item is not None:
                        element(key[1:], None, item, names)

    def element(key: str, value: Any, twin: Any, names: tuple[str, ...]) -> None:
        names = (*names, key)
        if isinstance(value, dict):
            if "resourceType" in value:
                out.append((names, ()))
                resource_element(value, names)
                return
            is_extension = key in ("extension", "modifierExtension") and "url" in value
            attributes: tuple[str, ...] = ("url",) if is_extension else ()
            out.append((names, attributes))
            properties(value, names, is_resource=False, is_extension=is_extension)
            return
        if key == "div":
            out.append((names, ()))
            return
        attributes = ("value",) if value is not None else ()
        if isinstance(twin, dict):
            out.append((names, attributes))
            for extension in twin.get("extension") or []:
                element("extension", extension, None, names)
            return
        out.append((names, attributes))

    resource_element(resource, ())
    return out
