"""Documents are checked against Glean's DocumentDefinition before anything is sent.

The ``glean-api-client`` package's generated ``DocumentDefinition`` (a dev dependency, never
imported by ``src/``) is the oracle for the schema's types: whatever it refuses, the Worker
refuses too. The Worker is stricter where Glean's guides state rules the generated model does
not encode (a grant in ``permissions``, epoch seconds, names without spaces or ``_``).
"""

from __future__ import annotations

import json

import pytest
from glean.api_client.models import DocumentDefinition
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flaresuite.glean.documents import InvalidDocument, serialize_document
from tests.glean.glean_fakes import doc


def oracle_accepts(document: dict) -> bool:
    """Whether Glean's published schema (strict JSON types) accepts ``document``."""
    try:
        DocumentDefinition.model_validate_json(json.dumps(document), strict=True)
    except ValidationError:
        return False
    return True


def worker_accepts(document: object) -> bool:
    try:
        serialize_document(document, "wiki")
    except InvalidDocument:
        return False
    return True


def test_a_valid_document_is_compact_json_with_the_datasource_filled_in():
    encoded = serialize_document(doc(1, title="Café"), "wiki")

    assert json.loads(encoded) == {"datasource": "wiki", **doc(1, title="Café")}
    assert b" " not in encoded.replace(b"Document 1", b"").replace(b"text of document 1", b"")
    assert "Café".encode() in encoded


def test_an_id_of_200_characters_is_allowed():
    serialize_document(doc(1, id="x" * 200), "wiki")


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (doc(1, id="x" * 201), "id is 201 characters, Glean allows 200"),
        ({k: v for k, v in doc(1).items() if k != "id"}, "a document has no string id"),
        (doc(1, id=7), "a document has no string id"),
        ("doc-1", "a document must be a JSON object, got string"),
        (doc(1, datasource="other"), "datasource is 'other', this Worker indexes 'wiki'"),
        (
            {**{k: v for k, v in doc(1).items() if k != "viewURL"}, "viewUrl": "https://x.example"},
            "has 'viewUrl'; Glean's field is 'viewURL'",
        ),
        ({k: v for k, v in doc(1).items() if k != "viewURL"}, "viewURL must be an http(s) URL"),
        (doc(1, viewURL="javascript:alert(1)"), "viewURL must be an http(s) URL"),
        ({k: v for k, v in doc(1).items() if k != "permissions"}, "permissions must be an object"),
        (doc(1, permissions={"allowedUsers": []}), "permissions grant nobody access"),
        (doc(1, updatedAt=1_763_000_000_000), "updatedAt 1763000000000 looks like milliseconds"),
        (doc(1, updatedAt="2026-11-23T02:00:00Z"), "updatedAt must be a whole number of epoch sec"),
        (doc(1, updatedAt=1.5), "updatedAt must be a whole number"),
        (doc(1, updatedAt=True), "updatedAt must be a whole number"),
        ({k: v for k, v in doc(1).items() if k != "updatedAt"}, "updatedAt must be a whole number"),
        (doc(1, createdAt=-1), "createdAt must be a whole number"),
        (doc(1, objectType="Wiki Page"), "objectType 'Wiki Page' must be a non-empty name"),
        (doc(1, objectType="wiki_page"), "objectType 'wiki_page'"),
        (doc(1, containerObjectType="Wiki Space"), "containerObjectType 'Wiki Space' must be a"),
        (doc(1, containerObjectType="wiki_space"), "containerObjectType 'wiki_space' must be a"),
        (None, "a document must be a JSON object, got null"),
    ],
)
def test_a_document_that_breaks_a_rule_is_refused_by_name(document, error):
    with pytest.raises(InvalidDocument, match=error.replace("(", r"\(").replace(")", r"\)")):
        serialize_document(document, "wiki")


