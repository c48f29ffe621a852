"""Documents are checked against Glean's DocumentDefinition before anything is sent."""

from __future__ import annotations

import json

import pytest

from flaresuite.glean.documents import InvalidDocument, serialize_document
from tests.glean.glean_fakes import doc


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
    ],
)
def test_a_document_that_breaks_a_rule_is_refused_by_name(document, error):
    with pytest.raises(InvalidDocument, match=error.replace("(", r"\(").replace(")", r"\)")):
        serialize_document(document, "wiki")


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