SCHEMA_BREAKS = [
    (
        {"permissions": {"allowedUsers": ["a@x"]}},
        "permissions.allowedUsers[0] must be an object {email or datasourceUserId, name}, "
        "got string",
    ),
    (
        {"permissions": {"allowedGroupIntersections": [["eng", "sre"]]}},
        "permissions.allowedGroupIntersections[0] must be an object {requiredGroups}, got array",
    ),
    (
        {"permissions": {"allowedGroups": "eng"}},
        "permissions.allowedGroups must be an array of group names, got string",
    ),
    (
        {"body": "plain text"},
        "body must be an object {mimeType, textContent or binaryContent}, got string",
    ),
    ({"body": {"textContent": "plain text"}}, "body.mimeType is required"),
    ({"summary": {"mimeType": 7}}, "summary.mimeType must be a string, got number"),
    (
        {"author": "ada@example.com"},
        "author must be an object {email or datasourceUserId, name}, got string",
    ),
    (
        {"customProperties": {"team": "search"}},
        "customProperties must be an array of objects {name, value}, got object",
    ),
    ({"title": 42}, "title must be a string, got number"),
    ({"title": ["a"]}, "title must be a string, got array"),
    ({"comments": [{"author": {"email": "a@x"}}]}, "comments[0].id must be a non-empty string"),
    (
        {"permissions": {"allowAnonymousAccess": "false"}},
        "permissions.allowAnonymousAccess must be true or false, got string",
    ),
    (
        {"permissions": {"allowAllDatasourceUsersAccess": 1}},
        "permissions.allowAllDatasourceUsersAccess must be true or false, got number",
    ),
    ({"tags": ["a", None]}, "tags[1] must be strings, got null"),
    (
        {"interactions": {"numViews": 1.5}},
        "interactions.numViews must be a whole number >= 0, got 1.5",
    ),
    (
        {"comments": [{"id": "c1", "createdAt": "yesterday"}]},
        "comments[0].createdAt must be a whole number of epoch seconds, got 'yesterday'",
    ),
]


@pytest.mark.parametrize(("fields", "error"), SCHEMA_BREAKS)
def test_what_glean_would_reject_is_refused_with_the_path_and_reason(fields, error):
    """Issue 12.11: each of these used to pass through and be rejected by Glean."""
    document = doc(1, **fields)

    assert not oracle_accepts({"datasource": "wiki", **document}), "Glean's schema refuses it"
    with pytest.raises(InvalidDocument) as refused:
        serialize_document(document, "wiki")
    assert (refused.value.document_id, refused.value.reason) == ("doc-000001", error)
    assert str(refused.value) == f"document 'doc-000001': {error}"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"updatedBy": {"name": "Ada"}}, "updatedBy must name the user by email or datasourceU"),
        ({"body": {"mimeType": "a", "textContent": "b", "binaryContent": "Yw=="}}, "not both"),
        ({"body": {"mimeType": "application/pdf", "binaryContent": "%PDF"}}, "must be base64"),
        ({"customProperties": [{"value": "x"}]}, r"customProperties\[0\].name must be a non-e"),
        ({"customProperties": [{"name": "x", "value": True}]}, "a string, a number or an array"),
    ],
)
def test_rules_of_glean_s_guides_beyond_the_generated_model(fields, error):
    """Users are referenced "by email or by a datasource specific id"; content is text or
    base64 binary; a custom property's value is not a boolean."""
    with pytest.raises(InvalidDocument, match=error):
        serialize_document(doc(1, **fields), "wiki")


@pytest.mark.parametrize(
    ("permissions", "error"),
    [
        ({"allowAnonymousAccess": False}, "grant nobody access"),
        ({"allowedUsers": [], "allowedGroups": []}, "grant nobody access"),
        ({"allowedGroupIntersections": [{"requiredGroups": []}]}, "grant nobody access"),
        ({"allowAnonymousAccess": None}, "grant nobody access"),
    ],
)
def test_permissions_are_judged_by_type_never_by_truthiness(permissions, error):
    with pytest.raises(InvalidDocument, match=error):
        serialize_document(doc(1, permissions=permissions), "wiki")


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "lone \ud800 surrogate"},
        {"body": {"mimeType": "text/plain", "textContent": "\udfff"}},
        {"tags": ["ok", "bad \ud83d"]},
    ],
)
def test_a_lone_surrogate_names_the_document_and_the_field(fields):
    with pytest.raises(InvalidDocument, match="holds a lone surrogate") as refused:
        serialize_document(doc(1, **fields), "wiki")
    assert refused.value.document_id == "doc-000001"
    field = next(iter(fields))
    assert refused.value.reason.startswith(field)


def test_an_id_with_a_lone_surrogate_is_named_in_escaped_form():
    with pytest.raises(InvalidDocument) as refused:
        serialize_document(doc(1, id="doc-\ud800"), "wiki")
    assert refused.value.document_id == "doc-\\ud800"
    json.dumps(str(refused.value), ensure_ascii=False).encode()  # loggable as UTF-8


def test_a_document_without_an_id_is_described_by_its_member_names_never_its_values():
    document = {k: v for k, v in doc(1, title="Quarterly salaries").items() if k != "id"}

    with pytest.raises(InvalidDocument) as refused:
        serialize_document(document, "wiki")
    assert refused.value.document_id is None
    assert "members: objectType, title, viewURL" in refused.value.reason
    assert "salaries" not in str(refused.value)


def test_every_field_of_the_schema_is_accepted_in_its_published_shape():
    user = {"email": "ada@example.com", "name": "Ada"}
    content = {"mimeType": "text/plain", "textContent": "hello"}
    document = doc(
        1,
        filename="a.txt",
        container="Handbook",
        containerDatasourceId="space-1",
        containerObjectType="Space",
        summary=content,
        author=user,
        owner={"datasourceUserId": "u-1"},
        updatedBy=user,
        createdAt=1_700_000_000,
        tags=["a", "b"],
        interactions={"numViews": 3, "numLikes": 0, "numComments": 1},
        status="published",
        additionalUrls=["https://wiki.example.com/alias"],
        nativeAppUrl="wiki://doc/1",
        comments=[{"id": "c1", "author": user, "content": content, "createdAt": 1_700_000_001}],
        customProperties=[
            {"name": "team", "value": "search"},
            {"name": "stars", "value": 4.5},
            {"name": "labels", "value": ["x", "y"]},
        ],
        permissions={
            "allowedUsers": [user],
            "allowedGroups": ["eng"],
            "allowedGroupIntersections": [{"requiredGroups": ["eng", "sre"]}],
            "allowAnonymousAccess": False,
            "allowAllDatasourceUsersAccess": False,
        },
        body={"mimeType": "application/pdf", "binaryContent": "JVBERi0xLjQK"},
    )

    encoded = serialize_document(document, "wiki")

    assert oracle_accepts(json.loads(encoded))


@pytest.mark.parametrize(
    "permissions",
    [
        {"allowAnonymousAccess": True},
        {"allowedUsers": [{"email": "a@example.com"}]},
        {"allowedGroups": ["eng"]},
        {"allowAllDatasourceUsersAccess": True},
    ],
)
def test_any_grant_makes_permissions_valid(permissions):
    serialize_document(doc(1, permissions=permissions), "wiki")


# -- property: the Worker is at least as strict as Glean's schema ---------------------------

any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)
names = st.sampled_from(["ada@example.com", "eng", "Page", "x"])
users = st.fixed_dictionaries({"email": names}, optional={"name": names})
contents = st.fixed_dictionaries({"mimeType": st.just("text/plain"), "textContent": names})
valid_documents = st.fixed_dictionaries(
    {
        "id": st.just("doc-1"),
        "viewURL": st.just("https://wiki.example.com/1"),
        "permissions": st.fixed_dictionaries(
            {"allowAnonymousAccess": st.just(True)},
            optional={
                "allowedUsers": st.lists(users, max_size=2),
                "allowedGroups": st.lists(names, max_size=2),
                "allowedGroupIntersections": st.lists(
                    st.fixed_dictionaries({"requiredGroups": st.lists(names, max_size=2)}),
                    max_size=2,
                ),
                "allowAllDatasourceUsersAccess": st.booleans(),
            },
        ),
        "updatedAt": st.integers(0, 2_000_000_000),
    },
    optional={
        "title": names,
        "objectType": names,
        "containerObjectType": names,
        "body": contents,
        "author": users,
        "createdAt": st.integers(0, 2_000_000_000),
        "tags": st.lists(names, max_size=2),
        "interactions": st.fixed_dictionaries({"numViews": st.integers(0, 10)}),
        "comments": st.lists(
            st.fixed_dictionaries({"id": names}, optional={"content": contents, "author": users}),
            max_size=2,
        ),
        "customProperties": st.lists(
            st.fixed_dictionaries({"name": names, "value": names}), max_size=2
        ),
    },
)


def places(value, into=None):
    """Every (container, key) of a JSON value, nested ones included."""
    into = [] if into is None else into
    keys = value.keys() if isinstance(value, dict) else range(len(value))
    for key in keys:
        into.append((value, key))
        if isinstance(value[key], (dict, list)):
            places(value[key], into)
    return into


@st.composite
def documents(draw):
    """A valid document, or one with a single member anywhere in it replaced by any JSON."""
    document = draw(valid_documents)
    if draw(st.booleans()):
        container, key = draw(st.sampled_from(places(document)))
        container[key] = draw(any_json)
    return document


@settings(max_examples=300, deadline=None)
@given(documents())
def test_whatever_glean_s_schema_refuses_the_worker_refuses(document):
    if worker_accepts(document):
        assert oracle_accepts(json.loads(serialize_document(document, "wiki")))
